"""The live sessions of a cluster, kept current by one watch on the registry.

A process resolves the role it needs (``resolve``: the newest live session of that role, so
a restarted coordinator is picked as soon as it registered) and follows the sessions of a
role as they come and go (``subscribe``: the callbacks run on the subscription's own thread,
in event order, so a slow callback delays nobody else).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from milvus.session.base import Session, SessionEvent, SessionEventType, SessionRegistry, SessionWatch

log = logging.getLogger(__name__)

SessionCallback = Callable[[Session], None]
_END = object()


class Subscription:
    """Delivers one role's ADDED/REMOVED events to two callbacks, on its own thread."""

    def __init__(self, role: str, on_added: SessionCallback, on_removed: SessionCallback):
        self.role = role
        self._on_added = on_added
        self._on_removed = on_removed
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"sessions-{role}", daemon=True)
        self._cancelled = False

    def _offer(self, event: SessionEvent) -> None:
        if not self._cancelled:
            self._queue.put(event)

    def _start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is _END:
                return
            callback = self._on_added if event.type is SessionEventType.ADDED else self._on_removed
            try:
                callback(event.session)
            except Exception:  # noqa: BLE001 - one failed callback must not end the subscription
                log.exception("session %s callback failed for %s", event.type.value, event.session.key)

    def cancel(self) -> None:
        """Stop delivering; returns once the callback running now (if any) returned."""
        if self._cancelled:
            return
        self._cancelled = True
        self._queue.put(_END)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()


class SessionDirectory:
    """Mirrors the registry's sessions (every role) from one watch; thread-safe."""

    def __init__(self, registry: SessionRegistry, poll_interval: float = 0.5):
        self._registry = registry
        self._poll = poll_interval
        self._cond = threading.Condition()
        self._sessions: dict[str, Session] = {}  # by key
        self._subscriptions: list[Subscription] = []
        self._watch: SessionWatch | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    def start(self) -> None:
        self._stopped.clear()
        self._watch = self._registry.watch(role=None, existing=True)
        self._thread = threading.Thread(target=self._run, name="session-directory", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
        with self._cond:
            subscriptions, self._subscriptions = self._subscriptions, []
            self._cond.notify_all()
        for subscription in subscriptions:
            subscription.cancel()

    def _run(self) -> None:
        watch = self._watch
        while watch is not None and not self._stopped.is_set():
            event = watch.get(timeout=self._poll)
            if event is None:
                continue
            self._apply(event)

    def _apply(self, event: SessionEvent) -> None:
        session = event.session
        with self._cond:
            if event.type is SessionEventType.ADDED:
                self._sessions[session.key] = session
            elif self._sessions.pop(session.key, None) is None:
                return  # never seen (removed before we looked): nothing to tell
            for subscription in self._subscriptions:
                if subscription.role == session.role:
                    subscription._offer(event)
            self._cond.notify_all()
        log.info("session %s %s at %s", session.key, event.type.value, session.address or "-")

    # ---- queries ------------------------------------------------------------------------

    def sessions(self, role: str) -> list[Session]:
        """The live sessions of ``role``, oldest first."""
        with self._cond:
            return sorted((s for s in self._sessions.values() if s.role == role), key=lambda s: s.server_id)

    def get(self, role: str, server_id: int) -> Session | None:
        with self._cond:
            return self._sessions.get(f"{role}-{server_id}")

    def resolve(self, role: str, timeout: float = 0.0) -> Session | None:
        """The newest live session of ``role``, waiting up to ``timeout`` seconds for one."""
        with self._cond:
            self._cond.wait_for(lambda: self._stopped.is_set() or self._newest(role) is not None, timeout)
            return self._newest(role)

    def _newest(self, role: str) -> Session | None:
        found = [s for s in self._sessions.values() if s.role == role]
        return max(found, key=lambda s: s.server_id) if found else None

    def subscribe(self, role: str, on_added: SessionCallback, on_removed: SessionCallback) -> Subscription:
        """Call ``on_added`` for each live session of ``role`` (now, then as they register) and
        ``on_removed`` as they leave; nothing is missed or told twice in between."""
        subscription = Subscription(role, on_added, on_removed)
        with self._cond:
            for session in sorted(self._sessions.values(), key=lambda s: s.server_id):
                if session.role == role:
                    subscription._offer(SessionEvent(SessionEventType.ADDED, session))
            self._subscriptions.append(subscription)
        subscription._start()
        return subscription
