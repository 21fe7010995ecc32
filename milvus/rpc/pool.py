"""The executor a gRPC server runs its handlers on.

``concurrent.futures.ThreadPoolExecutor`` hands each call to whichever idle worker wakes
first, and starts another worker whenever none is idle at that instant; a client that sends
its next call as soon as it has the answer finds the worker that answered still finishing,
so a serial client's calls rotate over several threads.  ``WorkerPool`` keeps the busy set
small instead: a call goes to the most recently idle worker (last in, first out), a worker
that finishes takes a waiting call before it sleeps, and a new worker starts only when a
call would otherwise wait for a busy one and fewer than ``max_workers`` run (a worker whose
call has returned is not busy: as many calls as there are such workers wait for them).  A serial client is then
served by one thread, and a faiss search from it always meets the same OpenMP team.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent import futures
from typing import Any

_Task = tuple[futures.Future, Callable[..., Any], tuple, dict]


class _Worker:
    __slots__ = ("task", "wake")

    def __init__(self, task: _Task | None):
        self.task = task
        self.wake = threading.Lock()
        self.wake.acquire()  # released to hand the worker its next task


class WorkerPool(futures.Executor):
    """At most ``max_workers`` threads named ``name_N``; see the module docstring."""

    def __init__(self, max_workers: int, name: str = "rpc-worker"):
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        self._max = max_workers
        self._name = name
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []  # a stack: the last one to finish is woken first
        self._waiting: deque[_Task] = deque()
        self._threads: list[threading.Thread] = []
        self._finishing = 0  # workers whose call returned, on their way to the next one or to idle
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> futures.Future:
        future: futures.Future = futures.Future()
        task = (future, fn, args, kwargs)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if self._idle:
                worker = self._idle.pop()
                worker.task = task
                worker.wake.release()
            elif len(self._threads) < self._max and len(self._waiting) >= self._finishing:
                thread = threading.Thread(target=self._run, args=(_Worker(task),),
                                          name=f"{self._name}_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._waiting.append(task)
        return future

    def _run(self, worker: _Worker) -> None:
        task = worker.task
        while task is not None:
            future, fn, args, kwargs = task
            if future.set_running_or_notify_cancel():
                error = result = None
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # noqa: BLE001 - handed to the future, as ThreadPoolExecutor does
                    error = exc
                with self._lock:
                    self._finishing += 1  # a call submitted from now on waits for this worker
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)
                error = result = None
            else:
                with self._lock:
                    self._finishing += 1
            future = fn = args = kwargs = task = None  # nothing of the call outlives it
            with self._lock:
                self._finishing -= 1
                if self._waiting:
                    task = self._waiting.popleft()
                    continue
                if self._shutdown:
                    return
                worker.task = None
                self._idle.append(worker)
            worker.wake.acquire()
            task = worker.task

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            idle, self._idle = self._idle, []
            if cancel_futures:
                while self._waiting:
                    self._waiting.popleft()[0].cancel()
            threads = list(self._threads)
        for worker in idle:
            worker.task = None
            worker.wake.release()
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()

    @property
    def threads(self) -> int:
        """How many worker threads were started."""
        with self._lock:
            return len(self._threads)
