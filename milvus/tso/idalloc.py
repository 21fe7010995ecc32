"""Globally unique int64 IDs, reserved from the meta store in batches.

The meta store keeps the upper bound of every range reserved so far.  An allocator reserves
the next ``batch`` IDs with a compare-and-swap on that bound, so allocators sharing one store
(in one process or many, before or after a restart) never hand out the same ID.  IDs start
at 1; an allocator's unused reservation is skipped after a restart.
"""

from __future__ import annotations

import threading

from milvus.kv.base import KV, Compare, KVError, Put

FIRST_ID = 1
_MAX_CAS_ATTEMPTS = 1000


class IDAllocator:
    def __init__(self, kv: KV, key: str = "idalloc/id", batch: int = 10000):
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self._kv = kv
        self._key = key
        self._batch = batch
        self._lock = threading.Lock()
        self._next = 0
        self._end = 0  # the local reservation is [_next, _end)

    def alloc(self, count: int = 1) -> tuple[int, int]:
        """A half-open range ``[start, end)`` of ``count`` fresh IDs, above any this allocator gave."""
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        with self._lock:
            if self._end - self._next < count:
                self._next, self._end = self._reserve(max(self._batch, count))
            start = self._next
            self._next += count
            return start, self._next

    def _reserve(self, size: int) -> tuple[int, int]:
        for _ in range(_MAX_CAS_ATTEMPTS):
            current = self._kv.get(self._key)
            try:
                start = int(current.value) if current else FIRST_ID
            except ValueError:
                raise KVError(f"{self._key}: not an id bound: {current.value!r}") from None
            mod_rev = current.mod_revision if current else 0
            end = start + size
            result = self._kv.txn([Compare.mod_revision(self._key, "==", mod_rev)], [Put(self._key, str(end).encode())])
            if result.succeeded:
                return start, end
        raise KVError(f"{self._key}: could not reserve ids (too much contention)")
