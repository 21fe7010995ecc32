"""Primary keys between ``schema_pb2.IDs`` and Arrow (int64 or string)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema.errors import invalid


def ids_to_arrow(ids: spb.IDs) -> pa.Array:
    """The keys in ``ids`` as an int64 or string Arrow array (int64 when it holds none)."""
    kind = ids.WhichOneof("id_field")
    if kind == "str_id":
        return pa.array(list(ids.str_id.data), type=pa.string())
    if kind == "int_id":
        return pa.array(np.array(ids.int_id.data, dtype=np.int64), type=pa.int64())  # typed: no inference
    return pa.array([], type=pa.int64())


def arrow_to_ids(keys: pa.Array | pa.ChunkedArray | np.ndarray | Sequence[int] | Sequence[str]) -> spb.IDs:
    """``IDs`` holding ``keys``: ``int_id`` for integers, ``str_id`` for strings."""
    if isinstance(keys, np.ndarray) and keys.dtype.kind == "i":  # signed integers from numpy: no Arrow round trip
        ids = spb.IDs()
        ids.int_id.SetInParent()
        ids.int_id.data.extend(keys.astype(np.int64, copy=False).tolist())
        return ids
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if not isinstance(keys, pa.Array):
        keys = pa.array(np.asarray(keys) if isinstance(keys, np.ndarray) else list(keys))
    if keys.null_count:
        raise invalid("primary keys cannot be null")
    ids = spb.IDs()
    if pa.types.is_integer(keys.type):
        ids.int_id.SetInParent()
        if keys.type != pa.int64():
            keys = keys.cast(pa.int64())
        ids.int_id.data.extend(keys.to_numpy(zero_copy_only=False).tolist())
    elif pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type):
        ids.str_id.SetInParent()
        ids.str_id.data.extend(keys.to_pylist())
    elif pa.types.is_null(keys.type):  # an empty Python list
        ids.int_id.SetInParent()
    else:
        raise invalid(f"primary keys must be integers or strings, got {keys.type}")
    return ids


def num_ids(ids: spb.IDs) -> int:
    kind = ids.WhichOneof("id_field")
    return 0 if kind is None else len(getattr(ids, kind).data)
