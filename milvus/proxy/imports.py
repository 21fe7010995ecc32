"""Bulk insert (pymilvus ``utility.do_bulk_insert``): files in object storage into a collection.

The proxy that accepts an import checks what it can up front (the collection, the partition,
the files' formats), books the job with the data coordinator (``SaveImportJob``: any proxy
can then report it, and it outlives a restart) and queues it for its one worker thread.
The worker reads the files (``milvus.schema.import_files``), checks every row the way an
insert would before inserting any, then inserts them in batches through ``Dml.insert``: the
rows are durable, replicated and flushed like any insert's.  Every step is saved to the book.

A job fails with the reason in ``failed_reason``; one that fails after some batches were
inserted says how many rows stay.  A job whose proxy dies stays pending or started until the
data coordinator restarts and marks it failed (``milvus.datacoord.imports``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from milvus import errors
from milvus._proto import datacoord_pb2, rootcoord_pb2
from milvus.grpc_gen import common_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.collections import KEY_MODE_PARTITION_NAMES, Collection, Collections
from milvus.proxy.dml import Dml
from milvus.proxy.jobs import JobFailed, JobQueue, insert_waiting
from milvus.schema import fields_to_arrow
from milvus.schema.import_files import (
    JSON,
    NUMPY,
    PARQUET,
    file_format,
    read_json,
    read_numpy,
    read_parquet,
    table_to_fields,
)
from milvus.storage.base import ObjectNotFound, ObjectStorage, StorageError

log = logging.getLogger(__name__)

BATCH_ROWS = 5000  # rows per insert: a few MB of 768-dim vectors, far under the message limit


def _reason(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


class Imports:
    def __init__(self, collections: Collections, dml: Dml, rootcoord: Caller, datacoord: Caller,
                 storage: ObjectStorage | None, *, node_id: int = 0, batch_rows: int = BATCH_ROWS,
                 wall_clock: Callable[[], float] = time.time):
        """``storage``: the cluster's object storage, where the files are (None: imports refused)."""
        self._collections = collections
        self._dml = dml
        self._rootcoord = rootcoord
        self._datacoord = datacoord
        self._storage = storage
        self._node_id = node_id
        self._batch_rows = batch_rows
        self._wall_clock = wall_clock
        self._queue = JobQueue("proxy-import", self._run_one,
                              lambda job: self._fail(job, "the proxy running the import stopped before it started"))

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._queue.start()

    def stop(self) -> None:
        """Stop after the current batch; the jobs not finished are failed (saying so)."""
        self._queue.stop()

    # ---- the requests -------------------------------------------------------------------

    def submit(self, db: str, name: str, partition: str, files: Sequence[str]) -> int:
        """Check and book a job; its id.  The rows are inserted later, by the worker."""
        coll = self._collections.get(db, name)  # CollectionNotFound
        if coll.partition_key is not None:
            if partition:
                raise errors.ParameterInvalid(KEY_MODE_PARTITION_NAMES)
        else:
            coll.partition_id(partition or self._collections.default_partition)  # PartitionNotFound
        file_format(list(files))  # ParameterInvalid (SchemaError)
        if self._storage is None:
            raise errors.Unimplemented("this proxy has no object storage to read import files from")
        job_id = self._rootcoord("AllocID", rootcoord_pb2.AllocIDRequest(count=1)).ID
        job = datacoord_pb2.ImportJob(
            id=job_id, db_name=db, collection_id=coll.id, collection_name=coll.name, partition_name=partition,
            files=list(files), state=common_pb2.ImportPending, create_time=int(self._wall_clock()),
            proxy_id=self._node_id)
        self._save(job)
        self._queue.put(job)
        log.info("import job %d: %s into %s.%s", job_id, list(files), db, coll.name)
        return job_id

    def job(self, job_id: int) -> datacoord_pb2.ImportJob:
        return self._list(job_id=job_id)[0]

    def jobs(self, db: str, collection_name: str = "", limit: int = 0) -> list[datacoord_pb2.ImportJob]:
        """The database's jobs (of one collection when named), oldest first; ``limit``: the newest."""
        collection_id = self._collections.get(db, collection_name).id if collection_name else 0
        jobs = [j for j in self._list(collection_id=collection_id) if j.db_name == db]
        return jobs[-limit:] if limit > 0 else jobs

    def _list(self, **kw) -> list[datacoord_pb2.ImportJob]:
        return list(self._datacoord("ListImportJobs", datacoord_pb2.ListImportJobsRequest(**kw)).jobs)

    def _save(self, job: datacoord_pb2.ImportJob) -> None:
        self._datacoord("SaveImportJob", datacoord_pb2.SaveImportJobRequest(job=job))

    # ---- the worker ---------------------------------------------------------------------

    def _run_one(self, job: datacoord_pb2.ImportJob) -> None:
        try:
            self._execute(job)
            job.state = common_pb2.ImportCompleted
            self._save(job)
            log.info("import job %d: %d rows imported", job.id, job.row_count)
        except JobFailed as exc:
            self._fail(job, str(exc))
        except Exception as exc:  # noqa: BLE001 - a job's failure must not end the worker
            log.exception("import job %d failed", job.id)
            self._fail(job, _reason(exc))

    def _fail(self, job: datacoord_pb2.ImportJob, reason: str) -> None:
        if job.row_count:
            reason += f" ({job.row_count} rows were inserted before the failure; they stay in the collection)"
        job.state = common_pb2.ImportFailed
        job.reason = reason
        log.warning("import job %d failed: %s", job.id, reason)
        try:
            self._save(job)
        except Exception:  # noqa: BLE001 - the book is gone or the job was failed there already
            log.exception("import job %d: could not record its failure", job.id)

    def _execute(self, job: datacoord_pb2.ImportJob) -> None:
        job.state = common_pb2.ImportStarted
        self._save(job)
        try:
            coll = self._collections.get(job.db_name, job.collection_name)
        except errors.MilvusError as exc:
            raise JobFailed(_reason(exc)) from None
        if coll.id != job.collection_id:
            raise JobFailed(f"collection {job.collection_name} was dropped")
        table = self._read(coll, list(job.files))
        job.total_rows = table.num_rows
        self._save(job)
        batches = self._checked_batches(coll, table)
        for fields, num_rows in batches:
            self._insert(job, fields, num_rows)
            job.row_count += num_rows
            self._save(job)

    def _read(self, coll: Collection, files: list[str]):
        try:
            kind = file_format(files)
            data = {key: self._storage.get(key) for key in files}
            if kind == JSON:
                return read_json(coll.schema, data[files[0]])
            if kind == PARQUET:
                return read_parquet(coll.schema, data[files[0]])
            assert kind == NUMPY
            return read_numpy(coll.schema, data)
        except ObjectNotFound as exc:
            raise JobFailed(f"file {exc.args[0] if exc.args else ''} not found in object storage") from None
        except StorageError as exc:
            raise JobFailed(f"cannot read the import files: {exc}") from None
        except errors.MilvusError as exc:
            raise JobFailed(_reason(exc)) from None

    def _checked_batches(self, coll: Collection, table) -> list[tuple[list, int]]:
        """The insert columns of every batch, each checked as an insert checks it, before any
        is inserted: a bad row fails the job with nothing inserted."""
        allow = any(kv.key == "allow_insert_auto_id" and kv.value.lower() == "true" for kv in coll.info.properties)
        out = []
        for start in range(0, table.num_rows, self._batch_rows):
            part = table.slice(start, self._batch_rows)
            try:
                fields = table_to_fields(coll.schema, part)
                fields_to_arrow(coll.schema, fields, part.num_rows, row_ids=np.zeros(part.num_rows, np.int64),
                                timestamps=0, allow_insert_auto_id=allow)
            except errors.MilvusError as exc:
                raise JobFailed(f"rows {start} to {start + part.num_rows - 1}: {_reason(exc)}") from None
            out.append((fields, part.num_rows))
        return out

    def _insert(self, job: datacoord_pb2.ImportJob, fields: list, num_rows: int) -> None:
        try:
            insert_waiting(self._dml, self._queue.stopping, job.db_name, job.collection_name, job.partition_name,
                           fields, num_rows)
        except errors.MilvusError as exc:
            raise JobFailed(_reason(exc)) from None


def progress_percent(job: datacoord_pb2.ImportJob) -> int:
    if job.state == common_pb2.ImportCompleted:
        return 100
    return job.row_count * 100 // job.total_rows if job.total_rows else 0
