"""Where snapshots, their pins and restore jobs live in the meta store (the data coordinator
keeps them).

Keys, under the KV it is given (already rooted at the cluster's meta prefix)::

    datacoord-meta/snapshot/{id}       Snapshot
    datacoord-meta/snapshot-pin/{id}   SnapshotPin
    datacoord-meta/restore-job/{id}    RestoreJob
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from google.protobuf.message import Message

from milvus._proto import datacoord_pb2
from milvus.kv.base import KV

M = TypeVar("M", bound=Message)


class _Records(Generic[M]):
    """Messages of one type by id under one prefix."""

    def __init__(self, kv: KV, prefix: str, parse: Callable[[bytes], M]):
        self._kv = kv
        self._prefix = prefix
        self._parse = parse

    def save(self, record_id: int, message: M) -> None:
        self._kv.put(f"{self._prefix}{record_id}", message.SerializeToString(deterministic=True))

    def remove(self, record_id: int) -> None:
        self._kv.delete(f"{self._prefix}{record_id}")

    def list(self) -> list[M]:
        return [self._parse(kv.value) for kv in self._kv.range(self._prefix)]


class SnapshotCatalog:
    def __init__(self, kv: KV):
        self.snapshots = _Records(kv, "datacoord-meta/snapshot/", datacoord_pb2.Snapshot.FromString)
        self.pins = _Records(kv, "datacoord-meta/snapshot-pin/", datacoord_pb2.SnapshotPin.FromString)
        self.restore_jobs = _Records(kv, "datacoord-meta/restore-job/", datacoord_pb2.RestoreJob.FromString)
