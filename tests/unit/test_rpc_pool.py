"""The gRPC servers' executor: results and errors through futures, one thread for a serial
caller, at most ``max_workers`` threads with the rest waiting, and a clean shutdown."""

from __future__ import annotations

import threading

import pytest

from milvus.rpc.pool import WorkerPool

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
