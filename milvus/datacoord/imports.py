"""The book of bulk insert jobs the data coordinator keeps for the proxies (the rules of
``milvus.datacoord.jobs``): a proxy accepts a job, saves it here and runs it
(milvus/proxy/imports.py); a job failed because it was interrupted or stalled says how many of
its rows stay in the collection.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from milvus._proto import datacoord_pb2
from milvus.datacoord.jobs import JobBook, JobKind
from milvus.grpc_gen import common_pb2
from milvus.metastore.import_catalog import ImportCatalog

FINAL_STATES = frozenset({common_pb2.ImportCompleted, common_pb2.ImportFailed, common_pb2.ImportFailedAndCleaned})


def interrupted_reason(job: datacoord_pb2.ImportJob) -> str:
    return (f"the import was interrupted by a data coordinator restart after {job.row_count} of its rows were "
            "inserted; those rows stay in the collection")


def stalled_reason(job: datacoord_pb2.ImportJob, seconds: float) -> str:
    return (f"the import stopped: its proxy did not report for {seconds:g} s after {job.row_count} of its rows "
            "were inserted; those rows stay in the collection")


class ImportJobs:
    def __init__(self, catalog: ImportCatalog, clock: Callable[[], float] = time.time):
        """``clock``: wall-clock seconds (jobs' ``update_time``)."""
        self._book = JobBook(JobKind(
            "import", datacoord_pb2.ImportJob, FINAL_STATES, common_pb2.ImportFailed, common_pb2.ImportState.Name,
            catalog.save, catalog.remove, catalog.list), clock)

    def recover(self) -> None:
        """Load the book; fail the jobs that were running."""
        self._book.recover(interrupted_reason)

    def save(self, job: datacoord_pb2.ImportJob) -> None:
        """Create or update ``job``; refused (ParameterInvalid) once the job is final."""
        self._book.save(job)

    def expire(self, retention: float, stall_timeout: float) -> None:
        self._book.expire(retention, stall_timeout, stalled_reason)

    def list(self, job_id: int = 0, collection_id: int = 0, limit: int = 0) -> list[datacoord_pb2.ImportJob]:
        """The jobs asked for, oldest first; ``limit`` keeps the newest."""
        if job_id:
            return [self._book.get(job_id)]
        jobs = [j for j in self._book.all() if not collection_id or j.collection_id == collection_id]
        return jobs[-limit:] if limit > 0 else jobs
