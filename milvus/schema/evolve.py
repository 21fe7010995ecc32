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
from collections.abc import Callable, Sequence

import pyarrow as pa

from milvus.schema.functions import FUNCTION_KEY, complete_output
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


def _input(source: pa.Table | pa.RecordBatch) -> Callable[[str, int], pa.Array | pa.ChunkedArray | None]:
    """``source``'s column of a field by name and id (None: it holds none)."""
    def column(name: str, fid: int) -> pa.Array | pa.ChunkedArray | None:
        i = column_index(source.schema, name, fid)
        return source.column(i) if i >= 0 else None
    return column


def _filled(fld: pa.Field, source: pa.Table | pa.RecordBatch) -> pa.Array:
    """The column of ``source``'s rows, written before ``fld`` existed: a function output
    computed from its inputs, else the field's default, else null."""
    spec = (fld.metadata or {}).get(FUNCTION_KEY)
    out = complete_output(spec, None, _input(source)) if spec is not None else None
    if out is None:
        return missing_column(fld, source.num_rows)
    return out.cast(fld.type) if out.type != fld.type else out


def _completed(fld: pa.Field, col, source: pa.Table | pa.RecordBatch):
    """``col`` with the null rows of a function output computed (rows that predate the
    function, written as null beside newer rows that have it)."""
    spec = (fld.metadata or {}).get(FUNCTION_KEY)
    return col if spec is None else complete_output(spec, col, _input(source))


def field_id(fld: pa.Field) -> int | None:
    """The field id an Arrow field carries (None: none, as for system columns of old logs)."""
    raw = (fld.metadata or {}).get(FIELD_ID_KEY)
    return None if raw is None else int(raw)


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
        elif _column(stored, fld) < 0:
            fld = _fillable(fld)
        fields.append(fld)
    if keep_extra:
        known = set(schema.names)
        fields.extend(f for f in stored if f.name not in known)
    return pa.schema(fields, metadata=schema.metadata)


def column_index(stored: pa.Schema, name: str, fid: int | None) -> int:
    """Where ``stored`` holds the values of the field ``name`` with id ``fid`` (None: any id):
    -1 when it lacks the column or holds another field's of that name."""
    i = stored.get_field_index(name)
    if i < 0:
        return -1
    held = field_id(stored.field(i))
    return i if held is None or fid is None or held == fid else -1


def _column(stored: pa.Schema, fld: pa.Field) -> int:
    """Where ``stored`` holds ``fld``'s values (-1: it does not)."""
    return column_index(stored, fld.name, field_id(fld))


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
    if a is b:
        return True
    if not a.equals(b, check_metadata=False):
        return False
    # equal metadata (a growing segment's next batch, usually) holds equal field ids
    return a.equals(b, check_metadata=True) or all(field_id(x) == field_id(y) for x, y in zip(a, b, strict=True))


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
