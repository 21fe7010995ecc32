"""Query vectors of the public PlaceholderGroup as numpy (the stored columns' conversions live
in ``milvus.schema.vectors`` and are re-exported here).
"""

from __future__ import annotations

import numpy as np

from milvus.errors import ParameterInvalid
from milvus.grpc_gen import common_pb2, schema_pb2
from milvus.schema.vectors import (
    DENSE_FLOAT_TYPES,
    SPARSE_PAIR,
    SparseMatrix,
    dense_matrix,
    half_to_float32,
    sparse_matrix,
    sparse_placeholders,
    valid_rows,
)

PT = common_pb2.PlaceholderType

__all__ = ["DENSE_FLOAT_TYPES", "SparseMatrix", "decode_placeholders", "dense_matrix", "sparse_matrix",
           "sparse_placeholders", "valid_rows"]


_DENSE_PLACEHOLDERS = {
    PT.FloatVector: ("<f4", schema_pb2.FloatVector),
    PT.Float16Vector: ("<u2", schema_pb2.Float16Vector),
    PT.BFloat16Vector: ("<u2", schema_pb2.BFloat16Vector),
    PT.Int8Vector: ("i1", schema_pb2.Int8Vector),
}

_ITEMSIZE = {dtype: np.dtype(dtype).itemsize for dtype, _kind in _DENSE_PLACEHOLDERS.values()}


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
    values = holder.values  # the repeated field itself: no copy into a list
    if not values:
        raise ParameterInvalid("no query vectors")
    if data_type == schema_pb2.SparseFloatVector:
        if holder.type != PT.SparseFloatVector:
            raise ParameterInvalid(f"field is a sparse float vector, query vectors are {PT.Name(holder.type)}")
        queries = []
        for i, raw in enumerate(values):
            if len(raw) % SPARSE_PAIR.itemsize:
                raise ParameterInvalid(f"invalid sparse float vector in query {i}")
            pairs = np.frombuffer(raw, dtype=SPARSE_PAIR)
            order = np.argsort(pairs["index"], kind="stable")
            queries.append((pairs["index"][order].copy(), pairs["value"][order].astype(np.float32)))
        return queries
    if data_type == schema_pb2.BinaryVector:
        if holder.type != PT.BinaryVector:
            raise ParameterInvalid(f"field is a binary vector, query vectors are {PT.Name(holder.type)}")
        width = (dim or 0) // 8
        if set(map(len, values)) != {width}:
            raise ParameterInvalid(f"the dim ({dim}) of field data(binary vector) is not equal to schema dim")
        return np.frombuffer(b"".join(values), dtype=np.uint8).reshape(len(values), width)
    if data_type not in DENSE_FLOAT_TYPES:
        raise ParameterInvalid(f"cannot search a field of type {schema_pb2.DataType.Name(data_type)}")
    if holder.type not in _DENSE_PLACEHOLDERS:
        raise ParameterInvalid(f"field is a {schema_pb2.DataType.Name(data_type)}, "
                               f"query vectors are {PT.Name(holder.type)}")
    dtype, kind = _DENSE_PLACEHOLDERS[holder.type]
    itemsize = _ITEMSIZE[dtype]
    if set(map(len, values)) != {(dim or 0) * itemsize}:  # in C, not a Python loop per query
        got = len(values[0]) // itemsize
        raise ParameterInvalid(f"the dim ({got}) of field data(query vector) is not equal to schema dim ({dim})")
    raw = np.frombuffer(values[0] if len(values) == 1 else b"".join(values), dtype=dtype).reshape(len(values), dim)
    if kind in (schema_pb2.Float16Vector, schema_pb2.BFloat16Vector):
        return np.nan_to_num(half_to_float32(raw.view(np.uint8), kind))
    return raw.astype(np.float32)
