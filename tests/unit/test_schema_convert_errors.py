"""Insert columns the Milvus proxy refuses: each raises SchemaError with a useful message."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from pymilvus import DataType, Function, FunctionType
from pymilvus.grpc_gen import schema_pb2

from milvus.schema import DYNAMIC_FIELD_NAME, SchemaError, SchemaLimits, fields_to_arrow
from milvus.schema.errors import PARAMETER_INVALID
from tests.unit.test_schema_support import Collection

DIM = 4


def build(s) -> None:
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("i8", DataType.INT8, nullable=True)
    s.add_field("s", DataType.VARCHAR, max_length=4, nullable=True)
    s.add_field("arr", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=2, max_length=3,
                nullable=True)
    s.add_field("j", DataType.JSON, nullable=True)
    s.add_field("f", DataType.FLOAT, nullable=True)
    s.add_field("bv", DataType.BINARY_VECTOR, dim=16, nullable=False)
    s.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("hv", DataType.FLOAT16_VECTOR, dim=DIM)
    s.add_field("bfv", DataType.BFLOAT16_VECTOR, dim=DIM)


@pytest.fixture(scope="module")
def coll() -> Collection:
    return Collection(build)


@pytest.fixture(scope="module")
def dyn() -> Collection:
    return Collection(lambda s: (s.add_field("id", DataType.INT64, is_primary=True),
                                 s.add_field("v", DataType.FLOAT_VECTOR, dim=2),
                                 s.add_field("title", DataType.VARCHAR, max_length=8)),
                      enable_dynamic_field=True)


def good_row(i: int = 1, **changes) -> dict:
    row = {"id": i, "v": [0.5] * DIM, "bv": b"\x00\x01", "sv": {1: 0.5},
           "hv": np.ones(DIM, dtype=np.float16), "bfv": b"\x80\x3f" * DIM}
    row.update(changes)
    return row


def columns(coll: Collection, rows: list[dict]) -> list[schema_pb2.FieldData]:
    return list(coll.insert_rows(rows).fields_data)


def replace(fields: list[schema_pb2.FieldData], fd: schema_pb2.FieldData) -> list[schema_pb2.FieldData]:
    return [fd if f.field_name == fd.field_name else f for f in fields]


def drop(fields: list[schema_pb2.FieldData], name: str) -> list[schema_pb2.FieldData]:
    return [f for f in fields if f.field_name != name]


def refused(coll: Collection, fields, num_rows: int, fragment: str, **kwargs) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        fields_to_arrow(coll.model, fields, num_rows, row_ids=np.arange(num_rows), timestamps=1, **kwargs)
    assert fragment in info.value.message, info.value.message
    assert info.value.code == PARAMETER_INVALID
    assert info.value.reason.endswith(": invalid parameter")
    return info.value


def float_vectors(name: str, flat: list[float], dim: int) -> schema_pb2.FieldData:
    fd = schema_pb2.FieldData(type=schema_pb2.FloatVector, field_name=name)
    fd.vectors.dim = dim
    fd.vectors.float_vector.data.extend(flat)
    return fd


def test_the_good_rows_are_accepted(coll):
    batch = coll.to_arrow(coll.insert_rows([good_row(1), good_row(2)]))
    assert batch.num_rows == 2


def test_num_rows_must_be_positive(coll):
    refused(coll, columns(coll, [good_row()]), 0, "num_rows should be greater than 0")


def test_wrong_dimension_reports_both_dims(coll):
    # pymilvus sets vectors.dim from the vectors it was given
    error = refused(coll, columns(coll, [good_row(v=[1.0, 2.0, 3.0])]), 1,
                    "the dim (3) of field data(v) is not equal to schema dim (4)")
    assert str(error) == "the dim (3) of field data(v) is not equal to schema dim (4): invalid parameter"


def test_float_data_must_divide_the_dim(coll):
    fields = replace(columns(coll, [good_row()]), float_vectors("v", [1.0] * 6, DIM))
    refused(coll, fields, 1, "the length(6) of float data should divide the dim(4)")


def test_row_count_mismatch_between_columns(coll):
    fields = replace(columns(coll, [good_row()]), float_vectors("v", [1.0] * 8, DIM))
    refused(coll, fields, 1, "the num_rows (2) of field (v) is not equal to passed num_rows (1)")


def test_binary_vector_bytes_must_match_the_dim(coll):
    fd = schema_pb2.FieldData(type=schema_pb2.BinaryVector, field_name="bv")
    fd.vectors.dim = 16
    fd.vectors.binary_vector = b"\x00\x01\x02"
    refused(coll, replace(columns(coll, [good_row()]), fd), 1, "should divide 2 bytes per row (dim 16)")
    fd.vectors.dim = 8
    refused(coll, replace(columns(coll, [good_row()]), fd), 1,
            "the dim (8) of field data(bv) is not equal to schema dim (16)")


def test_nan_in_a_float_vector(coll):
    refused(coll, columns(coll, [good_row(v=[0.0, float("nan"), 0.0, 0.0])]), 1,
            "is not a number or infinity")


def test_nan_in_a_float_scalar(coll):
    refused(coll, columns(coll, [good_row(f=float("inf"))]), 1, "value 'inf' at position 0 of field f")


def test_float16_from_floats_out_of_range(coll):
    refused(coll, columns(coll, [good_row(hv=[1.0, 70000.0, 0.0, 0.0])]), 1, "value out of range of float16")


def test_bfloat16_infinity(coll):
    refused(coll, columns(coll, [good_row(bfv=b"\x80\x7f" + b"\x80\x3f" * 3)]), 1,
            "of bfloat16 field bfv is not a number or infinity")


def test_int8_overflow(coll):
    refused(coll, columns(coll, [good_row(i8=5), good_row(2, i8=300)]), 2,
            "the 1th element (300) of field i8 out of range: [-128, 127]")


def test_varchar_longer_than_max_length_in_bytes(coll):
    # four characters pass pymilvus' own check, but Milvus counts bytes
    refused(coll, columns(coll, [good_row(s="ab"), good_row(2, s="äöüß")]), 2,
            "length of varchar field s exceeds max length, row number: 1, length: 8, max length: 4")


def test_array_longer_than_max_capacity(coll):
    refused(coll, columns(coll, [good_row(arr=["a", "b", "c"])]), 1,
            "the length (3) of 0th array exceeds max capacity (2)")


def test_array_element_longer_than_max_length(coll):
    refused(coll, columns(coll, [good_row(arr=["a"]), good_row(2, arr=["ok", "toolong"])]), 2,
            'length of VarChar array field "arr" exceeds max length, row number: 1, array index: 1, length: 7')


def test_array_elements_of_the_wrong_type(coll):
    fd = schema_pb2.FieldData(type=schema_pb2.Array, field_name="arr")
    fd.scalars.array_data.data.add().long_data.data.extend([1, 2])
    refused(coll, replace(columns(coll, [good_row()]), fd), 1, "expected VarChar elements, row 0 has long_data")


def test_missing_field(coll):
    refused(coll, drop(columns(coll, [good_row()]), "bv"), 1,
            "fieldSchema(bv) has no corresponding fieldData pass in")


def test_missing_nullable_field_is_null(coll):
    batch = fields_to_arrow(coll.model, drop(columns(coll, [good_row()]), "s"), 1, row_ids=[1], timestamps=1)
    assert batch.column("s").to_pylist() == [None]


def test_unknown_field(coll):
    extra = schema_pb2.FieldData(type=schema_pb2.Int64, field_name="nope")
    extra.scalars.long_data.data.append(1)
    refused(coll, columns(coll, [good_row()]) + [extra], 1, "fieldName nope not exist in collection schema")


def test_dynamic_data_without_dynamic_field(coll):
    meta = schema_pb2.FieldData(type=schema_pb2.JSON, field_name=DYNAMIC_FIELD_NAME, is_dynamic=True)
    meta.scalars.json_data.data.append(b"{}")
    refused(coll, columns(coll, [good_row()]) + [meta], 1,
            "without dynamic schema enabled, the field name cannot be set to $meta")


def test_duplicated_field(coll):
    fields = columns(coll, [good_row()])
    refused(coll, fields + [fields[0]], 1, "duplicated field id found")


def test_wrong_data_type(coll):
    fd = schema_pb2.FieldData(type=schema_pb2.Int32, field_name="i8")
    fd.scalars.int_data.data.append(1)
    refused(coll, replace(columns(coll, [good_row()]), fd), 1, "field i8 data type mismatch, expected Int8, got Int32")


def test_payload_of_the_wrong_kind(coll):
    fd = schema_pb2.FieldData(type=schema_pb2.VarChar, field_name="s")
    fd.scalars.long_data.data.append(1)
    refused(coll, replace(columns(coll, [good_row()]), fd), 1, "VarChar field 's' is illegal, array type mismatch")
    vec = schema_pb2.FieldData(type=schema_pb2.FloatVector, field_name="v")
    vec.vectors.dim = DIM
    vec.vectors.binary_vector = b"\x00" * 16
    refused(coll, replace(columns(coll, [good_row()]), vec), 1, "FloatVector field 'v' is illegal")


def test_primary_key_given_for_auto_id():
    coll = Collection(lambda s: (s.add_field("id", DataType.INT64, is_primary=True, auto_id=True),
                                 s.add_field("v", DataType.FLOAT_VECTOR, dim=2)))
    fields = list(coll.insert_rows([{"id": 3, "v": [1, 2]}]).fields_data)  # pymilvus passes it through
    refused(coll, fields, 1, "can not assign primary field data when auto id enabled id")
    allowed = fields_to_arrow(coll.model, fields, 1, row_ids=[9], timestamps=1, allow_insert_auto_id=True)
    assert allowed.column("id").to_pylist() == [3]
    refused(coll, drop(fields, "id"), 1, "must assign pk when upsert, primary field: id", upsert=True)


def test_valid_data_of_the_wrong_length(coll):
    fields = columns(coll, [good_row(s="a"), good_row(2)])
    fd = next(f for f in fields if f.field_name == "s")
    fd.valid_data.append(True)
    refused(coll, fields, 2, "the length of valid_data of field(s) is wrong, expected 2, got 3")


def test_null_in_a_field_that_is_not_nullable(coll):
    fields = columns(coll, [good_row()])
    fd = next(f for f in fields if f.field_name == "bv")
    fd.valid_data.append(False)
    refused(coll, fields, 1, "not support null when nullable is false, field(bv)")


def test_valid_data_that_does_not_match_the_values(coll):
    fields = columns(coll, [good_row(s="a"), good_row(2)])
    fd = next(f for f in fields if f.field_name == "s")
    fd.scalars.string_data.data.extend(["x", "y"])
    refused(coll, fields, 2, "the length (3) of field (s) does not match its valid_data (1 valid rows of 2)")


def test_row_aligned_values_with_valid_data_are_accepted(coll):
    fields = columns(coll, [good_row(s="a"), good_row(2)])
    fd = next(f for f in fields if f.field_name == "s")
    fd.scalars.string_data.data.append("")  # a placeholder under the null row
    batch = fields_to_arrow(coll.model, fields, 2, row_ids=[1, 2], timestamps=1)
    assert batch.column("s").to_pylist() == ["a", None]


def test_invalid_json(coll):
    fd = schema_pb2.FieldData(type=schema_pb2.JSON, field_name="j")
    fd.scalars.json_data.data.append(b"{not json")
    refused(coll, replace(columns(coll, [good_row()]), fd), 1, "invalid JSON in field j, row 0")


def test_json_longer_than_the_limit(coll):
    big = "x" * 100
    refused(coll, columns(coll, [good_row(j={"k": big})]), 1, "of json field (j) exceeds max length (64)",
            limits=SchemaLimits(max_json_length=64))


def test_dynamic_rows_must_be_objects_without_static_names(dyn):
    def meta(raw: bytes) -> list[schema_pb2.FieldData]:
        fields = list(dyn.insert_rows([{"id": 1, "v": [1, 2], "title": "t"}]).fields_data)
        fd = schema_pb2.FieldData(type=schema_pb2.JSON, field_name=DYNAMIC_FIELD_NAME, is_dynamic=True)
        fd.scalars.json_data.data.append(raw)
        return replace(fields, fd)

    refused(dyn, meta(b"[1, 2]"), 1, "milvus only support json map")
    refused(dyn, meta(b'{"title": "x"}'), 1, "dynamic field name cannot include the static field name: title")
    refused(dyn, meta(b'{"$meta": 1}'), 1, "cannot set json key to: $meta")
    refused(dyn, meta(b"x" * 70), 1, "the length (70) of dynamic field exceeds max length (64)",
            limits=SchemaLimits(max_json_length=64))


def test_missing_dynamic_column_is_an_empty_object(dyn):
    fields = [f for f in dyn.insert_rows([{"id": 1, "v": [1, 2], "title": "t"}]).fields_data if not f.is_dynamic]
    batch = fields_to_arrow(dyn.model, fields, 1, row_ids=[1], timestamps=1)
    assert batch.column(DYNAMIC_FIELD_NAME).to_pylist() == [b"{}"]


def sparse_field(*rows: bytes) -> schema_pb2.FieldData:
    fd = schema_pb2.FieldData(type=schema_pb2.SparseFloatVector, field_name="sv")
    fd.vectors.sparse_float_vector.contents.extend(rows)
    return fd


def pairs(*items: tuple[int, float]) -> bytes:
    return b"".join(struct.pack("<If", i, v) for i, v in items)


def test_sparse_rows_are_checked(coll):
    base = columns(coll, [good_row(), good_row(2), good_row(3)])
    ok = fields_to_arrow(coll.model, replace(base, sparse_field(pairs((1, 1.0)), b"", pairs((2, 1.0), (9, 2.0)))),
                         3, row_ids=[1, 2, 3], timestamps=1)
    assert ok.column("sv").to_pylist()[1] == b""
    refused(coll, replace(base, sparse_field(pairs((1, 1.0)), b"\x00" * 5, b"")), 3,
            "invalid data length in sparse float vector of field sv, row 1")
    refused(coll, replace(base, sparse_field(pairs((1, 1.0)), b"", pairs((5, 1.0), (5, 2.0)))), 3,
            "unsorted or same indices in sparse float vector of field sv, row 2")
    refused(coll, replace(base, sparse_field(pairs((3, 1.0)), pairs((9, 1.0), (2, 1.0)), b"")), 3,
            "unsorted or same indices in sparse float vector of field sv, row 1")
    refused(coll, replace(base, sparse_field(pairs((2**32 - 1, 1.0)), b"", b"")), 3, "must be less than 2^32-1")
    refused(coll, replace(base, sparse_field(pairs((1, float("nan"))), b"", b"")), 3, "is not a number")


def test_bad_row_ids_and_timestamps(coll):
    fields = columns(coll, [good_row()])
    with pytest.raises(ValueError, match="row_ids must hold 1 ids"):
        fields_to_arrow(coll.model, fields, 1, row_ids=[1, 2], timestamps=1)
    with pytest.raises(ValueError, match="timestamps must be one value or 1 values"):
        fields_to_arrow(coll.model, fields, 1, row_ids=[1], timestamps=[1, 2])
    per_row = fields_to_arrow(coll.model, fields, 1, row_ids=[1], timestamps=np.array([7], dtype=np.uint64))
    assert per_row.column("_ts").to_pylist() == [7]


def test_a_function_output_cannot_be_supplied():
    def bm25(s):
        s.add_field("id", DataType.INT64, is_primary=True)
        s.add_field("text", DataType.VARCHAR, max_length=64, enable_analyzer=True)
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                input_field_names=["text"], output_field_names=["sparse"]))

    coll = Collection(bm25)
    assert coll.model.field("sparse").is_function_output
    fields = list(coll.insert_rows([{"id": 1, "text": "hello world"}]).fields_data)
    assert [f.field_name for f in fields] == ["id", "text"]  # pymilvus leaves the output out
    given = schema_pb2.FieldData(type=schema_pb2.SparseFloatVector, field_name="sparse")
    given.vectors.sparse_float_vector.contents.append(b"")
    refused(coll, fields + [given], 1, "Attempt to insert an unexpected function output field `sparse`")
