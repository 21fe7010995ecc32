"""Primary key -> shard: the one hash used by inserts and deletes alike; partition key ->
partition of a partition-key collection (vectorised)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_PARTITION_SEED = 0x5F3759DF  # mixed into partition keys before hashing: independent of shard_of


def hash_int64(pks: np.ndarray) -> np.ndarray:
    """A 64-bit finalizer (murmur3 fmix64) over int64 keys, as uint64."""
    x = np.asarray(pks, dtype=np.int64).view(np.uint64).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(33)
        x *= _M1
        x ^= x >> np.uint64(33)
        x *= _M2
        x ^= x >> np.uint64(33)
    return x


def hash_strings(pks: Sequence[str]) -> np.ndarray:
    return np.fromiter((zlib.crc32(s.encode("utf-8")) for s in pks), dtype=np.uint64, count=len(pks))


def shard_of(pks: np.ndarray | Sequence[str], shards: int) -> np.ndarray:
    """The shard index (0..shards-1) of every key; int64 keys or strings."""
    if shards <= 0:
        raise ValueError("shards must be positive")
    if shards == 1:  # the usual collection: no key to hash
        return np.zeros(len(pks), dtype=np.int64)
    arr = pks if isinstance(pks, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "iu":
        h = hash_int64(arr)
    else:
        h = hash_strings([str(p) for p in pks])
    return (h % np.uint64(shards)).astype(np.int64)


def partition_of(keys: np.ndarray | Sequence[str], partitions: int) -> np.ndarray:
    """The partition index (0..partitions-1) of every partition key value; int64 or strings.
    Seeded, so that it is independent of ``shard_of``: where partition keys and primary keys
    go together (equal, say), a partition's rows still spread over every shard."""
    if partitions <= 0:
        raise ValueError("partitions must be positive")
    arr = keys if isinstance(keys, np.ndarray) else None
    if arr is not None and arr.dtype.kind in "iu":
        h = hash_int64(np.asarray(arr, dtype=np.int64) ^ np.int64(_PARTITION_SEED))
    else:
        h = hash_int64(hash_strings([str(k) for k in keys]).view(np.int64) ^ np.int64(_PARTITION_SEED))
    return (h % np.uint64(partitions)).astype(np.int64)
