"""The data coordinator's RPCs for what proxies book with it: bulk insert jobs
(``milvus.datacoord.imports``), snapshots and restore jobs (``milvus.datacoord.snapshots``).
A part of ``DataCoord`` (its state is the coordinator's)."""

from __future__ import annotations

import logging

from milvus import errors
from milvus._proto import datacoord_pb2
from milvus.datacoord.rpc import answers
from milvus.datacoord.segments import FLUSHED
from milvus.datacoord.snapshots import manifest_key

log = logging.getLogger("milvus.datacoord.coord")

OK = errors.OK


class JobRpcs:
    # ---- bulk insert jobs (milvus.datacoord.imports) -------------------------------------------

    @answers
    def SaveImportJob(self, request: datacoord_pb2.SaveImportJobRequest):
        self._imports.save(request.job)
        return OK

    @answers
    def ListImportJobs(self, request: datacoord_pb2.ListImportJobsRequest) -> datacoord_pb2.ListImportJobsResponse:
        jobs = self._imports.list(request.job_id, request.collection_id, request.limit)
        return datacoord_pb2.ListImportJobsResponse(status=OK, jobs=jobs)

    # ---- snapshots and restore jobs (milvus.datacoord.snapshots) -------------------------------

    @answers
    def CreateSnapshot(self, request: datacoord_pb2.CreateSnapshotRequest):
        """Book a snapshot of the collection's FLUSHED segments now (rows not flushed are not in it)."""
        snapshot = datacoord_pb2.Snapshot()
        snapshot.CopyFrom(request.snapshot)
        if not snapshot.name or not snapshot.collection_id:
            raise errors.ParameterMissing("a snapshot needs a name and a collection")
        if self._storage is None:
            raise errors.Unimplemented("snapshots need the object storage (their manifests live there)")
        snapshot.id = self._alloc_id(1)
        # restores read its rows and deletes up to create_ts: a segment flushed between the
        # timestamp and the choice below adds nothing newer
        snapshot.create_ts = self._alloc_ts(1)
        with self._lock:
            kept = [s for s in self._segments.select(snapshot.collection_id) if s.state == FLUSHED]
        manifest = datacoord_pb2.SnapshotManifest(segments=kept,
                                                  indexes=self._index.field_indexes(snapshot.collection_id))
        snapshot.manifest = manifest_key(snapshot)
        snapshot.segment_ids[:] = [s.id for s in kept]
        self._storage.put(snapshot.manifest, manifest.SerializeToString())
        try:
            self._snapshots.create(snapshot, request.compaction_protection_seconds)
        except Exception:
            self._remove_manifest(snapshot)
            raise
        log.info("snapshot %s of collection %d: %d segments at %d", snapshot.name, snapshot.collection_id,
                 len(kept), snapshot.create_ts)
        return OK

    def _remove_manifest(self, snapshot: datacoord_pb2.Snapshot) -> None:
        if self._storage is not None and snapshot.manifest:
            try:
                self._storage.remove(snapshot.manifest)
            except Exception:  # noqa: BLE001 - an orphan manifest costs a few bytes
                log.exception("cannot remove the manifest of snapshot %s", snapshot.name)

    @answers
    def DropSnapshot(self, request: datacoord_pb2.SnapshotRequest):
        self._snapshots.drop(request.collection_id, request.name)
        return OK

    @answers
    def DescribeSnapshot(self, request: datacoord_pb2.SnapshotRequest) -> datacoord_pb2.SnapshotResponse:
        return datacoord_pb2.SnapshotResponse(status=OK,
                                              snapshots=[self._snapshots.get(request.collection_id, request.name)])

    @answers
    def ListSnapshots(self, request: datacoord_pb2.SnapshotRequest) -> datacoord_pb2.SnapshotResponse:
        found = self._snapshots.list(request.collection_id, request.db_name)
        return datacoord_pb2.SnapshotResponse(status=OK, snapshots=found)

    @answers
    def PinSnapshot(self, request: datacoord_pb2.PinSnapshotRequest) -> datacoord_pb2.PinSnapshotResponse:
        pin_id = self._snapshots.pin(request.collection_id, request.name, request.ttl_seconds, self._alloc_id(1))
        return datacoord_pb2.PinSnapshotResponse(status=OK, pin_id=pin_id)

    @answers
    def UnpinSnapshot(self, request: datacoord_pb2.UnpinSnapshotRequest):
        self._snapshots.unpin(request.pin_id)
        return OK

    @answers
    def SaveRestoreJob(self, request: datacoord_pb2.SaveRestoreJobRequest):
        self._snapshots.save_job(request.job)
        return OK

    @answers
    def ListRestoreJobs(self, request: datacoord_pb2.ListRestoreJobsRequest) -> datacoord_pb2.ListRestoreJobsResponse:
        jobs = self._snapshots.jobs(request.job_id, request.db_name, request.collection_name)
        return datacoord_pb2.ListRestoreJobsResponse(status=OK, jobs=jobs)
