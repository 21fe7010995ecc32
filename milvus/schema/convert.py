"""Lossless conversion between the public protocol's columns (``FieldData``) and Arrow.

``fields_to_arrow`` is the proxy's insert/upsert check: it validates client columns the way
the Milvus proxy does and returns the stored row batch (``_row_id``, ``_ts``, then every
field).  ``arrow_to_fields`` turns stored rows back into the ``FieldData`` columns of a query
or search result, in the shape pymilvus parses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema._decode import decode_column
from milvus.schema._encode import encode_column
from milvus.schema.analyzer_params import field_analyzer
from milvus.schema.errors import FIELD_NOT_FOUND, SchemaError, invalid
from milvus.schema.functions import compute_output
from milvus.schema.limits import DEFAULT_LIMITS, SchemaLimits
from milvus.schema.model import DYNAMIC_FIELD_NAME, CollectionSchemaModel, FieldInfo

_EMPTY_JSON_OBJECT = b"{}"


def fields_to_arrow(
    schema: CollectionSchemaModel,
    fields_data: Sequence[spb.FieldData],
    num_rows: int,
    *,
    row_ids: Sequence[int] | np.ndarray,
    timestamps: int | Sequence[int] | np.ndarray,
    partial_update: bool = False,
    upsert: bool = False,
    allow_insert_auto_id: bool = False,
    limits: SchemaLimits = DEFAULT_LIMITS,
) -> pa.RecordBatch:
    """Validate the columns of an insert (or upsert) and return them as a stored row batch.

    ``row_ids`` are the rows' ids from the id allocator; an auto-id primary key is filled
    from them (as a decimal string for a VarChar key).  ``timestamps`` is one hybrid
    timestamp for every row or one per row.

    ``upsert``: the primary key must be supplied, also when it is auto-id.
    ``partial_update`` (upsert only): fields left out stay out of the batch (the caller merges
    them from the stored row); the batch then carries the supplied fields only.
    ``allow_insert_auto_id``: an insert may supply an auto-id primary key (Milvus' collection
    property ``allow_insert_auto_id``).

    Raises :class:`SchemaError` for any row or column Milvus would refuse.
    """
    if num_rows <= 0:
        raise invalid(f"num_rows should be greater than 0, got {num_rows}")
    upsert = upsert or partial_update
    given = _columns_by_field(schema, fields_data)
    primary = schema.primary_field
    static_names = frozenset(f.name for f in schema.static_fields)
    columns: dict[str, pa.Array] = {}
    for info in schema.fields:
        if info.is_function_output:
            if schema.producer(info.name) is None:
                raise invalid(f"field {info.name} is marked as a function output but no function outputs it")
            continue  # computed below, from its input columns
        fd = given.get(info.name)
        generated_pk = info is primary and info.auto_id and not upsert
        if fd is not None and generated_pk and not allow_insert_auto_id:
            raise invalid(f"can not assign primary field data when auto id enabled {info.name}")
        if fd is None:
            if generated_pk:
                column = _auto_id_column(info, row_ids, num_rows)
            elif info is primary:
                raise invalid(f"must assign pk when upsert, primary field: {info.name}")
            elif partial_update:
                continue
            else:
                column = fill_column(info, num_rows)
                if column is None:
                    raise invalid(f"fieldSchema({info.name}) has no corresponding fieldData pass in")
        else:
            column = decode_column(info, fd, num_rows, limits, static_names=static_names)
        columns[info.name] = column
    add_function_outputs(schema, columns)
    names = [f.name for f in schema.fields if f.name in columns]
    system = [_int64_column(row_ids, num_rows, "row_ids"), _timestamp_column(timestamps, num_rows)]
    return pa.RecordBatch.from_arrays(system + [columns[n] for n in names], schema=schema.arrow_schema_for(names))


def add_function_outputs(schema: CollectionSchemaModel, columns: dict[str, pa.Array]) -> None:
    """Add the output columns of every function whose inputs are all in ``columns`` (a partial
    update that leaves an input out leaves the output out too)."""
    for fn in schema.functions:
        if not all(name in columns for name in fn.input_names):
            continue
        analyzer = field_analyzer(schema.field(fn.input_names[0]).type_params)
        output = compute_output(fn.function_type, [columns[name] for name in fn.input_names], analyzer)
        for name in fn.output_names:
            columns[name] = output


def _columns_by_field(schema: CollectionSchemaModel,
                      fields_data: Sequence[spb.FieldData]) -> dict[str, spb.FieldData]:
    given: dict[str, spb.FieldData] = {}
    for fd in fields_data:
        info = schema.get_field(fd.field_name) if fd.field_name else None
        if info is None and not fd.field_name and fd.field_id:
            info = schema.field_by_id(fd.field_id)
        if info is None and fd.is_dynamic and schema.dynamic_field is not None:
            info = schema.dynamic_field
        if info is None:
            if fd.field_name == DYNAMIC_FIELD_NAME or fd.is_dynamic:
                raise invalid(f"without dynamic schema enabled, the field name cannot be set to "
                              f"{DYNAMIC_FIELD_NAME}")
            raise invalid(f"fieldName {fd.field_name} not exist in collection schema {schema.name}")
        if info.is_function_output:
            raise invalid(f"Attempt to insert an unexpected function output field `{info.name}` to "
                          f"collection {schema.name}")
        if info.name in given:
            raise invalid(f"duplicated field {info.name} found")
        given[info.name] = fd
    return given


def fill_column(info: FieldInfo, num_rows: int) -> pa.Array | None:
    """The column of a field nobody supplied: ``{}`` rows, its default, nulls, or ``None``."""
    if info.is_dynamic:
        return pa.repeat(pa.scalar(_EMPTY_JSON_OBJECT, type=pa.binary()), num_rows)
    if info.has_default:
        return pa.repeat(pa.scalar(info.default_value, type=info.arrow_type), num_rows)
    if info.nullable:
        return pa.nulls(num_rows, type=info.arrow_type)
    return None


def _int64_column(values: Sequence[int] | np.ndarray, num_rows: int, what: str) -> pa.Array:
    arr = np.asarray(values, dtype=np.int64)
    if arr.shape != (num_rows,):
        raise ValueError(f"{what} must hold {num_rows} ids, got shape {arr.shape}")
    return pa.array(arr)


def _auto_id_column(info: FieldInfo, row_ids: Sequence[int] | np.ndarray, num_rows: int) -> pa.Array:
    ids = _int64_column(row_ids, num_rows, "row_ids")
    if info.data_type == spb.VarChar:
        return ids.cast(pa.string())
    return ids


def _timestamp_column(timestamps: int | Sequence[int] | np.ndarray, num_rows: int) -> pa.Array:
    if isinstance(timestamps, (int, np.integer)):
        return pa.array(np.full(num_rows, timestamps, dtype=np.uint64))
    arr = np.asarray(timestamps, dtype=np.uint64)
    if arr.shape != (num_rows,):
        raise ValueError(f"timestamps must be one value or {num_rows} values, got shape {arr.shape}")
    return pa.array(arr)


class OutputFields(NamedTuple):
    """What a query or search returns: the fields, the dynamic keys and the names to report."""

    fields: list[FieldInfo]
    dynamic_keys: frozenset[str] | None  # None: whole dynamic rows (or no dynamic field asked)
    names: list[str]  # the result's ``output_fields``, which pymilvus reads to pick dynamic keys


def resolve_output_fields(schema: CollectionSchemaModel, output_fields: Iterable[str], *,
                          dynamic_keys: Iterable[str] = ()) -> OutputFields:
    """Resolve user output field names.

    ``*`` means every field but function outputs; a name that is not a field is a key of the
    dynamic field (an error when the collection has none), as are ``dynamic_keys``.  Asking
    for ``$meta`` itself (or ``*``) returns whole dynamic rows.  Naming a function output (a
    BM25 function's sparse field) is refused, as Milvus refuses it.
    """
    chosen: dict[str, FieldInfo] = {}
    names: dict[str, None] = {}
    keys: set[str] = set()
    whole_meta = False
    dynamic = schema.dynamic_field
    readable = [f for f in schema.fields if not f.is_function_output]
    for name in output_fields:
        if name == "*":
            chosen.update((f.name, f) for f in readable)
            names.update((f.name, None) for f in readable)
            whole_meta = True
            continue
        info = schema.get_field(name)
        if info is not None and info.is_function_output:
            raise invalid(f"not allowed to retrieve raw data of field {name}")
        if info is not None:
            chosen.setdefault(name, info)
            whole_meta = whole_meta or info.is_dynamic
        elif dynamic is not None:
            chosen.setdefault(dynamic.name, dynamic)
            keys.add(name)
        else:
            raise SchemaError(f"field {name} not exist", FIELD_NOT_FOUND)
        names.setdefault(name, None)
    extra = [k for k in dynamic_keys if k not in keys]
    if extra and dynamic is not None:
        chosen.setdefault(dynamic.name, dynamic)
        keys.update(extra)
        names.update((k, None) for k in extra)
    return OutputFields(list(chosen.values()), None if whole_meta or not keys else frozenset(keys),
                        list(names))


def arrow_to_fields(
    schema: CollectionSchemaModel,
    data: pa.Table | pa.RecordBatch,
    output_fields: Iterable[str],
    *,
    dynamic_keys: Iterable[str] | None = None,
) -> list[spb.FieldData]:
    """The ``FieldData`` columns of a query or search result over the rows in ``data``.

    ``output_fields`` are field names, ``*``, or keys of the dynamic field (see
    :func:`resolve_output_fields`); ``dynamic_keys`` adds dynamic keys to return.  A field
    missing from ``data`` (added after the rows were written) comes back null or default.
    """
    fields, keys, _ = resolve_output_fields(schema, output_fields, dynamic_keys=dynamic_keys or ())
    num_rows = data.num_rows
    present = set(data.schema.names)
    out = []
    for info in fields:
        if info.name in present:
            column = data.column(info.name)
        else:
            column = fill_column(info, num_rows)
            if column is None:
                raise invalid(f"field {info.name} ({info.type_name}) has no data in these rows")
        out.append(encode_column(info, column, dynamic_keys=keys if info.is_dynamic else None))
    return out
