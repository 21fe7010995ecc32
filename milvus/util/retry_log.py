"""Logging for work retried until it succeeds, without a line per failed attempt.

A background task retried every second (finishing a drop while another coordinator is down,
say) would otherwise log the same warning, traceback and all, every second.  ``RetryLog``
keeps, per task key: the first failure logs one warning (its traceback only at debug level);
later failures log only a reminder every ``remind_interval`` seconds (the others at debug
level); the success after failures logs one info line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass


@dataclass
class _Failing:
    since: float  # the clock at the first failure
    reminded: float  # the clock when a failure was last logged as a warning
    attempts: int


class RetryLog:
    """Failures and successes of retried tasks, by key, logged to ``logger``; ``clock`` gives
    monotonic seconds (injected in tests)."""

    def __init__(self, logger: logging.Logger, remind_interval: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self._log = logger
        self._remind_interval = remind_interval
        self._clock = clock
        self._failing: dict[Hashable, _Failing] = {}
        self._lock = threading.Lock()

    def failed(self, key: Hashable, what: str, exc: BaseException) -> None:
        """Attempt ``key`` at ``what`` (e.g. "finish dropping collection c (7)") failed with ``exc``."""
        now = self._clock()
        with self._lock:
            state = self._failing.get(key)
            if state is None:
                self._failing[key] = _Failing(now, now, 1)
                first, remind, attempts, since = True, False, 1, now
            else:
                state.attempts += 1
                first = False
                remind = now - state.reminded >= self._remind_interval
                if remind:
                    state.reminded = now
                attempts, since = state.attempts, state.since
        if first:
            self._log.warning("could not %s yet: %s (retrying; a reminder every %gs while it fails)",
                              what, _describe(exc), self._remind_interval)
            self._log.debug("%s failed", what, exc_info=exc)
        elif remind:
            self._log.warning("still could not %s after %d attempts in %.0fs: %s",
                              what, attempts, now - since, _describe(exc))
        else:
            self._log.debug("could not %s (attempt %d): %s", what, attempts, _describe(exc))

    def succeeded(self, key: Hashable, what: str) -> bool:
        """Attempt ``key`` at ``what`` succeeded; True (and one info line) when it had failed before."""
        with self._lock:
            state = self._failing.pop(key, None)
        if state is None:
            return False
        self._log.info("%s: done after %d failed attempts in %.0fs",
                       what, state.attempts, self._clock() - state.since)
        return True

    def retain(self, keys: Iterable[Hashable]) -> None:
        """Forget the failures of tasks other than ``keys`` (gone without succeeding here)."""
        keep = set(keys)
        with self._lock:
            for key in [k for k in self._failing if k not in keep]:
                del self._failing[key]

    def failing(self) -> list[Hashable]:
        """The keys whose last attempt failed."""
        with self._lock:
            return list(self._failing)


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
