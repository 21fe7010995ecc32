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

With ``active_workers`` below ``max_workers``, a call waits for a busy worker once that many
are busy, instead of taking a thread of its own: on a CPU-bound server, calls beyond the
cores only take turns at the GIL, and a worker that finishes and takes the next waiting call
saves a thread's sleep and wake-up.  Through pymilvus with 16 client threads on 2 cores, 4
active workers instead of 16 gave +9 % QPS and -9 % server CPU per search.  A handler that
blocks (a Strong read waiting for its timestamp, a flush) would then hold up the calls behind
it: a worker whose call has run ``grace`` seconds no longer counts as active (a new call
then gets a worker at once), and a rescuer thread hands a call that has waited ``grace``
seconds to another worker, up to ``max_workers``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent import futures
from typing import Any

_Task = tuple[futures.Future, Callable[..., Any], tuple, dict]


def active_workers(setting: int) -> int:
    """The ``active_workers`` of a setting: as given when positive, else twice the CPU cores."""
    return setting if setting > 0 else 2 * (os.cpu_count() or 1)


class _Worker:
    __slots__ = ("since", "task", "wake")

    def __init__(self, task: _Task | None, since: float = 0.0):
        self.task = task
        self.since = since  # when it took its current call
        self.wake = threading.Lock()
        self.wake.acquire()  # released to hand the worker its next task


class WorkerPool(futures.Executor):
    """At most ``max_workers`` threads named ``name_N``; see the module docstring."""

    def __init__(self, max_workers: int, name: str = "rpc-worker", active_workers: int | None = None,
                 grace: float = 0.02):
        if max_workers <= 0:
            raise ValueError("max_workers must be greater than 0")
        if active_workers is not None and active_workers <= 0:
            raise ValueError("active_workers must be greater than 0")
        self._max = max_workers
        self._active = min(active_workers or max_workers, max_workers)
        self._grace = grace
        self._name = name
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []  # a stack: the last one to finish is woken first
        self._waiting: deque[tuple[_Task, float]] = deque()  # with the time each was queued
        self._threads: list[threading.Thread] = []
        self._busy: set[_Worker] = set()  # workers with a call (kept only with active_workers)
        self._finishing = 0  # workers whose call returned, on their way to the next one or to idle
        self._shutdown = False
        self._changed = threading.Condition(self._lock)  # the rescuer waits on it
        self._rescuer: threading.Thread | None = None
        self._rescuer_parked = False  # waiting without a deadline: wake it for a queued call

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> futures.Future:
        future: futures.Future = futures.Future()
        task = (future, fn, args, kwargs)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            limited = self._active < self._max
            now = time.monotonic() if limited else 0.0
            below = not limited or self._active_count(now) < self._active
            if self._idle and below:
                self._hand(self._idle.pop(), task, now)
            elif below and len(self._threads) < self._max and len(self._waiting) >= self._finishing:
                self._start(task, now)
            else:
                self._waiting.append((task, now or time.monotonic()))
                if limited:
                    self._watch()
        return future

    def _active_count(self, now: float) -> int:
        """Under the lock: the busy workers whose call started less than ``grace`` ago."""
        limit = now - self._grace
        return sum(1 for worker in self._busy if worker.since > limit)

    def _hand(self, worker: _Worker, task: _Task, now: float) -> None:
        """Under the lock: wake an idle worker with ``task``."""
        worker.task = task
        if self._active < self._max:
            worker.since = now
            self._busy.add(worker)
        worker.wake.release()

    def _start(self, task: _Task, now: float) -> None:
        """Under the lock: a new worker thread, starting with ``task``."""
        worker = _Worker(task, now)
        if self._active < self._max:
            self._busy.add(worker)
        thread = threading.Thread(target=self._run, args=(worker,),
                                  name=f"{self._name}_{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _watch(self) -> None:
        """Under the lock: make sure the rescuer sees the waiting calls."""
        if self._rescuer is None:
            self._rescuer = threading.Thread(target=self._rescue, name=f"{self._name}_rescuer", daemon=True)
            self._rescuer.start()
        elif self._rescuer_parked:
            self._rescuer_parked = False
            self._changed.notify()

    def _rescue(self) -> None:
        """Hand a call that waited ``grace`` to an idle or a new worker (up to ``max_workers``).
        Under load it looks every ``grace``; it parks once nothing waited for that long."""
        with self._lock:
            while not self._shutdown:
                if not self._waiting:
                    if not self._changed.wait(self._grace) and not self._waiting:
                        self._rescuer_parked = True
                        while self._rescuer_parked and not self._shutdown:
                            self._changed.wait()
                    continue
                task, since = self._waiting[0]
                now = time.monotonic()
                late = since + self._grace - now
                if late > 0:
                    self._changed.wait(late)
                elif self._idle:
                    self._waiting.popleft()
                    self._hand(self._idle.pop(), task, now)
                elif len(self._threads) < self._max:
                    self._waiting.popleft()
                    self._start(task, now)
                else:
                    self._changed.wait(self._grace)  # every worker is busy: the first to finish takes it

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
                    task = self._waiting.popleft()[0]
                    worker.since = time.monotonic()
                    continue
                self._busy.discard(worker)
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
                    self._waiting.popleft()[0][0].cancel()
            threads = list(self._threads)
            if self._rescuer is not None:
                threads.append(self._rescuer)
            self._rescuer_parked = False
            self._changed.notify_all()
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
