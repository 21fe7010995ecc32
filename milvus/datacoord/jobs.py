"""The book of jobs proxies run and the data coordinator keeps (bulk inserts, snapshot
restores): every state change is saved here, so any proxy can report any job and a job
outlives a restart.  Two rules keep the book honest:

* a job in a final state stays so: a later save of it is refused, so a proxy still running a
  job the book has given up on learns it and stops;
* a job found running when the data coordinator starts was interrupted (its proxy cannot be
  known to still run it): it is failed; so is a running job whose proxy has not saved it for
  ``stall_timeout`` seconds (the proxy is taken to be gone).

A finished job stays listed for ``retention`` seconds after its last save, then it is
forgotten (``expire``, from the data coordinator's periodic pass).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from milvus import errors


class Job(Protocol):
    id: int
    state: int
    reason: str
    update_time: int

    def CopyFrom(self, other: Job) -> None: ...  # noqa: N802 - a protobuf message


J = TypeVar("J", bound=Job)


@dataclass(frozen=True)
class JobKind(Generic[J]):
    """What a book needs to know of its jobs."""

    name: str  # "import", "restore": in messages
    new: Callable[[], J]
    final: frozenset[int]  # the final states
    failed: int  # the state a failed job takes
    state_name: Callable[[int], str]
    save: Callable[[J], None]  # to the meta store
    remove: Callable[[int], None]
    load: Callable[[], list[J]]


class JobBook(Generic[J]):
    def __init__(self, kind: JobKind[J], clock: Callable[[], float] = time.time):
        """``clock``: wall-clock seconds (jobs' ``update_time``)."""
        self._kind = kind
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[int, J] = {}

    def recover(self, interrupted: Callable[[J], str]) -> None:
        """Load the book; fail the jobs that were running with the reason ``interrupted(job)``."""
        jobs = {job.id: job for job in self._kind.load()}
        for job in jobs.values():
            if job.state not in self._kind.final:
                self._fail(job, interrupted(job))
        with self._lock:
            self._jobs = jobs

    def save(self, job: J) -> None:
        """Create or update ``job``; refused (ParameterInvalid) once the job is final."""
        with self._lock:
            known = self._jobs.get(job.id)
            if known is not None and known.state in self._kind.final:
                detail = f": {known.reason}" if known.reason else ""
                raise errors.ParameterInvalid(
                    f"{self._kind.name} job {job.id} is already {self._kind.state_name(known.state)}{detail}")
            copy = self._kind.new()
            copy.CopyFrom(job)
            copy.update_time = int(self._clock())
            self._kind.save(copy)
            self._jobs[job.id] = copy

    def expire(self, retention: float, stall_timeout: float, stalled: Callable[[J, float], str]) -> None:
        """Forget the jobs finished more than ``retention`` seconds ago; fail the running jobs
        not saved for ``stall_timeout`` seconds, with the reason ``stalled(job, stall_timeout)``."""
        now = self._clock()
        with self._lock:
            for job in list(self._jobs.values()):
                idle = now - job.update_time
                if job.state in self._kind.final:
                    if idle > retention:
                        self._kind.remove(job.id)
                        del self._jobs[job.id]
                elif idle > stall_timeout:
                    self._fail(job, stalled(job, stall_timeout))

    def _fail(self, job: J, reason: str) -> None:
        job.reason = reason
        job.state = self._kind.failed
        job.update_time = int(self._clock())
        self._kind.save(job)

    def get(self, job_id: int) -> J:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise errors.ParameterInvalid(f"{self._kind.name} job {job_id} not found")
        return job

    def all(self) -> list[J]:
        """Every job, oldest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.id)
