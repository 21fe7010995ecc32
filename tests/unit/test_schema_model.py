"""The schema model: normalization, lookups, the Arrow schema, primary keys and IPC."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from pymilvus import DataType, MilvusClient
from pymilvus.client.abstract import CollectionSchema as DescribedSchema
from pymilvus.client.prepare import Prepare
from pymilvus.grpc_gen import milvus_pb2, schema_pb2

from milvus.schema import (
    DYNAMIC_FIELD_NAME,
    CollectionSchemaModel,
    SchemaError,
    arrow_to_ids,
    batch_to_ipc,
    describe_schema,
    ids_to_arrow,
    ipc_to_batch,
    normalize_schema,
)
from milvus.schema.errors import FIELD_NOT_FOUND
from milvus.schema.model import FIELD_ID_KEY
from milvus.schema.pk import num_ids


def client_schema(build, **schema_kwargs) -> schema_pb2.CollectionSchema:
    schema = MilvusClient.create_schema(**schema_kwargs)
    build(schema)
    return schema_pb2.CollectionSchema.FromString(Prepare.create_collection_request("coll", schema).schema)


def every_type(s) -> None:
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("b", DataType.BOOL)
    s.add_field("i8", DataType.INT8, default_value=3)
    s.add_field("i16", DataType.INT16)
    s.add_field("i32", DataType.INT32)
    s.add_field("f", DataType.FLOAT, nullable=True)
    s.add_field("d", DataType.DOUBLE)
    s.add_field("s", DataType.VARCHAR, max_length=8)
    s.add_field("j", DataType.JSON)
    s.add_field("arr_s", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=8)
    s.add_field("arr_f", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=4)
    s.add_field("fv", DataType.FLOAT_VECTOR, dim=4)
    s.add_field("bv", DataType.BINARY_VECTOR, dim=16)
    s.add_field("hv", DataType.FLOAT16_VECTOR, dim=4)
    s.add_field("bfv", DataType.BFLOAT16_VECTOR, dim=4)
    s.add_field("i8v", DataType.INT8_VECTOR, dim=4)
    s.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)


@pytest.fixture
def model() -> CollectionSchemaModel:
    return CollectionSchemaModel(normalize_schema(client_schema(every_type, enable_dynamic_field=True)))


def test_normalize_assigns_ids_in_order_and_appends_the_dynamic_field():
    raw = client_schema(every_type, enable_dynamic_field=True)
    stored = normalize_schema(raw)
    assert [f.fieldID for f in stored.fields] == list(range(100, 100 + len(raw.fields) + 1))
    meta = stored.fields[-1]
    assert (meta.name, meta.data_type, meta.is_dynamic) == (DYNAMIC_FIELD_NAME, schema_pb2.JSON, True)
    assert all(f.fieldID == 0 for f in raw.fields)  # the input is left alone
    assert normalize_schema(stored) == stored


def test_normalize_keeps_existing_ids_and_numbers_new_fields_after_them():
    stored = normalize_schema(client_schema(lambda s: (s.add_field("id", DataType.INT64, is_primary=True),
                                                       s.add_field("v", DataType.FLOAT_VECTOR, dim=2))))
    stored.fields.add(name="added", data_type=schema_pb2.Int32, nullable=True)
    assert [f.fieldID for f in normalize_schema(stored).fields] == [100, 101, 102]


def test_normalize_narrows_client_int_defaults():
    stored = normalize_schema(client_schema(every_type))
    i8 = next(f for f in stored.fields if f.name == "i8")
    assert i8.default_value.WhichOneof("data") == "int_data"
    assert i8.default_value.int_data == 3


def test_describe_hides_the_dynamic_field_as_milvus_does(model):
    described = describe_schema(model.proto)
    assert DYNAMIC_FIELD_NAME not in [f.name for f in described.fields]
    assert described.enable_dynamic_field
    info = DescribedSchema(milvus_pb2.DescribeCollectionResponse(schema=described)).dict()
    assert info["enable_dynamic_field"] is True
    assert [f["name"] for f in info["fields"]][:3] == ["id", "b", "i8"]
    assert model.describe() == described


def test_model_lookups(model):
    assert model.name == "coll"
    assert model.primary_field.name == "id"
    assert not model.auto_id
    assert model.enable_dynamic_field and model.dynamic_field.name == DYNAMIC_FIELD_NAME
    assert [f.name for f in model.vector_fields] == ["fv", "bv", "hv", "bfv", "i8v", "sv"]
    assert model.dim("fv") == 4 and model.dim("sv") is None
    assert model.field_by_id(101).name == "b"
    assert model.field("arr_s").max_capacity == 4 and model.field("arr_s").max_length == 8
    assert model.field("i8").default_value == 3 and model.field("i8").has_default
    assert model.field("f").nullable
    assert DYNAMIC_FIELD_NAME not in [f.name for f in model.static_fields]
    assert model.get_field("nope") is None and not model.has_field("nope")
    with pytest.raises(SchemaError) as info:
        model.field("nope")
    assert info.value.code == FIELD_NOT_FOUND
    with pytest.raises(SchemaError):
        model.field_by_id(999)


def test_model_normalizes_a_client_schema_itself():
    raw = client_schema(every_type, enable_dynamic_field=True)
    assert CollectionSchemaModel(raw).proto == normalize_schema(raw)


def test_arrow_schema_per_milvus_type(model):
    schema = model.arrow_schema
    assert schema.names[:2] == ["_row_id", "_ts"]
    expected = {
        "_row_id": pa.int64(), "_ts": pa.uint64(), "id": pa.int64(), "b": pa.bool_(), "i8": pa.int8(),
        "i16": pa.int16(), "i32": pa.int32(), "f": pa.float32(), "d": pa.float64(), "s": pa.string(),
        "j": pa.binary(), "arr_s": pa.list_(pa.string()), "arr_f": pa.list_(pa.float32()),
        "fv": pa.list_(pa.float32(), 4), "bv": pa.binary(2), "hv": pa.binary(8), "bfv": pa.binary(8),
        "i8v": pa.binary(4), "sv": pa.binary(), DYNAMIC_FIELD_NAME: pa.binary(),
    }
    assert {f.name: f.type for f in schema} == expected
    assert schema.field("f").nullable and not schema.field("s").nullable
    ids = [int(f.metadata[FIELD_ID_KEY]) for f in schema]
    assert ids == [0, 1] + [f.field_id for f in model.fields]


def test_partial_arrow_schema(model):
    assert model.arrow_schema_for(["s", "id"]).names == ["_row_id", "_ts", "s", "id"]


def test_int_ids_round_trip():
    ids = arrow_to_ids(np.array([3, 1, 2], dtype=np.int64))
    assert ids.WhichOneof("id_field") == "int_id" and list(ids.int_id.data) == [3, 1, 2]
    assert ids_to_arrow(ids).equals(pa.array([3, 1, 2], type=pa.int64()))
    assert num_ids(ids) == 3
    wire = schema_pb2.IDs.FromString(ids.SerializeToString())
    assert ids_to_arrow(wire).to_pylist() == [3, 1, 2]


def test_str_ids_round_trip():
    ids = arrow_to_ids(pa.chunked_array([["a", "b"], ["c"]]))
    assert list(ids.str_id.data) == ["a", "b", "c"]
    assert ids_to_arrow(ids).to_pylist() == ["a", "b", "c"]
    assert arrow_to_ids(["x"]).str_id.data == ["x"]


def test_empty_and_bad_ids():
    assert ids_to_arrow(schema_pb2.IDs()).type == pa.int64()
    assert num_ids(schema_pb2.IDs()) == 0
    assert arrow_to_ids([]).WhichOneof("id_field") == "int_id"
    with pytest.raises(SchemaError, match="primary keys must be integers or strings"):
        arrow_to_ids(pa.array([1.5]))
    with pytest.raises(SchemaError, match="cannot be null"):
        arrow_to_ids(pa.array([1, None]))


def test_ipc_round_trip(model):
    batch = pa.RecordBatch.from_pydict({"_row_id": [1, 2], "_ts": pa.array([5, 5], type=pa.uint64()),
                                        "id": [10, 11]}, schema=model.arrow_schema_for(["id"]))
    again = ipc_to_batch(batch_to_ipc(batch))
    assert again.equals(batch)
    assert again.schema.field("id").metadata == batch.schema.field("id").metadata


def test_ipc_of_several_batches_and_of_none():
    schema = pa.schema([("x", pa.int64())])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(pa.record_batch([pa.array([1])], schema=schema))
        writer.write_batch(pa.record_batch([pa.array([2, 3])], schema=schema))
    assert ipc_to_batch(sink.getvalue().to_pybytes()).column(0).to_pylist() == [1, 2, 3]
    empty = pa.BufferOutputStream()
    with pa.ipc.new_stream(empty, schema):
        pass
    assert ipc_to_batch(empty.getvalue().to_pybytes()).num_rows == 0
