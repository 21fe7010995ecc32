"""The gRPC servers' executor: results and errors through futures, one thread for a serial
caller, at most ``max_workers`` threads with the rest waiting, ``active_workers`` calls at
once unless a call waited ``grace``, and a clean shutdown."""

from __future__ import annotations

import threading
import time

import pytest

from milvus.rpc.pool import WorkerPool, active_workers
from tests.conftest import wait_for

TIMEOUT = 10


def test_results_and_errors_come_back_through_the_futures():
    pool = WorkerPool(2, name="t")
    try:
        assert pool.submit(lambda a, b=0: a + b, 2, b=3).result(TIMEOUT) == 5

        def fail():
            raise ValueError("boom")
        with pytest.raises(ValueError, match="boom"):
            pool.submit(fail).result(TIMEOUT)
    finally:
        pool.shutdown()


def test_a_serial_caller_is_served_by_one_thread():
    pool = WorkerPool(8, name="t")
    try:
        names = {pool.submit(lambda: threading.current_thread().name).result(TIMEOUT) for _ in range(200)}
        assert len(names) == 1 and pool.threads == 1
    finally:
        pool.shutdown()


def test_at_most_max_workers_run_and_the_rest_wait_their_turn():
    pool = WorkerPool(3, name="t")
    release = threading.Event()
    lock = threading.Lock()
    running, peak = [0], [0]

    def work(i: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        release.wait(TIMEOUT)
        with lock:
            running[0] -= 1
        return i

    try:
        done = [pool.submit(work, i) for i in range(10)]
        started = threading.Event()
        pool.submit(started.set)  # queued behind the blocked ones
        assert not started.wait(0.05)
        release.set()
        assert [f.result(TIMEOUT) for f in done] == list(range(10))
        assert started.wait(TIMEOUT)
        assert pool.threads == 3 and peak[0] == 3
    finally:
        release.set()
        pool.shutdown()


def test_shutdown_ends_the_workers_and_refuses_new_calls():
    pool = WorkerPool(4, name="t-shutdown")
    futures = [pool.submit(lambda: None) for _ in range(4)]
    for f in futures:
        f.result(TIMEOUT)
    pool.shutdown(wait=True)
    assert not [t for t in threading.enumerate() if t.name.startswith("t-shutdown_")]
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)


def test_active_workers_run_at_once_and_the_next_call_waits_for_one_of_them():
    pool = WorkerPool(8, name="t-active", active_workers=2, grace=TIMEOUT * 10)  # no rescue in this test
    release = [threading.Event() for _ in range(2)]
    running = [threading.Event() for _ in range(2)]
    try:
        held = [pool.submit(lambda i=i: (running[i].set(), release[i].wait(TIMEOUT))) for i in range(2)]
        assert all(r.wait(TIMEOUT) for r in running)
        third = threading.Event()
        done = pool.submit(third.set)
        assert not third.wait(0.05) and pool.threads == 2  # waits: no third thread for it
        release[0].set()  # the worker that finishes takes it
        done.result(TIMEOUT)
        assert third.is_set() and pool.threads == 2
        release[1].set()
        assert [f.result(TIMEOUT)[1] for f in held] == [True, True]
        # a serial caller still runs on one thread
        names = {pool.submit(lambda: threading.current_thread().name).result(TIMEOUT) for _ in range(50)}
        assert len(names) == 1
    finally:
        for r in release:
            r.set()
        pool.shutdown()


def test_a_call_waiting_behind_blocked_workers_gets_a_worker_of_its_own_after_the_grace():
    pool = WorkerPool(4, name="t-rescue", active_workers=1, grace=0.05)
    release = threading.Event()
    try:
        blocked = pool.submit(release.wait, TIMEOUT)  # a handler waiting (a Strong read, a flush)
        answers = [pool.submit(lambda i=i: i) for i in range(5)]
        # every call behind it is answered while it still blocks, on a worker started for them
        assert [f.result(TIMEOUT) for f in answers] == list(range(5))
        assert not blocked.done() and 2 <= pool.threads <= 4
        release.set()
        assert blocked.result(TIMEOUT) is True
    finally:
        release.set()
        pool.shutdown(wait=True)
    assert not [t for t in threading.enumerate() if t.name.startswith("t-rescue")]


def test_a_worker_whose_call_ran_past_the_grace_no_longer_counts_as_active():
    grace = 1.0
    pool = WorkerPool(4, name="t-stale", active_workers=1, grace=grace)
    release, started = threading.Event(), []
    try:
        blocked = pool.submit(lambda: (started.append(time.monotonic()), release.wait(TIMEOUT)))
        wait_for(lambda: started, TIMEOUT)
        wait_for(lambda: time.monotonic() > started[0] + grace, TIMEOUT)
        answer = pool.submit(lambda: threading.current_thread().name)
        assert pool.threads == 2  # a worker of its own at once, not after a rescue
        assert answer.result(TIMEOUT) == "t-stale_1"
        release.set()
        assert blocked.result(TIMEOUT)[1] is True
    finally:
        release.set()
        pool.shutdown()


def test_active_workers_setting():
    assert active_workers(3) == 3
    assert active_workers(0) >= 2
