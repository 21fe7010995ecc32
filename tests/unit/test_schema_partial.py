"""Partial update merges (``milvus.schema.partial``): rows built and read back with pymilvus'
own request building and result parsing, the stored rows as an insert stored them."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from pymilvus import DataType, Function, FunctionType

from milvus.schema import SchemaError, merge_partial_update
from milvus.schema.analyzer import bm25_rows
from milvus.schema.limits import SchemaLimits
from tests.unit.test_schema_convert import every_type, expected_row, make_rows, nullable_schema
from tests.unit.test_schema_support import Collection, ResultReader


@pytest.fixture
def reader() -> Iterator[ResultReader]:
    r = ResultReader()
    yield r
    r.close()


def stored(coll: Collection, rows: list[dict]) -> pa.Table:
    return pa.Table.from_batches([coll.to_arrow(coll.insert_rows(rows), first_row_id=1, ts=7)])


def given(coll: Collection, rows: list[dict]) -> pa.RecordBatch:
    return coll.to_arrow(coll.upsert_rows(rows, partial_update=True), partial_update=True)


def merge(coll: Collection, old: pa.Table | None, rows: list[dict], **kwargs) -> pa.RecordBatch:
    return merge_partial_update(coll.model, given(coll, rows), old, **kwargs)


@pytest.fixture(scope="module")
def every() -> Collection:
    return Collection(every_type)


def test_a_stored_row_keeps_every_field_left_out_exactly(every, reader):
    rows = make_rows(4)
    old = stored(every, rows)
    merged = merge(every, old, [{"id": rows[2]["id"], "s": "new"}, {"id": rows[0]["id"], "s": "other"}])
    assert merged.schema.equals(every.model.arrow_schema, check_metadata=True)
    assert merged.column("_row_id").to_pylist() == [1000, 1001]  # the request's rows, in its order
    assert merged.column("_ts").to_pylist() == [42, 42]
    for name in merged.schema.names[2:]:  # vectors of every kind come back bit for bit
        if name != "s":
            assert merged.column(name).equals(old.column(name).take(pa.array([2, 0])).combine_chunks()), name
    assert reader.query(every, merged, ["*"]) == [{**expected_row(rows[2]), "s": "new"},
                                                  {**expected_row(rows[0]), "s": "other"}]


def test_given_vectors_replace_the_stored_ones(every, reader):
    rows = make_rows(2)
    fresh = make_rows(5)[4]
    merged = merge(every, stored(every, rows), [{"id": rows[1]["id"], "fv": fresh["fv"], "sv": fresh["sv"]}])
    got = reader.query(every, merged, ["fv", "sv", "s"])[0]
    want = expected_row({**rows[1], "fv": fresh["fv"], "sv": fresh["sv"]})
    assert got == {"fv": want["fv"], "sv": want["sv"], "s": rows[1]["s"]}


@pytest.fixture(scope="module")
def nullable() -> Collection:
    return Collection(nullable_schema)


def test_nulls_and_defaults(nullable, reader):
    old = stored(nullable, [{"id": "a", "v": [1, 2], "s": "old", "i64": 7, "dflt_i": 3}])
    merged = merge(nullable, old, [{"id": "a", "s": None, "dflt_i": None}])  # a null given: null, or the default
    assert reader.query(nullable, merged, ["id", "s", "i64", "dflt_i", "dflt_s"]) == [
        {"id": "a", "s": None, "i64": 7, "dflt_i": -5, "dflt_s": "dflt"}]


def test_a_new_row_fills_what_an_insert_fills(nullable, reader):
    merged = merge(nullable, None, [{"id": "n", "v": [3, 4], "s": "x"}])
    assert reader.query(nullable, merged, ["id", "s", "i64", "dflt_i", "dflt_s", "j"]) == [
        {"id": "n", "s": "x", "i64": None, "dflt_i": -5, "dflt_s": "dflt", "j": None}]


def test_a_new_row_missing_a_required_field_is_refused(nullable):
    old = stored(nullable, [{"id": "a", "v": [1, 2]}])
    merge(nullable, old, [{"id": "a", "s": "only"}])  # the stored row has its vector
    with pytest.raises(SchemaError, match=r"fieldSchema\(v\) has no corresponding fieldData pass in"):
        merge(nullable, old, [{"id": "a", "s": "x"}, {"id": "b", "s": "y"}])


def test_a_mixed_batch_keeps_the_request_order(nullable, reader):
    old = stored(nullable, [{"id": "a", "v": [1, 2], "i64": 1}, {"id": "c", "v": [5, 6], "i64": 3}])
    merged = merge(nullable, old, [{"id": "c", "v": [9, 9], "i64": 30}, {"id": "b", "v": [7, 8], "i64": 20},
                                   {"id": "a", "v": [0, 1], "i64": 10}])
    assert reader.query(nullable, merged, ["id", "i64", "v", "dflt_s"]) == [
        {"id": "c", "i64": 30, "v": [9.0, 9.0], "dflt_s": "dflt"},
        {"id": "b", "i64": 20, "v": [7.0, 8.0], "dflt_s": "dflt"},
        {"id": "a", "i64": 10, "v": [0.0, 1.0], "dflt_s": "dflt"}]


def test_a_field_the_stored_rows_predate_reads_as_its_default(nullable, reader):
    old = stored(nullable, [{"id": "a", "v": [1, 2], "dflt_i": 9, "s": "t"}]).drop_columns(["dflt_i", "s"])
    merged = merge(nullable, old, [{"id": "a", "i64": 1}])
    assert reader.query(nullable, merged, ["id", "dflt_i", "s", "i64"]) == [{"id": "a", "dflt_i": -5, "s": None, "i64": 1}]
    nulled = stored(nullable, [{"id": "a", "v": [1, 2]}])
    at = nulled.schema.get_field_index("dflt_i")  # a segment that predates the field answers nulls
    nulled = nulled.set_column(at, nulled.schema.field(at), pa.nulls(1, pa.int32()))
    assert merge(nullable, nulled, [{"id": "a", "i64": 1}]).column("dflt_i").to_pylist() == [-5]


def dynamic(s) -> None:
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("title", DataType.VARCHAR, max_length=32, nullable=True)


@pytest.fixture(scope="module")
def dyn() -> Collection:
    return Collection(dynamic, enable_dynamic_field=True)


def test_dynamic_keys_are_merged(dyn, reader):
    old = stored(dyn, [{"id": 1, "v": [1, 2], "title": "t", "author": "John", "year": 2020, "tags": ["f"]},
                       {"id": 2, "v": [3, 4], "genre": "fantasy"}])
    merged = merge(dyn, old, [{"id": 1, "author": "Jane", "genre": "sf"}, {"id": 2}])
    assert reader.query(dyn, merged, ["*"]) == [
        {"id": 1, "v": [1.0, 2.0], "title": "t", "author": "Jane", "year": 2020, "tags": ["f"], "genre": "sf"},
        {"id": 2, "v": [3.0, 4.0], "title": None, "genre": "fantasy"}]
    mixed = merge(dyn, old, [{"id": 2, "v": [0, 0], "title": "u"}, {"id": 3, "v": [5, 6], "title": None, "c": 1}])
    assert reader.query(dyn, mixed, ["*"]) == [
        {"id": 2, "v": [0.0, 0.0], "title": "u", "genre": "fantasy"},
        {"id": 3, "v": [5.0, 6.0], "title": None, "c": 1}]


def test_a_stored_dynamic_key_that_became_a_field_is_dropped(dyn):
    old = stored(dyn, [{"id": 1, "v": [1, 2], "x": 1}])
    meta = pa.array([b'{"x": 1, "title": "was dynamic"}'], type=pa.binary())
    old = old.set_column(old.schema.get_field_index("$meta"), old.schema.field("$meta"), meta)
    merged = merge(dyn, old, [{"id": 1, "y": 2}])
    assert merged.column("$meta").to_pylist() == [b'{"x":1,"y":2}']


def test_a_merged_dynamic_row_past_the_json_limit_is_refused(dyn):
    old = stored(dyn, [{"id": 1, "v": [1, 2], "a": "x" * 40}])
    with pytest.raises(SchemaError, match="of dynamic field exceeds max length"):
        merge(dyn, old, [{"id": 1, "b": "y" * 40}], limits=SchemaLimits(max_json_length=64))


def bm25_schema(s) -> None:
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=100, enable_analyzer=True)
    s.add_field("tag", DataType.VARCHAR, max_length=10, nullable=True)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25", input_field_names=["text"], output_field_names=["sparse"],
                            function_type=FunctionType.BM25))


def test_function_outputs_follow_the_merged_text():
    coll = Collection(bm25_schema)
    old = stored(coll, [{"id": 1, "text": "red fox"}, {"id": 2, "text": "blue whale"}])
    kept = merge(coll, old, [{"id": 2, "tag": "t"}, {"id": 1, "tag": None}])
    assert kept.column("text").to_pylist() == ["blue whale", "red fox"]
    assert kept.column("sparse").equals(old.column("sparse").take(pa.array([1, 0])).combine_chunks())
    changed = merge(coll, old, [{"id": 2, "text": "green frog jumps"}, {"id": 3, "text": "new"}])
    assert changed.column("sparse").equals(bm25_rows(pa.array(["green frog jumps", "new"])))
    assert changed.column("tag").to_pylist() == [None, None]
