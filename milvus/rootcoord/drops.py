"""Finishing drops: what a dropped collection or partition had elsewhere is released.

As Milvus' root coordinator does it: DropCollection marks the collection dropping in the meta
(invisible, its name free) and expires the proxies' caches; then, outside the DDL lock, the
query coordinator releases it, the data coordinator drops it (segments marked dropped, its
channels unwatched on the data nodes, its indexes dropped; GC removes the files later), its
DML channels are released and the meta forgets it.  A dropped partition goes the same way
(the query side releases it, the data coordinator marks its segments dropped).

Every step is idempotent, so a drop that failed half-way simply runs again: ``DropFinisher``
retries whatever the meta still marks dropping every ``interval`` seconds until it is done,
and a restarted root coordinator resumes them from the meta.  The failures are logged through
a ``RetryLog`` (one warning, then a reminder every ``drop_remind_interval`` seconds, one info
line on success), not once per retry.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2, querycoord_pb2
from milvus._proto.rootcoord_pb2 import CollectionInfo, PartitionInfo
from milvus.grpc_gen import common_pb2
from milvus.util.retry_log import RetryLog

log = logging.getLogger(__name__)


def _none() -> Any:
    return None


class ReleaseSteps:
    """The calls to the other coordinators; each raises when it did not succeed.

    ``datacoord()`` / ``querycoord()`` give the clients (DataCoord / QueryCoord services); a
    coordinator this cluster has none of (None) has nothing to release.  Each call gives up
    after ``timeout`` seconds (the next round tries again), so stopping never waits long."""

    def __init__(self, datacoord: Callable[[], Any] = _none, querycoord: Callable[[], Any] = _none,
                 timeout: float = 10.0):
        self._datacoord = datacoord
        self._querycoord = querycoord
        self._timeout = timeout

    @staticmethod
    def _base(msg_type: int, source_id: int) -> common_pb2.MsgBase:
        return common_pb2.MsgBase(msg_type=msg_type, sourceID=source_id)

    def collection(self, coll: CollectionInfo, source_id: int = 0) -> None:
        query = self._querycoord()
        if query is not None:
            errors.check_status(query.ReleaseCollection(querycoord_pb2.ReleaseCollectionRequest(
                base=self._base(common_pb2.ReleaseCollection, source_id), dbID=coll.db_id, collectionID=coll.id), timeout=self._timeout))
        data = self._datacoord()
        if data is not None:
            errors.check_status(data.DropCollection(datacoord_pb2.DropCollectionRequest(
                base=self._base(common_pb2.DropCollection, source_id), collectionID=coll.id), timeout=self._timeout))

    def truncated(self, collection_id: int, truncated_ts: int) -> None:
        """Have the data coordinator compact away the rows of a truncated collection written
        at or before ``truncated_ts`` (reads hide them already)."""
        data = self._datacoord()
        if data is not None:
            resp = data.ManualCompaction(datacoord_pb2.ManualCompactionRequest(
                collectionID=collection_id, expire_ts=truncated_ts + 1), timeout=self._timeout)
            errors.check_status(resp.status)

    def partition(self, db_id: int, partition: PartitionInfo, source_id: int = 0) -> None:
        query = self._querycoord()
        if query is not None:
            # msg_type DropPartition: released even from a collection loaded as a whole
            errors.check_status(query.ReleasePartitions(querycoord_pb2.ReleasePartitionsRequest(
                base=self._base(common_pb2.DropPartition, source_id), dbID=db_id,
                collectionID=partition.collection_id, partitionIDs=[partition.id]), timeout=self._timeout))
        data = self._datacoord()
        if data is not None:
            errors.check_status(data.DropPartition(datacoord_pb2.DropPartitionRequest(
                base=self._base(common_pb2.DropPartition, source_id),
                collectionID=partition.collection_id, partitionID=partition.id), timeout=self._timeout))


class DropFinisher:
    """Runs ``finish()`` (True: nothing left to finish) when kicked, and again every
    ``interval`` seconds while something is left, on its own thread; a round that raises is
    logged through ``retry_log`` under the key ``ROUND``."""

    ROUND = "drops-round"

    def __init__(self, finish: Callable[[], bool], interval: float, retry_log: RetryLog | None = None):
        self._finish = finish
        self._interval = interval
        self._retry_log = retry_log or RetryLog(log)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopped.clear()
        self._thread = threading.Thread(target=self._loop, name="rootcoord-drops", daemon=True)
        self._thread.start()
        self.kick()

    def kick(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        done = True
        while not self._stopped.is_set():
            self._wake.wait(None if done else self._interval)
            self._wake.clear()
            if self._stopped.is_set():
                return
            try:
                done = self._finish()
            except Exception as exc:  # noqa: BLE001 - the next round retries; the thread must live on
                self._retry_log.failed(self.ROUND, "finish the dropped collections", exc)
                done = False
            else:
                self._retry_log.succeeded(self.ROUND, "finish the dropped collections")
