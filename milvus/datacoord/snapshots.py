"""Snapshots of collections, their pins and the book of restore jobs (the data coordinator's).

A snapshot (Milvus 3.0's ``create_snapshot``) is metadata only: the collection as the root
coordinator described it, and a manifest in object storage (written by the data coordinator)
of its indexes and its FLUSHED segments (L1 and L0) with their logs as they were when it was
taken.  Rows not flushed yet are not in it (as in Milvus: flush first).  Its name is unique
within its collection.  What it promises:

* its segments' files stay: the GC keeps a DROPPED segment a snapshot names (its meta and
  files) until no snapshot or pin names it (``protected_segments``);
* for ``compaction_protection_seconds`` after it was taken, its segments are not compacted
  (``compaction_protected``: no plan is made for a channel holding one of them);
* a pin (``pin``: for ``ttl`` seconds, or until released) keeps its files even when the
  snapshot is dropped meanwhile: a dropped snapshot with a live pin is listed nowhere and
  forgotten when its last pin ends.

Dropping a collection drops its snapshots (pinned ones stay until their pins end): a
snapshot is reached through its collection's name.

Restore jobs are run by proxies (milvus/proxy/snapshots.py) and booked here by the rules of
``milvus.datacoord.jobs`` (those of bulk inserts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from milvus import errors
from milvus._proto import datacoord_pb2
from milvus.datacoord.jobs import JobBook, JobKind
from milvus.grpc_gen import milvus_pb2
from milvus.metastore.snapshot_catalog import SnapshotCatalog

DEFAULT_PIN_SECONDS = 3600
RESTORE_FINAL = frozenset({milvus_pb2.RestoreSnapshotCompleted, milvus_pb2.RestoreSnapshotFailed})


def manifest_key(snapshot: datacoord_pb2.Snapshot) -> str:
    """Where a snapshot's manifest (SnapshotManifest) lives in object storage."""
    return f"snapshots/{snapshot.collection_id}/{snapshot.id}/manifest.pb"


def not_found(name: str, collection_id: int) -> errors.MilvusError:
    return errors.ParameterInvalid(f"snapshot {name} not found in collection {collection_id}")


class SnapshotBook:
    def __init__(self, catalog: SnapshotCatalog, clock: Callable[[], float] = time.time,
                 forget: Callable[[datacoord_pb2.Snapshot], None] = lambda _snapshot: None):
        """``clock``: wall-clock seconds; ``forget(snapshot)`` is called once a snapshot is
        gone for good (its manifest can go)."""
        self._catalog = catalog
        self._forget = forget
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshots: dict[int, datacoord_pb2.Snapshot] = {}
        self._pins: dict[int, datacoord_pb2.SnapshotPin] = {}
        jobs = catalog.restore_jobs
        self._jobs = JobBook(JobKind(
            "restore", datacoord_pb2.RestoreJob, RESTORE_FINAL, milvus_pb2.RestoreSnapshotFailed,
            milvus_pb2.RestoreSnapshotState.Name, lambda job: jobs.save(job.id, job), jobs.remove, jobs.list), clock)

    def recover(self) -> None:
        """Load the book; fail the restore jobs that were running (their proxies cannot be
        known to still run them)."""
        snapshots = {s.id: s for s in self._catalog.snapshots.list()}
        pins = {p.id: p for p in self._catalog.pins.list()}
        self._jobs.recover(lambda job: "the restore was interrupted by a data coordinator restart" + _partial(job))
        with self._lock:
            self._snapshots, self._pins = snapshots, pins

    # ---- snapshots ----------------------------------------------------------------------

    def create(self, snapshot: datacoord_pb2.Snapshot, protection_seconds: int) -> datacoord_pb2.Snapshot:
        """Book ``snapshot`` (id, create_ts, segment ids and manifest filled by the caller)."""
        if protection_seconds < 0:
            raise errors.ParameterInvalid("compaction_protection_seconds must not be negative")
        if protection_seconds:
            snapshot.protect_until_ms = int((self._clock() + protection_seconds) * 1000)
        with self._lock:
            if self._find(snapshot.collection_id, snapshot.name) is not None:
                raise errors.AlreadyExists(
                    f"snapshot {snapshot.name} already exists in collection {snapshot.collection_id}")
            self._catalog.snapshots.save(snapshot.id, snapshot)
            self._snapshots[snapshot.id] = snapshot
        return snapshot

    def _find(self, collection_id: int, name: str) -> datacoord_pb2.Snapshot | None:
        """Under the lock: the live snapshot so named."""
        for snapshot in self._snapshots.values():
            if snapshot.collection_id == collection_id and snapshot.name == name and not snapshot.dropped:
                return snapshot
        return None

    def get(self, collection_id: int, name: str) -> datacoord_pb2.Snapshot:
        with self._lock:
            snapshot = self._find(collection_id, name)
        if snapshot is None:
            raise not_found(name, collection_id)
        return snapshot

    def list(self, collection_id: int = 0, db_name: str = "") -> list[datacoord_pb2.Snapshot]:
        """The live snapshots of a collection (0: of every collection of ``db_name``, or of every
        database), oldest first."""
        with self._lock:
            chosen = [s for s in self._snapshots.values() if not s.dropped
                      and (s.collection_id == collection_id if collection_id else not db_name or s.db_name == db_name)]
        return sorted(chosen, key=lambda s: s.id)

    def drop(self, collection_id: int, name: str) -> None:
        with self._lock:
            snapshot = self._find(collection_id, name)
            if snapshot is None:
                raise not_found(name, collection_id)
            self._drop(snapshot)

    def drop_collection(self, collection_id: int) -> None:
        with self._lock:
            for snapshot in [s for s in self._snapshots.values() if s.collection_id == collection_id]:
                self._drop(snapshot)

    def _drop(self, snapshot: datacoord_pb2.Snapshot) -> None:
        """Under the lock: forget it, or keep it dropped while a pin holds it."""
        if self._pinned(snapshot.id):
            if not snapshot.dropped:
                snapshot.dropped = True
                self._catalog.snapshots.save(snapshot.id, snapshot)
            return
        self._catalog.snapshots.remove(snapshot.id)
        del self._snapshots[snapshot.id]
        self._forget(snapshot)

    def _pinned(self, snapshot_id: int) -> bool:
        now_ms = self._clock() * 1000
        return any(p.snapshot_id == snapshot_id and p.expires_ms > now_ms for p in self._pins.values())

    # ---- pins ---------------------------------------------------------------------------

    def pin(self, collection_id: int, name: str, ttl_seconds: int, pin_id: int) -> int:
        if ttl_seconds < 0:
            raise errors.ParameterInvalid("ttl_seconds must not be negative")
        ttl = ttl_seconds or DEFAULT_PIN_SECONDS
        with self._lock:
            snapshot = self._find(collection_id, name)
            if snapshot is None:
                raise not_found(name, collection_id)
            pin = datacoord_pb2.SnapshotPin(id=pin_id, snapshot_id=snapshot.id,
                                            expires_ms=int((self._clock() + ttl) * 1000))
            self._catalog.pins.save(pin.id, pin)
            self._pins[pin.id] = pin
        return pin_id

    def unpin(self, pin_id: int) -> None:
        with self._lock:
            pin = self._pins.pop(pin_id, None)
            if pin is None:
                raise errors.ParameterInvalid(f"snapshot pin {pin_id} not found")
            self._catalog.pins.remove(pin_id)
            self._release_dropped()

    def _release_dropped(self) -> None:
        """Under the lock: forget expired pins and the dropped snapshots no pin holds now."""
        now_ms = self._clock() * 1000
        for pin in [p for p in self._pins.values() if p.expires_ms <= now_ms]:
            self._catalog.pins.remove(pin.id)
            del self._pins[pin.id]
        for snapshot in [s for s in self._snapshots.values() if s.dropped and not self._pinned(s.id)]:
            self._catalog.snapshots.remove(snapshot.id)
            del self._snapshots[snapshot.id]
            self._forget(snapshot)

    # ---- what snapshots keep ------------------------------------------------------------

    def protected_segments(self) -> set[int]:
        """Segments a snapshot (live, or dropped but pinned) names: the GC keeps their files."""
        with self._lock:
            self._release_dropped()
            return {sid for s in self._snapshots.values() for sid in s.segment_ids}

    def compaction_protected(self) -> set[int]:
        """Segments a snapshot protects from compaction now."""
        now_ms = self._clock() * 1000
        with self._lock:
            return {sid for s in self._snapshots.values() if s.protect_until_ms > now_ms for sid in s.segment_ids}

    # ---- restore jobs -------------------------------------------------------------------

    def save_job(self, job: datacoord_pb2.RestoreJob) -> None:
        """Create or update a restore job; refused (ParameterInvalid) once it is final."""
        self._jobs.save(job)

    def jobs(self, job_id: int = 0, db_name: str = "", collection_name: str = "") -> list[datacoord_pb2.RestoreJob]:
        if job_id:
            return [self._jobs.get(job_id)]
        return [j for j in self._jobs.all() if (not db_name or j.db_name == db_name)
                and (not collection_name or j.collection_name == collection_name)]

    def expire(self, retention: float, stall_timeout: float) -> None:
        """Forget expired pins (and what only they held), finished restore jobs after
        ``retention`` s; fail running ones not saved for ``stall_timeout`` s."""
        with self._lock:
            self._release_dropped()
        self._jobs.expire(retention, stall_timeout,
                          lambda job, seconds: f"the restore stopped: its proxy did not report for {seconds:g} s"
                          + _partial(job))


def _partial(job: datacoord_pb2.RestoreJob) -> str:
    """What a restore cut short may have left (its proxy drops the collection only when it sees
    the failure itself)."""
    return (f"; the collection {job.collection_name} it was making may exist with part of the rows"
            if job.state == milvus_pb2.RestoreSnapshotExecuting else "")
