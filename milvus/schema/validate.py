"""Validation of a new collection schema, following the Milvus proxy and root coordinator.

The checks and their messages follow Milvus' ``createCollectionTask.PreExecute`` (proxy) and
``checkFieldSchema`` (root coordinator).  Where Milvus has moved on to features this
implementation does not store (struct arrays, geometry, timestamptz, nullable vectors), the
schema is refused with a message that says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import datatypes as dt
from milvus.schema.errors import FIELD_NAME_INVALID, SchemaError, invalid, missing
from milvus.schema.functions import validate_functions
from milvus.schema.limits import DEFAULT_LIMITS, SchemaLimits
from milvus.schema.model import (
    DIM_KEY,
    DYNAMIC_FIELD_NAME,
    MAX_CAPACITY_KEY,
    MAX_LENGTH_KEY,
    ROW_ID_FIELD,
    TIMESTAMP_FIELD,
    default_to_python,
)

# Names the engine uses itself (Milvus' RowID/Timestamp plus our Arrow system columns).
RESERVED_FIELD_NAMES = frozenset({"RowID", "Timestamp", DYNAMIC_FIELD_NAME, "__virtual_pk__",
                                  ROW_ID_FIELD, TIMESTAMP_FIELD})

# Words of the filter expression language (Milvus common.FieldNameKeywords).
FIELD_NAME_KEYWORDS = frozenset({
    "$meta", "exists", "EXISTS", "json_contains", "JSON_CONTAINS", "json_contains_all",
    "JSON_CONTAINS_ALL", "json_contains_any", "JSON_CONTAINS_ANY", "array_contains",
    "ARRAY_CONTAINS", "array_contains_all", "ARRAY_CONTAINS_ALL", "array_contains_any",
    "ARRAY_CONTAINS_ANY", "array_length", "ARRAY_LENGTH", "true", "True", "TRUE", "false",
    "False", "FALSE", "text_match", "TEXT_MATCH", "phrase_match", "PHRASE_MATCH",
    "random_sample", "RANDOM_SAMPLE",
})
_CASELESS_KEYWORDS = frozenset({"like", "and", "or", "not", "in", "null"})

_PARTITION_KEY_TYPES = frozenset({spb.Int64, spb.VarChar})
_CLUSTERING_KEY_TYPES = frozenset({spb.Int8, spb.Int16, spb.Int32, spb.Int64, spb.Float, spb.Double,
                                   spb.VarChar, spb.FloatVector})

# Which ValueField kinds may default which field types (Milvus checkFieldSchema).
_DEFAULT_KINDS: dict[str, frozenset[int]] = {
    "bool_data": frozenset({spb.Bool}),
    "int_data": frozenset({spb.Int8, spb.Int16, spb.Int32}),
    # pymilvus sends every Python int default as long_data; normalize_schema narrows it.
    "long_data": frozenset({spb.Int8, spb.Int16, spb.Int32, spb.Int64}),
    "float_data": frozenset({spb.Float}),
    "double_data": frozenset({spb.Double}),
    "string_data": frozenset({spb.VarChar, dt.TEXT}),
}


def _is_alpha(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_identifier(name: str) -> bool:
    return (_is_alpha(name[0]) or name[0] == "_") and all(
        c == "_" or _is_alpha(c) or ("0" <= c <= "9") for c in name[1:])


def validate_collection_name(name: str, limits: SchemaLimits = DEFAULT_LIMITS, *,
                             entity: str = "name") -> None:
    """Milvus' rule for collection names and aliases (``entity`` is "name" or "alias")."""
    if not name:
        raise invalid(f"collection {entity} should not be empty")
    prefix = f"Invalid collection {entity}: {name}."
    if len(name) > limits.max_name_length:
        raise invalid(f"{prefix} the length of a collection {entity} must be less than "
                      f"{limits.max_name_length} characters")
    if not (_is_alpha(name[0]) or name[0] == "_"):
        raise invalid(f"{prefix} the first character of a collection {entity} must be an "
                      "underscore or letter")
    if not _is_identifier(name):
        raise invalid(f"{prefix} collection {entity} can only contain numbers, letters and underscores")


def validate_field_name(name: str, limits: SchemaLimits = DEFAULT_LIMITS) -> None:
    name = name.strip()
    if not name:
        raise SchemaError("field name should not be empty", FIELD_NAME_INVALID)
    prefix = f"Invalid field name: {name}."
    if len(name) > limits.max_name_length:
        raise SchemaError(f"{prefix} The length of a field name must be less than "
                          f"{limits.max_name_length} characters.", FIELD_NAME_INVALID)
    if not (_is_alpha(name[0]) or name[0] == "_"):
        raise SchemaError(f"{prefix} The first character of a field name must be an underscore "
                          "or letter.", FIELD_NAME_INVALID)
    if not _is_identifier(name):
        raise SchemaError(f"{prefix} Field name can only contain numbers, letters, and underscores.",
                          FIELD_NAME_INVALID)
    if name in FIELD_NAME_KEYWORDS or name.lower() in _CASELESS_KEYWORDS:
        raise SchemaError(f"{prefix} {name} is keyword in milvus.", FIELD_NAME_INVALID)


def validate_collection_schema(schema: spb.CollectionSchema, *, collection_name: str | None = None,
                               limits: SchemaLimits = DEFAULT_LIMITS) -> None:
    """Raise :class:`SchemaError` unless ``schema`` is a valid new collection schema."""
    if collection_name is not None and collection_name != schema.name:
        raise invalid(f"collection name = {collection_name}, schema.Name={schema.name}: "
                      "collection name matches schema name")
    if len(schema.struct_array_fields) > 0:
        raise invalid("struct array fields are not supported")
    fields = list(schema.fields)
    if len(fields) > limits.max_field_num:
        raise invalid(f"maximum field's number should be limited to {limits.max_field_num}")
    vectors = [f for f in fields if dt.is_vector(f.data_type)]
    if len(vectors) > limits.max_vector_field_num:
        raise invalid(f"maximum vector field's number should be limited to {limits.max_vector_field_num}")
    if not vectors:
        raise invalid("schema does not contain vector field")
    validate_collection_name(schema.name, limits)
    for f in fields:
        if f.name in RESERVED_FIELD_NAMES:
            raise SchemaError(f'field name "{f.name}" is reserved for internal use and cannot be '
                              "used in user schemas", FIELD_NAME_INVALID)
    _check_primary_key(fields)
    for f in fields:
        if f.is_dynamic:
            raise invalid("cannot explicitly set a field as a dynamic field")
    _check_auto_id(fields)
    _check_field_types(fields)
    _check_partition_key(fields)
    _check_clustering_key(fields)
    for f in fields:
        validate_field(f, schema.name, limits)
    seen: set[str] = set()
    for f in fields:
        if f.name in seen:
            raise invalid(f"duplicated field name {f.name} found")
        seen.add(f.name)
    validate_functions(schema)


def validate_new_field(schema: spb.CollectionSchema, fs: spb.FieldSchema, *,
                       limits: SchemaLimits = DEFAULT_LIMITS) -> None:
    """The checks Milvus runs on AddCollectionField: a nullable, non-key field with a new name."""
    if len(schema.fields) >= limits.max_field_num:
        raise invalid(f"The number of fields has reached the maximum value {limits.max_field_num}")
    if any(f.name == fs.name for f in schema.fields):
        raise invalid(f"duplicated field name {fs.name}")
    if fs.name in RESERVED_FIELD_NAMES:
        raise invalid(f"not support to add system field, field name = {fs.name}")
    if fs.is_primary_key:
        raise invalid(f"not support to add pk field, field name = {fs.name}")
    if fs.autoID:
        raise invalid(f"only primary field can speficy AutoID with true, field name = {fs.name}")
    if fs.is_partition_key:
        raise invalid(f"not support to add partition key field, field name  = {fs.name}")
    if fs.is_dynamic:
        raise invalid("cannot explicitly set a field as a dynamic field")
    if fs.is_function_output:
        raise invalid(f"not support to add a function output field, field name = {fs.name}")
    if dt.is_vector(fs.data_type):
        # Milvus 2.6.0 adds scalar fields only (nullable vectors came later and are not stored here)
        raise invalid(f"not support to add vector field, field name = {fs.name}: only scalar fields "
                      "can be added to an existing collection")
    if not fs.nullable:
        raise invalid(f"added field must be nullable, please check it, field name = {fs.name}")
    _check_field_types([fs])
    validate_field(fs, schema.name, limits)


def new_function_field(schema: spb.CollectionSchema, functions: Sequence[spb.FunctionSchema],
                       output: spb.FieldSchema) -> tuple[spb.FieldSchema, spb.FunctionSchema]:
    """The checks on adding a function with its output field to a collection (Milvus 3.0's
    ``add_function_field``): one BM25 function whose one output is the new field, a
    SPARSE_FLOAT_VECTOR with a new name; the function and the field as they are appended (the
    whole schema is checked again after, the function's input included)."""
    if len(functions) != 1:
        raise invalid(f"exactly one function can be added at a time, got {len(functions)}")
    fn = spb.FunctionSchema()
    fn.CopyFrom(functions[0])
    if fn.type != spb.FunctionType.BM25:
        raise invalid(f"function {fn.name}: only a BM25 function can be added to an existing collection")
    if list(fn.output_field_names) != [output.name]:
        raise invalid(f"function {fn.name} must output exactly the added field {output.name}, "
                      f"got {list(fn.output_field_names)}")
    if any(f.name == output.name for f in schema.fields):
        raise invalid(f"duplicated field name {output.name}")
    if any(g.name == fn.name for g in schema.functions):
        raise invalid(f"duplicate function name {fn.name}")
    if output.data_type != spb.SparseFloatVector:
        raise invalid(f"BM25 function output field must be a SparseFloatVector field, got field "
                      f"{output.name} with data type {dt.type_name(output.data_type)}")
    if output.is_primary_key or output.is_partition_key or output.is_clustering_key or output.is_dynamic:
        raise invalid(f"function output field {output.name} cannot be a key or the dynamic field")
    field = spb.FieldSchema()
    field.CopyFrom(output)
    field.is_function_output = True
    fn.id = 0  # numbered with the others
    del fn.input_field_ids[:], fn.output_field_ids[:]
    return field, fn


def validate_field(f: spb.FieldSchema, collection_name: str, limits: SchemaLimits = DEFAULT_LIMITS) -> None:
    """Per-field checks: name, type parameters, nullability and default value."""
    validate_field_name(f.name, limits)
    params = {kv.key: kv.value for kv in f.type_params}
    if dt.is_vector(f.data_type):
        _check_dimension(f, params, limits)
        if f.nullable:
            raise invalid(f"vector type not support null, type:{dt.type_name(f.data_type)}, name:{f.name}")
    if f.data_type == spb.VarChar:
        _check_max_length(f.name, f.data_type, params, collection_name, limits)
    if f.data_type == spb.Array:
        if f.element_type == spb.VarChar:
            _check_max_length(f.name, f.data_type, params, collection_name, limits)
        _check_max_capacity(f.name, params, collection_name, limits)
    if f.is_primary_key and f.nullable:
        raise invalid("primary field not support null")
    if f.HasField("default_value") and f.default_value.WhichOneof("data") is not None:
        _check_default_value(f, params)


def _check_primary_key(fields: list[spb.FieldSchema]) -> None:
    primary: spb.FieldSchema | None = None
    for f in fields:
        if not f.is_primary_key:
            continue
        if primary is not None:
            raise invalid(f"there are more than one primary key, field name = {primary.name}, {f.name}")
        if f.data_type not in (spb.Int64, spb.VarChar):
            raise invalid("the data type of primary key should be Int64 or VarChar")
        primary = f
    if primary is None:
        raise missing("primary key is not specified")


def _check_auto_id(fields: list[spb.FieldSchema]) -> None:
    auto: spb.FieldSchema | None = None
    for f in fields:
        if not f.autoID:
            continue
        if auto is not None:
            raise invalid(f"only one field can speficy AutoID with true, field name = {auto.name}, {f.name}")
        if not f.is_primary_key:
            raise invalid(f"only primary field can speficy AutoID with true, field name = {f.name}")
        auto = f


def _check_field_types(fields: list[spb.FieldSchema]) -> None:
    for f in fields:
        if f.data_type == spb.String:
            raise invalid("string data type not supported yet, please use VarChar type instead")
        if f.data_type == 0:
            raise invalid("data type None is not valid")
        if f.data_type == dt.ARRAY_OF_VECTOR:
            raise invalid(f"array of vector can only be in the struct array field, field name: {f.name}")
        if f.data_type not in dt.SUPPORTED_TYPES:
            raise invalid(f"field data type: {dt.type_name(f.data_type)} is not supported, "
                          f"field name: {f.name}")
        if f.data_type == spb.Array and f.element_type not in dt.ARRAY_ELEMENT_TYPES:
            raise invalid(f"element type {dt.type_name(f.element_type)} is not supported, "
                          f"field name: {f.name}")


def _check_partition_key(fields: list[spb.FieldSchema]) -> None:
    key: spb.FieldSchema | None = None
    for f in fields:
        if not f.is_partition_key:
            continue
        if key is not None:
            raise invalid(f"there are more than one partition key, field name = {key.name}, {f.name}")
        if f.is_primary_key:
            raise invalid("the partition key field must not be primary field")
        if f.data_type not in _PARTITION_KEY_TYPES:
            raise invalid("the data type of partition key should be Int64 or VarChar")
        if f.nullable:
            raise invalid("partition key field not support nullable")
        key = f


def _check_clustering_key(fields: list[spb.FieldSchema]) -> None:
    key: spb.FieldSchema | None = None
    for f in fields:
        if not f.is_clustering_key:
            continue
        if key is not None:
            raise invalid(f"there are more than one clustering key, field name = {key.name}, {f.name}")
        if f.data_type not in _CLUSTERING_KEY_TYPES:
            raise invalid(f"clustering key field {f.name} has unsupported data type "
                          f"{dt.type_name(f.data_type)}")
        key = f


def _check_dimension(f: spb.FieldSchema, params: dict[str, str], limits: SchemaLimits) -> None:
    raw = params.get(DIM_KEY)
    if f.data_type == spb.SparseFloatVector:
        if raw is not None:
            raise invalid(f"dim should not be specified for sparse vector field {f.name}({f.fieldID})")
        return
    if raw is None:
        raise invalid(f"dimension is not defined in field type params of field {f.name}, check type "
                      "param `dim` for vector field")
    try:
        dim = int(raw)
    except ValueError:
        raise invalid(f"invalid dimension: {raw} of field {f.name}, dim should be an integer") from None
    binary = f.data_type == spb.BinaryVector
    upper = limits.max_dimension * 8 if binary else limits.max_dimension
    if dim <= 1:
        raise invalid(f"invalid dimension: {dim}. should be in range 2 ~ {upper}")
    if binary:
        if dim % 8 != 0:
            raise invalid(f"invalid dimension: {dim} of field {f.name}. binary vector dimension "
                          "should be multiple of 8. ")
        if dim > upper:
            raise invalid(f"invalid dimension: {dim} of field {f.name}. binary vector dimension "
                          f"should be in range 2 ~ {upper}")
    elif dim > upper:
        raise invalid(f"invalid dimension: {dim} of field {f.name}. float vector dimension should "
                      f"be in range 2 ~ {upper}")


def _check_max_length(name: str, data_type: int, params: dict[str, str], collection: str,
                      limits: SchemaLimits) -> None:
    raw = params.get(MAX_LENGTH_KEY)
    if raw is None:
        raise missing(f"type param(max_length) should be specified for the field({name}) of "
                      f"collection {collection}")
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"the value for max_length of field {name} must be an integer") from None
    if not 0 < value <= limits.max_varchar_length:
        raise invalid(f"the maximum length specified for the field({name}) should be in "
                      f"(0, {limits.max_varchar_length}], but got {value} instead")


def _check_max_capacity(name: str, params: dict[str, str], collection: str, limits: SchemaLimits) -> None:
    raw = params.get(MAX_CAPACITY_KEY)
    if raw is None:
        raise missing(f"type param(max_capacity) should be specified for array field {name} of "
                      f"collection {collection}")
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"the value for max_capacity of field {name} must be an integer") from None
    if not 0 < value <= limits.max_array_capacity:
        raise invalid("the maximum capacity specified for a Array should be in "
                      f"(0, {limits.max_array_capacity}]")


def _check_default_value(f: spb.FieldSchema, params: dict[str, str]) -> None:
    type_name = dt.type_name(f.data_type)
    if f.is_primary_key:
        raise invalid("primary key can't be with default value")
    if dt.is_vector(f.data_type):
        raise invalid(f"vector type not support default value, field name: {f.name}")
    if f.data_type in (spb.JSON, spb.Array):
        raise invalid(f"{type_name} type not support default value, field name: {f.name}")
    kind = f.default_value.WhichOneof("data")
    if f.data_type not in _DEFAULT_KINDS.get(kind, frozenset()):
        raise invalid(f"default value type mismatches field schema type, field: {f.name}, "
                      f"type: {type_name}, default value kind: {kind}")
    value = default_to_python(f.default_value)
    if f.data_type in dt.INT_RANGE:
        low, high = dt.INT_RANGE[f.data_type]
        if not low <= value <= high:
            raise invalid(f"default value out of range, field: {f.name}, type: {type_name}, "
                          f"value: {value}, range: [{low}, {high}]")
    elif f.data_type in (spb.Float, spb.Double) and not math.isfinite(value):
        raise invalid(f"default value of field {f.name} should be a finite number, got {value}")
    elif f.data_type == spb.VarChar:
        max_length = int(params[MAX_LENGTH_KEY])
        length = len(value.encode())
        if length > max_length:
            raise invalid(f"the length ({length}) of string exceeds max length ({max_length})")
