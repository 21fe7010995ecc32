"""The filter language item by item: each expression over five hand-made rows, with the
rows it must select (checked with both evaluators), and the errors bad ones give."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus.client.prepare import Prepare
from pymilvus.grpc_gen import schema_pb2 as spb

from milvus import errors
from milvus.expr import compile_filter, compiler, field_terms, pk_terms
from milvus.expr.compiler import _simple_terms
from milvus.schema import CollectionSchemaModel
from tests.exprdata import field, make_schema, make_table

ROWS = [
    dict(i8=1, i32=10, i64=100, f32=0.5, f64=1.5, b=True, s="alice smith",
         j={"a": 1, "b": {"c": "x"}, "l": [1, 2, 3], "s": "hello"}, ai=[1, 2, 3], af=[0.5], as_=["x", "y"],
         ab=[True], **{"$meta": {"color": "red", "n": 5, "tags": ["a", "b"]}}),
    dict(i8=2, i32=None, i64=200, f32=1.5, f64=None, b=False, s="bob", j=None, ai=None, af=[], as_=[], ab=[],
         **{"$meta": {"color": "blue", "n": 2.5}}),
    dict(i8=-3, i32=30, i64=-300, f32=0.1, f64=3.0, b=None, s=None, j={"a": "1", "l": [], "s": "h%llo"}, ai=[],
         af=[1.0, 2.0], as_=["z"], ab=[False, True], **{"$meta": {}}),
    dict(i8=4, i32=40, i64=400, f32=-2.0, f64=-1.0, b=True, s="carol_b", j={"a": 1.0, "b": None, "l": [[1, 2], "x"]},
         ai=[7], af=[], as_=["x"], ab=[], **{"$meta": {"color": "red", "n": "5"}}),
    dict(i8=127, i32=-5, i64=9007199254740993, f32=3.0, f64=2.5, b=False, s="Dave SMITH", j=[1, 2], ai=[2, 2],
         af=[3.0], as_=[], ab=[True, True], **{"$meta": {"color": None, "n": 7}}),
]
SCHEMA = make_schema()
TABLE = make_table(SCHEMA, ROWS, chunks=[2])
TEMPLATES = {"x": 15, "xs": [1, 2], "name": "bob", "pairs": [[1, 2]]}

CASES = [
    # comparisons, ranges, in, constants cast to the column type
    ("i32 > 15", {2, 3}),
    ("15 < i32", {2, 3}),
    ("10 < i32 <= 30", {2}),
    ("30 >= i32 > 10", {2}),
    ("i8 < 1000", {0, 1, 2, 3, 4}),
    ("i8 in [1, 127]", {0, 4}),
    ("i8 not in [1, 127]", {1, 2, 3}),
    ("i8 in []", set()),
    ("f32 == 0.1", {2}),
    ("f64 > 1.5", {2, 4}),
    ("i64 == 9007199254740993", {4}),
    ("i8 > -3", {0, 1, 3, 4}),
    ("f64 > 2 ** 1", {2, 4}),
    ("i8 == 0x7f", {4}),
    ("i8 == 010 - 6", {1}),
    ("i8 == 7 / 2 - 1", {1}),
    ("i64 > i32", {0, 3, 4}),
    ("f64 <= f32", {4}),
    ("s > 'b'", {1, 3}),
    ("s == 'bob'", {1}),
    ("1 == 1", {0, 1, 2, 3, 4}),
    ("true", {0, 1, 2, 3, 4}),
    ("false", set()),
    ("b", {0, 3}),
    ("not b", {1, 4}),
    ("b == false", {1, 4}),
    # null semantics (three-valued logic)
    ("not (i32 > 15)", {0, 4}),
    ("i32 > 15 or b == true", {0, 2, 3}),
    ("not (i32 > 15 and b == false)", {0, 3, 4}),
    ("not (i32 > 15 or b == true)", {4}),
    ("s is null", {2}),
    ("s is not null", {0, 1, 3, 4}),
    ("i32 is null or f64 is null", {1}),
    # precedence and spellings
    ("i8 == 1 or i8 == 2 and b == true", {0}),
    ("(i8 == 1 or i8 == 2) and b == false", {1}),
    ("i8 == 1 || i8 == 2", {0, 1}),
    ("!(i8 == 1)", {1, 2, 3, 4}),
    ("i8 == 1 AND b == TRUE", {0}),
    ("NOT (i8 IN [1, 2])", {2, 3, 4}),
    # like
    ("s like '%smith'", {0}),
    ("s like 'c_rol%'", {3}),
    ("s like 'carol\\_b'", {3}),
    ("s like '%'", {0, 1, 3, 4}),
    ("s LIKE 'bob'", {1}),
    # text match (standard analyzer: lower-cased words, any of them)
    ("text_match(s, 'SMITH')", {0, 4}),
    ("text_match(s, 'smith bob')", {0, 1, 4}),
    ("text_match(s, 'dave smith', minimum_should_match=2)", {4}),
    # phrase match (the same tokens, in order; slop: how far out of place they may be)
    ("phrase_match(s, 'Alice Smith')", {0}),
    ("PHRASE_MATCH(s, 'smith alice')", set()),
    ("phrase_match(s, 'smith alice', 1)", set()),
    ("phrase_match(s, 'smith alice', 2)", {0}),
    ("phrase_match(s, 'SMITH')", {0, 4}),
    ("phrase_match(s, 'dave smith', 0)", {4}),
    ("phrase_match(s, '')", set()),
    ("not phrase_match(s, 'smith')", {1, 3}),
    # the dynamic field: unknown names are its keys
    ("color == 'red'", {0, 3}),
    ("color != 'red'", {1, 2, 4}),
    ("color is null", {2, 4}),
    ("exists color", {0, 1, 3}),
    ("n > 3", {0, 4}),
    ("n == 5", {0}),
    ("n in [5, '5']", {0, 3}),
    ("$meta['n'] < 5.0", {1}),
    ("$meta[\"color\"] like 'r%'", {0, 3}),
    ("json_contains(tags, 'b')", {0}),
    ("array_length(tags) == 2", {0}),
    ("not (n > 3)", {1, 2, 3}),
    # JSON fields
    ("j['a'] == 1", {0, 3}),
    ("j['a'] != 1", {2, 4}),
    ("j['a'] == '1'", {2}),
    ("j['a'] >= 1", {0, 3}),
    ("0 < j['a'] < 2", {0, 3}),
    ("j['l'][0] == 1", {0}),
    ("j['l'][0] == [1, 2]", {3}),
    ("j['l'] != [1, 2, 3]", {2, 3}),
    ("j['a'] > [1]", set()),
    ("j['l'][1] in ['x', 2]", {0, 3}),
    ("json_contains(j['l'], 2)", {0}),
    ("json_contains(j['l'], [1, 2])", {3}),
    ("json_contains_all(j['l'], [1, 3])", {0}),
    ("json_contains_any(j['l'], ['x', 3])", {0, 3}),
    ("JSON_CONTAINS(j, 2)", {4}),
    ("array_length(j['l']) == 0", {2}),
    ("array_length(j) == 2", {4}),
    ("j['s'] like 'h\\%llo'", {2}),
    ("j['s'] like 'h%llo'", {0, 2}),
    ("exists j['b']", {0}),
    ("j['b'] is null", {1, 2, 3, 4}),
    ("j['b'] is not null", {0}),
    ("j is null", {1}),
    ("j['b']['c'] == 'x'", {0}),
    ("j['a'] + 1 == 2", {0, 3}),
    ("j['a'] * 2.0 == 2.0", {0, 3}),
    ("j['a'] % 2 == 1", {0}),
    # arrays
    ("array_contains(ai, 2)", {0, 4}),
    ("ARRAY_CONTAINS_ALL(ai, [2])", {0, 4}),
    ("array_contains_any(ai, [3, 7])", {0, 3}),
    ("array_contains_all(ai, [])", {0, 2, 3, 4}),
    ("array_length(ai) >= 1", {0, 3, 4}),
    ("not (array_length(ai) >= 1)", {2}),
    ("ai[0] == 2", {4}),
    ("ai[2] > 0", {0}),
    ("ai[1] != 100", {0, 4}),
    ("ai[0] in [7, 1]", {0, 3}),
    ("ai[0] + 1 == 8", {3}),
    ("af[0] == 0.5", {0}),
    ("array_contains(af, 2)", {2}),
    ("as_ == ['x', 'y']", {0}),
    ("as_ != ['x', 'y']", {1, 2, 3, 4}),
    ("as_[0] like 'x%'", {0, 3}),
    ("array_contains(ab, false)", {2}),
    ("ab[1] == true", {2, 4}),
    # arithmetic in comparisons (int64, truncating like C; Float in float32)
    ("i64 % 100 == 0", {0, 1, 2, 3}),
    ("i8 % 2 == -1", {2}),
    ("i8 / 2 == -1", {2}),
    ("i8 * 2 > 200", {4}),
    ("2 * i8 == 4", {1}),
    ("i8 - 1 < 0", {2}),
    ("f32 * 2 == 0.2", {2}),
    ("f64 / 2 > 1", {2, 4}),
    # templates
    ("i32 > {x}", {2, 3}),
    ("i8 in {xs}", {0, 1}),
    ("s == {name}", {1}),
    ("j['l'][0] in {pairs}", {3}),
]


@pytest.mark.parametrize(("expr", "expected"), CASES, ids=[c[0] for c in CASES])
def test_expression_selects(expr, expected):
    compiled = compile_filter(SCHEMA, expr, TEMPLATES)
    fast = compiled(TABLE)
    assert set(np.flatnonzero(fast).tolist()) == expected
    assert (compiled.reference(TABLE) == fast).all()


def test_field_added_after_the_rows_were_written_is_null():
    table = make_table(SCHEMA, ROWS, drop=["i32", "j", "ai"])
    for expr, expected in [("i32 > 1", set()), ("i32 is null", {0, 1, 2, 3, 4}), ("j['a'] == 1", set()),
                           ("not (j['a'] == 1)", set()), ("j['a'] is null", {0, 1, 2, 3, 4}),
                           ("array_contains(ai, 1)", set()), ("ai[0] == 1", set())]:
        compiled = compile_filter(SCHEMA, expr)
        assert set(np.flatnonzero(compiled(table)).tolist()) == expected, expr
        assert (compiled.reference(table) == compiled(table)).all(), expr


def test_template_values_come_as_protobuf():
    values = Prepare.prepare_expression_template({"x": 15, "xs": [1, 2], "name": "bob", "f": 0.5, "yes": True,
                                                  "nested": [[1, 2]]})
    compiled = compile_filter(SCHEMA, "i32 > {x} or i8 in {xs} or s == {name} or f32 == {f} or j['l'][0] in {nested}",
                              values)
    assert set(np.flatnonzero(compiled(TABLE)).tolist()) == {0, 1, 2, 3}


def _error(expr: str, schema=SCHEMA, templates=None) -> str:
    with pytest.raises(errors.ParameterInvalid) as info:
        compile_filter(schema, expr, templates or {})
    assert info.value.code == 1100
    prefix = f"failed to create query plan: cannot parse expression: {expr}, error: "
    assert info.value.message.startswith(prefix), info.value.message
    return info.value.message[len(prefix):]


@pytest.mark.parametrize(("expr", "detail"), [
    ("i8 >", "line 1:4 mismatched input '<EOF>' expecting an operand"),
    ("i8 > 1 and", "line 1:10 mismatched input '<EOF>'"),
    ("i8 in [1, 2", "line 1:11 mismatched input '<EOF>' expecting ',' or ']'"),
    ("(i8 > 1", "line 1:7 mismatched input '<EOF>' expecting ')'"),
    ("i8 > 1 i8", "line 1:7 extraneous input 'i8' expecting <EOF>"),
    ("i8 == 'abc", "line 1:6 token recognition error: unterminated string literal"),
    ("i8 # 1", "line 1:3 token recognition error at: '#'"),
    ("i8 > 1 is null", "'is null' can only follow a field name"),
    ("s > 1", "comparisons between VarChar and Int64 are not supported (at line 1:0: 's > 1')"),
    ("i8 > 1.5", "cannot cast value to Int8, value: 1.5"),
    ("i8 in [1, 'a']", "value '\"a\"' in list cannot be casted to Int8"),
    ("not i8 > 1", "not op can only be applied on boolean expression"),
    ("i8 + i64 > 1", "not supported to do arithmetic operations between multiple fields"),
    ("i8 ** 2 > 1", "power can only apply on constants"),
    ("'a' > 1", "comparison operations cannot be applied to two incompatible operands"),
    ("{missing} > i8", "the value of expression template variable name {missing} is not found (at line 1:0: '{missing}')"),
    ("i8 & 1 == 1", "BitAnd is not supported"),
    ("v > 1", "comparisons between FloatVector and Int64 are not supported"),
    ("1 < i8 < 0", "invalid range: lowerbound is greater than upperbound"),
    ("i8 < i64 < 5", "lowerbound cannot be a non-const expression: i8"),
    ("json_contains(j)", "json_contains takes 2 arguments, got 1"),
    ("json_contains(i8, 1)", "contains operation are only supported on json or array fields now, got: i8"),
    ("json_contains_all(j, 1)", "contains_all operation element must be an array"),
    ("array_length(i8) > 1", "array_length operation are only supported on json or array fields now"),
    ("exists i8", "exists operations are only supportted on json field, got:Int8"),
    ("exists j", "exists operations are only supportted on json key"),
    ("i8 like 'a%'", "like operation on non-string or no-json field is unsupported"),
    ("ai > 1", "comparisons between Array[Int64] and Int64 are not supported"),
    ("ai['x'] == 1", "can only access array field with integer index"),
    ("i8['x'] == 1", "Int8 data type not supported accessed with []"),
    ("i8 in 1", "the right-hand side of 'in' must be a list, but got: 1"),
    ("1 in [1]", "'term' can only be used on non-const expression"),
    ("i8 / 0 == 1", "division or modulus by zero"),
    ("f32 % 2 == 1", "modulo can only apply on integer types"),
    ("i8", "predicate is not a boolean expression: i8, data type: Int8"),
    ("i8 == 1 and i64", "'and' can only be used between boolean expressions (at line 1:12: 'i64')"),
    ("nope(i8)", "unknown function nope()"),
    ("text_match(i8, 'x')", "text match operation on non-string is unsupported"),
    ("phrase_match(i8, 'x')", "phrase match operation on non-string is unsupported"),
    ("phrase_match(s)", "phrase_match takes a field, a query string and an optional slop, got 1 arguments"),
    ("phrase_match(s, 'a', 1, 2)", "phrase_match takes a field, a query string and an optional slop, got 4"),
    ("phrase_match(s, 'a', slop=1)", "unknown option slop of phrase_match"),
    ("phrase_match(s, 1)", "the query of phrase_match must be a string"),
    ("phrase_match(s, 'a', -1)", '"slop" should not be a negative interger. "slop" passed: -1'),
    ("phrase_match(s, 'a', 1.5)",
     '"slop" should be a const integer expression with "uint32" value. "slop" expression passed: 1.5'),
    ("phrase_match(s, 'a', '1')", '"slop" should be a const integer expression with "uint32" value'),
    ("phrase_match(s, 'a', i8)", '"slop" should be a const integer expression with "uint32" value'),
    ("phrase_match(s, 'a', 4294967296)",
     '"slop" exceeds the range of "uint32". "slop" expression passed: 4294967296'),
    ("i8 == 99999999999999999999", "integer literal 99999999999999999999 is out of the int64 range"),
    ("-i8 > 1", "unary - can only be applied to constants"),
])
def test_bad_expressions_name_the_place_and_what_was_expected(expr, detail):
    assert detail in _error(expr)


def test_unknown_names_without_a_dynamic_field():
    schema = make_schema(dynamic=False)
    assert _error("color == 'red'", schema).startswith("field color not exist (at line 1:0: 'color')")
    assert "field $meta not exist" in _error("$meta['a'] == 1", schema)


def test_text_match_needs_a_field_that_enables_it():
    schema = CollectionSchemaModel(spb.CollectionSchema(name="t", fields=[
        field("id", spb.Int64, is_primary_key=True), field("title", spb.VarChar, params={"max_length": 10}),
        field("v", spb.FloatVector, params={"dim": 2})]))
    assert 'field "title" does not enable match' in _error("text_match(title, 'x')", schema)
    assert 'field "title" does not enable match' in _error("phrase_match(title, 'x')", schema)


def test_deep_nesting_is_refused_not_a_crash():
    assert "nested too deeply" in _error("(" * 500 + "i8 == 1" + ")" * 500)
    assert "nested too deeply" in _error(" + ".join(["1"] * 500) + " == i8")
    long_or = " or ".join(["i8 == 1"] * 2000)
    assert set(np.flatnonzero(compile_filter(SCHEMA, long_or)(TABLE)).tolist()) == {0}


def test_pk_terms_finds_whole_primary_key_lookups_only():
    pk = SCHEMA.primary_field
    assert pk_terms("id in [1, 2, -3]", "id") == [1, 2, -3]
    assert pk_terms("id == 5", pk) == [5]
    assert pk_terms("5 == id", pk) == [5]
    assert pk_terms("id in {ids}", pk, {"ids": [4, 5]}) == [4, 5]
    assert pk_terms("id in []", pk) == []
    for expr in ("id > 1", "id in [1] and i8 == 1", "id not in [1]", "i8 in [1]", "id in ['a']", "id in [1,",
                 "id == 1.5", ""):
        assert pk_terms(expr, pk) is None, expr


def _general(fn, *args):
    """``fn`` (``pk_terms``/``field_terms``) with its shortcut for plain lists turned off: the
    answer of the tokenizer and parser."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(compiler, "_simple_terms", lambda expr: None)
        return fn(*args)


def test_pk_terms_reads_plain_lists_without_the_parser_to_the_parsers_answer():
    """pymilvus' ``get``/``delete`` by ids send ``id in [1,2,3]`` / ``pk in ['a','b']``: read by a
    pattern, never differently from the general path."""
    pk = SCHEMA.primary_field
    s = SCHEMA.get_field("s")
    top = 2**63 - 1
    simple = ["id in [1,2,3]", "id in [7]", " id\tIN\n[ -5 , 0,12 ]  ", f"id in [{top}, -{top}]",
              "s in ['a','b']", 's in ["a b", \'c"d\', ""]', "i8 in [1, 2]", "id in ['a']", "s in [1]", "idx in [1]"]
    general = ["id in []", "id in [1,]", "id in [017]", "id in [0x1F]", "id in [1.5]", "id in [+1]",
               "id in [- 1]", f"id in [{top + 1}]", f"id in [-{top + 1}]", "s in ['a\\'b']", "s in [r'a']",
               "in in [1]", "not in [1]", "true in [1]", "id not in [1]", "id in [[1]]", "id in [1] and i8 == 1",
               "id in {ids}", "(id in [1])", "id in [1, 2", "$meta in [1]", "id  in [1]x", "idin [1]",
               "id in [true]", "s in ['a\nb']"]
    for expr in simple + general:
        assert (_simple_terms(expr) is not None) == (expr in simple), expr
        for target in (pk, s, "id", "s"):
            assert pk_terms(expr, target) == _general(pk_terms, expr, target), (expr, target)
            if not isinstance(target, str):
                assert field_terms(expr, target) == _general(field_terms, expr, target), (expr, target)
    assert pk_terms("id in [1,2,3]", pk) == [1, 2, 3]
    assert pk_terms("s in ['a','b']", s) == ["a", "b"]
    assert pk_terms("id in [1,2]", pk, {"x": 1}) == [1, 2]  # template values given: the general path
    rng = np.random.default_rng(7)
    for _ in range(300):  # random plain lists, random spacing: the same keys either way
        keys = rng.integers(-(2**63) + 1, 2**63 - 1, size=int(rng.integers(1, 20)), dtype=np.int64).tolist()
        spaces = [" " * int(k) for k in rng.integers(0, 3, size=2 * len(keys) + 2)]
        body = ",".join(f"{spaces[2 * i]}{k}{spaces[2 * i + 1]}" for i, k in enumerate(keys))
        expr = f"id{spaces[-1] or ' '}in{spaces[-2]}[{body}]"
        assert _simple_terms(expr) == ("id", keys), expr
        assert pk_terms(expr, pk) == _general(pk_terms, expr, pk) == keys, expr


def test_text_match_tokenizes_rows_and_query_with_the_field_analyzer():
    import pyarrow as pa

    schema = CollectionSchemaModel(spb.CollectionSchema(name="t", fields=[
        field("id", spb.Int64, is_primary_key=True),
        field("body", spb.VarChar, params={"max_length": 100, "enable_match": "true",
                                            "analyzer_params": '{"type": "english"}'}),
        field("v", spb.FloatVector, params={"dim": 2})]))
    table = pa.table({"id": [0, 1, 2, 3], "body": ["Dogs were running", "the runner", "A DOG", None],
                      "v": pa.array([[0.0, 0.0]] * 4, pa.list_(pa.float32(), 2))})
    cases = {"text_match(body, 'run')": {0}, "text_match(body, 'dogs runs')": {0, 2},
             "text_match(body, 'dog running', minimum_should_match=2)": {0}, "text_match(body, 'the')": set()}
    for expr, want in cases.items():
        compiled = compile_filter(schema, expr)
        assert set(np.flatnonzero(compiled(table)).tolist()) == want, expr
        assert set(np.flatnonzero(compiled.reference(table)).tolist()) == want, expr


def _text_schema(analyzer_params: str | None = None) -> CollectionSchemaModel:
    params = {"max_length": 200, "enable_analyzer": "true", "enable_match": "true"}
    if analyzer_params:
        params["analyzer_params"] = analyzer_params
    return CollectionSchemaModel(spb.CollectionSchema(name="t", fields=[
        field("id", spb.Int64, is_primary_key=True), field("text", spb.VarChar, nullable=True, params=params),
        field("v", spb.FloatVector, params={"dim": 2})]))


def _selected(schema: CollectionSchemaModel, texts: list[str | None], expr: str) -> list[int]:
    import pyarrow as pa

    table = pa.table({"id": list(range(len(texts))), "text": pa.array(texts, pa.string()),
                      "v": pa.array([[0.0, 0.0]] * len(texts), pa.list_(pa.float32(), 2))})
    compiled = compile_filter(schema, expr)
    fast = np.flatnonzero(compiled(table)).tolist()
    assert np.flatnonzero(compiled.reference(table)).tolist() == fast, expr
    return fast


# the rows of Milvus' "Phrase Match" guide, and a null one
GUIDE_ROWS = ["Machine learning is a subset of artificial intelligence that focuses on algorithms.",
              "Deep learning machine algorithms require large datasets for training.",
              "The machine learning model showed excellent performance on the test set.",
              "Natural language processing and machine learning go hand in hand.",
              "This article discusses various learning machine techniques and applications.",
              None]


@pytest.mark.parametrize(("expr", "expected"), [
    ("PHRASE_MATCH(text, 'machine learning')", [0, 2, 3]),  # slop 0: the exact phrase
    ("PHRASE_MATCH(text, 'learning machine', 1)", [1, 4]),  # slop 1: not the reversed order
    ("PHRASE_MATCH(text, 'machine learning', 2)", [0, 1, 2, 3, 4]),  # slop 2: reversed too
    ("PHRASE_MATCH(text, 'machine learning', 3)", [0, 1, 2, 3, 4]),
])
def test_phrase_match_selects_the_rows_of_the_milvus_guide(expr, expected):
    assert _selected(_text_schema(), GUIDE_ROWS, expr) == expected


def test_phrase_match_slop_counts_positions_out_of_place():
    # the slop examples of Milvus' guide for a filter on "machine learning"
    texts = ["machine learning", "machine boosts learning", "learning machine", "machine quickly boosts learning",
             "machine deep learning"]
    schema = _text_schema()
    assert _selected(schema, texts, "phrase_match(text, 'machine learning')") == [0]
    assert _selected(schema, texts, "phrase_match(text, 'machine learning', 1)") == [0, 1, 4]
    assert _selected(schema, texts, "phrase_match(text, 'machine learning', 2)") == [0, 1, 2, 3, 4]
    # three terms: every one within the slop of where the phrase puts it
    texts = ["a b c", "a x b c", "a x b y c", "c b a", "b a c", "a b"]
    assert _selected(schema, texts, "phrase_match(text, 'a b c')") == [0]
    assert _selected(schema, texts, "phrase_match(text, 'a b c', 1)") == [0, 1]
    assert _selected(schema, texts, "phrase_match(text, 'a b c', 2)") == [0, 1, 2, 4]
    assert _selected(schema, texts, "phrase_match(text, 'a b c', 4)") == [0, 1, 2, 3, 4]
    # a repeated query term may use the same occurrence (Tantivy's phrase query; milvus#41738)
    texts = ["important notice please be aware this is an important notice"]
    assert _selected(schema, texts, "phrase_match(text, 'important important notice')") == []
    assert _selected(schema, texts, "phrase_match(text, 'important important notice', 1)") == [0]


def test_phrase_match_follows_the_positions_the_analyzer_gives():
    english = _text_schema('{"type": "english"}')
    texts = ["the quick fox", "quick brown fox", "quick the fox", "Quickly, foxes!", None]
    # stop words are dropped but keep their positions, in the rows and in the query
    assert _selected(english, texts, "phrase_match(text, 'quick fox')") == [0, 3]
    assert _selected(english, texts, "phrase_match(text, 'quick the fox')") == [1, 2]
    assert _selected(english, texts, "phrase_match(text, 'quick fox', 1)") == [0, 1, 2, 3]
    assert _selected(english, texts, "phrase_match(text, 'QUICKLY foxes')") == [0, 3]  # stemmed alike
    # nothing left of the query, or a token no row has: no row
    assert _selected(english, texts, "phrase_match(text, 'the of')") == []
    assert _selected(english, texts, "phrase_match(text, 'quick wolf', 10)") == []
    # one token: the rows that have it, whatever the slop
    assert _selected(english, texts, "phrase_match(text, 'the fox', 0)") == [0, 1, 2, 3]
