"""Where bulk insert jobs live in the meta store (the data coordinator keeps them).

Keys, under the KV it is given (already rooted at the cluster's meta prefix)::

    datacoord-meta/import-job/{job id}   ImportJob
"""

from __future__ import annotations

from milvus._proto import datacoord_pb2
from milvus.kv.base import KV

_JOB = "datacoord-meta/import-job/"


def import_job_key(job_id: int) -> str:
    return f"{_JOB}{job_id}"


class ImportCatalog:
    """Typed reads and writes of bulk insert jobs."""

    def __init__(self, kv: KV):
        self._kv = kv

    def save(self, job: datacoord_pb2.ImportJob) -> None:
        self._kv.put(import_job_key(job.id), job.SerializeToString(deterministic=True))

    def remove(self, job_id: int) -> None:
        self._kv.delete(import_job_key(job_id))

    def list(self) -> list[datacoord_pb2.ImportJob]:
        return [datacoord_pb2.ImportJob.FromString(kv.value) for kv in self._kv.range(_JOB)]
