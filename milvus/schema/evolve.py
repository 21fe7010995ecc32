"""Rows of one collection written under different schema versions, brought to one shape.

A field added later (AddCollectionField) is missing from the rows written before it: such
rows read the field's default value when it has one, else null.  The default travels with
the Arrow field (``DEFAULT_VALUE_KEY`` metadata, see ``FieldInfo.arrow_field``), so any role
holding a batch or an insert log of the newer schema can fill older rows without asking for
the collection schema.  Columns a reader's schema does not know yet are kept on request
(``keep_extra``): a role with a stale schema must never drop a newer field's values.

A column is its field's by name *and* field id (``FIELD_ID_KEY`` metadata, kept by Parquet
and IPC): a dropped field's column stays in the rows written before the drop, and a field
added later under the same name has a new, larger id (ids are never given twice), so the old
column reads as missing for it, never as its values.  A column some rows lack (a field added
after them, or dropped before them) is nullable in the shape they are brought to, unless its
field has a default: the filled rows hold nulls, which a non-nullable Arrow field would
refuse when written (Parquet checks).

A function's output field missing from rows written before the function was added (or null
in them) is computed from their input columns (see ``milvus.schema.functions``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from milvus.schema.functions import FUNCTION_KEY, output_from_spec
from milvus.schema.model import DEFAULT_VALUE_KEY, FIELD_ID_KEY


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


def _input(source: pa.Table | pa.RecordBatch, name: str, fid: int) -> pa.Array | pa.ChunkedArray | None:
    i = source.schema.get_field_index(name)
    if i < 0:
        return None
    stored = field_id(source.schema.field(i))
    return source.column(i) if stored is None or stored == fid else None


def _computed(fld: pa.Field, source: pa.Table | pa.RecordBatch) -> pa.Array | None:
    """A function output's column computed from ``source``'s input columns (None: ``fld`` is
    no function output, or ``source`` lacks an input)."""
    spec = (fld.metadata or {}).get(FUNCTION_KEY)
    if spec is None:
        return None
    out = output_from_spec(spec, lambda name, fid: _input(source, name, fid))
    return out.cast(fld.type) if out is not None and out.type != fld.type else out


def _filled(fld: pa.Field, source: pa.Table | pa.RecordBatch) -> pa.Array:
    """The column of ``source``'s rows, written before ``fld`` existed: a function output
    computed from its inputs, else the field's default, else null."""
    out = _computed(fld, source)
    return out if out is not None else missing_column(fld, source.num_rows)


def _completed(fld: pa.Field, col, source: pa.Table | pa.RecordBatch):
    """``col`` with the null rows of a function output computed (rows that predate the
    function, written as null beside newer rows that have it)."""
    if not col.null_count or FUNCTION_KEY not in (fld.metadata or {}):
        return col
    out = _computed(fld, source)
    if out is None:
        return col
    whole = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    done = pc.if_else(whole.is_valid(), whole, out)
    return pa.chunked_array([done], type=fld.type) if isinstance(col, pa.ChunkedArray) else done


def field_id(fld: pa.Field) -> int | None:
    """The field id an Arrow field carries (None: none, as for system columns of old logs)."""
    raw = (fld.metadata or {}).get(FIELD_ID_KEY)
    return None if raw is None else int(raw)


def _same_field(stored: pa.Field, wanted: pa.Field) -> bool:
    """Whether the column ``stored`` holds values of the field ``wanted`` (same name assumed)."""
    a, b = field_id(stored), field_id(wanted)
    return a is None or b is None or a == b


def is_newer_field(held: pa.Field, other: pa.Field) -> bool:
    """Whether ``other`` is a later field of the same name than ``held`` (the name was
    dropped and added again in between)."""
    return _newer(other, held)


def _newer(stored: pa.Field, wanted: pa.Field) -> bool:
    """Whether ``stored`` is a later field of the same name than ``wanted`` (a reader whose
    schema predates a drop and re-add of that name)."""
    a, b = field_id(stored), field_id(wanted)
    return a is not None and b is not None and a > b


def _fillable(fld: pa.Field) -> pa.Field:
    """``fld`` as it is when some rows are filled: nullable, unless it has a default."""
    return fld if fld.nullable or field_default(fld) is not None else fld.with_nullable(True)


def _target(stored: pa.Schema, schema: pa.Schema, keep_extra: bool) -> pa.Schema:
    fields = []
    for fld in schema:
        i = stored.get_field_index(fld.name)
        have = stored.field(i) if i >= 0 else None
        if have is not None and keep_extra and _newer(have, fld):
            fld = have  # this reader's schema is stale: the newer field's values are kept
        elif have is None or not _same_field(have, fld):
            fld = _fillable(fld)
        fields.append(fld)
    if keep_extra:
        known = set(schema.names)
        fields.extend(f for f in stored if f.name not in known)
    return pa.schema(fields, metadata=schema.metadata)


def _column(stored: pa.Schema, fld: pa.Field) -> int:
    """Where ``stored`` holds ``fld``'s values (-1: it does not)."""
    i = stored.get_field_index(fld.name)
    return i if i >= 0 and _same_field(stored.field(i), fld) else -1


def holds(stored: pa.Schema, fld: pa.Field) -> bool:
    """Whether rows of ``stored``'s shape hold values of the field ``fld`` (by name and id)."""
    return _column(stored, fld) >= 0


def conform_table(table: pa.Table, schema: pa.Schema, *, keep_extra: bool = False) -> pa.Table:
    """``table`` with ``schema``'s columns (missing ones filled, others cast); with
    ``keep_extra`` the columns ``schema`` lacks follow, unchanged."""
    target = _target(table.schema, schema, keep_extra)
    arrays = []
    for fld in target:
        i = _column(table.schema, fld)
        if i >= 0:
            col = table.column(i)
            arrays.append(_completed(fld, col.cast(fld.type) if col.type != fld.type else col, table))
        else:
            arrays.append(pa.chunked_array([_filled(fld, table)], type=fld.type))
    return pa.Table.from_arrays(arrays, schema=target)


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema, *, keep_extra: bool = False) -> pa.RecordBatch:
    """``conform_table`` for one record batch."""
    target = _target(batch.schema, schema, keep_extra)
    arrays = []
    for fld in target:
        i = _column(batch.schema, fld)
        if i >= 0:
            col = batch.column(i)
            arrays.append(_completed(fld, col.cast(fld.type) if col.type != fld.type else col, batch))
        else:
            arrays.append(_filled(fld, batch))
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def union_schema(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """Every column of ``schemas``, in first-seen order; a column's field (type, metadata)
    is that of the schema holding its newest field (the largest field id, else the last
    schema holding it), nullable when some schema lacks it (see the module docstring)."""
    fields: dict[str, pa.Field] = {}
    for schema in schemas:
        for fld in schema:
            held = fields.get(fld.name)
            if held is None or not _newer(held, fld):
                fields[fld.name] = fld
    order: list[str] = []
    for schema in schemas:
        order.extend(n for n in schema.names if n not in order)
    for name, fld in fields.items():
        if any(_column(schema, fld) < 0 for schema in schemas):
            fields[name] = _fillable(fld)
    return pa.schema([fields[n] for n in order], metadata=schemas[-1].metadata if schemas else None)


def same_shape(a: pa.Schema, b: pa.Schema) -> bool:
    """Whether rows of ``a`` and of ``b`` can be put together as they are: the same columns
    of the same fields (names, types, nullability and field ids; other metadata aside)."""
    return a.equals(b, check_metadata=False) and all(field_id(x) == field_id(y) for x, y in zip(a, b, strict=True))


def needs_upgrade(current: pa.Schema, other: pa.Schema) -> bool:
    """Whether rows of ``current``'s shape must change to hold rows of ``other``'s as well:
    ``other`` has a column ``current`` lacks (or a newer field of one of its names), or lacks
    one that ``current`` holds as non-nullable without a default."""
    for fld in other:
        i = current.get_field_index(fld.name)
        if i < 0 or _newer(fld, current.field(i)):
            return True
    return any(_fillable(fld) is not fld and _column(other, fld) < 0 for fld in current)


def concat_versions(tables: Sequence[pa.Table]) -> pa.Table:
    """``tables`` (rows of one collection, maybe of several schema versions) as one table
    holding every column: older rows read an added column's default, else null."""
    if len(tables) == 1:
        return tables[0]
    schemas = [t.schema for t in tables]
    if all(same_shape(s, schemas[0]) for s in schemas[1:]):
        return pa.concat_tables(tables)
    target = union_schema(schemas)
    return pa.concat_tables([conform_table(t, target) for t in tables])
