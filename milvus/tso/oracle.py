"""Hybrid timestamps: physical milliseconds << 18 | a logical counter.

The oracle never hands out a timestamp whose physical part is above the high-water mark it
persisted in the meta store, and a new oracle starts above the persisted mark.  So the
timestamps stay strictly increasing across restarts, even when the wall clock goes back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from milvus.kv.base import KV, Compare, KVError, Put

LOGICAL_BITS = 18
MAX_LOGICAL = 1 << LOGICAL_BITS  # logical values are 0 .. MAX_LOGICAL - 1
_LOGICAL_MASK = MAX_LOGICAL - 1


def compose_ts(physical_ms: int, logical: int) -> int:
    if physical_ms < 0 or not 0 <= logical < MAX_LOGICAL:
        raise ValueError(f"invalid timestamp parts: physical={physical_ms} logical={logical}")
    return (physical_ms << LOGICAL_BITS) | logical


def parse_ts(ts: int) -> tuple[int, int]:
    """``(physical_ms, logical)`` of a hybrid timestamp."""
    if ts < 0:
        raise ValueError(f"invalid timestamp {ts}")
    return ts >> LOGICAL_BITS, ts & _LOGICAL_MASK


class TimestampOracle:
    """Hands out strictly increasing hybrid timestamps; one active oracle per ``key``.

    The mark is written with a compare-and-swap on the key's revision, so a second oracle
    that took over the key makes this one fail (KVError) instead of handing out duplicates.
    """

    def __init__(
        self,
        kv: KV,
        key: str = "tso/timestamp",
        save_interval: float = 3.0,
        clock: Callable[[], float] = time.time,
    ):
        if save_interval <= 0:
            raise ValueError(f"save_interval must be positive, got {save_interval}")
        self._kv = kv
        self._key = key
        self._interval_ms = max(1, int(save_interval * 1000))
        self._clock = clock
        self._lock = threading.Lock()
        current = kv.get(key)
        self._saved_rev = current.mod_revision if current else 0
        try:
            self._saved = int(current.value) if current else 0  # no physical above this was handed out
        except ValueError:
            raise KVError(f"{key}: not a timestamp mark: {current.value!r}") from None
        self._physical = max(self._now_ms(), self._saved + 1)
        self._logical = 0

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _save(self, mark: int) -> None:
        result = self._kv.txn(
            [Compare.mod_revision(self._key, "==", self._saved_rev)], [Put(self._key, str(mark).encode())]
        )
        if not result.succeeded:
            raise KVError(f"{self._key} was changed by another timestamp oracle")
        self._saved_rev = result.revision
        self._saved = mark

    def alloc(self, count: int = 1) -> int:
        """The first of ``count`` consecutive timestamps, all above every one handed out before."""
        if not 1 <= count <= MAX_LOGICAL:
            raise ValueError(f"count must be in [1, {MAX_LOGICAL}], got {count}")
        with self._lock:
            now = self._now_ms()
            if now > self._physical:
                self._physical, self._logical = now, 0
            if self._logical + count > MAX_LOGICAL:
                # the logical counter of this millisecond is spent: borrow the next one
                self._physical, self._logical = self._physical + 1, 0
            if self._physical > self._saved:
                self._save(self._physical + self._interval_ms)
            ts = compose_ts(self._physical, self._logical)
            self._logical += count
            return ts
