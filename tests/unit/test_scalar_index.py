"""Scalar indexes (``milvus.index.scalar``): built, serialised and loaded, they give the filter
exactly the rows a column scan gives, for random data and random simple expressions."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from pymilvus.grpc_gen import schema_pb2 as spb

from milvus.expr import compile_filter
from milvus.index import SCALAR, ScalarIndex, build_scalar, load_index
from milvus.index.scalar import SCALAR_TYPES, like_prefix
from tests.exprdata import make_schema, make_table

SCHEMA = make_schema()
FIELDS = {"i8": spb.Int8, "i32": spb.Int32, "i64": spb.Int64, "f32": spb.Float, "f64": spb.Double, "b": spb.Bool,
          "s": spb.VarChar}
TYPES_OF = {"i8": ("STL_SORT", "INVERTED", "BITMAP"), "i32": ("STL_SORT", "INVERTED", "BITMAP"),
            "i64": ("STL_SORT", "INVERTED"), "f32": ("STL_SORT", "INVERTED"), "f64": ("STL_SORT", "INVERTED"),
            "b": ("INVERTED", "BITMAP"), "s": ("STL_SORT", "INVERTED", "BITMAP", "Trie")}
_WORDS = ["", "a", "ab", "abc", "abd", "b", "ba", "é", "éa", "a%b", "a_c", "x\\y", "zz"]
_PATTERNS = ["a%", "ab%", "%", "abc", "é%", "a\\%b%", "a_c", "%b", "x\\y"]
_FLOATS = [0.0, -0.0, 0.1, 0.5, 1.0, -2.5, 3.0, 7.0, 1e30, float("inf"), float("nan")]


def _rows(rng: random.Random, n: int) -> list[dict]:
    def maybe(v):
        return None if rng.random() < 0.15 else v
    return [{"i8": rng.choice([-128, -3, 0, 1, 2, 3, 127]), "i32": maybe(rng.randint(-3, 7)),
             "i64": rng.choice([-(2**63), -7, 0, 1, 2, 7, 2**53 + 1, 2**63 - 1]),
             "f32": rng.choice(_FLOATS), "f64": maybe(rng.choice(_FLOATS)), "b": maybe(rng.random() < 0.5),
             "s": maybe(rng.choice(_WORDS))} for _ in range(n)]


def _literal(rng: random.Random, name: str) -> str:
    if name == "s":
        return json.dumps(rng.choice(_WORDS + ["c", "abcd"]))
    if name == "b":
        return rng.choice(["true", "false"])
    if name in ("f32", "f64"):
        return rng.choice(["0.1", "0.5", "1", "-2.5", "3.0", "1e30", "7", "0", "-1e40"])
    return rng.choice(["0", "1", "-1", "2", "3", "7", "-3", "127", "-128", "1000", "9007199254740993",
                       "9223372036854775807", "-9223372036854775808"])


def _leaf(rng: random.Random, name: str) -> str:
    shape = rng.randrange(5 if name == "s" else 4)
    if shape == 0 or (name == "b" and shape in (1, 2)):
        return f"{name} {rng.choice(['==', '!=', '<', '<=', '>', '>='])} {_literal(rng, name)}"
    if shape == 1:
        lo, hi = sorted([_literal(rng, name), _literal(rng, name)], key=lambda x: rng.random())
        return f"{lo} {rng.choice(['<', '<='])} {name} {rng.choice(['<', '<='])} {hi}"
    if shape == 2:
        items = ", ".join(_literal(rng, name) for _ in range(rng.randrange(4)))
        return f"{name} {rng.choice(['in', 'not in'])} [{items}]"
    if shape == 3:
        return f"not ({name} {rng.choice(['==', '>'])} {_literal(rng, name)})"
    return f"{name} like {json.dumps(rng.choice(_PATTERNS))}"


def _indexes(table, types: dict[str, str]) -> dict[str, ScalarIndex]:
    out = {}
    for name, index_type in types.items():
        files = build_scalar(index_type, table.column(name), field_type=FIELDS[name])
        index = load_index(files.__getitem__)
        assert isinstance(index, ScalarIndex) and index.meta["kind"] == SCALAR
        out[name] = index
    return out


@pytest.mark.parametrize("seed", range(6))
def test_index_and_scan_select_the_same_rows(seed):
    rng = random.Random(seed)
    table = make_table(SCHEMA, _rows(rng, rng.choice([0, 1, 37, 300])))
    types = {name: rng.choice(choices) for name, choices in TYPES_OF.items()}
    indexes = _indexes(table, types)
    for _ in range(120):
        names = rng.sample(sorted(FIELDS), rng.randint(1, 2))
        expr = f" {rng.choice(['and', 'or'])} ".join(_leaf(rng, name) for name in names)
        try:
            compiled = compile_filter(SCHEMA, expr)
        except Exception:  # noqa: BLE001 - e.g. an int column against a float constant
            continue
        scan = compiled(table)
        with_index = compiled(table, indexes)
        assert np.array_equal(scan, with_index), (expr, types)


def test_index_answers_without_scanning():
    table = make_table(SCHEMA, [{"i64": v % 5, "s": f"w{v % 7}"} for v in range(50)])
    for index_type in ("STL_SORT", "INVERTED", "BITMAP"):
        index = _indexes(table, {"i64": index_type})["i64"]
        compiled = compile_filter(SCHEMA, "i64 in [1, 3]")
        assert index.mask(compiled.plan) is not None
        assert np.array_equal(compiled(table.drop_columns(["i8"]), {"i64": index}), compiled(table))
    trie = _indexes(table, {"s": "Trie"})["s"]
    prefix = compile_filter(SCHEMA, 's like "w1%"')
    assert np.array_equal(trie.mask(prefix.plan), prefix(table))
    assert prefix(table).sum() == 7
    assert trie.mask(compile_filter(SCHEMA, 's like "%1"').plan) is None  # not a prefix: scanned


def test_like_prefix():
    assert like_prefix("abc%") == ("abc", False)
    assert like_prefix("abc") == ("abc", True)
    assert like_prefix("a\\%b%") == ("a%b", False)
    assert like_prefix("a%b") is None
    assert like_prefix("a_") is None


def test_array_and_json_fields_are_not_built():
    table = make_table(SCHEMA, [{}])
    with pytest.raises(Exception, match="not built for field type"):
        build_scalar("INVERTED", table.column("ai"), field_type=spb.Array)
    assert set(SCALAR_TYPES) == {"STL_SORT", "INVERTED", "BITMAP", "Trie"}
