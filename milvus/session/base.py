"""Service discovery: what a session is, and the registry interface every backend offers.

A process registers one session per role it serves; the registry gives it a ``server_id``
unique across the cluster and keeps it alive until it is unregistered (or, for a registry
backed by a meta store, until the process dies and its lease runs out).  Others list the
sessions or watch them come and go.
"""

from __future__ import annotations

import abc
import enum
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import milvus

_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")


def check_role(role: str) -> str:
    """Roles name keys (``{role}-{server_id}``): lower-case letters, digits and '_' only."""
    if not isinstance(role, str) or not _ROLE.match(role):
        raise ValueError(f"invalid role name {role!r} (expected [a-z][a-z0-9_]*)")
    return role


@dataclass(frozen=True)
class Session:
    role: str
    server_id: int
    address: str
    version: str = milvus.__version__
    extra: dict[str, Any] = field(default_factory=dict, hash=False)
    # set on the session ``register`` returns, so that ``close`` can unregister it
    _registry: SessionRegistry | None = field(default=None, compare=False, repr=False, hash=False)

    @property
    def key(self) -> str:
        return f"{self.role}-{self.server_id}"

    def to_json(self) -> bytes:
        return json.dumps(
            {"role": self.role, "server_id": self.server_id, "address": self.address,
             "version": self.version, "extra": self.extra},
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Session:
        raw = json.loads(data)
        return cls(raw["role"], int(raw["server_id"]), raw["address"], raw.get("version", ""), raw.get("extra") or {})

    def close(self) -> None:
        """Unregister this session (only for the one ``register`` returned; no-op otherwise)."""
        if self._registry is not None:
            self._registry.unregister(self)


class SessionEventType(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class SessionEvent:
    type: SessionEventType
    session: Session


class SessionWatch(abc.ABC):
    """A stream of session events; ``get`` or iterate, ``cancel`` to end."""

    @abc.abstractmethod
    def get(self, timeout: float | None = None) -> SessionEvent | None:
        """The next event, or None when ``timeout`` passed or the watch ended."""

    @abc.abstractmethod
    def cancel(self) -> None: ...

    def __iter__(self) -> Iterator[SessionEvent]:
        while True:
            event = self.get(timeout=None)
            if event is None:
                return
            yield event

    def __enter__(self) -> SessionWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class SessionRegistry(abc.ABC):
    """Registers, lists and watches sessions.  Thread-safe."""

    @abc.abstractmethod
    def reserve_server_id(self) -> int:
        """A fresh server id, unique in the cluster, for a later ``register``: a process needs
        its id (subscription names, request sources) before it can serve and announce itself."""

    @abc.abstractmethod
    def register(self, role: str, address: str, extra: dict[str, Any] | None = None,
                 server_id: int | None = None) -> Session:
        """Announce a server; kept alive until ``unregister`` (or ``Session.close``) or ``close``.
        ``server_id``: one ``reserve_server_id`` gave (default: a fresh one)."""

    @abc.abstractmethod
    def unregister(self, session: Session) -> None:
        """Withdraw a session this registry registered; no error if it is already gone."""

    @abc.abstractmethod
    def list(self, role: str | None = None) -> list[Session]:
        """The live sessions (of ``role``), sorted by (role, server_id)."""

    @abc.abstractmethod
    def watch(self, role: str | None = None, existing: bool = True) -> SessionWatch:
        """Events for the sessions (of ``role``): first, when ``existing``, ADDED for each one
        live now, then ADDED/REMOVED as they come and go.  Nothing is missed in between.
        A REMOVED event carries the session as it was registered."""

    @abc.abstractmethod
    def close(self) -> None:
        """Unregister this registry's sessions and end its watches."""

    def __enter__(self) -> SessionRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
