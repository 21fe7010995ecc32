"""Vectors between their stored Arrow columns / the public PlaceholderGroup and numpy.

Stored layouts are ``milvus.schema.datatypes``': FloatVector is ``fixed_size_list<float32>``;
binary, float16, bfloat16 and int8 vectors are ``fixed_size_binary``; a sparse row is
``binary`` holding (uint32 index, float32 value) pairs, little endian, sorted by index.
Dense float-like vectors are searched as float32; binary vectors as packed uint8 rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus.errors import ParameterInvalid

_PAIR = np.dtype([("index", "<u4"), ("value", "<f4")])
PT = common_pb2.PlaceholderType

DENSE_FLOAT_TYPES = frozenset({schema_pb2.FloatVector, schema_pb2.Float16Vector, schema_pb2.BFloat16Vector,
                               schema_pb2.Int8Vector})


@dataclass(frozen=True)
class SparseMatrix:
    """Rows in CSR form: row i holds ``indices/values[indptr[i]:indptr[i+1]]``."""

    indptr: np.ndarray  # int64, n + 1
    indices: np.ndarray  # uint32
    values: np.ndarray  # float32

    @property
    def num_rows(self) -> int:
        return len(self.indptr) - 1

    def row_ids(self) -> np.ndarray:
        """For every stored value, the row it belongs to."""
        return np.repeat(np.arange(self.num_rows, dtype=np.int64), np.diff(self.indptr))


def _fixed_binary_bytes(arr: pa.Array) -> np.ndarray:
    width = arr.type.byte_width
    buf = arr.buffers()[1]
    if buf is None or not len(arr):
        return np.zeros((len(arr), width), dtype=np.uint8)
    raw = np.frombuffer(buf, dtype=np.uint8)[arr.offset * width:(arr.offset + len(arr)) * width]
    return raw.reshape(len(arr), width)


def _half_to_float32(raw: np.ndarray, data_type: int) -> np.ndarray:
    bits = np.ascontiguousarray(raw).view("<u2")
    if data_type == schema_pb2.Float16Vector:
        return bits.view("<f2").astype(np.float32)
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def dense_matrix(column: pa.ChunkedArray | pa.Array, data_type: int) -> np.ndarray:
    """A stored dense vector column as a 2-D array: float32 for float-like types, uint8
    (packed bits) for binary vectors.  Null rows hold zeros (see ``valid_rows``)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if data_type == schema_pb2.FloatVector:
        dim = arr.type.list_size
        values = arr.values.slice(arr.offset * dim, len(arr) * dim)
        flat = values.to_numpy(zero_copy_only=False)
        return flat.astype(np.float32, copy=False).reshape(len(arr), dim)
    raw = _fixed_binary_bytes(arr)
    if data_type == schema_pb2.BinaryVector:
        return raw
    if data_type in (schema_pb2.Float16Vector, schema_pb2.BFloat16Vector):
        return np.nan_to_num(_half_to_float32(raw, data_type))
    if data_type == schema_pb2.Int8Vector:
        return raw.view(np.int8).astype(np.float32)
    raise ParameterInvalid(f"data type {schema_pb2.DataType.Name(data_type)} is not a dense vector")


def sparse_matrix(column: pa.ChunkedArray | pa.Array) -> SparseMatrix:
    """A stored sparse vector column in CSR form (null rows are empty)."""
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_large_binary(arr.type):
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    else:
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    if not len(arr):
        offsets = np.zeros(1, dtype=np.int64)
    data = arr.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    if data is None or end == start:
        pairs = np.zeros(0, dtype=_PAIR)
    else:
        pairs = np.frombuffer(data, dtype=np.uint8)[start:end].view(_PAIR)
    indptr = (offsets - start) // _PAIR.itemsize
    if arr.null_count:  # a null row may still own bytes: empty it
        valid = valid_rows(arr)
        lengths = np.diff(indptr)
        pairs = pairs[np.repeat(valid, lengths)]
        indptr = np.concatenate([[0], np.cumsum(np.where(valid, lengths, 0))])
    return SparseMatrix(indptr.astype(np.int64), pairs["index"].copy(), pairs["value"].astype(np.float32))


def valid_rows(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True for rows holding a vector (not null)."""
    if column.null_count == 0:
        return np.ones(len(column), dtype=bool)
    return column.is_valid().to_numpy(zero_copy_only=False)


# ---- query vectors (PlaceholderGroup) ----------------------------------------------------

_DENSE_PLACEHOLDERS = {
    PT.FloatVector: ("<f4", schema_pb2.FloatVector),
    PT.Float16Vector: ("<u2", schema_pb2.Float16Vector),
    PT.BFloat16Vector: ("<u2", schema_pb2.BFloat16Vector),
    PT.Int8Vector: ("i1", schema_pb2.Int8Vector),
}


def decode_placeholders(data: bytes, data_type: int, dim: int | None) -> np.ndarray | list[tuple[np.ndarray, np.ndarray]]:
    """The query vectors of a serialized PlaceholderGroup for a field of ``data_type``:
    float32 (nq, dim) for dense float-like fields, uint8 (nq, dim / 8) for binary fields, a
    list of (indices, values) per query for sparse fields."""
    group = common_pb2.PlaceholderGroup()
    try:
        group.ParseFromString(data)
    except Exception as exc:  # noqa: BLE001 - a malformed message is the caller's mistake
        raise ParameterInvalid(f"invalid placeholder group: {exc}") from None
    if len(group.placeholders) != 1:
        raise ParameterInvalid(f"expected one placeholder, got {len(group.placeholders)}")
    holder = group.placeholders[0]
    values = list(holder.values)
    if not values:
        raise ParameterInvalid("no query vectors")
    if data_type == schema_pb2.SparseFloatVector:
        if holder.type != PT.SparseFloatVector:
            raise ParameterInvalid(f"field is a sparse float vector, query vectors are {PT.Name(holder.type)}")
        queries = []
        for i, raw in enumerate(values):
            if len(raw) % _PAIR.itemsize:
                raise ParameterInvalid(f"invalid sparse float vector in query {i}")
            pairs = np.frombuffer(raw, dtype=_PAIR)
            order = np.argsort(pairs["index"], kind="stable")
            queries.append((pairs["index"][order].copy(), pairs["value"][order].astype(np.float32)))
        return queries
    if data_type == schema_pb2.BinaryVector:
        if holder.type != PT.BinaryVector:
            raise ParameterInvalid(f"field is a binary vector, query vectors are {PT.Name(holder.type)}")
        width = (dim or 0) // 8
        if any(len(v) != width for v in values):
            raise ParameterInvalid(f"the dim ({dim}) of field data(binary vector) is not equal to schema dim")
        return np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), width)
    if data_type not in DENSE_FLOAT_TYPES:
        raise ParameterInvalid(f"cannot search a field of type {schema_pb2.DataType.Name(data_type)}")
    if holder.type not in _DENSE_PLACEHOLDERS:
        raise ParameterInvalid(f"field is a {schema_pb2.DataType.Name(data_type)}, "
                               f"query vectors are {PT.Name(holder.type)}")
    dtype, kind = _DENSE_PLACEHOLDERS[holder.type]
    itemsize = np.dtype(dtype).itemsize
    if any(len(v) != (dim or 0) * itemsize for v in values):
        got = len(values[0]) // itemsize
        raise ParameterInvalid(f"the dim ({got}) of field data(query vector) is not equal to schema dim ({dim})")
    raw = np.frombuffer(b"".join(values), dtype=dtype).reshape(len(values), dim)
    if kind in (schema_pb2.Float16Vector, schema_pb2.BFloat16Vector):
        return np.nan_to_num(_half_to_float32(raw.view(np.uint8), kind))
    return raw.astype(np.float32)
