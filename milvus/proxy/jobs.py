"""What a proxy's background jobs (bulk inserts, snapshot restores) share: one worker thread
taking queued jobs in order, and inserts that wait out flow control."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from milvus import errors
from milvus.proxy.dml import Dml

J = TypeVar("J")

RATE_LIMITED_WAIT = 1.0
RATE_LIMITED_TRIES = 120


class JobFailed(Exception):
    """The job cannot go on; the message is its reason."""


class JobQueue(Generic[J]):
    """Jobs run one at a time by ``run(job)`` on a thread named ``name``; ``stop`` lets the
    current one see ``stopping`` and hands each job still queued to ``abandon(job)``."""

    def __init__(self, name: str, run: Callable[[J], None], abandon: Callable[[J], None]):
        self._name = name
        self._run_job = run
        self._abandon = abandon
        self._queue: queue.Queue[J | None] = queue.Queue()
        self.stopping = threading.Event()
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        self.stopping.clear()
        self._worker = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._worker.start()

    def stop(self) -> None:
        worker, self._worker = self._worker, None
        if worker is None:
            return
        self.stopping.set()
        self._queue.put(None)
        worker.join()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._abandon(job)

    def put(self, job: J) -> None:
        self._queue.put(job)

    def _run(self) -> None:
        while not self.stopping.is_set():
            job = self._queue.get()
            if job is not None:
                self._run_job(job)


def insert_waiting(dml: Dml, stopping: threading.Event, db: str, collection: str, partition: str, fields: list,
                   num_rows: int, **kwargs) -> None:
    """``dml.insert``, retried while flow control refuses it (RateLimited) for up to two
    minutes; JobFailed when it stays refused or ``stopping`` is set."""
    for _ in range(RATE_LIMITED_TRIES):
        if stopping.is_set():
            raise JobFailed("the proxy running the job stopped")
        try:
            dml.insert(db, collection, partition, fields, num_rows, **kwargs)
            return
        except errors.RateLimited:  # wait for the data path to catch up
            if stopping.wait(RATE_LIMITED_WAIT):
                raise JobFailed("the proxy running the job stopped") from None
    raise JobFailed("inserts stayed rate limited")
