"""Active-standby: one active instance per coordinator role, elected through the meta store.

A candidate campaigns by creating ``{prefix}{role}`` (``session/rootcoord``, as Milvus names
it) only if it is absent, bound to a lease of ``ttl`` seconds it then keeps alive: one
transaction, so at most one candidate holds the key.  The others watch the key and try again
when it is deleted (the holder resigned, or died and its lease expired), and at least every
``retry_interval`` seconds in case a watch missed it.  The holder is told (``on_lost``) when
its lease could not be renewed for ``ttl`` seconds or the key is no longer its own: it must
stop serving, since a standby may hold the key by then.

The key's value is the holder's session JSON; it is not a session the directory lists (those
are ``{role}-{server_id}``), so clients keep resolving the registered sessions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from milvus.kv.base import KV, Compare, EventType, KVError, Put
from milvus.session.base import check_role

log = logging.getLogger(__name__)


class Election:
    """One candidate for the leadership of ``role``.  Thread-safe; ``close`` ends it."""

    def __init__(
        self,
        kv: KV,
        role: str,
        value: bytes,
        *,
        ttl: float = 30.0,
        keepalive_interval: float = 3.0,
        prefix: str = "session/",
        on_lost: Callable[[], None] | None = None,
        retry_interval: float = 1.0,
    ):
        if ttl <= 0 or not 0 < keepalive_interval < ttl:
            raise ValueError(f"need 0 < keepalive_interval < ttl, got {keepalive_interval} and {ttl}")
        if retry_interval <= 0:
            raise ValueError(f"retry_interval must be positive, got {retry_interval}")
        self._kv = kv
        self.role = check_role(role)
        self.key = f"{prefix}{role}"
        self._value = value
        self._ttl = ttl
        self._interval = keepalive_interval
        self._retry = retry_interval
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._lease = 0  # non-zero while this candidate holds the key
        self._last_ok = 0.0
        self._closed = threading.Event()
        self._resigned = threading.Event()  # ends the keepalive thread of the current term
        self._keeper: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        with self._lock:
            return self._lease != 0

    def leader(self) -> bytes | None:
        """The value the current holder wrote (None when nobody holds the key)."""
        current = self._kv.get(self.key)
        return current.value if current is not None else None

    # ---- campaigning ----------------------------------------------------------------------

    def try_acquire(self) -> bool:
        """Take the key if nobody holds it; True when this candidate holds it now."""
        with self._lock:
            if self._closed.is_set():
                return False
            if self._lease:
                return True
        lease = self._kv.grant_lease(self._ttl)
        try:
            result = self._kv.txn([Compare.absent(self.key)], [Put(self.key, self._value, lease)])
        except BaseException:
            self._revoke(lease)
            raise
        if not result.succeeded:
            self._revoke(lease)
            return False
        with self._lock:
            if self._closed.is_set():
                self._lease = 0
            else:
                self._lease, self._last_ok = lease, time.monotonic()
                self._resigned = threading.Event()
                self._keeper = threading.Thread(target=self._keepalive_loop, args=(lease, self._resigned),
                                                name=f"election-{self.role}", daemon=True)
                self._keeper.start()
                log.info("%s: this instance is active (holds %s)", self.role, self.key)
                return True
        self._revoke(lease)
        return False

    def campaign(self, stop: threading.Event | None = None, timeout: float | None = None) -> bool:
        """Block until this candidate holds the key (True), or ``stop`` is set, the election
        is closed or ``timeout`` passed (False).  Meta store failures are retried."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def over() -> bool:
            return (self._closed.is_set() or (stop is not None and stop.is_set())
                    or (deadline is not None and time.monotonic() >= deadline))

        while not over():
            try:
                if self.try_acquire():
                    return True
                self._wait_for_release(over, deadline)
            except KVError as exc:
                log.warning("%s: campaign failed (retrying): %s", self.role, exc)
                self._closed.wait(min(self._retry, self._left(deadline)))
        return False

    def _left(self, deadline: float | None) -> float:
        return self._retry if deadline is None else max(0.0, deadline - time.monotonic())

    def _wait_for_release(self, over: Callable[[], bool], deadline: float | None) -> None:
        """Until the key is deleted, or ``retry_interval`` passed, or ``over``."""
        current = self._kv.get(self.key)
        if current is None:
            return  # released meanwhile: try again at once
        watch = self._kv.watch_prefix(self.key, start_revision=current.mod_revision + 1)
        try:
            until = time.monotonic() + min(self._retry, self._left(deadline))
            while not over():
                left = until - time.monotonic()
                if left <= 0:
                    return
                event = watch.get(timeout=min(left, 0.2))
                if event is not None and event.key == self.key and event.type is EventType.DELETE:
                    return
        finally:
            watch.cancel()

    # ---- holding --------------------------------------------------------------------------

    def _keepalive_loop(self, lease: int, resigned: threading.Event) -> None:
        while not resigned.wait(self._interval):
            try:
                self._kv.keepalive(lease)
                self._last_ok = time.monotonic()
                continue
            except KVError as exc:
                error = exc
            gone = time.monotonic() - self._last_ok >= self._ttl
            if not gone:
                try:  # the store answers, but is the key still ours?
                    current = self._kv.get(self.key)
                    gone = current is None or current.lease != lease
                except KVError:
                    pass
            if not gone:
                log.warning("%s: keepalive failed (retrying): %s", self.role, error)
                continue
            with self._lock:
                if self._lease != lease:
                    return  # resigned meanwhile
                self._lease = 0
            log.error("%s: lost the active role (%s): its lease expired", self.role, error)
            if self._on_lost is not None:
                try:
                    self._on_lost()
                except Exception:  # noqa: BLE001 - report, the keepalive thread ends anyway
                    log.exception("%s: on_lost callback failed", self.role)
            return

    def resign(self) -> None:
        """Give the key up (deletes it: a standby takes over at once); no-op when not holding."""
        with self._lock:
            lease, self._lease = self._lease, 0
            keeper, self._keeper = self._keeper, None
            self._resigned.set()
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join()
        if lease:
            self._revoke(lease)
            log.info("%s: resigned the active role", self.role)

    def _revoke(self, lease: int) -> None:
        try:
            self._kv.revoke_lease(lease)
        except KVError as exc:
            log.warning("%s: could not revoke lease %d (it expires after its TTL): %s", self.role, lease, exc)

    def close(self) -> None:
        """Resign and end any campaign in progress."""
        self._closed.set()
        self.resign()
