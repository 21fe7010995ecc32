"""Sessions in the meta store (etcd, or the embedded LocalKV), as Milvus keeps them.

Each session is the key ``{prefix}{role}-{server_id}`` holding the session's JSON, attached
to a lease of ``ttl`` seconds that a background thread keeps alive.  When the process dies
the keepalives stop, the lease expires, the key is deleted and every watcher sees REMOVED.
Server ids come from the counter ``{prefix}id`` (a compare-and-swap, so unique cluster-wide).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from milvus.kv.base import KV, Compare, EventType, Get, KVError, Put
from milvus.kv.base import Watch as KVWatch
from milvus.session.base import (
    Session,
    SessionEvent,
    SessionEventType,
    SessionRegistry,
    SessionWatch,
    check_role,
)
from milvus.tso import IDAllocator

log = logging.getLogger(__name__)


@dataclass
class _Live:
    session: Session
    lease: int
    last_ok: float  # time.monotonic() of the last successful keepalive


def _parse_key(name: str) -> tuple[str, int] | None:
    """``(role, server_id)`` of a session key's last part, None for other keys (the id counter)."""
    role, sep, server_id = name.rpartition("-")
    if not sep or not server_id.isdigit():
        return None
    return role, int(server_id)


class _KVSessionWatch(SessionWatch):
    def __init__(self, registry: KVSessionRegistry, prefix: str, known: list[Session], kv_watch: KVWatch):
        self._registry = registry
        self._prefix = prefix
        self._kv_watch = kv_watch
        self._pending = [SessionEvent(SessionEventType.ADDED, s) for s in known]
        # what each live key held, to report the whole session when it is deleted
        self._known: dict[str, Session] = {}
        self._ended = False

    def _remember(self, sessions: list[Session]) -> None:
        for session in sessions:
            self._known[session.key] = session

    def get(self, timeout: float | None = None) -> SessionEvent | None:
        if self._pending:
            return self._pending.pop(0)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            event = self._kv_watch.get(timeout=left)
            if event is None:
                return None
            name = event.key[len(self._prefix):]
            if _parse_key(name) is None:
                continue
            if event.type is EventType.PUT:
                try:
                    session = Session.from_json(event.value)
                except (ValueError, KeyError, TypeError):
                    log.warning("ignoring a malformed session under %s", event.key)
                    continue
                self._known[name] = session
                return SessionEvent(SessionEventType.ADDED, session)
            session = self._known.pop(name, None)
            if session is None:
                role, server_id = _parse_key(name)  # type: ignore[misc]
                session = Session(role, server_id, "", "")
            return SessionEvent(SessionEventType.REMOVED, session)

    def cancel(self) -> None:
        if not self._ended:
            self._ended = True
            self._kv_watch.cancel()
            self._registry._forget(self)


class KVSessionRegistry(SessionRegistry):
    """Sessions as leased keys in ``kv``; the registry does not own (close) ``kv``.

    ``on_lost(session)`` is called (from the keepalive thread) when a session's lease could
    not be renewed for ``ttl`` seconds: the cluster no longer sees this server.  By default
    that is logged as an error.
    """

    def __init__(
        self,
        kv: KV,
        ttl: float = 30.0,
        keepalive_interval: float = 3.0,
        prefix: str = "session/",
        on_lost: Callable[[Session], None] | None = None,
    ):
        if ttl <= 0 or not 0 < keepalive_interval < ttl:
            raise ValueError(f"need 0 < keepalive_interval < ttl, got {keepalive_interval} and {ttl}")
        self._kv = kv
        self._ttl = ttl
        self._interval = keepalive_interval
        self._prefix = prefix
        self._on_lost = on_lost
        self._ids = IDAllocator(kv, key=f"{prefix}id", batch=1)
        self._lock = threading.Lock()
        self._live: dict[str, _Live] = {}
        self._watches: set[_KVSessionWatch] = set()
        self._closed = False
        self._stop = threading.Event()
        self._keeper = threading.Thread(target=self._keepalive_loop, name="session-keepalive", daemon=True)
        self._keeper.start()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("session registry is closed")

    # ---- own sessions ---------------------------------------------------------------------

    def reserve_server_id(self) -> int:
        self._check_open()
        return self._ids.alloc()[0]

    def register(self, role: str, address: str, extra: dict[str, Any] | None = None,
                 server_id: int | None = None) -> Session:
        check_role(role)
        self._check_open()
        if server_id is None:
            server_id = self.reserve_server_id()
        session = Session(role, server_id, address, extra=dict(extra or {}))
        key = self._prefix + session.key
        lease = self._kv.grant_lease(self._ttl)
        try:
            result = self._kv.txn([Compare.absent(key)], [Put(key, session.to_json(), lease)])
            if not result.succeeded:
                raise KVError(f"session key {key} already exists")
        except BaseException:
            self._kv.revoke_lease(lease)
            raise
        with self._lock:
            if self._closed:
                self._kv.revoke_lease(lease)
                raise RuntimeError("session registry is closed")
            self._live[session.key] = _Live(session, lease, time.monotonic())
        return dataclasses.replace(session, _registry=self)

    def unregister(self, session: Session) -> None:
        with self._lock:
            live = self._live.pop(session.key, None)
        if live is not None:
            self._kv.revoke_lease(live.lease)  # deletes the key: watchers see REMOVED

    def _keepalive_loop(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                lives = list(self._live.values())
            for live in lives:
                try:
                    self._kv.keepalive(live.lease)
                    live.last_ok = time.monotonic()
                except KVError as exc:
                    if time.monotonic() - live.last_ok < self._ttl:
                        log.warning("session %s keepalive failed (retrying): %s", live.session.key, exc)
                        continue
                    with self._lock:
                        if self._live.get(live.session.key) is not live:
                            continue  # unregistered meanwhile
                        del self._live[live.session.key]
                    self._lost(live.session, exc)

    def _lost(self, session: Session, exc: Exception) -> None:
        if self._on_lost is None:
            log.error("session %s lost: its lease expired (%s)", session.key, exc)
            return
        try:
            self._on_lost(session)
        except Exception:  # noqa: BLE001 - a callback must not end the keepalives
            log.exception("on_lost callback failed for session %s", session.key)

    # ---- everyone's sessions ----------------------------------------------------------------

    def _snapshot(self, prefix: str) -> tuple[list[Session], int]:
        """The sessions under ``prefix`` and the revision they were read at."""
        result = self._kv.txn([], [Get(prefix, prefix=True)])
        sessions = []
        for kv in result.responses[0]:
            if _parse_key(kv.key[len(self._prefix):]) is None:
                continue
            try:
                sessions.append(Session.from_json(kv.value))
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed session under %s", kv.key)
        sessions.sort(key=lambda s: (s.role, s.server_id))
        return sessions, result.revision

    def _role_prefix(self, role: str | None) -> str:
        return self._prefix if role is None else f"{self._prefix}{check_role(role)}-"

    def list(self, role: str | None = None) -> list[Session]:
        return self._snapshot(self._role_prefix(role))[0]

    def watch(self, role: str | None = None, existing: bool = True) -> SessionWatch:
        self._check_open()
        prefix = self._role_prefix(role)
        sessions, revision = self._snapshot(prefix)
        kv_watch = self._kv.watch_prefix(prefix, start_revision=revision + 1)
        watch = _KVSessionWatch(self, self._prefix, sessions if existing else [], kv_watch)
        watch._remember(sessions)
        with self._lock:
            if self._closed:
                kv_watch.cancel()
                raise RuntimeError("session registry is closed")
            self._watches.add(watch)
        return watch

    def _forget(self, watch: _KVSessionWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            lives, self._live = list(self._live.values()), {}
            watches = list(self._watches)
        self._stop.set()
        self._keeper.join()
        for watch in watches:
            watch.cancel()
        for live in lives:
            try:
                self._kv.revoke_lease(live.lease)
            except KVError as exc:
                log.warning("could not revoke session %s (it expires after its TTL): %s", live.session.key, exc)
