"""tsafe: per vchannel, "nothing older than this timestamp can still arrive".

It is the timestamp of the last merged time tick consumed from the channel's pchannel: the
root coordinator sends one only once every live proxy promised to send nothing more at or
below it (docs/datapath.md "Time ticks"); DML envelopes do not move it, since one proxy's
write says nothing about another's.  It starts at the watch's seek position timestamp.
Readers wait for it to reach their guarantee timestamp before they read.
"""

from __future__ import annotations

import threading
import time


class TSafe:
    """A monotonic timestamp with a wait.  Thread-safe."""

    def __init__(self, ts: int = 0):
        self._ts = ts
        self._closed = False
        self._cond = threading.Condition()

    def get(self) -> int:
        with self._cond:
            return self._ts

    def advance(self, ts: int) -> None:
        """Move forward to ``ts``; an older ``ts`` is ignored."""
        with self._cond:
            if ts > self._ts:
                self._ts = ts
                self._cond.notify_all()

    def close(self) -> None:
        """Wake every waiter; later waits return at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait(self, ts: int, timeout: float) -> bool:
        """Block until tsafe >= ``ts``; False when ``timeout`` passed or the channel closed first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._ts < ts:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    return False
                self._cond.wait(left)
            return True
