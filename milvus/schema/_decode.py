"""One ``FieldData`` column in, one Arrow array out: payload checks as the Milvus proxy does them.

Repeated numeric proto fields are read with ``np.array(container)``, which the upb protobuf
runtime serves without a Python loop; nothing here walks vectors element by element.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import _json
from milvus.schema import datatypes as dt
from milvus.schema.errors import invalid
from milvus.schema.limits import SchemaLimits
from milvus.schema.model import DYNAMIC_FIELD_NAME, FieldInfo

_NUMPY_SCALAR: dict[int, type] = {
    spb.Bool: np.bool_, spb.Int8: np.int32, spb.Int16: np.int32, spb.Int32: np.int32,
    spb.Int64: np.int64, spb.Float: np.float32, spb.Double: np.float64,
}
_NARROW: dict[int, type] = {spb.Int8: np.int8, spb.Int16: np.int16}
_FLOAT16_MAX = 65504.0


def decode_column(info: FieldInfo, fd: spb.FieldData, num_rows: int, limits: SchemaLimits, *,
                  static_names: frozenset[str] = frozenset()) -> pa.Array:
    """The Arrow array (length ``num_rows``) of one client column, nulls and defaults filled."""
    if fd.type and fd.type != info.data_type:
        raise invalid(f"field {info.name} data type mismatch, expected {info.type_name}, "
                      f"got {dt.type_name(fd.type)}")
    valid = _validity(info, fd, num_rows)
    if info.data_type in dt.VECTOR_SLOT:
        values = _vector_values(info, fd, limits)
    else:
        values = _scalar_values(info, fd, limits, static_names)
    return _align(info, values, valid, num_rows)


def _validity(info: FieldInfo, fd: spb.FieldData, num_rows: int) -> np.ndarray | None:
    if len(fd.valid_data) == 0:
        return None
    valid = np.array(fd.valid_data, dtype=np.bool_)
    if len(valid) != num_rows:
        raise invalid(f"the length of valid_data of field({info.name}) is wrong, expected {num_rows}, "
                      f"got {len(valid)}")
    if valid.all():
        return None
    if not (info.nullable or info.has_default):
        raise invalid(f"not support null when nullable is false, field({info.name})")
    return valid


def _align(info: FieldInfo, values: pa.Array, valid: np.ndarray | None, num_rows: int) -> pa.Array:
    """Spread compact (valid rows only) or row-aligned values over ``num_rows``; fill defaults."""
    n = len(values)
    if valid is None:
        if n != num_rows:
            raise invalid(f"the num_rows ({n}) of field ({info.name}) is not equal to passed "
                          f"num_rows ({num_rows})")
        return values
    n_valid = int(valid.sum())
    if n == n_valid:  # the usual form: values of the non-null rows only
        positions = np.cumsum(valid, dtype=np.int64) - 1
    elif n == num_rows:  # row-aligned values with placeholders under the nulls
        positions = np.arange(num_rows, dtype=np.int64)
    else:
        raise invalid(f"the length ({n}) of field ({info.name}) does not match its valid_data "
                      f"({n_valid} valid rows of {num_rows})")
    out = values.take(pa.array(positions, mask=~valid))
    if info.has_default:
        out = pc.fill_null(out, pa.scalar(info.default_value, type=info.arrow_type))
    return out


def _mismatch(info: FieldInfo) -> Exception:
    return invalid(f"{info.type_name} field '{info.name}' is illegal, array type mismatch")


# ---------------------------------------------------------------------------------- scalars


def _scalar_payload(info: FieldInfo, fd: spb.FieldData):
    """The repeated container under ``scalars.<slot>.data``; ``()`` when the column is empty."""
    kind = fd.WhichOneof("field")
    if kind is None:
        return ()
    if kind != "scalars":
        raise _mismatch(info)
    slot = fd.scalars.WhichOneof("data")
    if slot is None:
        return ()
    if slot != dt.SCALAR_SLOT[info.data_type]:
        raise _mismatch(info)
    return getattr(fd.scalars, slot).data


def _scalar_values(info: FieldInfo, fd: spb.FieldData, limits: SchemaLimits,
                   static_names: frozenset[str]) -> pa.Array:
    data = _scalar_payload(info, fd)
    t = info.data_type
    if t in _NUMPY_SCALAR:
        arr = np.array(data, dtype=_NUMPY_SCALAR[t])
        if t in _NARROW:
            _check_int_range(info.name, arr, t)
            arr = arr.astype(_NARROW[t])
        elif t in (spb.Float, spb.Double):
            _check_finite(info.name, arr)
        return pa.array(arr, type=info.arrow_type)
    if t in dt.STRING_TYPES:
        arr = pa.array(list(data), type=pa.string())
        if info.max_length is not None and not (info.is_primary and info.auto_id):
            _check_string_lengths(info, arr, info.max_length)
        return arr
    if t == spb.JSON:
        return _json_values(info, list(data), limits, static_names)
    if t == spb.Array:
        return _array_values(info, data, limits)
    raise invalid(f"data type {info.type_name} of field {info.name} is not supported")


def _check_int_range(name: str, arr: np.ndarray, t: int) -> None:
    low, high = dt.INT_RANGE[t]
    bad = np.flatnonzero((arr < low) | (arr > high))
    if len(bad):
        i = int(bad[0])
        raise invalid(f"the {i}th element ({int(arr[i])}) of field {name} out of range: [{low}, {high}]")


def _check_finite(name: str, arr: np.ndarray) -> None:
    bad = np.flatnonzero(~np.isfinite(arr))
    if len(bad):
        i = int(bad[0])
        raise invalid(f"value '{arr[i]}' at position {i} of field {name} is not a number or infinity")


def _check_string_lengths(info: FieldInfo, arr: pa.Array, max_length: int) -> None:
    lengths = pc.binary_length(arr).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(lengths > max_length)
    if len(bad):
        i = int(bad[0])
        raise invalid(f"length of varchar field {info.name} exceeds max length, row number: {i}, "
                      f"length: {int(lengths[i])}, max length: {max_length}")


def _json_values(info: FieldInfo, rows: list[bytes], limits: SchemaLimits,
                 static_names: frozenset[str]) -> pa.Array:
    for i, raw in enumerate(rows):
        if len(raw) > limits.max_json_length:
            if info.is_dynamic:
                raise invalid(f"the length ({len(raw)}) of dynamic field exceeds max length "
                              f"({limits.max_json_length})")
            raise invalid(f"the length ({len(raw)}) of json field ({info.name}) exceeds max length "
                          f"({limits.max_json_length})")
        try:
            value = _json.loads(raw)
        except _json.JSONDecodeError as exc:
            raise invalid(f"invalid JSON in field {info.name}, row {i}: {exc}") from None
        if info.is_dynamic:
            _check_dynamic_row(value, static_names)
    return pa.array(rows, type=pa.binary())


def _check_dynamic_row(value: object, static_names: frozenset[str]) -> None:
    if not isinstance(value, dict):
        raise invalid("insert invalid dynamic data, milvus only support json map")
    if DYNAMIC_FIELD_NAME in value:
        raise invalid(f"cannot set json key to: {DYNAMIC_FIELD_NAME}")
    clash = static_names.intersection(value)
    if clash:
        raise invalid(f"dynamic field name cannot include the static field name: {min(clash)}")


def _array_values(info: FieldInfo, rows, limits: SchemaLimits) -> pa.Array:
    elem = info.element_type
    slot = dt.SCALAR_SLOT[elem]
    capacity = info.max_capacity if info.max_capacity is not None else limits.max_array_capacity
    lengths = np.empty(len(rows), dtype=np.int64)
    parts = []
    for i, row in enumerate(rows):
        kind = row.WhichOneof("data")
        if kind is None:
            lengths[i] = 0
            continue
        if kind != slot:
            raise invalid(f"array field '{info.name}' is illegal, insert data does not match: "
                          f"expected {dt.type_name(elem)} elements, row {i} has {kind}")
        data = getattr(row, kind).data
        lengths[i] = len(data)
        if lengths[i] > capacity:
            raise invalid(f"the length ({lengths[i]}) of {i}th array exceeds max capacity ({capacity})")
        parts.append(data)
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    if elem in dt.STRING_TYPES:
        values = pa.array([s for part in parts for s in part], type=pa.string())
        if info.max_length is not None:
            _check_array_string_lengths(info, values, offsets, info.max_length)
    else:
        dtype = _NUMPY_SCALAR[elem]
        flat = (np.concatenate([np.array(p, dtype=dtype) for p in parts]) if parts
                else np.empty(0, dtype=dtype))
        if elem in _NARROW:
            _check_int_range(info.name, flat, elem)
            flat = flat.astype(_NARROW[elem])
        elif elem in (spb.Float, spb.Double):
            _check_finite(info.name, flat)
        values = pa.array(flat)
    return pa.ListArray.from_arrays(pa.array(offsets), values).cast(info.arrow_type)


def _check_array_string_lengths(info: FieldInfo, values: pa.Array, offsets: np.ndarray,
                                max_length: int) -> None:
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(lengths > max_length)
    if len(bad):
        pos = int(bad[0])
        row = int(np.searchsorted(offsets, pos, side="right")) - 1
        raise invalid(f'length of VarChar array field "{info.name}" exceeds max length, row number: '
                      f"{row}, array index: {pos - int(offsets[row])}, length: {int(lengths[pos])}, "
                      f"max length: {max_length}")


# ---------------------------------------------------------------------------------- vectors


def _vector_values(info: FieldInfo, fd: spb.FieldData, limits: SchemaLimits) -> pa.Array:
    kind = fd.WhichOneof("field")
    if kind not in (None, "vectors"):
        raise _mismatch(info)
    t = info.data_type
    slot = fd.vectors.WhichOneof("data") if kind else None
    if t == spb.SparseFloatVector:
        if slot not in (None, "sparse_float_vector"):
            raise _mismatch(info)
        return _sparse_values(info, list(fd.vectors.sparse_float_vector.contents))
    expected = dt.VECTOR_SLOT[t]
    # pymilvus 3 sends float32 values for float16/bfloat16 fields given lists or float32 arrays.
    fp32_payload = slot == "float_vector" and t in (spb.Float16Vector, spb.BFloat16Vector)
    if slot not in (None, expected) and not fp32_payload:
        raise _mismatch(info)
    dim = info.dim
    data_dim = fd.vectors.dim
    if data_dim != dim and not (slot is None and data_dim == 0):
        raise invalid(f"the dim ({data_dim}) of field data({info.name}) is not equal to schema dim ({dim})")
    if t == spb.FloatVector or fp32_payload:
        flat = np.array(fd.vectors.float_vector.data, dtype=np.float32)
        if len(flat) % dim:
            raise invalid(f"the length({len(flat)}) of float data should divide the dim({dim})")
        _check_finite(info.name, flat)
        if t == spb.FloatVector:
            return pa.FixedSizeListArray.from_arrays(pa.array(flat), dim)
        payload = _to_half_bytes(info.name, flat, t)
    else:
        payload = getattr(fd.vectors, expected) if slot else b""
    width = dt.vector_row_bytes(t, dim)
    if len(payload) % width:
        raise invalid(f"the length({len(payload)}) of {info.type_name} data of field {info.name} "
                      f"should divide {width} bytes per row (dim {dim})")
    if t == spb.Float16Vector:
        _check_finite(info.name, np.frombuffer(payload, dtype="<f2"))
    elif t == spb.BFloat16Vector:
        _check_bfloat16(info.name, np.frombuffer(payload, dtype="<u2"))
    n = len(payload) // width
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(payload)])


def _to_half_bytes(name: str, flat: np.ndarray, t: int) -> bytes:
    if t == spb.Float16Vector:
        if len(flat) and float(np.abs(flat).max()) > _FLOAT16_MAX:
            raise invalid(f"value out of range of float16 in field {name}: the largest magnitude is "
                          f"{_FLOAT16_MAX}")
        return flat.astype("<f2").tobytes()
    # bfloat16 keeps the upper half of the float32 bits (Milvus Float32ToBFloat16Bytes).
    return (flat.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()


def _check_bfloat16(name: str, bits: np.ndarray) -> None:
    bad = np.flatnonzero((bits & 0x7F80) == 0x7F80)  # all exponent bits set: inf or nan
    if len(bad):
        raise invalid(f"value at position {int(bad[0])} of bfloat16 field {name} is not a number or infinity")


_SPARSE_PAIR = np.dtype([("index", "<u4"), ("value", "<f4")])


def _sparse_values(info: FieldInfo, rows: list[bytes]) -> pa.Array:
    arr = pa.array(rows, type=pa.binary())
    if not rows:
        return arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[: len(rows) + 1]
    if np.any(offsets % 8):
        bad = int(np.flatnonzero(np.diff(offsets) % 8)[0])
        raise invalid(f"invalid data length in sparse float vector of field {info.name}, row {bad}")
    data = arr.buffers()[2]
    pairs = np.frombuffer(data, dtype=_SPARSE_PAIR, count=int(offsets[-1]) // 8) if data else \
        np.empty(0, dtype=_SPARSE_PAIR)
    index = pairs["index"]
    if np.any(index == 0xFFFFFFFF):
        raise invalid(f"invalid index in sparse float vector of field {info.name}: must be less than 2^32-1")
    _check_finite(info.name, pairs["value"])
    if len(index) > 1:
        ascending = index[1:] > index[:-1]
        row_start = np.zeros(len(index), dtype=np.bool_)
        row_start[(offsets[1:-1] // 8)[offsets[1:-1] // 8 < len(index)]] = True
        bad = ~ascending & ~row_start[1:]
        if bad.any():
            pos = int(np.flatnonzero(bad)[0]) + 1
            row = int(np.searchsorted(offsets // 8, pos, side="right")) - 1
            raise invalid(f"unsorted or same indices in sparse float vector of field {info.name}, row {row}")
    return arr
