"""The book of bulk insert jobs the data coordinator keeps for the proxies.

A proxy accepts a job, saves it here and runs it (milvus/proxy/imports.py); every state change
is saved here again, so any proxy can report any job and a job outlives a restart.  Two rules
keep the book honest:

* a job in a final state (completed or failed) stays so: a later save of it is refused, so
  a proxy still running a job this book has given up on learns it and stops;
* a job found pending or started when the data coordinator starts was interrupted (its
  proxy cannot be known to still run it): it is marked failed, saying that the rows inserted
  before the interruption stay in the collection; so is a running job whose proxy has not
  saved it for ``stall_timeout`` seconds (the proxy is taken to be gone).

A finished job stays listed for ``retention`` seconds after its last save, then it is
forgotten (``expire``, from the data coordinator's periodic pass).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from milvus import errors
from milvus._proto import datacoord_pb2
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
        self._clock = clock
        self._catalog = catalog
        self._lock = threading.Lock()
        self._jobs: dict[int, datacoord_pb2.ImportJob] = {}

    def recover(self) -> None:
        """Load the book; fail the jobs that were running (see the module docstring)."""
        jobs = {job.id: job for job in self._catalog.list()}
        for job in jobs.values():
            if job.state not in FINAL_STATES:
                job.reason = interrupted_reason(job)
                job.state = common_pb2.ImportFailed
                job.update_time = int(self._clock())
                self._catalog.save(job)
        with self._lock:
            self._jobs = jobs

    def save(self, job: datacoord_pb2.ImportJob) -> None:
        """Create or update ``job``; refused (ParameterInvalid) once the job is final."""
        with self._lock:
            known = self._jobs.get(job.id)
            if known is not None and known.state in FINAL_STATES:
                raise errors.ParameterInvalid(
                    f"import job {job.id} is already {common_pb2.ImportState.Name(known.state)}: {known.reason}")
            copy = datacoord_pb2.ImportJob()
            copy.CopyFrom(job)
            copy.update_time = int(self._clock())
            self._catalog.save(copy)
            self._jobs[job.id] = copy

    def expire(self, retention: float, stall_timeout: float) -> None:
        """Forget the jobs finished more than ``retention`` seconds ago; fail the running jobs
        not saved for ``stall_timeout`` seconds."""
        now = self._clock()
        with self._lock:
            for job in list(self._jobs.values()):
                idle = now - job.update_time
                if job.state in FINAL_STATES:
                    if idle > retention:
                        self._catalog.remove(job.id)
                        del self._jobs[job.id]
                elif idle > stall_timeout:
                    job.reason = stalled_reason(job, stall_timeout)
                    job.state = common_pb2.ImportFailed
                    job.update_time = int(now)
                    self._catalog.save(job)

    def list(self, job_id: int = 0, collection_id: int = 0, limit: int = 0) -> list[datacoord_pb2.ImportJob]:
        """The jobs asked for, oldest first; ``limit`` keeps the newest."""
        with self._lock:
            if job_id:
                job = self._jobs.get(job_id)
                if job is None:
                    raise errors.ParameterInvalid(f"import job {job_id} not found")
                return [job]
            jobs = sorted((j for j in self._jobs.values() if not collection_id or j.collection_id == collection_id),
                          key=lambda j: j.id)
        return jobs[-limit:] if limit > 0 else jobs
