"""Property: random expressions over random rows select the same rows in the vectorised
evaluator and in the row-by-row reference evaluator."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, note, reject, settings
from hypothesis import strategies as st

from milvus import errors
from milvus.expr import compile_filter
from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import CollectionSchemaModel
from tests.exprdata import field, make_schema, make_table

SCHEMA = make_schema()

# ---- data -------------------------------------------------------------------------------

_TEXT = st.text(alphabet="ab%_\\ xyé", max_size=5)
_SMALL_INTS = st.sampled_from([-3, -1, 0, 1, 2, 3, 7])
_FLOATS = st.sampled_from([0.0, -0.0, 0.1, 0.5, 1.0, -2.5, 3.0, 7.0, 1e30, float("inf")])
_JSON_SCALARS = st.one_of(
    _SMALL_INTS, st.sampled_from([2**53 + 1, -(2**63), 2**64]), _FLOATS.filter(lambda f: f != float("inf")),
    _TEXT, st.booleans(), st.none())
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "b", "0", "l"]), inner, max_size=3)),
    max_leaves=6)


def _maybe(strategy):
    return st.one_of(st.none(), strategy)


_ROW = st.fixed_dictionaries({
    "i8": st.sampled_from([-128, -3, -1, 0, 1, 2, 3, 127]),
    "i32": _maybe(_SMALL_INTS),
    "i64": st.sampled_from([-(2**63), -7, -1, 0, 1, 2, 7, 2**53 + 1, 2**63 - 1]),
    "f32": st.one_of(_FLOATS, st.just(float("nan"))),
    "f64": _maybe(st.one_of(_FLOATS, st.just(float("nan")))),
    "b": _maybe(st.booleans()),
    "s": _maybe(_TEXT),
    "j": _JSON,
    "ai": _maybe(st.lists(_SMALL_INTS, max_size=4)),
    "af": st.lists(_FLOATS, max_size=3),
    "as_": st.lists(_TEXT, max_size=3),
    "ab": st.lists(st.booleans(), max_size=3),
    "$meta": st.dictionaries(st.sampled_from(["a", "b", "k"]), _JSON, max_size=3),
})

# ---- expressions ------------------------------------------------------------------------

_INT_LIT = st.sampled_from(["0", "1", "-1", "2", "3", "7", "-3", "127", "1000", "9007199254740993", "0x10",
                            "(2 + 1)", "-128", "9223372036854775807"])
_FLOAT_LIT = st.sampled_from(["0.1", "0.5", "1.0", "-2.5", "3.0", "1e30", "2.5", "7.0"])
_NUM_LIT = st.one_of(_INT_LIT, _FLOAT_LIT)
_STR_LIT = _TEXT.map(lambda s: json.dumps(s) if len(s) % 2 else "'" + json.dumps(s)[1:-1].replace("'", "\\'") + "'")
_BOOL_LIT = st.sampled_from(["true", "false", "True", "FALSE"])
_SCALAR_LIT = st.one_of(_INT_LIT, _FLOAT_LIT, _STR_LIT, _BOOL_LIT)
_ARRAY_LIT = st.lists(_SCALAR_LIT, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")
_OP = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])

_INT_COLS = st.sampled_from(["i8", "i32", "i64", "ai[0]", "ai[1]"])
_FLOAT_COLS = st.sampled_from(["f32", "f64", "af[0]"])
_STR_COLS = st.sampled_from(["s", "as_[0]", "as_[2]"])
_BOOL_COLS = st.sampled_from(["b", "ab[0]"])
_JSON_COLS = st.sampled_from(["j", "j['a']", "j['l']", "j['l'][0]", "j['0']", "j['a']['b']", "j[0]", "a",
                              "k", "$meta['b']", "$meta", "b_missing", "a['l'][1]"])
_ARRAYS = st.sampled_from(["ai", "af", "as_", "ab"])
_NUMERIC_COLS = st.sampled_from(["i8", "i32", "i64", "f32", "f64"])


def _pair(col, op, lit):
    return st.tuples(col, op, lit, st.booleans()).map(
        lambda t: f"{t[2]} {_REV[t[1]]} {t[0]}" if t[3] else f"{t[0]} {t[1]} {t[2]}")


_REV = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@st.composite
def _range(draw):
    col, lits = draw(st.sampled_from([
        ("i8", ["-3", "0", "1", "3", "100"]), ("i64", ["-7", "0", "2", "9007199254740993"]),
        ("f64", ["-2.5", "0", "0.5", "3"]), ("f32", ["-2.5", "0.1", "1", "7.5"]), ("ai[0]", ["-3", "1", "7"]),
        ("s", ["'a'", "'b'", "'x'"]), ("j['a']", ["-1", "0.5", "2"]), ("a", ["'a'", "'y'"])]))
    lo, hi = sorted(draw(st.lists(st.sampled_from(range(len(lits))), min_size=2, max_size=2, unique=True)))
    op1, op2 = draw(st.sampled_from(["<", "<="])), draw(st.sampled_from(["<", "<="]))
    if draw(st.booleans()):
        return f"{lits[lo]} {op1} {col} {op2} {lits[hi]}"
    return f"{lits[hi]} {_REV[op1]} {col} {_REV[op2]} {lits[lo]}"


def _in(col, lit):
    return st.tuples(col, st.lists(lit, max_size=4), st.booleans()).map(
        lambda t: f"{t[0]} {'not in' if t[2] else 'in'} [{', '.join(t[1])}]")


_LIKE_PATTERN = st.text(alphabet="ab%_\\xé", max_size=5).map(json.dumps)
_ARITH = st.one_of(
    st.tuples(_INT_COLS, st.sampled_from(["+", "-", "*", "/", "%"]), st.sampled_from(["1", "2", "-3", "7", "-1"]),
              _OP, _INT_LIT).map(lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]} {t[4]}"),
    st.tuples(st.sampled_from(["2 * i8", "3 + i64", "2 * ai[0]"]), _OP, _INT_LIT).map(" ".join),
    st.tuples(_FLOAT_COLS, st.sampled_from(["+", "-", "*", "/"]), _NUM_LIT.filter(lambda x: x not in ("0", "0.0")),
              _OP, _NUM_LIT).map(lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]} {t[4]}"),
    st.tuples(st.sampled_from(["j['a']", "a", "j[0]"]), st.sampled_from(["+", "-", "*", "/", "%"]),
              st.sampled_from(["1", "2", "-3"]), _OP, _INT_LIT).map(lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]} {t[4]}"),
    st.tuples(st.sampled_from(["j['a']", "k"]), st.sampled_from(["+", "-", "*", "/"]),
              st.sampled_from(["0.5", "2.0"]), _OP, _FLOAT_LIT).map(lambda t: f"{t[0]} {t[1]} {t[2]} {t[3]} {t[4]}"),
)
_CONTAINS = st.one_of(
    st.tuples(st.sampled_from(["json_contains", "array_contains", "JSON_CONTAINS"]),
              st.sampled_from(["j", "j['l']", "a", "$meta['k']"]), st.one_of(_SCALAR_LIT, _ARRAY_LIT)).map(
        lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    st.tuples(st.sampled_from(["json_contains_all", "json_contains_any", "array_contains_all", "array_contains_any"]),
              st.sampled_from(["j", "j['l']", "a", "k", "ai", "af", "as_", "ab"]), _ARRAY_LIT).map(
        lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    st.tuples(st.sampled_from(["ai", "af"]), _NUM_LIT).map(lambda t: f"array_contains({t[0]}, {t[1]})"),
    st.tuples(st.sampled_from(["as_"]), _STR_LIT).map(lambda t: f"array_contains({t[0]}, {t[1]})"),
    st.tuples(st.sampled_from(["ab"]), _BOOL_LIT).map(lambda t: f"array_contains({t[0]}, {t[1]})"),
)

_LEAF = st.one_of(
    _pair(_INT_COLS, _OP, _INT_LIT),
    _pair(_FLOAT_COLS, _OP, _NUM_LIT),
    _pair(_STR_COLS, _OP, _STR_LIT),
    _pair(_BOOL_COLS, st.sampled_from(["==", "!="]), _BOOL_LIT),
    _pair(_JSON_COLS, _OP, _SCALAR_LIT),
    _pair(_JSON_COLS, st.sampled_from(["==", "!="]), _ARRAY_LIT),
    _pair(st.sampled_from(["ai", "af", "as_"]), st.sampled_from(["==", "!="]),
          st.sampled_from(["[]", "[1, 2]", "[0.5]", "[7]", "['x']", "['a', 'b']"])).filter(
        lambda e: ("as_" in e) == ("'" in e)),
    _range(),
    _in(_INT_COLS, _INT_LIT), _in(_FLOAT_COLS, _NUM_LIT), _in(_STR_COLS, _STR_LIT), _in(_BOOL_COLS, _BOOL_LIT),
    _in(_JSON_COLS, st.one_of(_SCALAR_LIT, _ARRAY_LIT)),
    st.tuples(st.sampled_from(["s", "as_[0]", "j['a']", "a", "k", "j[0]"]), _LIKE_PATTERN).map(
        lambda t: f"{t[0]} like {t[1]}"),
    st.tuples(st.sampled_from(["i32", "f64", "b", "s", "j", "ai", "j['a']", "a", "$meta['k']", "j['l'][0]"]),
              st.sampled_from(["is null", "is not null", "IS NULL"])).map(" ".join),
    _JSON_COLS.filter(lambda c: c not in ("j", "$meta")).map(lambda c: f"exists {c}"),
    _CONTAINS,
    st.tuples(st.sampled_from(["ai", "af", "as_", "ab", "j", "j['l']", "a", "k"]), _OP,
              st.sampled_from(["0", "1", "2", "3"])).map(lambda t: f"array_length({t[0]}) {t[1]} {t[2]}"),
    _ARITH,
    st.tuples(_NUMERIC_COLS, _OP, _NUMERIC_COLS).map(" ".join),
    st.tuples(st.sampled_from(["b"]), st.sampled_from(["==", "!="]), st.sampled_from(["b"])).map(" ".join),
    st.text(alphabet="ab xyé_", max_size=6).map(lambda q: f"text_match(s, {json.dumps(q)})"),
    st.tuples(st.text(alphabet="ab xyé_", max_size=6), st.sampled_from(["", ", 0", ", 1", ", 3"])).map(
        lambda t: f"phrase_match(s, {json.dumps(t[0])}{t[1]})"),
    st.sampled_from(["b", "not b", "true", "false", "ab[1]", "1 < 2"]),
)


def _extend(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from([" and ", " or ", " && ", " || ", " AND "]), inner).map(
            lambda t: f"({t[0]}{t[1]}{t[2]})"),
        inner.map(lambda e: f"not ({e})"),
        inner.map(lambda e: f"!({e})"),
    )


_EXPR = st.recursive(_LEAF, _extend, max_leaves=8)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(rows=st.lists(_ROW, max_size=25), expr=_EXPR,
       chunks=st.lists(st.integers(1, 24), max_size=3),
       drop=st.sets(st.sampled_from(["i32", "j", "ai", "s", "f64"]), max_size=2).filter(lambda s: len(s) < 2))
def test_vectorised_and_reference_evaluators_agree(rows, expr, chunks, drop):
    table = make_table(SCHEMA, rows, chunks=chunks, drop=sorted(drop))
    note(f"expr: {expr}")
    try:
        compiled = compile_filter(SCHEMA, expr)
    except errors.ParameterInvalid as exc:
        note(str(exc))
        reject()
    note(f"plan: {compiled.plan}")
    fast = compiled(table)
    slow = compiled.reference(table)
    assert fast.dtype == bool and fast.shape == (table.num_rows,)
    assert np.array_equal(fast, slow), (np.flatnonzero(fast).tolist(), np.flatnonzero(slow).tolist())


def test_generated_expressions_mostly_compile():
    """The generator above mostly makes valid expressions (so the property covers them)."""
    seen = {"ok": 0, "bad": 0}

    @settings(max_examples=300, deadline=None, database=None)
    @given(_EXPR)
    def count(expr):
        try:
            compile_filter(SCHEMA, expr)
            seen["ok"] += 1
        except errors.ParameterInvalid:
            seen["bad"] += 1

    count()
    assert seen["ok"] >= 0.6 * (seen["ok"] + seen["bad"]), seen


# ---- phrase match: longer texts of a few words --------------------------------------------

_WORDS = st.sampled_from(["a", "b", "c", "the", "B"])
_PHRASE_SCHEMA = CollectionSchemaModel(spb.CollectionSchema(name="t", fields=[
    field("id", spb.Int64, is_primary_key=True),
    field("text", spb.VarChar, nullable=True, params={
        "max_length": 200, "enable_analyzer": "true", "enable_match": "true",
        "analyzer_params": '{"type": "standard", "stop_words": ["the"]}'}),
    field("v", spb.FloatVector, params={"dim": 2})]))


def _phrase_exists(lists: list[list[int]], slop: int) -> bool:
    """Some choice of one position per list spans at most ``slop`` (Tantivy's brute force)."""
    def visit(i: int, low: int, high: int) -> bool:
        if i == len(lists):
            return True
        return any(max(high, x) - min(low, x) <= slop and visit(i + 1, min(low, x), max(high, x)) for x in lists[i])
    return bool(lists) and any(visit(1, x, x) for x in lists[0])


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_maybe(st.lists(_WORDS, max_size=10).map(" ".join)), max_size=12),
       query=st.lists(_WORDS, max_size=4), slop=st.integers(0, 5))
def test_phrase_match_evaluators_agree_with_a_brute_force(texts, query, slop):
    table = pa.table({"id": list(range(len(texts))), "text": pa.array(texts, pa.string()),
                      "v": pa.array([[0.0, 0.0]] * len(texts), pa.list_(pa.float32(), 2))})
    compiled = compile_filter(_PHRASE_SCHEMA, f"phrase_match(text, {json.dumps(' '.join(query))}, {slop})")
    analyzer = compiled.plan.analyzer
    terms = analyzer.analyze(" ".join(query))
    want = []
    for text in texts:
        found = {}
        for token, _, _, position in analyzer.analyze(text or ""):
            found.setdefault(token, []).append(position)
        want.append(text is not None and _phrase_exists([[x - q for x in found.get(t, [])] for t, _, _, q in terms],
                                                        slop))
    assert compiled(table).tolist() == want
    assert compiled.reference(table).tolist() == want
