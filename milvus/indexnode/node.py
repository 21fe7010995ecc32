"""The IndexNode service (proto/indexnode.proto): builds the index files of sealed segments.

``CreateJob`` queues a build (``milvus.indexnode.task``) on a small worker pool and answers at
once; ``QueryJobs`` reports each build's state (an unknown build answers INDEX_STATE_NONE,
which is how the data coordinator learns that a restarted node lost it and issues it again);
``DropJobs`` forgets builds (a running one stops at its next check and uploads nothing).
Jobs live in memory only: the data coordinator owns what must survive a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from milvus import errors
from milvus._proto import indexnode_pb2, internal_pb2
from milvus.grpc_gen import common_pb2
from milvus.index.memory import release_free_memory
from milvus.indexnode.task import Cancelled, run_build
from milvus.rpc.answers import rpc_answers
from milvus.storage.base import ObjectStorage

log = logging.getLogger(__name__)

SERVICE = indexnode_pb2.DESCRIPTOR.services_by_name["IndexNode"]


_answers = rpc_answers(
    SERVICE,
    ready=lambda self: self._state == internal_pb2.HEALTHY,
    not_ready=lambda self: f"service not ready[indexnode {self.node_id}]",
    log=log,
)


@dataclass
class _Job:
    request: indexnode_pb2.CreateJobRequest
    state: int = indexnode_pb2.UNISSUED
    file_keys: list[str] = field(default_factory=list)
    size: int = 0
    fail_reason: str = ""
    dropped: bool = False


class IndexNode:
    name = "indexnode"

    def __init__(self, node_id: int, storage: ObjectStorage, *, workers: int = 1,
                 on_build: Callable[[bool, float], None] | None = None,
                 on_done: Callable[[], None] | None = None):
        """``on_build(succeeded, seconds)`` is told about every finished build (metrics);
        ``on_done()`` is called once a build's final state (finished or failed) is queryable,
        so a coordinator in the same process can ask ``QueryJobs`` at once instead of at its
        next poll."""
        self.node_id = node_id
        self._on_build = on_build
        self._on_done = on_done
        self._storage = storage
        self._workers = max(1, workers)
        self._lock = threading.Lock()
        self._jobs: dict[int, _Job] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._state = internal_pb2.INITIALIZING

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=f"indexnode-{self.node_id}")
        self._state = internal_pb2.HEALTHY

    def stop(self) -> None:
        self._state = internal_pb2.STOPPING
        with self._lock:
            for job in self._jobs.values():
                job.dropped = True
            self._jobs.clear()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def health(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            running = sum(j.state == indexnode_pb2.IN_PROGRESS for j in self._jobs.values())
            queued = sum(j.state == indexnode_pb2.UNISSUED for j in self._jobs.values())
            known = len(self._jobs)
        return self._state == internal_pb2.HEALTHY, {"node_id": self.node_id, "running": running, "queued": queued,
                                                     "builds": known}

    # ---- the build ------------------------------------------------------------------------

    def _run(self, job: _Job) -> None:
        with self._lock:
            if job.dropped:
                return
            job.state = indexnode_pb2.IN_PROGRESS
        started = time.monotonic()
        try:
            self._build(job, started)
        finally:
            # after the state is reported: the build's read buffers, scratch and files are
            # garbage now, and giving them back need not delay the coordinator
            release_free_memory()

    def _build(self, job: _Job, started: float) -> None:
        request = job.request
        try:
            result = run_build(self._storage, request, cancelled=lambda: job.dropped)
        except Cancelled:
            return
        except Exception as exc:  # noqa: BLE001 - a failed build is reported with its reason
            reason = exc.message if isinstance(exc, errors.MilvusError) else f"{type(exc).__name__}: {exc}"
            if not isinstance(exc, errors.MilvusError):
                log.exception("build %d failed", request.buildID)
            with self._lock:
                job.state = indexnode_pb2.FAILED
                job.fail_reason = reason
            self._done()
            if self._on_build is not None:
                self._on_build(False, time.monotonic() - started)
            return
        with self._lock:
            job.file_keys = result.file_keys
            job.size = result.serialized_size
            job.state = indexnode_pb2.FINISHED
        self._done()
        if self._on_build is not None:
            self._on_build(True, time.monotonic() - started)
        log.info("index node %d built %d (segment %d, %d rows) in %.2fs: %d bytes", self.node_id, request.buildID,
                 request.segmentID, request.num_rows, time.monotonic() - started, result.serialized_size)

    def _done(self) -> None:
        if self._on_done is None:
            return
        try:
            self._on_done()
        except Exception:  # noqa: BLE001 - only a hint: the coordinator's poll notices the build anyway
            log.exception("index node %d: the build-done callback failed", self.node_id)

    # ---- RPCs -------------------------------------------------------------------------------

    def GetComponentStates(self, request: internal_pb2.GetComponentStatesRequest) -> internal_pb2.ComponentStates:
        info = internal_pb2.ComponentInfo(node_id=self.node_id, role="indexnode", state=self._state)
        return internal_pb2.ComponentStates(state=info, status=errors.OK)

    @_answers
    def CreateJob(self, request: indexnode_pb2.CreateJobRequest) -> common_pb2.Status:
        if not request.index_file_prefix or not request.field_name:
            raise errors.ParameterMissing("CreateJob needs the index file prefix and the field name")
        with self._lock:
            current = self._jobs.get(request.buildID)
            if current is not None and current.request.index_version == request.index_version:
                return errors.OK  # a repeat
            if current is not None:
                current.dropped = True
            job = self._jobs[request.buildID] = _Job(request)
        pool = self._pool
        if pool is None:
            raise errors.ServiceNotReady(f"service not ready[indexnode {self.node_id}]")
        pool.submit(self._run, job)
        return errors.OK

    @_answers
    def QueryJobs(self, request: indexnode_pb2.QueryJobsRequest) -> indexnode_pb2.QueryJobsResponse:
        response = indexnode_pb2.QueryJobsResponse(status=errors.OK)
        with self._lock:
            for build_id in request.buildIDs:
                job = self._jobs.get(build_id)
                if job is None:
                    response.index_infos.add(buildID=build_id, state=indexnode_pb2.INDEX_STATE_NONE)
                    continue
                response.index_infos.add(buildID=build_id, state=job.state, index_file_keys=job.file_keys,
                                         serialized_size=job.size, fail_reason=job.fail_reason,
                                         index_version=job.request.index_version)
        return response

    @_answers
    def DropJobs(self, request: indexnode_pb2.DropJobsRequest) -> common_pb2.Status:
        with self._lock:
            for build_id in request.buildIDs:
                job = self._jobs.pop(build_id, None)
                if job is not None:
                    job.dropped = True
        return errors.OK
