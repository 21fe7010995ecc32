"""The pool of physical DML channels and how a collection's shards are mapped onto it.

As in Milvus: the pool is ``{cluster}-rootcoord-dml_0 .. _{N-1}``; shard ``i`` of
collection ``C`` is the virtual channel ``{pchannel}_{C}v{i}``, and a new collection's
shards go to the least used physical channels (ties to the lowest index).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable


def vchannel_name(pchannel: str, collection_id: int, shard: int) -> str:
    return f"{pchannel}_{collection_id}v{shard}"


class DmlChannels:
    def __init__(self, cluster_prefix: str, name_prefix: str, count: int):
        if count < 1:
            raise ValueError(f"the DML channel pool needs at least one channel, got {count}")
        self.names = tuple(f"{cluster_prefix}-{name_prefix}_{k}" for k in range(count))
        self._index = {name: k for k, name in enumerate(self.names)}
        self._usage = [0] * count
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.names)

    def assign(self, collection_id: int, shards: int) -> tuple[list[str], list[str]]:
        """``(virtual, physical)`` channel names for a new collection's ``shards`` shards."""
        if not 1 <= shards <= len(self.names):
            raise ValueError(f"shards must be in [1, {len(self.names)}], got {shards}")
        with self._lock:
            order = sorted(range(len(self.names)), key=lambda k: (self._usage[k], k))[:shards]
            for k in order:
                self._usage[k] += 1
        physical = [self.names[k] for k in order]
        virtual = [vchannel_name(p, collection_id, i) for i, p in enumerate(physical)]
        return virtual, physical

    def in_use(self) -> list[str]:
        """The channels some collection uses (those the merged time ticks go to)."""
        with self._lock:
            return [name for name, used in zip(self.names, self._usage, strict=True) if used]

    def acquire(self, physical: Iterable[str]) -> None:
        """Count channels of an existing collection (recovery)."""
        with self._lock:
            for name in physical:
                k = self._index.get(name)
                if k is not None:
                    self._usage[k] += 1

    def release(self, physical: Iterable[str]) -> None:
        with self._lock:
            for name in physical:
                k = self._index.get(name)
                if k is not None and self._usage[k] > 0:
                    self._usage[k] -= 1
