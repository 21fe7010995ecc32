"""Stored vector columns (Arrow) as numpy, shared by the roles that search or index them.

Stored layouts are ``milvus.schema.datatypes``': FloatVector is ``fixed_size_list<float32>``;
binary, float16, bfloat16 and int8 vectors are ``fixed_size_binary``; a sparse row is
``binary`` holding (uint32 index, float32 value) pairs, little endian, sorted by index.
Dense float-like vectors become float32 matrices; binary vectors packed uint8 rows; sparse
columns CSR matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from milvus.errors import ParameterInvalid
from milvus.grpc_gen import common_pb2, schema_pb2

SPARSE_PAIR = np.dtype([("index", "<u4"), ("value", "<f4")])

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


def half_to_float32(raw: np.ndarray, data_type: int) -> np.ndarray:
    bits = np.ascontiguousarray(raw).view("<u2")
    if data_type == schema_pb2.Float16Vector:
        return bits.view("<f2").astype(np.float32)
    return (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)


def one_array(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The column as one array: its only chunk as it is (``combine_chunks`` would copy even
    that), several chunks concatenated."""
    if not isinstance(column, pa.ChunkedArray):
        return column
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def dense_matrix(column: pa.ChunkedArray | pa.Array, data_type: int) -> np.ndarray:
    """A stored dense vector column as a 2-D array: float32 for float-like types, uint8
    (packed bits) for binary vectors.  Null rows hold zeros (see ``valid_rows``).  A single
    chunk of float vectors without a conversion is viewed, not copied."""
    arr = one_array(column)
    if data_type == schema_pb2.FloatVector:
        dim = arr.type.list_size
        values = arr.values.slice(arr.offset * dim, len(arr) * dim)
        flat = values.to_numpy(zero_copy_only=False)
        return flat.astype(np.float32, copy=False).reshape(len(arr), dim)
    raw = _fixed_binary_bytes(arr)
    if data_type == schema_pb2.BinaryVector:
        return raw
    if data_type in (schema_pb2.Float16Vector, schema_pb2.BFloat16Vector):
        return np.nan_to_num(half_to_float32(raw, data_type))
    if data_type == schema_pb2.Int8Vector:
        return raw.view(np.int8).astype(np.float32)
    raise ParameterInvalid(f"data type {schema_pb2.DataType.Name(data_type)} is not a dense vector")


def sparse_matrix(column: pa.ChunkedArray | pa.Array) -> SparseMatrix:
    """A stored sparse vector column in CSR form (null rows are empty)."""
    arr = one_array(column)
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
        pairs = np.zeros(0, dtype=SPARSE_PAIR)
    else:
        pairs = np.frombuffer(data, dtype=np.uint8)[start:end].view(SPARSE_PAIR)
    indptr = (offsets - start) // SPARSE_PAIR.itemsize
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


def sparse_placeholders(queries: list[tuple[np.ndarray, np.ndarray]], tag: str = "$0") -> bytes:
    """A serialized PlaceholderGroup of sparse query vectors (``decode_placeholders``' input)."""
    values = []
    for dims, weights in queries:
        pairs = np.empty(len(dims), dtype=SPARSE_PAIR)
        pairs["index"], pairs["value"] = dims, weights
        values.append(pairs.tobytes())
    group = common_pb2.PlaceholderGroup(placeholders=[
        common_pb2.PlaceholderValue(tag=tag, type=common_pb2.PlaceholderType.SparseFloatVector, values=values)])
    return group.SerializeToString()
