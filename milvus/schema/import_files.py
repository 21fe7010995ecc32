"""Bulk insert files to a collection's columns: row-based JSON, Parquet and NumPy files.

Every format becomes one Arrow table in the stored column types (``milvus.schema.datatypes``)
holding the fields the file gives; ``arrow_to_fields`` then turns it into the ``FieldData``
columns an insert takes, so a file's rows are checked by the same code as an insert's
(``fields_to_arrow``) and nothing here re-implements those checks.  What is checked here is
what only a file can get wrong: a field missing from it, an auto-id primary key present in
it, a key no field has (kept in the dynamic field when there is one), rows of different
lengths, values that do not fit the field's type.

Formats, as Milvus accepts them:

* JSON: ``{"rows": [{...}, ...]}`` or a top-level list of row objects; a vector is a list of
  numbers (a binary vector its bytes as integers), a sparse vector ``{index: value}`` or
  ``{"indices": [...], "values": [...]}``.
* Parquet: one column per field; vectors as lists; JSON and sparse fields as JSON text; the
  dynamic field as a ``$meta`` column of JSON objects, and any column no field has.
* NumPy: one ``<field>.npy`` per field, given together; vectors as 2-D arrays, text as
  unicode arrays, JSON fields as unicode arrays of JSON text.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import _json
from milvus.schema import datatypes as dt
from milvus.schema.convert import arrow_to_fields
from milvus.schema.errors import SchemaError, invalid
from milvus.schema.model import DYNAMIC_FIELD_NAME, CollectionSchemaModel, FieldInfo

JSON, PARQUET, NUMPY = "json", "parquet", "numpy"
_SUFFIXES = {".json": JSON, ".parquet": PARQUET, ".npy": NUMPY}


def file_format(files: Sequence[str]) -> str:
    """The format of one import's files: one JSON or Parquet file, or NumPy files (one per field)."""
    if not files:
        raise invalid("import needs at least one file")
    kinds = set()
    for name in files:
        suffix = posixpath.splitext(name)[1].lower()
        if suffix not in _SUFFIXES:
            raise invalid(f"unsupported file type of {name!r}: expected .json, .parquet or .npy")
        kinds.add(_SUFFIXES[suffix])
    if len(kinds) > 1:
        raise invalid(f"the files of one import must all be of one type, got {', '.join(sorted(kinds))}")
    kind = kinds.pop()
    if kind != NUMPY and len(files) > 1:
        raise invalid(f"one {kind} file per import, got {len(files)}")
    if kind == NUMPY:
        names = [numpy_field_name(f) for f in files]
        if len(set(names)) != len(names):
            raise invalid("two .npy files name the same field")
    return kind


def numpy_field_name(key: str) -> str:
    """The field a NumPy file holds: its file name without ``.npy``."""
    return posixpath.splitext(posixpath.basename(key))[0]


# ---- readers: a file's bytes in, a table of stored columns out ------------------------------

def read_json(schema: CollectionSchemaModel, data: bytes) -> pa.Table:
    try:
        doc = _json.loads(data)
    except _json.JSONDecodeError as exc:
        raise invalid(f"the file is not valid JSON: {exc}") from None
    rows = doc.get("rows") if isinstance(doc, dict) else doc
    if not isinstance(rows, list):
        raise invalid('a JSON import file holds {"rows": [...]} or a list of rows')
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise invalid(f"row {i} of the file is not a JSON object")
    known = {f.name for f in _file_fields(schema)}
    columns: dict[str, list] = {}
    for info in _file_fields(schema):
        if any(info.name in row for row in rows):
            columns[info.name] = [row.get(info.name) for row in rows]
    extra = sorted({key for row in rows for key in row} - known)
    return _table(schema, columns, len(rows), {k: [row.get(k, _ABSENT) for row in rows] for k in extra})


def read_parquet(schema: CollectionSchemaModel, data: bytes) -> pa.Table:
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        raise invalid(f"the file is not a valid Parquet file: {exc}") from None
    known = {f.name for f in _file_fields(schema)}
    columns = {name: table.column(name) for name in table.column_names if name in known}
    extra = {name: table.column(name).to_pylist() for name in table.column_names if name not in known}
    return _table(schema, columns, table.num_rows, extra)


def read_numpy(schema: CollectionSchemaModel, files: Mapping[str, bytes]) -> pa.Table:
    """``files``: each ``.npy`` file's object key and bytes."""
    columns: dict[str, np.ndarray] = {}
    for key, data in files.items():
        name = numpy_field_name(key)
        if schema.get_field(name) is None:
            raise invalid(f"{key}: the collection has no field {name!r}")
        try:
            columns[name] = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise invalid(f"{key} is not a valid .npy file: {exc}") from None
    lengths = {name: len(a) if a.ndim else 0 for name, a in columns.items()}
    if len(set(lengths.values())) > 1:
        raise invalid(f"the .npy files hold different numbers of rows: {lengths}")
    return _table(schema, columns, next(iter(lengths.values()), 0), {})


def table_to_fields(schema: CollectionSchemaModel, table: pa.Table) -> list[spb.FieldData]:
    """The insert columns of (a slice of) a table ``read_*`` made."""
    return arrow_to_fields(schema, table, table.column_names)


# ---- one table of stored columns ------------------------------------------------------------

_ABSENT = object()  # a dynamic key a row does not have


def _file_fields(schema: CollectionSchemaModel) -> list[FieldInfo]:
    return [f for f in schema.fields if not f.is_dynamic]


def _table(schema: CollectionSchemaModel, columns: Mapping[str, object], num_rows: int,
           extra: Mapping[str, list]) -> pa.Table:
    if num_rows == 0:
        raise invalid("the file holds no rows")
    primary = schema.primary_field
    names, arrays = [], []
    for info in _file_fields(schema):
        values = columns.get(info.name)
        if info is primary and info.auto_id:
            if values is not None:
                raise invalid(f"the primary key {info.name!r} is auto-generated: leave it out of the file")
            continue
        if info.is_function_output:
            if values is not None:
                raise invalid(f"Attempt to insert an unexpected function output field `{info.name}` to "
                              f"collection {schema.name}")
            continue  # the insert computes it from the function's input
        if values is None:
            if info.nullable or info.has_default:
                continue
            raise invalid(f"field {info.name!r} is missing from the file")
        try:
            arrays.append(_stored(info, values, num_rows))
        except SchemaError:
            raise
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise invalid(f"field {info.name!r} ({info.type_name}): {exc}") from None
        names.append(info.name)
    dynamic = schema.dynamic_field
    meta = dict(extra)
    own = meta.pop(DYNAMIC_FIELD_NAME, None)
    if dynamic is not None:
        if meta or own is not None:
            names.append(dynamic.name)
            arrays.append(_dynamic_column(own, meta, num_rows))
    elif meta or own is not None:
        raise invalid(f"field {sorted(meta or {DYNAMIC_FIELD_NAME: 0})[0]!r} is not defined in the collection "
                      f"schema {schema.name!r} (and it has no dynamic field)")
    return pa.Table.from_arrays(arrays, names=names)


def _dynamic_column(own: list | None, extra: Mapping[str, list], num_rows: int) -> pa.Array:
    """``$meta`` rows: a row's own ``$meta`` object merged with its keys no field has."""
    rows = []
    for i in range(num_rows):
        row: dict = {}
        if own is not None and own[i] is not None and own[i] is not _ABSENT:
            value = _json.loads(own[i]) if isinstance(own[i], (str, bytes)) else own[i]
            if not isinstance(value, dict):
                raise invalid(f"row {i}: the dynamic field {DYNAMIC_FIELD_NAME} must be a JSON object")
            row.update(value)
        for key, values in extra.items():
            if values[i] is not _ABSENT:
                row[key] = values[i]
        rows.append(_json.dumps(row))
    return pa.array(rows, type=pa.binary())


def _stored(info: FieldInfo, values, num_rows: int) -> pa.Array:
    """One field's values (a list, an Arrow column or a NumPy array) as its stored column."""
    t = info.data_type
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if t in dt.VECTOR_SLOT and t != spb.SparseFloatVector:
        return _dense_vectors(info, _matrix(info, values), num_rows)
    if isinstance(values, np.ndarray):
        values = values.tolist()
    if isinstance(values, pa.Array):
        if t in (spb.JSON, spb.SparseFloatVector) or pa.types.is_dictionary(values.type):
            values = values.to_pylist()
        else:
            if not _same_kind(t, values.type):
                raise invalid(f"field {info.name!r} ({info.type_name}) cannot be read from a {values.type} column")
            return values.cast(info.arrow_type)  # safe cast: overflow and truncation raise
    _check_nulls(info, values)
    if t == spb.JSON:
        return pa.array([None if v is None else _json_bytes(v) for v in values], type=pa.binary())
    if t == spb.SparseFloatVector:
        return pa.array([None if v is None else _sparse_row(v) for v in values], type=pa.binary())
    if t in _NUMERIC:  # inferred, then cast safely: 1.5 is no Int64, "1" no Float
        inferred = pa.array(values)
        if not (pa.types.is_integer(inferred.type) or pa.types.is_floating(inferred.type)
                or pa.types.is_null(inferred.type)):
            raise invalid(f"field {info.name!r} ({info.type_name}) needs numbers, got {inferred.type}")
        return inferred.cast(info.arrow_type)
    return pa.array(values, type=info.arrow_type)


_NUMERIC = frozenset({spb.Int8, spb.Int16, spb.Int32, spb.Int64, spb.Float, spb.Double})


def _same_kind(data_type: int, arrow_type: pa.DataType) -> bool:
    """Whether a file's Arrow column may be cast to the field (no parsing of text as numbers)."""
    if pa.types.is_null(arrow_type):
        return True
    if data_type in _NUMERIC:
        return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
    if data_type in dt.STRING_TYPES:
        return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    if data_type == spb.Bool:
        return pa.types.is_boolean(arrow_type)
    return pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)  # Array fields


def _check_nulls(info: FieldInfo, values: list) -> None:
    if info.nullable or info.has_default:
        return
    for i, value in enumerate(values):
        if value is None:
            raise invalid(f"field {info.name!r} ({info.type_name}) is not nullable, row {i} has no value")


def _json_bytes(value) -> bytes:
    if isinstance(value, (str, bytes)):  # JSON text (Parquet, NumPy): checked, kept as given
        _json.loads(value)
        return value.encode() if isinstance(value, str) else value
    return _json.dumps(value)


def _sparse_row(value) -> bytes:
    if isinstance(value, (str, bytes)):
        value = _json.loads(value)
    if isinstance(value, dict) and set(value) == {"indices", "values"}:
        pairs = dict(zip(value["indices"], value["values"], strict=True))
    elif isinstance(value, dict):
        pairs = value
    else:
        raise invalid("a sparse vector is an object {index: value}")
    out = np.empty(len(pairs), dtype=[("index", "<u4"), ("value", "<f4")])
    out["index"] = np.array([int(k) for k in pairs], dtype=np.int64)  # beyond uint32: refused below
    out["value"] = np.array(list(pairs.values()), dtype=np.float32)
    if len(out) and int(max(int(k) for k in pairs)) >= 2**32 - 1:
        raise invalid("a sparse vector index must be less than 2^32-1")
    return np.sort(out, order="index").tobytes()


def _matrix(info: FieldInfo, values) -> np.ndarray:
    """Dense vectors as a 2-D array (rows x elements), whatever the file gave."""
    if isinstance(values, pa.Array):
        if values.null_count:
            raise invalid(f"field {info.name!r} ({info.type_name}) has rows without a vector")
        if pa.types.is_fixed_size_binary(values.type):
            raw = np.frombuffer(values.buffers()[1], dtype=np.uint8)
            return raw[values.offset * values.type.byte_width:][:len(values) * values.type.byte_width].reshape(
                len(values), values.type.byte_width)
        if not (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)
                or pa.types.is_fixed_size_list(values.type)):
            raise invalid(f"field {info.name!r} ({info.type_name}) must be a list column, got {values.type}")
        flat = values.flatten().to_numpy(zero_copy_only=False)
        if pa.types.is_fixed_size_list(values.type):
            width = values.type.list_size
        else:
            lengths = np.asarray(values.value_lengths())
            width = int(lengths[0]) if len(lengths) else 0
            if (lengths != width).any():
                bad = int(np.flatnonzero(lengths != width)[0])
                raise invalid(f"field {info.name!r} ({info.type_name}): row {bad} has {lengths[bad]} elements, "
                              f"row 0 has {width}")
        return flat.reshape(len(values), width)
    if isinstance(values, list):
        _check_nulls(info, values)
        if info.nullable and any(v is None for v in values):
            raise invalid(f"field {info.name!r}: null vectors are not supported in import files")
    try:
        matrix = np.asarray(values)
    except ValueError:
        raise invalid(f"field {info.name!r} ({info.type_name}): the rows' vectors differ in length") from None
    if matrix.dtype == object:
        raise invalid(f"field {info.name!r} ({info.type_name}): the rows' vectors differ in length")
    if matrix.ndim != 2:
        raise invalid(f"field {info.name!r} ({info.type_name}) needs one vector per row (a 2-D array), "
                      f"got shape {matrix.shape}")
    return matrix


def _dense_vectors(info: FieldInfo, matrix: np.ndarray, num_rows: int) -> pa.Array:
    t, dim = info.data_type, info.dim or 0
    if matrix.shape[0] != num_rows:
        raise invalid(f"field {info.name!r} has {matrix.shape[0]} rows, the file {num_rows}")
    if matrix.dtype.kind not in "iufb":
        raise invalid(f"field {info.name!r} ({info.type_name}) needs numbers, got {matrix.dtype}")
    if t == spb.FloatVector:
        _check_width(info, matrix, dim)
        flat = pa.array(np.ascontiguousarray(matrix, dtype=np.float32).reshape(-1))
        return pa.FixedSizeListArray.from_arrays(flat, dim)
    if t == spb.BinaryVector:
        _check_width(info, matrix, dim // 8, f"{dim // 8} bytes (dim {dim} / 8)")
        payload = _in_range(info, matrix, 0, 255).astype(np.uint8)
    elif t == dt.INT8_VECTOR:
        _check_width(info, matrix, dim)
        payload = _in_range(info, matrix, -128, 127).astype(np.int8)
    elif t == spb.Float16Vector:
        _check_width(info, matrix, dim)
        payload = matrix.astype("<f2")
    elif t == spb.BFloat16Vector:
        _check_width(info, matrix, dim)
        bits = np.ascontiguousarray(matrix, dtype="<f4").view("<u4").astype(np.uint64)
        payload = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")  # round to nearest even
    else:
        raise invalid(f"field {info.name!r}: {info.type_name} is not supported in import files")
    width = dt.vector_row_bytes(t, dim)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), num_rows,
                                                [None, pa.py_buffer(np.ascontiguousarray(payload).tobytes())])


def _check_width(info: FieldInfo, matrix: np.ndarray, width: int, what: str | None = None) -> None:
    if matrix.shape[1] != width:
        raise invalid(f"field {info.name!r} ({info.type_name}) has dim {info.dim}: each vector must hold "
                      f"{what or width}, got {matrix.shape[1]}")


def _in_range(info: FieldInfo, matrix: np.ndarray, low: int, high: int) -> np.ndarray:
    if matrix.dtype.kind == "f" and (matrix != np.round(matrix)).any():
        raise invalid(f"field {info.name!r} ({info.type_name}) needs integers")
    if matrix.size and (matrix.min() < low or matrix.max() > high):
        raise invalid(f"field {info.name!r} ({info.type_name}) needs integers in [{low}, {high}]")
    return matrix
