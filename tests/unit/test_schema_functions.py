"""BM25 functions in a collection schema: the checks at creation, the ids the server fills, the
output column computed on insert and upsert, and the output kept out of query results."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from pymilvus import DataType, Function, FunctionType, MilvusClient
from pymilvus.client.prepare import Prepare
from pymilvus.grpc_gen import schema_pb2

from milvus.schema import (
    CollectionSchemaModel,
    SchemaError,
    fields_to_arrow,
    normalize_schema,
    resolve_output_fields,
    validate_collection_schema,
    validate_new_field,
)
from milvus.schema.analyzer import bm25_rows
from milvus.schema.analyzer_params import analyzer_problem
from milvus.schema.errors import PARAMETER_INVALID
from milvus.schema.functions import validate_functions
from milvus.schema.import_files import read_json
from tests.unit.test_schema_support import Collection


def bm25(name="text_bm25_emb", inputs=("text",), outputs=("sparse",)) -> Function:
    return Function(name=name, input_field_names=list(inputs), output_field_names=list(outputs),
                    function_type=FunctionType.BM25)


def build(s, *, text_kwargs=None, functions=None) -> None:
    s.add_field("id", DataType.INT64, is_primary=True, auto_id=True)
    s.add_field("text", DataType.VARCHAR, max_length=1000, **(text_kwargs or {"enable_analyzer": True}))
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    for fn in [bm25()] if functions is None else functions:
        s.add_function(fn)


def proto_of(build_fn) -> schema_pb2.CollectionSchema:
    schema = MilvusClient.create_schema()
    build_fn(schema)
    request = Prepare.create_collection_request("coll", schema)
    return schema_pb2.CollectionSchema.FromString(request.schema)


def refused(schema: schema_pb2.CollectionSchema, fragment: str) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        validate_collection_schema(schema)
    assert fragment in info.value.message, info.value.message
    assert info.value.code == PARAMETER_INVALID
    return info.value


def function_proto(**kwargs) -> schema_pb2.FunctionSchema:
    base = dict(name="f", type=schema_pb2.FunctionType.BM25, input_field_names=["text"],
                output_field_names=["sparse"])
    base.update(kwargs)
    return schema_pb2.FunctionSchema(**base)


def with_functions(*functions: schema_pb2.FunctionSchema, **text_kwargs) -> schema_pb2.CollectionSchema:
    schema = proto_of(lambda s: build(s, functions=[], text_kwargs=text_kwargs or None))
    del schema.functions[:]
    schema.functions.extend(functions)
    return schema


# ---- creation ------------------------------------------------------------------------------


def test_the_documented_schema_is_valid_and_stored_with_ids():
    schema = proto_of(build)
    validate_collection_schema(schema)
    stored = normalize_schema(schema)
    ids = {f.name: f.fieldID for f in stored.fields}
    [fn] = stored.functions
    assert fn.id == 100
    assert list(fn.input_field_ids) == [ids["text"]]
    assert list(fn.output_field_ids) == [ids["sparse"]]
    assert [f.name for f in stored.fields if f.is_function_output] == ["sparse"]
    assert normalize_schema(stored) == stored  # a stored schema normalizes to itself
    model = CollectionSchemaModel(stored)
    assert model.producer("sparse").input_names == ("text",)
    assert model.producer("text") is None


def test_raw_schema_without_output_flag_gets_it():
    schema = with_functions(function_proto(name="a"))
    for f in schema.fields:
        f.is_function_output = False
    validate_collection_schema(schema)
    stored = normalize_schema(schema)
    assert [f.name for f in stored.fields if f.is_function_output] == ["sparse"]
    assert stored.functions[0].id == 100


def test_functions_get_distinct_ids():
    schema = proto_of(lambda s: (build(s, functions=[bm25()]),
                                 s.add_field("title", DataType.VARCHAR, max_length=10, enable_analyzer=True),
                                 s.add_field("title_sparse", DataType.SPARSE_FLOAT_VECTOR),
                                 s.add_function(bm25("second", ["title"], ["title_sparse"]))))
    validate_collection_schema(schema)
    stored = normalize_schema(schema)
    assert [fn.id for fn in stored.functions] == [100, 101]


@pytest.mark.parametrize("functions, fragment", [
    ([function_proto(name="")], "function name cannot be empty"),
    ([function_proto(name="a"), function_proto(name="a")], "duplicate function name a"),
    ([function_proto(type=schema_pb2.FunctionType.TextEmbedding)],
     "function type TextEmbedding is not supported by this server"),
    ([function_proto(type=schema_pb2.FunctionType.Rerank)], "function type Rerank is not supported"),
    ([function_proto(input_field_names=["text", "text2"])], "needs exactly 1 input field, got 2"),
    ([function_proto(input_field_names=[])], "needs exactly 1 input field, got 0"),
    ([function_proto(output_field_names=["sparse", "vec"])], "needs exactly 1 output field, got 2"),
    ([function_proto(input_field_names=["nope"])], "function input field not found: nope"),
    ([function_proto(output_field_names=["nope"])], "function output field not found: nope"),
    ([function_proto(input_field_names=["id"])], "input field must be a VARCHAR field, got field id"),
    ([function_proto(output_field_names=["text"])], "both input and output"),
    ([function_proto(params=[{"key": "k", "value": "v"}])], "accepts no params"),
    ([function_proto(name="a"), function_proto(name="b")], "duplicate function output sparse"),
])
def test_bad_functions_are_refused(functions, fragment):
    refused(with_functions(*functions), fragment)


def test_output_field_rules():
    refused(with_functions(function_proto(output_field_names=["id"])), "SparseFloatVector field, got field id")
    nullable = with_functions(function_proto())
    next(f for f in nullable.fields if f.name == "sparse").nullable = True
    refused(nullable, "vector type not support null")
    keyed = with_functions(function_proto())
    next(f for f in keyed.fields if f.name == "sparse").is_clustering_key = True
    refused(keyed, "has unsupported data type SparseFloatVector")
    marked = with_functions()
    next(f for f in marked.fields if f.name == "sparse").is_function_output = True
    refused(marked, "field sparse is marked as a function output but no function outputs it")


def test_output_key_and_nullable_checks_in_the_function_rules():
    for flag, fragment in [("is_partition_key", "partition key or clustering key"),
                           ("is_primary_key", "cannot be the primary key"),
                           ("nullable", "cannot be nullable")]:
        schema = with_functions(function_proto())
        setattr(next(f for f in schema.fields if f.name == "sparse"), flag, True)
        with pytest.raises(SchemaError, match=fragment):
            validate_functions(schema)


def test_input_needs_enable_analyzer():
    refused(with_functions(function_proto(), enable_match=True), "must set enable_analyzer to true")


@pytest.mark.parametrize("params", [
    None, {}, {"type": "standard"}, {"type": "standard", "stop_words": ["a"]}, {"type": "english"},
    {"type": "english", "stop_words": ["vector"]}, {"tokenizer": "standard"},
    {"tokenizer": "standard", "filter": ["lowercase"]}, {"tokenizer": {"type": "standard"}, "filter": ["lowercase"]},
    {"tokenizer": "whitespace", "filter": ["lowercase", "asciifolding", "alphanumonly",
                                          {"type": "stop", "stop_words": ["_english_", "x"]},
                                          {"type": "stemmer", "language": "french"}, {"type": "length", "max": 10}]},
])
def test_supported_analyzer_params_are_accepted(params):
    kwargs = {"enable_analyzer": True}
    if params is not None:
        kwargs["analyzer_params"] = params
    validate_collection_schema(proto_of(lambda s: build(s, text_kwargs=kwargs)))


@pytest.mark.parametrize("params, fragment", [
    ({"type": "chinese"}, "only the standard and english analyzers are supported by this server, got type 'chinese'"),
    ({"type": "standard", "max_token_length": 5}, "options ['max_token_length'] of the standard analyzer"),
    ({"tokenizer": "jieba"}, 'tokenizer "jieba" is not supported by this server'),
    ({"tokenizer": "standard", "filter": ["cnalphanumonly"]}, "filter cnalphanumonly is not supported"),
    ({"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "klingon"}]}, "stemmer language"),
    ({"tokenizer": "standard", "filter": [{"type": "stop", "stop_words": ["_french_"]}]}, "only _english_"),
    ({"tokenizer": "standard", "filter": [{"type": "length", "max": 0}]}, "positive integer max"),
    ({"tokenizer": "standard", "filter": "lowercase"}, "filter must be a list"),
])
def test_other_analyzers_are_refused(params, fragment):
    kwargs = {"enable_analyzer": True, "analyzer_params": params}
    refused(proto_of(lambda s: build(s, text_kwargs=kwargs)), fragment)


def test_analyzer_params_must_be_a_json_object():
    assert "not valid JSON" in analyzer_problem("{type")
    assert "must be a JSON object" in analyzer_problem("[1]")
    assert analyzer_problem(json.dumps({"type": "standard"})) is None


def test_a_function_output_cannot_be_added_later():
    stored = normalize_schema(proto_of(build))
    new = schema_pb2.FieldSchema(name="extra", data_type=schema_pb2.SparseFloatVector, nullable=True,
                                 is_function_output=True)
    with pytest.raises(SchemaError, match="not support to add a function output field"):
        validate_new_field(stored, new)


def test_a_stored_schema_validates_again():
    """AlterCollectionField checks the stored schema (ids filled, output marked) again."""
    validate_collection_schema(normalize_schema(proto_of(build)))


# ---- insert and upsert ---------------------------------------------------------------------

TEXTS = ["information retrieval is a field of study.",
         "Information, retrieval; INFORMATION!",
         ""]


@pytest.fixture(scope="module")
def coll() -> Collection:
    return Collection(build)


@pytest.fixture(scope="module")
def nullable() -> Collection:
    return Collection(lambda s: build(s, text_kwargs={"enable_analyzer": True, "nullable": True}))


def test_insert_computes_the_sparse_column(coll):
    batch = coll.to_arrow(coll.insert_rows([{"text": t} for t in TEXTS]))
    assert batch.schema.names == ["_row_id", "_ts", "id", "text", "sparse"]
    assert batch.column("sparse").equals(bm25_rows(pa.array(TEXTS)))
    assert batch.column("sparse").to_pylist()[2] == b""  # no terms: an empty vector


def test_column_inserts_compute_it_too(coll):
    batch = coll.to_arrow(coll.insert_columns([{"name": "text", "type": DataType.VARCHAR, "values": TEXTS}]))
    assert batch.column("sparse").equals(bm25_rows(pa.array(TEXTS)))


def test_a_null_text_gives_an_empty_vector(nullable):
    batch = nullable.to_arrow(nullable.insert_rows([{"text": None}, {"text": "a b a"}]))
    sparse = batch.column("sparse")
    assert sparse.null_count == 0
    assert sparse.to_pylist()[0] == b""
    assert sparse.equals(bm25_rows(pa.array([None, "a b a"], type=pa.string())))


def test_upsert_recomputes_the_sparse_column(coll):
    request = coll.upsert_rows([{"id": 5, "text": TEXTS[0]}])
    batch = coll.to_arrow(request, upsert=True)
    assert batch.column("id").to_pylist() == [5]
    assert batch.column("sparse").equals(bm25_rows(pa.array(TEXTS[:1])))


def test_partial_update_follows_the_text(coll):
    without = coll.to_arrow(coll.upsert_rows([{"id": 5}], partial_update=True), partial_update=True)
    assert without.schema.names == ["_row_id", "_ts", "id"]
    with_text = coll.to_arrow(coll.upsert_rows([{"id": 5, "text": TEXTS[1]}], partial_update=True),
                              partial_update=True)
    assert with_text.schema.names == ["_row_id", "_ts", "id", "text", "sparse"]
    assert with_text.column("sparse").equals(bm25_rows(pa.array(TEXTS[1:2])))


def test_the_text_is_still_required(coll):
    with pytest.raises(SchemaError, match="fieldSchema\\(text\\) has no corresponding fieldData"):
        fields_to_arrow(coll.model, [], 1, row_ids=[1], timestamps=1)


def test_an_import_file_may_not_hold_the_output(coll):
    data = json.dumps([{"text": "a", "sparse": {"1": 1.0}}]).encode()
    with pytest.raises(SchemaError, match="Attempt to insert an unexpected function output field `sparse`"):
        read_json(coll.model, data)
    table = read_json(coll.model, json.dumps([{"text": "a b"}]).encode())
    assert table.column_names == ["text"]


# ---- reads ---------------------------------------------------------------------------------


def test_star_leaves_function_outputs_out(coll):
    out = resolve_output_fields(coll.model, ["*"])
    assert [f.name for f in out.fields] == ["id", "text"]
    assert out.names == ["id", "text"]


def test_naming_a_function_output_is_refused(coll):
    for names in (["sparse"], ["text", "sparse"], ["*", "sparse"]):
        with pytest.raises(SchemaError) as info:
            resolve_output_fields(coll.model, names)
        assert info.value.message == "not allowed to retrieve raw data of field sparse"
        assert info.value.code == PARAMETER_INVALID


def test_a_stored_schema_from_before_ids_were_filled_still_works():
    """A collection created before functions were linked (id 0, no field ids) reads the same."""
    stored = normalize_schema(proto_of(build))
    for fn in stored.functions:
        fn.id = 0
        del fn.input_field_ids[:]
        del fn.output_field_ids[:]
    model = CollectionSchemaModel(stored)
    assert model.proto.functions[0].id == 100
    batch = fields_to_arrow(model, Collection(build).insert_rows([{"text": "x y"}]).fields_data, 1,
                            row_ids=np.array([1]), timestamps=1)
    assert batch.column("sparse").equals(bm25_rows(pa.array(["x y"])))
