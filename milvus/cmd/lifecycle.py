"""Ordered start and stop of the components of one process, and the signals that end it.

``Runner`` is a plain object: it starts components in order, stops them in reverse order
within a time bound, aggregates their health and waits for a stop request.  Signal
handlers are installed separately (``install_signal_handlers``) and only ask it to stop.
"""

from __future__ import annotations

import enum
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

SIGNAL_CHECK = 0.5  # seconds: how long a waiting main thread may leave a signal unhandled


@runtime_checkable
class Component(Protocol):
    """One part of a process with a lifetime: started once, stopped once."""

    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> tuple[bool, dict[str, Any]]: ...


class StartFailed(RuntimeError):
    """A component raised in ``start``; the ones started before it were stopped again."""

    def __init__(self, component: str, cause: BaseException):
        super().__init__(f"component {component!r} failed to start: {cause}")
        self.component = component
        self.cause = cause


class State(enum.Enum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class Runner:
    """Runs ``components`` for the life of a process.

    ``stop_timeout`` bounds the whole stop sequence: a component still stopping when it
    runs out is abandoned (logged) and the stop is reported as unclean.
    """

    def __init__(self, name: str, stop_timeout: float, components: list[Component] | None = None):
        self.name = name
        self.stop_timeout = stop_timeout
        self._components: list[Component] = []
        self._started: list[Component] = []
        self._abandoned: list[str] = []
        self._state = State.NEW
        self._lock = threading.Lock()
        # SimpleQueue.put is reentrant, so a signal handler may call request_stop
        self._stop_requests: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()
        for component in components or ():
            self.add(component)

    @property
    def state(self) -> State:
        return self._state

    @property
    def abandoned(self) -> list[str]:
        """Components the last stop gave up on when its time ran out (in start order)."""
        return list(self._abandoned)

    @property
    def components(self) -> list[Component]:
        return list(self._components)

    def add(self, component: Component) -> None:
        if self._state is not State.NEW:
            raise RuntimeError(f"cannot add {component.name!r}: runner is {self._state.value}")
        if any(c.name == component.name for c in self._components):
            raise ValueError(f"duplicate component name {component.name!r}")
        self._components.append(component)

    # --- start and stop ------------------------------------------------------------
    def start(self) -> None:
        """Start every component in order.  On a failure stop the started ones (reverse
        order) and raise StartFailed."""
        with self._lock:
            if self._state is not State.NEW:
                raise RuntimeError(f"runner {self.name!r} is {self._state.value}, cannot start")
            self._state = State.STARTING
        for component in self._components:
            log.debug("starting %s", component.name)
            try:
                component.start()
            except Exception as exc:
                log.exception("%s failed to start", component.name)
                self._stop_started(deadline=time.monotonic() + self.stop_timeout)
                self._state = State.FAILED
                raise StartFailed(component.name, exc) from exc
            self._started.append(component)
        self._state = State.RUNNING

    def stop(self) -> bool:
        """Stop the started components in reverse order; True when all stopped cleanly
        within ``stop_timeout``.  Calling it again does nothing and returns True."""
        with self._lock:
            if self._state in (State.NEW, State.STOPPING, State.STOPPED, State.FAILED):
                self._state = State.STOPPED if self._state is State.NEW else self._state
                return True
            self._state = State.STOPPING
        deadline = time.monotonic() + self.stop_timeout
        outcome: list[bool] = []
        worker = threading.Thread(
            target=lambda: outcome.append(self._stop_started(deadline)), name=f"{self.name}-stop", daemon=True
        )
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        self._state = State.STOPPED
        if worker.is_alive():
            self._abandoned = [c.name for c in self._started]
            log.error("stop did not finish within %.1fs; abandoned: %s", self.stop_timeout,
                      ", ".join(reversed(self._abandoned)))
            return False
        return outcome[0]

    def _stop_started(self, deadline: float) -> bool:
        clean = True
        while self._started:
            component = self._started[-1]
            if time.monotonic() > deadline:
                log.error("no time left to stop %s", component.name)
                return False
            log.debug("stopping %s", component.name)
            try:
                component.stop()
            except Exception:
                log.exception("%s failed to stop", component.name)
                clean = False
            self._started.pop()
        return clean

    # --- running until asked to stop -------------------------------------------------
    def request_stop(self, reason: str, failure: bool = False) -> None:
        """Ask ``wait`` to return.  Safe from any thread and from a signal handler.
        ``failure``: the process is stopping because something broke (exit code 1)."""
        self._stop_requests.put((reason, failure))

    def wait(self, timeout: float | None = None) -> tuple[str, bool] | None:
        """Block until a stop is requested: ``(reason, failure)``, or None after ``timeout``.

        The wait wakes every ``SIGNAL_CHECK`` seconds.  Python runs a signal's handler in the
        main thread, and only when that thread runs; the kernel may hand a process's SIGTERM
        to any of its threads, and then nothing wakes a main thread that blocks in a lock.  A
        restarted data node was seen so: SIGTERM, no handler, killed 40 s later."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = SIGNAL_CHECK if deadline is None else max(0.0, min(SIGNAL_CHECK, deadline - time.monotonic()))
            try:
                return self._stop_requests.get(timeout=step)
            except queue.Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    return None

    def run(self, on_ready: Callable[[], None] | None = None) -> int:
        """Start, call ``on_ready``, wait for a stop request, stop.  The process exit code:
        0 after a clean stop, 1 when a component failed to start or to stop, or the stop
        was requested as a failure."""
        try:
            self.start()
        except StartFailed as exc:
            log.error("%s", exc)
            return 1
        if on_ready is not None:
            on_ready()
        reason, failure = self.wait()  # type: ignore[misc] - without a timeout it always answers
        log.log(logging.ERROR if failure else logging.INFO, "stopping %s: %s", self.name, reason)
        clean = self.stop()
        if clean:
            log.info("%s stopped", self.name)
        return 0 if clean and not failure else 1

    # --- health -------------------------------------------------------------------
    def health(self) -> tuple[bool, dict[str, Any]]:
        """Healthy when running and every component says so; the detail names the others."""
        state = self._state
        components: dict[str, dict[str, Any]] = {}
        reasons: list[str] = []
        if state is not State.RUNNING:
            reasons.append(f"{self.name} is {state.value}")
        for component in self._components:
            try:
                ok, detail = component.health()
            except Exception as exc:  # noqa: BLE001 - a failing check is an unhealthy answer
                ok, detail = False, {"error": repr(exc)}
            components[component.name] = {"healthy": ok, **detail}
            if not ok:
                reasons.append(f"{component.name} is unhealthy")
        detail: dict[str, Any] = {"role": self.name, "state": state.value, "components": components}
        if reasons:
            detail["reasons"] = reasons
        return not reasons, detail


@contextmanager
def install_signal_handlers(
    runner: Runner, signals: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT)
) -> Iterator[None]:
    """While inside, each of ``signals`` asks ``runner`` to stop (main thread only)."""

    def handle(signum: int, _frame: object) -> None:
        runner.request_stop(f"received {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, handle) for sig in signals}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
