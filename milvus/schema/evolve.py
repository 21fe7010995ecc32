"""Rows of one collection written under different schema versions, brought to one shape.

A field added later (AddCollectionField) is missing from the rows written before it: such
rows read the field's default value when it has one, else null.  The default travels with
the Arrow field (``DEFAULT_VALUE_KEY`` metadata, see ``FieldInfo.arrow_field``), so any role
holding a batch or an insert log of the newer schema can fill older rows without asking for
the collection schema.  Columns a reader's schema does not know yet are kept on request
(``keep_extra``): a role with a stale schema must never drop a newer field's values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa

from milvus.schema.model import DEFAULT_VALUE_KEY


def field_default(fld: pa.Field) -> object | None:
    """The default value an Arrow field of a stored schema carries (None: none)."""
    raw = (fld.metadata or {}).get(DEFAULT_VALUE_KEY)
    return None if raw is None else json.loads(raw)


def missing_column(fld: pa.Field, num_rows: int) -> pa.Array:
    """The column of ``num_rows`` rows written before ``fld`` existed: its default, else null."""
    default = field_default(fld)
    if default is None:
        return pa.nulls(num_rows, fld.type)
    return pa.repeat(pa.scalar(default, type=fld.type), num_rows)


def _target(columns: Sequence[str], schema: pa.Schema, extra: Sequence[pa.Field], keep_extra: bool) -> pa.Schema:
    if not keep_extra:
        return schema
    known = set(schema.names)
    return pa.schema([*schema, *(f for f in extra if f.name not in known and f.name in columns)])


def conform_table(table: pa.Table, schema: pa.Schema, *, keep_extra: bool = False) -> pa.Table:
    """``table`` with ``schema``'s columns (missing ones filled, others cast); with
    ``keep_extra`` the columns ``schema`` lacks follow, unchanged."""
    target = _target(table.column_names, schema, list(table.schema), keep_extra)
    arrays = []
    for fld in target:
        if fld.name in table.column_names:
            col = table.column(fld.name)
            arrays.append(col.cast(fld.type) if col.type != fld.type else col)
        else:
            arrays.append(pa.chunked_array([missing_column(fld, table.num_rows)], type=fld.type))
    return pa.Table.from_arrays(arrays, schema=target)


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema, *, keep_extra: bool = False) -> pa.RecordBatch:
    """``conform_table`` for one record batch."""
    target = _target(batch.schema.names, schema, list(batch.schema), keep_extra)
    arrays = []
    for fld in target:
        if fld.name in batch.schema.names:
            col = batch.column(fld.name)
            arrays.append(col.cast(fld.type) if col.type != fld.type else col)
        else:
            arrays.append(missing_column(fld, batch.num_rows))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def union_schema(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """Every column of ``schemas``, in first-seen order; a column's field (type, metadata)
    is that of the last schema holding it (the newest version)."""
    fields: dict[str, pa.Field] = {}
    for schema in schemas:
        for fld in schema:
            fields[fld.name] = fld
    order: list[str] = []
    for schema in schemas:
        order.extend(n for n in schema.names if n not in order)
    return pa.schema([fields[n] for n in order], metadata=schemas[-1].metadata if schemas else None)


def concat_versions(tables: Sequence[pa.Table]) -> pa.Table:
    """``tables`` (rows of one collection, maybe of several schema versions) as one table
    holding every column: older rows read an added column's default, else null."""
    if len(tables) == 1:
        return tables[0]
    schemas = [t.schema for t in tables]
    if all(s.equals(schemas[0], check_metadata=False) for s in schemas[1:]):
        return pa.concat_tables(tables)
    target = union_schema(schemas)
    return pa.concat_tables([conform_table(t, target) for t in tables])
