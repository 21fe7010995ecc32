"""Runner: ordered start, reverse stop, failures, bounded stop, health and stop requests."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from milvus.cmd.lifecycle import Component, Runner, StartFailed, State, install_signal_handlers


class Recorder:
    """A component that records its calls in a shared journal."""

    def __init__(self, name: str, journal: list[str], fail_start: bool = False, fail_stop: bool = False,
                 healthy: bool = True, stop_delay: float = 0.0):
        self.name = name
        self.journal = journal
        self.fail_start = fail_start
        self.fail_stop = fail_stop
        self.healthy = healthy
        self.stop_delay = stop_delay
        self.running = False

    def start(self) -> None:
        self.journal.append(f"start {self.name}")
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")
        self.running = True

    def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        if self.stop_delay:
            time.sleep(self.stop_delay)
        self.running = False
        if self.fail_stop:
            raise RuntimeError(f"{self.name} cannot stop")

    def health(self) -> tuple[bool, dict]:
        return self.healthy, {"running": self.running}


def test_recorder_is_a_component():
    assert isinstance(Recorder("a", []), Component)


def test_start_in_order_stop_in_reverse():
    journal: list[str] = []
    runner = Runner("test", 5.0, [Recorder(n, journal) for n in ("a", "b", "c")])
    runner.start()
    assert runner.state is State.RUNNING
    assert runner.stop() is True
    assert runner.state is State.STOPPED
    assert runner.abandoned == []
    assert journal == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    # a second stop does nothing
    assert runner.stop() is True
    assert len(journal) == 6


def test_failing_start_stops_the_started_ones():
    journal: list[str] = []
    runner = Runner("test", 5.0, [
        Recorder("a", journal), Recorder("b", journal), Recorder("c", journal, fail_start=True),
        Recorder("d", journal),
    ])
    with pytest.raises(StartFailed) as info:
        runner.start()
    assert info.value.component == "c"
    assert journal == ["start a", "start b", "start c", "stop b", "stop a"]
    assert runner.state is State.FAILED
    assert runner.stop() is True
    assert len(journal) == 5


def test_run_returns_1_when_a_component_fails_to_start():
    journal: list[str] = []
    runner = Runner("test", 5.0, [Recorder("a", journal), Recorder("b", journal, fail_start=True)])
    ready: list[bool] = []
    assert runner.run(on_ready=lambda: ready.append(True)) == 1
    assert ready == []
    assert journal == ["start a", "start b", "stop a"]


def test_stop_errors_are_unclean_but_every_component_is_stopped():
    journal: list[str] = []
    runner = Runner("test", 5.0, [Recorder("a", journal), Recorder("b", journal, fail_stop=True)])
    runner.start()
    assert runner.stop() is False
    assert journal[-2:] == ["stop b", "stop a"]


def test_stop_is_bounded_by_the_timeout():
    journal: list[str] = []
    runner = Runner("test", 0.2, [Recorder("a", journal), Recorder("slow", journal, stop_delay=1.0)])
    runner.start()
    began = time.monotonic()
    assert runner.stop() is False
    assert time.monotonic() - began < 0.9
    assert "stop a" not in journal
    assert runner.abandoned == ["a", "slow"]


def test_add_after_start_is_refused_and_names_are_unique():
    runner = Runner("test", 1.0, [Recorder("a", [])])
    with pytest.raises(ValueError):
        runner.add(Recorder("a", []))
    runner.start()
    with pytest.raises(RuntimeError):
        runner.add(Recorder("b", []))
    runner.stop()


def test_health_aggregates_components_and_state():
    journal: list[str] = []
    a, b = Recorder("a", journal), Recorder("b", journal)
    runner = Runner("test", 1.0, [a, b])
    ok, detail = runner.health()
    assert not ok
    assert detail["state"] == "new"
    assert "test is new" in detail["reasons"]

    runner.start()
    ok, detail = runner.health()
    assert ok, detail
    assert detail["state"] == "running"
    assert detail["components"] == {"a": {"healthy": True, "running": True}, "b": {"healthy": True, "running": True}}
    assert "reasons" not in detail

    b.healthy = False
    ok, detail = runner.health()
    assert not ok
    assert detail["reasons"] == ["b is unhealthy"]
    assert detail["components"]["b"]["healthy"] is False

    def boom() -> tuple[bool, dict]:
        raise RuntimeError("probe exploded")

    b.healthy = True
    a.health = boom  # type: ignore[method-assign]
    ok, detail = runner.health()
    assert not ok
    assert "probe exploded" in detail["components"]["a"]["error"]
    runner.stop()
    ok, detail = runner.health()
    assert not ok and detail["state"] == "stopped"


def test_run_waits_for_a_stop_request_from_another_thread():
    journal: list[str] = []
    runner = Runner("test", 5.0, [Recorder("a", journal)])
    ready = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(runner.run(on_ready=ready.set)))
    thread.start()
    try:
        assert ready.wait(5.0)
        assert runner.state is State.RUNNING
        runner.request_stop("test says so")
    finally:
        thread.join(5.0)
    assert result == [0]
    assert journal == ["start a", "stop a"]


def test_a_stop_requested_as_a_failure_exits_1():
    journal: list[str] = []
    runner = Runner("test", 5.0, [Recorder("a", journal)])
    runner.request_stop("session lost", failure=True)
    assert runner.run() == 1
    assert journal == ["start a", "stop a"]


def test_wait_times_out_without_a_request():
    assert Runner("test", 1.0).wait(timeout=0.01) is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_handlers_request_a_stop_and_are_restored(sig):
    runner = Runner("test", 1.0)
    before = signal.getsignal(sig)
    with install_signal_handlers(runner):
        os.kill(os.getpid(), sig)
        assert runner.wait(timeout=5.0) == (f"received {sig.name}", False)
    assert signal.getsignal(sig) is before


def test_a_signal_another_thread_received_still_stops_a_waiting_main_thread():
    """The kernel may deliver a process's SIGTERM to any thread; its Python handler runs only
    in the main thread, which must wake up for it while it waits."""
    runner = Runner("test", 1.0)
    with install_signal_handlers(runner):
        def send_to_self() -> None:
            time.sleep(0.3)  # let the main thread block in ``wait`` first (nothing to wait on for that)
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

        other = threading.Thread(target=send_to_self)
        start = time.monotonic()
        other.start()
        try:
            assert runner.wait(timeout=30.0) == ("received SIGTERM", False)
        finally:
            other.join()
        assert time.monotonic() - start < 10.0  # within a few checks, not at the timeout
