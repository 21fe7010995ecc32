"""Fuzz: ten thousand random and garbled expressions through the compiler and the evaluator
raise nothing but a Milvus error, and none takes long (each runs under a deadline)."""

from __future__ import annotations

import random
import signal
import time
from contextlib import contextmanager

import pytest

from milvus.errors import MilvusError
from milvus.expr import compile_filter
from tests.exprdata import make_schema, make_table
from tests.unit.test_expr_semantics import CASES, ROWS, TEMPLATES

SCHEMA = make_schema()
TABLE = make_table(SCHEMA, ROWS, chunks=[3])
DEADLINE_S = 2.0
COUNT = 10_000

_TOKENS = [
    "i8", "i32", "f32", "s", "b", "j", "ai", "as_", "color", "$meta", "j['a']", "ai[0]", "[", "]", "(", ")", "{", "}",
    "{x}", "{xs}", ",", "'", '"', "\\", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "**", "&", "|",
    "^", "~", "<<", ">>", "!", "&&", "||", "and", "or", "not", "in", "not in", "like", "exists", "is null",
    "is not null", "true", "FALSE", "0", "1", "-1", "1.5", "1e308", "1e999", "0x", "0b2", "017", "09",
    "9223372036854775808", "'x%'", '"a\\"b"', "json_contains(", "array_length(", "text_match(", "phrase_match(", "array_contains_all(",
    "minimum_should_match=", "=", "r'", "é", "\x00", "\n", "$", "$meta[", "[]", "[1, 2]", "nope(",
]


def _mutate(rng: random.Random, expr: str) -> str:
    chars = list(expr)
    for _ in range(rng.randint(1, 4)):
        what = rng.random()
        pos = rng.randint(0, len(chars))
        if what < 0.3 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif what < 0.6:
            chars.insert(pos, rng.choice(_TOKENS) if rng.random() < 0.7 else chr(rng.randint(0, 0x2FF)))
        elif what < 0.8 and chars:
            chars[min(pos, len(chars) - 1)] = rng.choice("()[]{}'\",.!=<>%_\\ 0aZ")
        else:  # splice a piece of another expression in
            other = rng.choice(CASES)[0]
            a = rng.randint(0, len(other))
            chars[pos:pos] = list(other[a:a + rng.randint(1, 12)])
    return "".join(chars)


def _soup(rng: random.Random) -> str:
    return " ".join(rng.choice(_TOKENS) for _ in range(rng.randint(1, 12)))


def _expressions(count: int, seed: int = 20240611) -> list[str]:
    rng = random.Random(seed)
    valid = [c[0] for c in CASES]
    out = []
    while len(out) < count:
        r = rng.random()
        if r < 0.55:
            out.append(_mutate(rng, rng.choice(valid)))
        elif r < 0.8:
            out.append(_soup(rng))
        elif r < 0.9:
            out.append(f"{rng.choice(valid)} {rng.choice(['and', 'or', '&&'])} {_mutate(rng, rng.choice(valid))}")
        elif r < 0.95:
            depth = rng.randint(1, 200)
            out.append("(" * depth + rng.choice(valid) + ")" * rng.randint(0, depth))
        else:
            out.append("".join(chr(rng.randint(0, 0x10FF)) for _ in range(rng.randint(0, 30))))
    return out


class _Timeout(BaseException):
    pass


@contextmanager
def _deadline(seconds: float):
    def fire(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_garbled_expressions_only_raise_milvus_errors_and_never_hang():
    outcomes = {"compiled": 0, "refused": 0}
    slowest = (0.0, "")
    for expr in _expressions(COUNT):
        started = time.perf_counter()
        try:
            with _deadline(DEADLINE_S):
                try:
                    compiled = compile_filter(SCHEMA, expr, TEMPLATES)
                    compiled(TABLE)
                    outcomes["compiled"] += 1
                except MilvusError as exc:
                    assert exc.code == 1100, (expr, exc)
                    assert exc.message.startswith("failed to create query plan: cannot parse expression: ")
                    outcomes["refused"] += 1
        except _Timeout:
            pytest.fail(f"expression took more than {DEADLINE_S}s: {expr!r}")
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{type(exc).__name__} for {expr!r}: {exc}")
        elapsed = time.perf_counter() - started
        slowest = max(slowest, (elapsed, expr))
    assert outcomes["compiled"] > 100 and outcomes["refused"] > 5000, outcomes
    assert slowest[0] < DEADLINE_S
