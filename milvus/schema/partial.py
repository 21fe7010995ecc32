"""Partial update (``upsert(..., partial_update=True)``, Milvus 2.6): the request's columns
merged into the stored rows of its primary keys.

The proxy reads the stored rows of the request's keys (a Strong query) and calls
:func:`merge_partial_update` with them; what comes back is a complete stored row batch, which
it writes as an ordinary upsert.  The rules, as Milvus' ``upsertTask.queryPreExecute`` has them:

* a row whose key is stored keeps the stored value of every field the request leaves out and
  takes the request's value of every field it gives (a null given to a nullable field makes
  it null; to a field with a default value, the default);
* the dynamic field (``$meta``) is merged key by key: the request's keys replace the stored
  ones, the other stored keys stay (a stored key that has since become a static field's name
  is dropped, as Milvus does after such a schema change);
* a row whose key is not stored is inserted: every field the request leaves out must be
  nullable (null), have a default value (the default) or be the dynamic field (``{}``), else
  the request is refused as an insert missing that field would be;
* function outputs (BM25) are computed again from the merged rows' inputs.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.schema import _json
from milvus.schema.convert import add_function_outputs, fill_column
from milvus.schema.errors import invalid
from milvus.schema.limits import DEFAULT_LIMITS, SchemaLimits
from milvus.schema.model import ROW_ID_FIELD, TIMESTAMP_FIELD, CollectionSchemaModel, FieldInfo


def merge_partial_update(schema: CollectionSchemaModel, given: pa.RecordBatch, stored: pa.Table | None, *,
                         limits: SchemaLimits = DEFAULT_LIMITS) -> pa.RecordBatch:
    """The complete stored batch of a partial update.

    ``given``: the request's batch as ``fields_to_arrow(..., partial_update=True)`` returns it
    (system columns, the primary key, the fields given; keys unique).  ``stored``: the stored
    rows of (some of) its keys, in any order, with the primary key and every field that is not
    a function output (a column missing, or null where a row predates the field, reads as the
    field's default or null); ``None`` when none of the keys is stored.  The result has
    ``given``'s rows in ``given``'s order, its row ids and timestamps, and every field.

    Raises :class:`SchemaError` when a row to insert lacks a field that has neither a default
    nor nulls, or a merged dynamic row grows past the JSON length limit.
    """
    pk = schema.primary_field
    where = _stored_positions(given.column(pk.name).to_pylist(), stored, pk.name)
    found = where >= 0
    present = set(given.schema.names)
    columns: dict[str, pa.Array] = {}
    for info in schema.fields:
        if info.is_function_output:
            continue  # computed below from the merged inputs
        if info.name not in present:
            columns[info.name] = _kept(info, _stored_column(info, stored), where, found)
        elif info.is_dynamic and found.any():
            columns[info.name] = _merged_dynamic(schema, given.column(info.name),
                                                 _stored_column(info, stored), where, limits)
        else:
            columns[info.name] = given.column(info.name)
    add_function_outputs(schema, columns)
    names = [f.name for f in schema.fields if f.name in columns]
    system = [given.column(ROW_ID_FIELD), given.column(TIMESTAMP_FIELD)]
    return pa.RecordBatch.from_arrays(system + [columns[n] for n in names], schema=schema.arrow_schema_for(names))


def _stored_positions(keys: list, stored: pa.Table | None, pk_name: str) -> np.ndarray:
    """Per given row: the position of its key's stored row, -1 when the key is not stored."""
    if stored is None or stored.num_rows == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    position = {key: i for i, key in enumerate(stored.column(pk_name).to_pylist())}
    return np.fromiter((position.get(key, -1) for key in keys), dtype=np.int64, count=len(keys))


def _stored_column(info: FieldInfo, stored: pa.Table | None) -> pa.Array:
    """The stored rows' values of a field, with its default where a row has none."""
    if stored is None:
        return pa.array([], type=info.arrow_type)
    if info.name not in stored.column_names:  # every stored row predates the field
        column = fill_column(info, stored.num_rows)
        return column if column is not None else pa.nulls(stored.num_rows, info.arrow_type)
    column = stored.column(info.name)
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if column.type != info.arrow_type:
        column = column.cast(info.arrow_type)
    if info.has_default and column.null_count:
        column = pc.fill_null(column, pa.scalar(info.default_value, type=info.arrow_type))
    return column


def _kept(info: FieldInfo, stored: pa.Array, where: np.ndarray, found: np.ndarray) -> pa.Array:
    """A field the request leaves out: its stored value, or what an insert fills in for a new row."""
    if found.all():
        return stored.take(pa.array(where))
    filler = fill_column(info, 1)
    if filler is None:
        raise invalid(f"fieldSchema({info.name}) has no corresponding fieldData pass in")
    source = pa.concat_arrays([stored, filler])
    return source.take(pa.array(np.where(found, where, len(stored))))


def _merged_dynamic(schema: CollectionSchemaModel, given: pa.Array, stored: pa.Array, where: np.ndarray,
                    limits: SchemaLimits) -> pa.Array:
    """The dynamic rows: a stored row's keys overlaid with the request's (new rows as given)."""
    static = {f.name for f in schema.static_fields}
    rows = given.to_pylist()
    old = stored.to_pylist()
    for i, raw in enumerate(rows):
        if where[i] < 0:
            continue
        base = _json.loads(old[where[i]]) if old[where[i]] is not None else {}
        merged = {k: v for k, v in base.items() if k not in static} if isinstance(base, dict) else {}
        merged.update(_json.loads(raw))
        rows[i] = _json.dumps(merged)
        if len(rows[i]) > limits.max_json_length:
            raise invalid(f"the length ({len(rows[i])}) of dynamic field exceeds max length "
                          f"({limits.max_json_length})")
    return pa.array(rows, type=pa.binary())
