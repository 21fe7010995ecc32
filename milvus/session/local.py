"""An in-process session registry, for standalone: every role lives in this one process."""

from __future__ import annotations

import dataclasses
import itertools
import queue
import threading
from typing import Any

from milvus.session.base import (
    Session,
    SessionEvent,
    SessionEventType,
    SessionRegistry,
    SessionWatch,
    check_role,
)

_END = object()


class _LocalWatch(SessionWatch):
    def __init__(self, registry: LocalSessionRegistry, role: str | None):
        self._registry = registry
        self.role = role
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._ended = False

    def _offer(self, event: SessionEvent) -> None:
        if self.role is None or event.session.role == self.role:
            self._queue.put(event)

    def _end(self) -> None:
        self._ended = True
        self._queue.put(_END)

    def get(self, timeout: float | None = None) -> SessionEvent | None:
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._queue.put(_END)  # every later get ends at once
            return None
        return item

    def cancel(self) -> None:
        if not self._ended:
            self._registry._forget(self)
            self._end()


class LocalSessionRegistry(SessionRegistry):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._sessions: dict[str, Session] = {}
        self._watches: set[_LocalWatch] = set()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("session registry is closed")

    def reserve_server_id(self) -> int:
        with self._lock:
            self._check_open()
            return next(self._ids)

    def register(self, role: str, address: str, extra: dict[str, Any] | None = None,
                 server_id: int | None = None) -> Session:
        check_role(role)
        with self._lock:
            self._check_open()
            session = Session(role, next(self._ids) if server_id is None else server_id, address,
                              extra=dict(extra or {}))
            if session.key in self._sessions:
                raise ValueError(f"session {session.key} is already registered")
            self._sessions[session.key] = session
            self._publish(SessionEvent(SessionEventType.ADDED, session))
        return dataclasses.replace(session, _registry=self)

    def unregister(self, session: Session) -> None:
        with self._lock:
            removed = self._sessions.pop(session.key, None)
            if removed is not None:
                self._publish(SessionEvent(SessionEventType.REMOVED, removed))

    def _publish(self, event: SessionEvent) -> None:
        for watch in self._watches:
            watch._offer(event)

    def list(self, role: str | None = None) -> list[Session]:
        with self._lock:
            found = [s for s in self._sessions.values() if role is None or s.role == role]
        return sorted(found, key=lambda s: (s.role, s.server_id))

    def watch(self, role: str | None = None, existing: bool = True) -> SessionWatch:
        with self._lock:
            self._check_open()
            watch = _LocalWatch(self, role)
            if existing:
                for session in sorted(self._sessions.values(), key=lambda s: (s.role, s.server_id)):
                    watch._offer(SessionEvent(SessionEventType.ADDED, session))
            self._watches.add(watch)
        return watch

    def _forget(self, watch: _LocalWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sessions, self._sessions = list(self._sessions.values()), {}
            for session in sessions:
                self._publish(SessionEvent(SessionEventType.REMOVED, session))
            watches, self._watches = self._watches, set()
        for watch in watches:
            watch._end()

