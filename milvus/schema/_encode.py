"""One Arrow column in, one ``FieldData`` out, in the shape Milvus returns query results.

* Scalar, JSON and Array columns are row-aligned: a null row holds a zero value and
  ``valid_data`` (sent for every nullable field) marks it.
* Vector columns hold the non-null rows only, with ``valid_data`` when the field is nullable.
* float, double and bool payloads are filled by parsing the packed proto encoding straight
  from the numpy bytes; that skips a Python float per element.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import _json
from milvus.schema import datatypes as dt
from milvus.schema.model import FieldInfo

_INT_SLOTS = frozenset({spb.Int8, spb.Int16, spb.Int32, spb.Int64})
_PACKED_DTYPE = {spb.Float: "<f4", spb.Double: "<f8", spb.Bool: "u1"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def set_packed(message, values: np.ndarray) -> None:
    """Fill ``message.data`` (field 1 of FloatArray / DoubleArray / BoolArray) from numpy."""
    message.SetInParent()
    payload = np.ascontiguousarray(values).tobytes()
    if payload:
        message.MergeFromString(b"\x0a" + _varint(len(payload)) + payload)


def _numeric(col: pa.Array, data_type: int) -> np.ndarray:
    zero = False if data_type == spb.Bool else 0
    if col.null_count:
        col = pc.fill_null(col, pa.scalar(zero, type=col.type))
    return col.to_numpy(zero_copy_only=False)


def encode_column(info: FieldInfo, col: pa.Array | pa.ChunkedArray, *,
                  dynamic_keys: frozenset[str] | None = None) -> spb.FieldData:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    fd = spb.FieldData(type=info.data_type, field_name=info.name, field_id=info.field_id,
                       is_dynamic=info.is_dynamic)
    if info.nullable:
        if col.null_count:
            fd.valid_data.extend(np.asarray(col.is_valid()).tolist())
        else:
            fd.valid_data.extend([True] * len(col))
    if info.data_type in dt.VECTOR_SLOT:
        if col.null_count:
            col = pc.drop_null(col)
        _encode_vectors(info, col, fd.vectors)
    else:
        _encode_scalars(info, col, fd.scalars, dynamic_keys)
    return fd


def _encode_scalars(info: FieldInfo, col: pa.Array, out: spb.ScalarField,
                    dynamic_keys: frozenset[str] | None) -> None:
    t = info.data_type
    target = getattr(out, dt.SCALAR_SLOT[t])
    target.SetInParent()
    if t in _PACKED_DTYPE:
        set_packed(target, _numeric(col, t).astype(_PACKED_DTYPE[t], copy=False))
    elif t in _INT_SLOTS:
        target.data.extend(_numeric(col, t).tolist())
    elif t in dt.STRING_TYPES:
        target.data.extend(pc.fill_null(col, "").to_pylist())
    elif t == spb.JSON:
        rows = pc.fill_null(col, b"").to_pylist()
        if dynamic_keys is not None:
            rows = [_pick_keys(raw, dynamic_keys) if raw else raw for raw in rows]
        target.data.extend(rows)
    elif t == spb.Array:
        _encode_arrays(info, col, target)
    else:
        raise ValueError(f"cannot encode {info.type_name} column {info.name}")


def _pick_keys(raw: bytes, keys: frozenset[str]) -> bytes:
    row = _json.loads(raw)
    return _json.dumps({k: v for k, v in row.items() if k in keys})


def _encode_arrays(info: FieldInfo, col: pa.Array, out: spb.ArrayArray) -> None:
    elem = info.element_type
    out.element_type = elem
    slot = dt.SCALAR_SLOT[elem]
    offsets = col.offsets.to_numpy()  # offsets honour the array's own slice offset
    values = col.values
    if elem in dt.STRING_TYPES:
        flat = values.to_pylist()
    elif elem in _PACKED_DTYPE:
        flat = values.to_numpy(zero_copy_only=False).astype(_PACKED_DTYPE[elem], copy=False)
    else:
        flat = values.to_numpy(zero_copy_only=False).tolist()
    nulls = np.asarray(col.is_null()) if col.null_count else None
    for i in range(len(col)):
        row = getattr(out.data.add(), slot)
        if nulls is not None and nulls[i]:
            row.SetInParent()
            continue
        part = flat[offsets[i]:offsets[i + 1]]
        if elem in _PACKED_DTYPE:
            set_packed(row, part)
        else:
            row.SetInParent()
            row.data.extend(part)


def _encode_vectors(info: FieldInfo, col: pa.Array, out: spb.VectorField) -> None:
    t = info.data_type
    if t == spb.SparseFloatVector:
        rows = col.to_pylist()
        out.sparse_float_vector.SetInParent()
        out.sparse_float_vector.contents.extend(rows)
        out.sparse_float_vector.dim = out.dim = _sparse_dim(col)
        return
    out.dim = info.dim
    if t == spb.FloatVector:
        set_packed(out.float_vector, col.flatten().to_numpy(zero_copy_only=False).astype("<f4", copy=False))
        return
    width = col.type.byte_width
    buf = col.buffers()[1]
    payload = buf.slice(col.offset * width, len(col) * width).to_pybytes() if buf is not None else b""
    setattr(out, dt.VECTOR_SLOT[t], payload)


def _sparse_dim(col: pa.Array) -> int:
    """One more than the largest index in any row (the dim Milvus reports for sparse rows)."""
    if len(col) == 0:
        return 0
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)[col.offset:col.offset + len(col) + 1]
    data = col.buffers()[2]
    if data is None or offsets[-1] == offsets[0]:
        return 0
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]
    index = raw.view([("index", "<u4"), ("value", "<f4")])["index"]
    return int(index.max()) + 1
