"""Snapshots (Milvus 3.0's ``create_snapshot`` ... ``restore_snapshot``): the proxy's side.

The data coordinator keeps snapshots, pins and the book of restore jobs
(milvus/datacoord/snapshots.py); the proxy names collections, books them there and runs
restores.  A restore (asynchronous: a job id, then ``get_restore_snapshot_state``) makes a
new collection from the snapshot's description (schema, shards, consistency level,
properties, partitions) with its indexes, then inserts the rows the snapshot saw: those of its
segments written at or before its timestamp (and after the collection's truncation), less
those its delta logs and L0 segments deleted by then, with their primary keys (auto ids
too), each into the partition of the same name; function outputs are computed again by the
insert.  The rows go through the insert path (durable, replicated, flushed at the end like
any insert) rather than as copied files: new segments of the new collection, indexes built
as usual.  A failed restore drops the collection it made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from milvus import errors
from milvus._proto import datacoord_pb2, rootcoord_pb2
from milvus.binlog import conform, log_paths, read_delta_log, read_insert_log
from milvus.binlog.mvcc import ALL_PARTITIONS, StoredDeletes, deleted_rows
from milvus.grpc_gen import milvus_pb2, schema_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.collections import Collections
from milvus.proxy.ddl import Ddl
from milvus.proxy.dml import Dml
from milvus.proxy.indexes import Indexes
from milvus.proxy.jobs import JobFailed, JobQueue, insert_waiting
from milvus.proxy.load import Loads
from milvus.schema import TIMESTAMP_FIELD, CollectionSchemaModel
from milvus.schema.convert import arrow_to_fields
from milvus.storage.base import ObjectStorage

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
L0 = datacoord_pb2.SEGMENT_LEVEL_L0
PENDING, EXECUTING = milvus_pb2.RestoreSnapshotPending, milvus_pb2.RestoreSnapshotExecuting
COMPLETED, FAILED = milvus_pb2.RestoreSnapshotCompleted, milvus_pb2.RestoreSnapshotFailed


class Snapshots:
    def __init__(self, collections: Collections, ddl: Ddl, dml: Dml, indexes: Indexes, loads: Loads,
                 rootcoord: Caller, datacoord: Caller, storage: ObjectStorage | None, *, node_id: int = 0,
                 batch_rows: int = BATCH_ROWS, wall_clock: Callable[[], float] = time.time):
        self._collections = collections
        self._ddl = ddl
        self._dml = dml
        self._indexes = indexes
        self._loads = loads
        self._rootcoord = rootcoord
        self._datacoord = datacoord
        self._storage = storage
        self._node_id = node_id
        self._batch_rows = batch_rows
        self._wall_clock = wall_clock
        self._queue = JobQueue("proxy-restore", self._run_one,
                              lambda job: self._fail(job, "the proxy running the restore stopped before it started"))

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._queue.start()

    def stop(self) -> None:
        self._queue.stop()

    # ---- snapshots ----------------------------------------------------------------------

    def create(self, db: str, collection_name: str, name: str, description: str, protection_seconds: int) -> None:
        if not name:
            raise errors.ParameterInvalid("the snapshot name must not be empty")
        coll = self._collections.get(db, collection_name)
        snapshot = datacoord_pb2.Snapshot(name=name, description=description, collection_id=coll.id, db_name=db,
                                          collection=coll.info.SerializeToString())
        self._datacoord("CreateSnapshot", datacoord_pb2.CreateSnapshotRequest(
            snapshot=snapshot, compaction_protection_seconds=protection_seconds))

    def drop(self, db: str, collection_name: str, name: str) -> None:
        coll = self._collections.get(db, collection_name)
        self._datacoord("DropSnapshot", datacoord_pb2.SnapshotRequest(collection_id=coll.id, name=name))

    def names(self, db: str, collection_name: str = "") -> list[str]:
        collection_id = self._collections.get(db, collection_name).id if collection_name else 0
        response = self._datacoord("ListSnapshots", datacoord_pb2.SnapshotRequest(collection_id=collection_id,
                                                                                  db_name=db))
        return [s.name for s in response.snapshots]

    def describe(self, db: str, collection_name: str, name: str) -> milvus_pb2.DescribeSnapshotResponse:
        snapshot = self._snapshot(db, collection_name, name)
        info = rootcoord_pb2.CollectionInfo.FromString(snapshot.collection)
        return milvus_pb2.DescribeSnapshotResponse(
            status=errors.OK, name=snapshot.name, description=snapshot.description, collection_name=info.name,
            partition_names=[p.name for p in info.partitions], create_ts=snapshot.create_ts,
            s3_location=snapshot.manifest)

    def _snapshot(self, db: str, collection_name: str, name: str) -> datacoord_pb2.Snapshot:
        coll = self._collections.get(db, collection_name)
        response = self._datacoord("DescribeSnapshot", datacoord_pb2.SnapshotRequest(collection_id=coll.id,
                                                                                     name=name))
        return response.snapshots[0]

    def pin(self, db: str, collection_name: str, name: str, ttl_seconds: int) -> int:
        coll = self._collections.get(db, collection_name)
        return self._datacoord("PinSnapshot", datacoord_pb2.PinSnapshotRequest(
            collection_id=coll.id, name=name, ttl_seconds=ttl_seconds)).pin_id

    def unpin(self, pin_id: int) -> None:
        self._datacoord("UnpinSnapshot", datacoord_pb2.UnpinSnapshotRequest(pin_id=pin_id))

    # ---- restore jobs -------------------------------------------------------------------

    def restore(self, db: str, collection_name: str, name: str, target_db: str, target_name: str) -> int:
        """Check and book a restore; its job id.  The worker makes the collection later."""
        snapshot = self._snapshot(db, collection_name, name)  # CollectionNotFound, snapshot not found
        if not target_name:
            raise errors.ParameterInvalid("the target collection name must not be empty")
        self._rootcoord("DescribeDatabase", milvus_pb2.DescribeDatabaseRequest(db_name=target_db))  # DatabaseNotFound
        if self._ddl.has_collection(target_db, target_name):
            raise errors.AlreadyExists(f"collection {target_name} already exists in database {target_db}: "
                                       "a snapshot is restored into a new collection")
        if self._storage is None:
            raise errors.Unimplemented("this proxy has no object storage to read the snapshot's segments from")
        job = datacoord_pb2.RestoreJob(
            id=self._rootcoord("AllocID", rootcoord_pb2.AllocIDRequest(count=1)).ID, snapshot_name=snapshot.name,
            source_collection_id=snapshot.collection_id, db_name=target_db, collection_name=target_name,
            state=PENDING, start_time=int(self._wall_clock() * 1000), proxy_id=self._node_id)
        self._save(job)
        self._queue.put(job)
        log.info("restore job %d: snapshot %s of %s.%s into %s.%s", job.id, name, db, collection_name, target_db,
                 target_name)
        return job.id

    def job(self, job_id: int) -> milvus_pb2.RestoreSnapshotInfo:
        return self._info(self._jobs(job_id=job_id)[0])

    def jobs(self, db: str, collection_name: str = "") -> list[milvus_pb2.RestoreSnapshotInfo]:
        return [self._info(j) for j in self._jobs(db_name=db, collection_name=collection_name)]

    def _jobs(self, **kw) -> list[datacoord_pb2.RestoreJob]:
        return list(self._datacoord("ListRestoreJobs", datacoord_pb2.ListRestoreJobsRequest(**kw)).jobs)

    @staticmethod
    def _info(job: datacoord_pb2.RestoreJob) -> milvus_pb2.RestoreSnapshotInfo:
        return milvus_pb2.RestoreSnapshotInfo(
            job_id=job.id, snapshot_name=job.snapshot_name, db_name=job.db_name, collection_name=job.collection_name,
            state=job.state, progress=job.progress, reason=job.reason, start_time=job.start_time,
            time_cost=job.time_cost)

    def _save(self, job: datacoord_pb2.RestoreJob) -> None:
        self._datacoord("SaveRestoreJob", datacoord_pb2.SaveRestoreJobRequest(job=job))

    # ---- the worker ---------------------------------------------------------------------

    def _run_one(self, job: datacoord_pb2.RestoreJob) -> None:
        created = False
        try:
            job.state = EXECUTING
            self._save(job)
            snapshot = self._datacoord("DescribeSnapshot", datacoord_pb2.SnapshotRequest(
                collection_id=job.source_collection_id, name=job.snapshot_name)).snapshots[0]
            info = rootcoord_pb2.CollectionInfo.FromString(snapshot.collection)
            manifest = datacoord_pb2.SnapshotManifest.FromString(self._read(snapshot.manifest))
            self._create_collection(job, info)
            created = True
            self._create_indexes(job, manifest)
            self._insert_rows(job, snapshot, manifest, info)
            self._loads.flush(job.db_name, [job.collection_name])
            job.state, job.progress = COMPLETED, 100
            job.time_cost = int(self._wall_clock() * 1000) - job.start_time
            self._save(job)
            log.info("restore job %d: %s.%s restored", job.id, job.db_name, job.collection_name)
        except Exception as exc:  # noqa: BLE001 - a job's failure must not end the worker
            if not isinstance(exc, (JobFailed, errors.MilvusError)):
                log.exception("restore job %d failed", job.id)
            reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            if created:
                reason += self._drop_target(job)
            self._fail(job, reason)

    def _drop_target(self, job: datacoord_pb2.RestoreJob) -> str:
        try:
            self._ddl.drop_collection(milvus_pb2.DropCollectionRequest(db_name=job.db_name,
                                                                       collection_name=job.collection_name))
            return f" (the collection {job.collection_name} it made was dropped)"
        except Exception as exc:  # noqa: BLE001 - reported in the job's reason
            return f" (the collection {job.collection_name} it made could not be dropped: {exc})"

    def _fail(self, job: datacoord_pb2.RestoreJob, reason: str) -> None:
        job.state, job.reason = FAILED, reason
        job.time_cost = int(self._wall_clock() * 1000) - job.start_time
        log.warning("restore job %d failed: %s", job.id, reason)
        try:
            self._save(job)
        except Exception:  # noqa: BLE001 - the book is gone or failed the job already
            log.exception("restore job %d: could not record its failure", job.id)

    def _create_collection(self, job: datacoord_pb2.RestoreJob, info: rootcoord_pb2.CollectionInfo) -> None:
        schema = schema_pb2.CollectionSchema.FromString(info.schema)
        schema.name = job.collection_name
        kept = [f for f in schema.fields if not f.is_dynamic]  # the dynamic field comes with enable_dynamic_field
        del schema.fields[:]
        schema.fields.extend(kept)
        self._ddl.create_collection(milvus_pb2.CreateCollectionRequest(
            db_name=job.db_name, collection_name=job.collection_name, schema=schema.SerializeToString(),
            shards_num=info.shards_num, consistency_level=info.consistency_level, properties=info.properties,
            num_partitions=info.num_partitions if any(f.is_partition_key for f in schema.fields) else 0))
        coll = self._collections.get(job.db_name, job.collection_name)
        if coll.partition_key is None:
            for partition in info.partitions:
                if partition.name != self._collections.default_partition:
                    self._ddl.create_partition(milvus_pb2.CreatePartitionRequest(
                        db_name=job.db_name, collection_name=job.collection_name, partition_name=partition.name))

    def _create_indexes(self, job: datacoord_pb2.RestoreJob, manifest: datacoord_pb2.SnapshotManifest) -> None:
        for index in manifest.indexes:
            params = index.user_index_params or index.index_params
            self._indexes.create(job.db_name, milvus_pb2.CreateIndexRequest(
                db_name=job.db_name, collection_name=job.collection_name, field_name=index.field_name,
                index_name=index.index_name, extra_params=params))

    def _insert_rows(self, job: datacoord_pb2.RestoreJob, snapshot: datacoord_pb2.Snapshot,
                     manifest: datacoord_pb2.SnapshotManifest, info: rootcoord_pb2.CollectionInfo) -> None:
        source = CollectionSchemaModel(schema_pb2.CollectionSchema.FromString(info.schema))
        pk = source.primary_field
        deletes = StoredDeletes()
        for segment in manifest.segments:
            scope = segment.partition_id if segment.partition_id > 0 else ALL_PARTITIONS
            for path in log_paths(segment.deltalogs):
                pks, ts = read_delta_log(self._read(path))
                deletes.add(pks, ts, scope, snapshot.create_ts)
        target = self._collections.get(job.db_name, job.collection_name)
        names = [f.name for f in target.schema.fields if not f.is_function_output]
        partition_names = {p.id: p.name for p in info.partitions}
        rows = [s for s in manifest.segments if s.level != L0 and log_paths(s.binlogs)]
        total, done = sum(s.num_of_rows for s in rows) or 1, 0
        for segment in sorted(rows, key=lambda s: s.id):
            parts = [conform(read_insert_log(self._read(p)), source.arrow_schema) for p in log_paths(segment.binlogs)]
            table = pa.concat_tables(parts)
            row_ts = table.column(TIMESTAMP_FIELD).to_numpy()
            keep = (row_ts <= np.uint64(snapshot.create_ts)) & (row_ts > np.uint64(info.truncated_ts))
            keep &= ~deleted_rows(table.column(pk.name).combine_chunks(), row_ts,
                                  deletes.latest(segment.partition_id, pk.arrow_type))
            table = table.filter(pa.array(keep))
            partition = "" if target.partition_key is not None else partition_names.get(segment.partition_id, "")
            for start in range(0, table.num_rows, self._batch_rows):
                part = table.slice(start, self._batch_rows)
                self._insert(job, partition, arrow_to_fields(target.schema, part, names), part.num_rows)
            done += segment.num_of_rows
            job.progress = min(99, done * 100 // total)
            self._save(job)

    def _read(self, path: str) -> bytes:
        assert self._storage is not None
        return self._storage.get(path)

    def _insert(self, job: datacoord_pb2.RestoreJob, partition: str, fields: list, num_rows: int) -> None:
        insert_waiting(self._dml, self._queue.stopping, job.db_name, job.collection_name, partition, fields, num_rows,
                       keep_ids=True)
