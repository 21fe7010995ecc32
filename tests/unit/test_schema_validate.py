"""Collection schema validation, with schemas built by pymilvus the way clients send them."""

from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusClient
from pymilvus.client.prepare import Prepare
from pymilvus.client.utils import check_status
from pymilvus.exceptions import MilvusException
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus.errors import MilvusError
from milvus.errors import to_status as errors_to_status
from milvus.schema import SchemaError, SchemaLimits, validate_collection_schema, validate_new_field
from milvus.schema.errors import (
    FIELD_NAME_INVALID,
    PARAMETER_INVALID,
    PARAMETER_MISSING,
    UNEXPECTED,
    missing,
)
from milvus.schema.validate import validate_collection_name


def client_schema(build, *, name: str = "coll", **schema_kwargs) -> schema_pb2.CollectionSchema:
    """The CollectionSchema proto pymilvus puts in CreateCollectionRequest.schema."""
    schema = MilvusClient.create_schema(**schema_kwargs)
    build(schema)
    request = Prepare.create_collection_request(name, schema)
    return schema_pb2.CollectionSchema.FromString(request.schema)


def pk_vec(s, dim: int = 8) -> None:
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)


def raw_schema(*fields: schema_pb2.FieldSchema, name: str = "coll") -> schema_pb2.CollectionSchema:
    return schema_pb2.CollectionSchema(name=name, fields=list(fields))


def pk_field() -> schema_pb2.FieldSchema:
    return schema_pb2.FieldSchema(name="id", data_type=schema_pb2.Int64, is_primary_key=True)


def vec_field(dim: str | None = "8", data_type: int = schema_pb2.FloatVector, name: str = "vec"):
    fs = schema_pb2.FieldSchema(name=name, data_type=data_type)
    if dim is not None:
        fs.type_params.add(key="dim", value=dim)
    return fs


def expect_error(schema: schema_pb2.CollectionSchema, fragment: str, code: int = PARAMETER_INVALID) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        validate_collection_schema(schema)
    assert fragment in info.value.message, info.value.message
    assert info.value.code == code
    return info.value


def test_a_full_client_schema_is_valid():
    def build(s):
        pk_vec(s)
        s.add_field("bin", DataType.BINARY_VECTOR, dim=16)
        s.add_field("f16", DataType.FLOAT16_VECTOR, dim=4)
        s.add_field("bf16", DataType.BFLOAT16_VECTOR, dim=4)
        s.add_field("i8v", DataType.INT8_VECTOR, dim=4)
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_field("b", DataType.BOOL, nullable=True)
        s.add_field("i8", DataType.INT8, default_value=3)
        s.add_field("i16", DataType.INT16)
        s.add_field("i32", DataType.INT32)
        s.add_field("f", DataType.FLOAT, default_value=1.5)
        s.add_field("d", DataType.DOUBLE)
        s.add_field("s", DataType.VARCHAR, max_length=16, default_value="x", nullable=True)
        s.add_field("j", DataType.JSON, nullable=True)
        s.add_field("arr", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=8)
        s.add_field("arr_i", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4096)
        s.add_field("pkey", DataType.INT64, is_partition_key=True)
    validate_collection_schema(client_schema(build, enable_dynamic_field=True), collection_name="coll")


def test_varchar_primary_key_with_auto_id_is_valid():
    def build(s):
        s.add_field("id", DataType.VARCHAR, is_primary=True, auto_id=True, max_length=36)
        s.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    validate_collection_schema(client_schema(build))


def test_schema_without_vector_field_is_refused():
    expect_error(client_schema(lambda s: s.add_field("id", DataType.INT64, is_primary=True)),
                 "schema does not contain vector field")


def test_schema_without_primary_key_is_refused():
    error = expect_error(raw_schema(vec_field()), "primary key is not specified", PARAMETER_MISSING)
    assert error.reason == "primary key is not specified: missing parameter"


def test_two_primary_keys_are_refused():
    second = schema_pb2.FieldSchema(name="id2", data_type=schema_pb2.Int64, is_primary_key=True)
    expect_error(raw_schema(pk_field(), second, vec_field()),
                 "there are more than one primary key, field name = id, id2")


def test_primary_key_type_must_be_int64_or_varchar():
    pk = schema_pb2.FieldSchema(name="id", data_type=schema_pb2.Double, is_primary_key=True)
    expect_error(raw_schema(pk, vec_field()), "the data type of primary key should be Int64 or VarChar")


def test_varchar_primary_key_needs_max_length():
    pk = schema_pb2.FieldSchema(name="id", data_type=schema_pb2.VarChar, is_primary_key=True)
    expect_error(raw_schema(pk, vec_field()), "type param(max_length) should be specified for the field(id)",
                 PARAMETER_MISSING)


def test_auto_id_only_on_the_primary_key():
    other = schema_pb2.FieldSchema(name="n", data_type=schema_pb2.Int64, autoID=True)
    expect_error(raw_schema(pk_field(), other, vec_field()),
                 "only primary field can speficy AutoID with true, field name = n")


@pytest.mark.parametrize(("dim", "fragment"), [
    (None, "dimension is not defined in field type params of field vec"),
    ("1", "invalid dimension: 1. should be in range 2 ~ 32768"),
    ("0", "invalid dimension: 0. should be in range 2 ~ 32768"),
    ("32769", "float vector dimension should be in range 2 ~ 32768"),
    ("abc", "invalid dimension: abc of field vec"),
])
def test_dense_vector_dimension(dim, fragment):
    expect_error(raw_schema(pk_field(), vec_field(dim)), fragment)


def test_binary_vector_dimension_is_a_multiple_of_eight():
    expect_error(raw_schema(pk_field(), vec_field("12", schema_pb2.BinaryVector)),
                 "binary vector dimension should be multiple of 8")
    validate_collection_schema(raw_schema(pk_field(), vec_field(str(32768 * 8), schema_pb2.BinaryVector)))


def test_sparse_vector_takes_no_dimension():
    expect_error(raw_schema(pk_field(), vec_field("8", schema_pb2.SparseFloatVector)),
                 "dim should not be specified for sparse vector field vec")
    validate_collection_schema(raw_schema(pk_field(), vec_field(None, schema_pb2.SparseFloatVector)))


def test_vector_field_count_is_limited():
    vectors = [vec_field(name=f"v{i}") for i in range(3)]
    validate_collection_schema(raw_schema(pk_field(), *vectors))
    with pytest.raises(SchemaError, match="maximum vector field's number should be limited to 2"):
        validate_collection_schema(raw_schema(pk_field(), *vectors), limits=SchemaLimits(max_vector_field_num=2))


@pytest.mark.parametrize(("max_length", "fragment", "code"), [
    (None, "type param(max_length) should be specified for the field(s)", PARAMETER_MISSING),
    ("0", "should be in (0, 65535], but got 0 instead", PARAMETER_INVALID),
    ("65536", "should be in (0, 65535], but got 65536 instead", PARAMETER_INVALID),
])
def test_varchar_max_length(max_length, fragment, code):
    fs = schema_pb2.FieldSchema(name="s", data_type=schema_pb2.VarChar)
    if max_length is not None:
        fs.type_params.add(key="max_length", value=max_length)
    expect_error(raw_schema(pk_field(), vec_field(), fs), fragment, code)


def test_array_needs_a_supported_element_type():
    def build(s):
        pk_vec(s)
        s.add_field("arr", DataType.ARRAY, max_capacity=4)
    expect_error(client_schema(build), "element type None is not supported")

    def build_json(s):
        pk_vec(s)
        s.add_field("arr", DataType.ARRAY, element_type=DataType.JSON, max_capacity=4)
    expect_error(client_schema(build_json), "element type JSON is not supported")


def test_array_max_capacity():
    def build(capacity):
        def inner(s):
            pk_vec(s)
            kwargs = {} if capacity is None else {"max_capacity": capacity}
            s.add_field("arr", DataType.ARRAY, element_type=DataType.INT32, **kwargs)
        return inner
    expect_error(client_schema(build(None)), "type param(max_capacity) should be specified for array field arr",
                 PARAMETER_MISSING)
    expect_error(client_schema(build(4097)), "the maximum capacity specified for a Array should be in (0, 4096]")
    validate_collection_schema(client_schema(build(4096)))


def test_varchar_array_elements_need_max_length():
    def build(s):
        pk_vec(s)
        s.add_field("arr", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4)
    expect_error(client_schema(build), "type param(max_length) should be specified for the field(arr)",
                 PARAMETER_MISSING)


@pytest.mark.parametrize(("name", "fragment"), [
    ("1abc", "The first character of a field name must be an underscore or letter."),
    ("a-b", "Field name can only contain numbers, letters, and underscores."),
    ("like", "like is keyword in milvus."),
    ("NULL", "NULL is keyword in milvus."),
    ("json_contains", "json_contains is keyword in milvus."),
    ("x" * 256, "The length of a field name must be less than 255 characters."),
    ("naïve", "Field name can only contain numbers, letters, and underscores."),
])
def test_field_names(name, fragment):
    fs = schema_pb2.FieldSchema(name=name, data_type=schema_pb2.Int32)
    expect_error(raw_schema(pk_field(), vec_field(), fs), fragment, FIELD_NAME_INVALID)


@pytest.mark.parametrize("name", ["_row_id", "_ts", "RowID", "Timestamp", "$meta"])
def test_reserved_field_names(name):
    fs = schema_pb2.FieldSchema(name=name, data_type=schema_pb2.Int32)
    expect_error(raw_schema(pk_field(), vec_field(), fs), "is reserved for internal use", FIELD_NAME_INVALID)


def test_duplicated_field_names():
    expect_error(raw_schema(pk_field(), vec_field(), vec_field()), "duplicated field name vec found")


@pytest.mark.parametrize(("name", "fragment"), [
    ("", "collection name should not be empty"),
    ("9lives", "the first character of a collection name must be an underscore or letter"),
    ("my coll", "collection name can only contain numbers, letters and underscores"),
    ("c" * 256, "the length of a collection name must be less than 255 characters"),
])
def test_collection_names(name, fragment):
    expect_error(raw_schema(pk_field(), vec_field(), name=name), fragment)


def test_collection_alias_wording():
    with pytest.raises(SchemaError, match="Invalid collection alias: 1a"):
        validate_collection_name("1a", entity="alias")


def test_collection_name_must_match_the_request():
    with pytest.raises(SchemaError, match="collection name matches schema name"):
        validate_collection_schema(raw_schema(pk_field(), vec_field()), collection_name="other")


def test_field_count_is_limited():
    fields = [schema_pb2.FieldSchema(name=f"f{i}", data_type=schema_pb2.Int32) for i in range(63)]
    expect_error(raw_schema(pk_field(), vec_field(), *fields), "maximum field's number should be limited to 64")


def test_user_cannot_declare_the_dynamic_field():
    fs = schema_pb2.FieldSchema(name="extra", data_type=schema_pb2.JSON, is_dynamic=True)
    expect_error(raw_schema(pk_field(), vec_field(), fs), "cannot explicitly set a field as a dynamic field")


@pytest.mark.parametrize(("data_type", "fragment"), [
    (schema_pb2.String, "string data type not supported yet, please use VarChar type instead"),
    (0, "data type None is not valid"),
    (schema_pb2.Geometry, "field data type: Geometry is not supported"),
    (schema_pb2.Timestamptz, "field data type: Timestamptz is not supported"),
    (schema_pb2.ArrayOfVector, "array of vector can only be in the struct array field"),
])
def test_unsupported_types(data_type, fragment):
    fs = schema_pb2.FieldSchema(name="x", data_type=data_type)
    expect_error(raw_schema(pk_field(), vec_field(), fs), fragment)


def test_struct_array_fields_are_refused():
    schema = raw_schema(pk_field(), vec_field())
    schema.struct_array_fields.add(name="st")
    expect_error(schema, "struct array fields are not supported")


def test_nullable_primary_key_and_vector_are_refused():
    pk = pk_field()
    pk.nullable = True
    expect_error(raw_schema(pk, vec_field()), "primary field not support null")
    vec = vec_field()
    vec.nullable = True
    expect_error(raw_schema(pk_field(), vec), "vector type not support null, type:FloatVector, name:vec")


def test_default_values_follow_the_field_type():
    def schema_with(fs):
        return raw_schema(pk_field(), vec_field(), fs)

    mismatch = schema_pb2.FieldSchema(name="x", data_type=schema_pb2.Bool,
                                      default_value=schema_pb2.ValueField(string_data="yes"))
    expect_error(schema_with(mismatch), "default value type mismatches field schema type, field: x, type: Bool")
    too_big = schema_pb2.FieldSchema(name="x", data_type=schema_pb2.Int8,
                                     default_value=schema_pb2.ValueField(int_data=300))
    expect_error(schema_with(too_big), "default value out of range, field: x, type: Int8, value: 300")
    long_for_int16 = schema_pb2.FieldSchema(name="x", data_type=schema_pb2.Int16,
                                            default_value=schema_pb2.ValueField(long_data=-40000))
    expect_error(schema_with(long_for_int16), "default value out of range")
    json_default = schema_pb2.FieldSchema(name="x", data_type=schema_pb2.JSON,
                                          default_value=schema_pb2.ValueField(bytes_data=b"{}"))
    expect_error(schema_with(json_default), "JSON type not support default value")
    vec = vec_field()
    vec.default_value.float_data = 1.0
    expect_error(raw_schema(pk_field(), vec), "vector type not support default value")
    nan = schema_pb2.FieldSchema(name="x", data_type=schema_pb2.Double,
                                 default_value=schema_pb2.ValueField(double_data=float("nan")))
    expect_error(schema_with(nan), "should be a finite number")


def test_default_value_on_primary_key_is_refused():
    pk = pk_field()
    pk.default_value.long_data = 1
    expect_error(raw_schema(pk, vec_field()), "primary key can't be with default value")


def test_varchar_default_must_fit_max_length():
    def build(s):
        pk_vec(s)
        s.add_field("s", DataType.VARCHAR, max_length=3, default_value="abcd")
    expect_error(client_schema(build), "the length (4) of string exceeds max length (3)")


def test_client_int_defaults_for_small_int_fields_are_accepted():
    def build(s):
        pk_vec(s)
        s.add_field("i8", DataType.INT8, default_value=-128)
        s.add_field("i32", DataType.INT32, default_value=7)
    schema = client_schema(build)
    assert schema.fields[2].default_value.WhichOneof("data") == "long_data"  # what pymilvus sends
    validate_collection_schema(schema)


def test_partition_key_rules():
    def schema_with(**kwargs):
        key = schema_pb2.FieldSchema(name="k", data_type=kwargs.pop("data_type", schema_pb2.Int64),
                                     is_partition_key=True, **kwargs)
        key.type_params.add(key="max_length", value="8")
        return raw_schema(pk_field(), vec_field(), key)

    validate_collection_schema(schema_with())
    expect_error(schema_with(data_type=schema_pb2.Float), "the data type of partition key should be Int64 or VarChar")
    expect_error(schema_with(nullable=True), "partition key field not support nullable")
    two = schema_with()
    two.fields.add(name="k2", data_type=schema_pb2.Int64, is_partition_key=True)
    expect_error(two, "there are more than one partition key, field name = k, k2")


def test_clustering_key_rules():
    schema = raw_schema(pk_field(), vec_field(),
                        schema_pb2.FieldSchema(name="j", data_type=schema_pb2.JSON, is_clustering_key=True))
    expect_error(schema, "clustering key field j has unsupported data type JSON")


def test_new_field_must_be_nullable_and_new():
    stored = raw_schema(pk_field(), vec_field())
    validate_new_field(stored, schema_pb2.FieldSchema(name="extra", data_type=schema_pb2.Int32, nullable=True))
    with pytest.raises(SchemaError, match="added field must be nullable"):
        validate_new_field(stored, schema_pb2.FieldSchema(name="extra", data_type=schema_pb2.Int32))
    with pytest.raises(SchemaError, match="duplicated field name vec"):
        validate_new_field(stored, schema_pb2.FieldSchema(name="vec", data_type=schema_pb2.Int32, nullable=True))
    with pytest.raises(SchemaError, match="not support to add pk field"):
        validate_new_field(stored, schema_pb2.FieldSchema(name="p", data_type=schema_pb2.Int64,
                                                          is_primary_key=True, nullable=True))


def test_errors_reach_pymilvus_as_milvus_exceptions_with_our_message():
    error = expect_error(raw_schema(pk_field(), vec_field("1")), "invalid dimension")
    status = error.to_status()
    assert status.code == 1100
    assert status.error_code == common_pb2.IllegalArgument
    assert status.extra_info["is_input_error"] == "true"
    with pytest.raises(MilvusException) as info:
        check_status(status)
    assert info.value.code == 1100
    assert info.value.message == error.reason
    assert info.value.message.startswith("invalid dimension: 1. should be in range 2 ~ 32768")
    assert info.value.is_input_error


def test_error_code_table():
    assert missing("x").error_code == common_pb2.IllegalArgument
    assert SchemaError("x", FIELD_NAME_INVALID).error_code == common_pb2.UnexpectedError
    internal = SchemaError("boom", UNEXPECTED)
    assert not internal.is_input_error
    assert "is_input_error" not in internal.to_status().extra_info
    assert str(internal) == "boom: unexpected error"
    with pytest.raises(ValueError):
        SchemaError("x", 4242)


def test_schema_errors_belong_to_the_project_error_table():
    error = SchemaError("bad dim")
    assert isinstance(error, MilvusError)
    assert (error.code, error.legacy, error.message) == (1100, common_pb2.IllegalArgument, "bad dim")
    status = errors_to_status(error)
    assert (status.code, status.error_code) == (1100, common_pb2.IllegalArgument)
    assert "bad dim" in status.reason
