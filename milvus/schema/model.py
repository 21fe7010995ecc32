"""The collection schema model: a read-only view over a stored ``CollectionSchema`` proto.

A stored schema is a client schema after :func:`normalize_schema`: every field has an id
(100, 101, ... in declaration order, as Milvus' root coordinator assigns them) and, when the
dynamic field is enabled, a trailing ``$meta`` JSON field with ``is_dynamic`` set.

Rows travel inside the database as Arrow record batches whose schema is
:attr:`CollectionSchemaModel.arrow_schema`: the system columns ``_row_id`` (int64) and
``_ts`` (uint64 hybrid timestamp) first, then one column per field in schema order.  Every
Arrow field carries its Milvus field id under ``PARQUET:field_id`` so Parquet binlogs keep it,
and a field with a default value its default (JSON) under ``milvus.default``: rows written
before the field was added read that default (``milvus.schema.evolve``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import MappingProxyType

import pyarrow as pa

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import datatypes as dt
from milvus.schema.errors import FIELD_NOT_FOUND, SchemaError
from milvus.schema.functions import FUNCTION_KEY, START_OF_FUNCTION_ID, link_functions, output_spec

DYNAMIC_FIELD_NAME = "$meta"
ROW_ID_FIELD = "_row_id"
TIMESTAMP_FIELD = "_ts"
ROW_ID_FIELD_ID = 0
TIMESTAMP_FIELD_ID = 1
START_OF_USER_FIELD_ID = 100
SYSTEM_FIELDS = (ROW_ID_FIELD, TIMESTAMP_FIELD)
FIELD_ID_KEY = b"PARQUET:field_id"
DEFAULT_VALUE_KEY = b"milvus.default"

DIM_KEY = "dim"
MAX_LENGTH_KEY = "max_length"
MAX_CAPACITY_KEY = "max_capacity"


def _int_param(params: Mapping[str, str], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def default_to_python(value: spb.ValueField) -> object | None:
    """The Python value of a field's default (``None`` when it has none)."""
    kind = value.WhichOneof("data")
    return None if kind is None else getattr(value, kind)


@dataclass(frozen=True)
class FieldInfo:
    """One field of a collection, with its type parameters parsed."""

    field_id: int
    name: str
    data_type: int
    element_type: int = 0
    is_primary: bool = False
    auto_id: bool = False
    nullable: bool = False
    is_dynamic: bool = False
    is_partition_key: bool = False
    is_clustering_key: bool = False
    is_function_output: bool = False
    dim: int | None = None
    max_length: int | None = None
    max_capacity: int | None = None
    default_value: object | None = None
    type_params: Mapping[str, str] = field(default_factory=dict, compare=False)
    # a function output's: how to compute it (``milvus.schema.functions.FUNCTION_KEY``)
    function_spec: bytes | None = field(default=None, compare=False)

    @classmethod
    def from_proto(cls, fs: spb.FieldSchema) -> FieldInfo:
        params = MappingProxyType({kv.key: kv.value for kv in fs.type_params})
        return cls(
            field_id=fs.fieldID,
            name=fs.name,
            data_type=fs.data_type,
            element_type=fs.element_type,
            is_primary=fs.is_primary_key,
            auto_id=fs.autoID,
            nullable=fs.nullable,
            is_dynamic=fs.is_dynamic,
            is_partition_key=fs.is_partition_key,
            is_clustering_key=fs.is_clustering_key,
            is_function_output=fs.is_function_output,
            dim=_int_param(params, DIM_KEY),
            max_length=_int_param(params, MAX_LENGTH_KEY),
            max_capacity=_int_param(params, MAX_CAPACITY_KEY),
            default_value=default_to_python(fs.default_value) if fs.HasField("default_value") else None,
            type_params=params,
        )

    @property
    def type_name(self) -> str:
        return dt.type_name(self.data_type)

    @property
    def is_vector(self) -> bool:
        return dt.is_vector(self.data_type)

    @property
    def has_default(self) -> bool:
        return self.default_value is not None

    @cached_property
    def arrow_type(self) -> pa.DataType:
        return dt.arrow_type(self.data_type, element_type=self.element_type, dim=self.dim)

    @cached_property
    def arrow_field(self) -> pa.Field:
        metadata = {FIELD_ID_KEY: str(self.field_id).encode()}
        if self.default_value is not None:
            metadata[DEFAULT_VALUE_KEY] = json.dumps(self.default_value).encode()
        if self.function_spec is not None:
            metadata[FUNCTION_KEY] = self.function_spec
        return pa.field(self.name, self.arrow_type, nullable=self.nullable, metadata=metadata)


@dataclass(frozen=True)
class FunctionInfo:
    """One function of a collection: it fills its output fields from its input fields."""

    function_id: int
    name: str
    function_type: int
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]

    @classmethod
    def from_proto(cls, fn: spb.FunctionSchema) -> FunctionInfo:
        return cls(function_id=fn.id, name=fn.name, function_type=fn.type,
                   input_names=tuple(fn.input_field_names), output_names=tuple(fn.output_field_names))


_SYSTEM_ARROW_FIELDS = (
    pa.field(ROW_ID_FIELD, pa.int64(), nullable=False, metadata={FIELD_ID_KEY: b"0"}),
    pa.field(TIMESTAMP_FIELD, pa.uint64(), nullable=False, metadata={FIELD_ID_KEY: b"1"}),
)


def _needs_normalizing(schema: spb.CollectionSchema) -> bool:
    if any(f.fieldID < START_OF_USER_FIELD_ID for f in schema.fields):
        return True
    if any(fn.id < START_OF_FUNCTION_ID for fn in schema.functions):
        return True
    return schema.enable_dynamic_field and not any(f.is_dynamic for f in schema.fields)


def normalize_schema(schema: spb.CollectionSchema) -> spb.CollectionSchema:
    """Turn a validated client schema into the stored one (a new proto; the input is kept).

    * appends the ``$meta`` dynamic field when ``enable_dynamic_field`` is set;
    * gives fields without an id the next free id from 100, in declaration order;
    * stores an integer default of an Int8/16/32 field as ``int_data`` (pymilvus sends a
      Python ``int`` default as ``long_data`` whatever the field's width);
    * numbers the functions from 100, fills their field ids and marks their output fields.
    Calling it on a stored schema returns an equal schema.
    """
    out = spb.CollectionSchema()
    out.CopyFrom(schema)
    if out.enable_dynamic_field and not any(f.is_dynamic for f in out.fields):
        out.fields.add(name=DYNAMIC_FIELD_NAME, description="dynamic schema",
                       data_type=spb.JSON, is_dynamic=True)
    next_id = max([START_OF_USER_FIELD_ID - 1] + [f.fieldID for f in out.fields]) + 1
    for fs in out.fields:
        if fs.fieldID < START_OF_USER_FIELD_ID:
            fs.fieldID = next_id
            next_id += 1
        if (fs.data_type in (spb.Int8, spb.Int16, spb.Int32)
                and fs.default_value.WhichOneof("data") == "long_data"
                and -(2**31) <= fs.default_value.long_data < 2**31):
            fs.default_value.int_data = fs.default_value.long_data
    link_functions(out)
    return out


def describe_schema(schema: spb.CollectionSchema) -> spb.CollectionSchema:
    """The schema as DescribeCollection shows it: the hidden ``$meta`` field left out."""
    out = spb.CollectionSchema()
    out.CopyFrom(schema)
    del out.fields[:]
    out.fields.extend(f for f in schema.fields if not f.is_dynamic)
    return out


class CollectionSchemaModel:
    """A stored collection schema: fields by name and id, the primary key, vectors, Arrow schema.

    Built from a stored schema; a client schema is normalized first (see
    :func:`normalize_schema`).  The model does not validate: run
    :func:`milvus.schema.validate.validate_collection_schema` on client input.
    """

    def __init__(self, schema: spb.CollectionSchema) -> None:
        if _needs_normalizing(schema):
            schema = normalize_schema(schema)
        self._proto = schema
        fields = [FieldInfo.from_proto(f) for f in schema.fields]
        by_name = {f.name: f for f in fields}
        specs = {}
        for fn in schema.functions:
            inputs = [by_name.get(name) for name in fn.input_field_names]
            if all(i is not None for i in inputs):
                spec = output_spec(fn.type, [(i.name, i.field_id, i.type_params) for i in inputs])
                specs.update({name: spec for name in fn.output_field_names})
        self._fields = tuple(replace(f, function_spec=specs[f.name]) if f.name in specs else f for f in fields)
        self._by_name = {f.name: f for f in self._fields}
        self._by_id = {f.field_id: f for f in self._fields}
        self._primary = next((f for f in self._fields if f.is_primary), None)
        self._dynamic = next((f for f in self._fields if f.is_dynamic), None)
        self._vectors = tuple(f for f in self._fields if f.is_vector)
        self._functions = tuple(FunctionInfo.from_proto(fn) for fn in schema.functions)
        self._producer = {out: fn for fn in self._functions for out in fn.output_names}

    def __repr__(self) -> str:
        return f"CollectionSchemaModel({self.name!r}, fields={[f.name for f in self._fields]})"

    @property
    def proto(self) -> spb.CollectionSchema:
        """The stored schema proto (treat as read-only)."""
        return self._proto

    @property
    def name(self) -> str:
        return self._proto.name

    @property
    def fields(self) -> tuple[FieldInfo, ...]:
        """All fields in schema order, the dynamic field included."""
        return self._fields

    @property
    def static_fields(self) -> tuple[FieldInfo, ...]:
        """The fields the user declared (the dynamic field left out)."""
        return tuple(f for f in self._fields if not f.is_dynamic)

    def get_field(self, name: str) -> FieldInfo | None:
        return self._by_name.get(name)

    def field(self, name: str) -> FieldInfo:
        info = self._by_name.get(name)
        if info is None:
            raise SchemaError(f"field {name} does not exist in collection {self.name}", FIELD_NOT_FOUND)
        return info

    def field_by_id(self, field_id: int) -> FieldInfo:
        info = self._by_id.get(field_id)
        if info is None:
            raise SchemaError(f"field id {field_id} does not exist in collection {self.name}",
                              FIELD_NOT_FOUND)
        return info

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    @property
    def primary_field(self) -> FieldInfo:
        if self._primary is None:
            raise SchemaError(f"collection {self.name} has no primary key", FIELD_NOT_FOUND)
        return self._primary

    @property
    def auto_id(self) -> bool:
        return self._primary is not None and self._primary.auto_id

    @property
    def vector_fields(self) -> tuple[FieldInfo, ...]:
        return self._vectors

    def dim(self, name: str) -> int | None:
        return self.field(name).dim

    @property
    def functions(self) -> tuple[FunctionInfo, ...]:
        return self._functions

    def producer(self, name: str) -> FunctionInfo | None:
        """The function whose output field ``name`` is (``None`` for other fields)."""
        return self._producer.get(name)

    @property
    def enable_dynamic_field(self) -> bool:
        return self._dynamic is not None

    @property
    def dynamic_field(self) -> FieldInfo | None:
        return self._dynamic

    @cached_property
    def arrow_schema(self) -> pa.Schema:
        """The schema of a stored row batch: ``_row_id``, ``_ts``, then every field."""
        return self.arrow_schema_for(f.name for f in self._fields)

    def arrow_schema_for(self, names: Iterable[str]) -> pa.Schema:
        """The system columns followed by the named fields, in the order given."""
        return pa.schema(list(_SYSTEM_ARROW_FIELDS) + [self.field(n).arrow_field for n in names])

    def describe(self) -> spb.CollectionSchema:
        return describe_schema(self._proto)
