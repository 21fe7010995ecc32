"""Which fields and functions a collection may lose (``milvus.schema.drop``)."""

from __future__ import annotations

import pytest
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus.schema.drop import drop_field, drop_function
from milvus.schema.errors import SchemaError

DIM = [common_pb2.KeyValuePair(key="dim", value="4")]


def schema() -> schema_pb2.CollectionSchema:
    return schema_pb2.CollectionSchema(name="c", fields=[
        schema_pb2.FieldSchema(fieldID=100, name="id", data_type=schema_pb2.Int64, is_primary_key=True),
        schema_pb2.FieldSchema(fieldID=101, name="v", data_type=schema_pb2.FloatVector, type_params=DIM),
        schema_pb2.FieldSchema(fieldID=102, name="text", data_type=schema_pb2.VarChar),
        schema_pb2.FieldSchema(fieldID=103, name="sparse", data_type=schema_pb2.SparseFloatVector,
                               is_function_output=True),
        schema_pb2.FieldSchema(fieldID=104, name="cluster", data_type=schema_pb2.Int64, is_clustering_key=True),
        schema_pb2.FieldSchema(fieldID=105, name="plain", data_type=schema_pb2.Int64),
    ], functions=[schema_pb2.FunctionSchema(name="bm25", type=schema_pb2.FunctionType.BM25,
                                            input_field_names=["text"], output_field_names=["sparse"])])


@pytest.mark.parametrize("name, words", [
    ("id", "primary key"), ("cluster", "clustering key"), ("sparse", "output of function bm25"),
    ("text", "input of function bm25"), ("nope", "field not found"),
])
def test_refused_fields(name, words):
    with pytest.raises(SchemaError, match=words):
        drop_field(schema(), name)


def test_a_field_by_name_or_id_and_never_both():
    out, dropped = drop_field(schema(), field_id=105)
    assert dropped.name == "plain" and [f.name for f in out.fields] == ["id", "v", "text", "sparse", "cluster"]
    with pytest.raises(SchemaError, match="exactly one"):
        drop_field(schema(), "plain", 105)
    with pytest.raises(SchemaError, match="exactly one"):
        drop_field(schema())


def test_the_last_vector_field_stays():
    out, _ = drop_function(schema(), "bm25", drop_outputs=True)
    with pytest.raises(SchemaError, match="last vector field"):
        drop_field(out, "v")
    out, _ = drop_field(schema(), "v")  # the function's sparse output is a vector field too
    with pytest.raises(SchemaError, match="last vector field"):
        drop_function(out, "bm25", drop_outputs=True)


def test_a_function_goes_with_or_without_its_outputs():
    out, dropped = drop_function(schema(), "bm25", drop_outputs=True)
    assert [f.name for f in dropped] == ["sparse"] and not out.functions
    assert "sparse" not in [f.name for f in out.fields] and "text" in [f.name for f in out.fields]
    out, dropped = drop_function(schema(), "bm25", drop_outputs=False)
    assert dropped == [] and not out.functions
    assert not next(f for f in out.fields if f.name == "sparse").is_function_output
    with pytest.raises(SchemaError, match="function not found"):
        drop_function(schema(), "nope", drop_outputs=True)
