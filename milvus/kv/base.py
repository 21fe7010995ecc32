"""The meta store interface: a revisioned key-value store with transactions, leases and watch.

Semantics follow etcd v3, and every backend passes the same contract suite
(``tests/contract/test_kv_contract.py``):

* Keys are ``str``, values are ``bytes``.  Every successful write (put, delete that removed
  something, or a transaction with writes) advances the store's revision by exactly one; all
  keys written in that step carry that revision as ``mod_revision``.
* ``create_revision`` is the revision at which the key was (last) created; ``version`` counts
  puts since creation (1 after the first put).
* A lease has a TTL in seconds; ``keepalive`` resets its deadline.  When a lease expires or
  is revoked every key attached to it is deleted (in one revision, with DELETE events).
* ``watch_prefix(prefix, start_revision)`` delivers, in revision order, every event with
  ``revision >= start_revision`` (history included, as long as it was not compacted), then
  live events.  Without ``start_revision`` it starts after the current revision.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field


class KVError(Exception):
    """The meta store failed (unreachable, timed out, or refused the request)."""


class CompactedError(KVError):
    """A watch asked for history older than what the store still keeps."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int = 0


class EventType(enum.Enum):
    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True)
class Event:
    type: EventType
    key: str
    value: bytes  # empty for DELETE
    mod_revision: int  # the revision of the write that produced this event


# ---- transactions ------------------------------------------------------------------------


class CompareTarget(enum.Enum):
    VALUE = "value"
    MOD = "mod_revision"
    CREATE = "create_revision"
    VERSION = "version"


class CompareOp(enum.Enum):
    EQUAL = "=="
    NOT_EQUAL = "!="
    LESS = "<"
    GREATER = ">"


@dataclass(frozen=True)
class Compare:
    """A condition on one key.

    A missing key has revisions and version 0; any VALUE comparison on a missing key fails
    (etcd cannot tell a missing value from an empty one, so it refuses to compare).
    """

    key: str
    target: CompareTarget
    op: CompareOp
    operand: bytes | int

    @staticmethod
    def mod_revision(key: str, op: str, revision: int) -> Compare:
        return Compare(key, CompareTarget.MOD, CompareOp(op), revision)

    @staticmethod
    def create_revision(key: str, op: str, revision: int) -> Compare:
        return Compare(key, CompareTarget.CREATE, CompareOp(op), revision)

    @staticmethod
    def version(key: str, op: str, version: int) -> Compare:
        return Compare(key, CompareTarget.VERSION, CompareOp(op), version)

    @staticmethod
    def value(key: str, op: str, value: bytes) -> Compare:
        return Compare(key, CompareTarget.VALUE, CompareOp(op), value)

    @staticmethod
    def absent(key: str) -> Compare:
        return Compare(key, CompareTarget.CREATE, CompareOp.EQUAL, 0)


@dataclass(frozen=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


@dataclass(frozen=True)
class Delete:
    key: str
    prefix: bool = False


@dataclass(frozen=True)
class Get:
    key: str
    prefix: bool = False


Op = Put | Delete | Get


@dataclass
class TxnResult:
    succeeded: bool
    # for each op of the branch that ran: Get -> list[KeyValue]; Put -> None; Delete -> count
    responses: list = field(default_factory=list)
    revision: int = 0


def compare_holds(cmp: Compare, kv: KeyValue | None) -> bool:
    """Evaluate one comparison against the current state of its key (shared by local backends)."""
    if cmp.target is CompareTarget.VALUE:
        if kv is None:
            return False
        current: bytes | int = kv.value
    elif cmp.target is CompareTarget.MOD:
        current = kv.mod_revision if kv else 0
    elif cmp.target is CompareTarget.CREATE:
        current = kv.create_revision if kv else 0
    else:
        current = kv.version if kv else 0
    operand = cmp.operand
    if cmp.op is CompareOp.EQUAL:
        return current == operand
    if cmp.op is CompareOp.NOT_EQUAL:
        return current != operand
    if cmp.op is CompareOp.LESS:
        return current < operand  # type: ignore[operator]
    return current > operand  # type: ignore[operator]


class Watch(abc.ABC):
    """A live stream of events; iterate it or call ``get``.  ``cancel`` ends it."""

    @abc.abstractmethod
    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when ``timeout`` passed or the watch was cancelled/closed.

        Raises ``CompactedError`` when the history the watch still had to deliver was
        compacted, and ``KVError`` when the stream broke (the store became unreachable);
        the watch is then over and every later call raises the same error.
        """

    @abc.abstractmethod
    def cancel(self) -> None: ...

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.get(timeout=None)
            if event is None:
                return
            yield event

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


class KV(abc.ABC):
    """A revisioned key-value store.  Thread-safe."""

    @abc.abstractmethod
    def get(self, key: str) -> KeyValue | None: ...

    @abc.abstractmethod
    def range(self, prefix: str, limit: int = 0) -> list[KeyValue]:
        """Every key starting with ``prefix``, sorted by key (at most ``limit`` when > 0)."""

    @abc.abstractmethod
    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        """Store ``value``; returns the new revision."""

    @abc.abstractmethod
    def delete(self, key: str) -> bool:
        """Remove one key; True when it existed."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with ``prefix``; returns how many."""

    @abc.abstractmethod
    def txn(self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()) -> TxnResult:
        """Atomically: if every compare holds run ``success`` else ``failure``."""

    @abc.abstractmethod
    def revision(self) -> int:
        """The store's current revision."""

    @abc.abstractmethod
    def grant_lease(self, ttl: float) -> int:
        """A new lease id living ``ttl`` seconds unless kept alive."""

    @abc.abstractmethod
    def keepalive(self, lease: int) -> float:
        """Reset the lease's deadline; returns the TTL left.  KVError if the lease is gone."""

    @abc.abstractmethod
    def revoke_lease(self, lease: int) -> None:
        """End the lease now, deleting its keys.  No error if it is already gone."""

    @abc.abstractmethod
    def watch_prefix(self, prefix: str, start_revision: int | None = None) -> Watch: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    # conveniences shared by every backend
    def cas(self, key: str, expected_mod_revision: int, value: bytes) -> bool:
        """Put ``value`` only if the key's mod_revision is still ``expected_mod_revision`` (0: absent)."""
        return self.txn([Compare.mod_revision(key, "==", expected_mod_revision)], [Put(key, value)]).succeeded

    def __enter__(self) -> KV:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prefix_end(prefix: str) -> str:
    """The smallest key greater than every key starting with ``prefix`` (etcd's range_end).

    Keys order as their UTF-8 bytes, which is code-point order, so the bound is found on
    code points and is always a valid key.  ``"\\0"`` means "no upper bound" (etcd's
    convention), returned for the empty prefix.
    """
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < 0x10FFFF:
            code += 1
            if 0xD800 <= code <= 0xDFFF:  # surrogates are not encodable: skip them
                code = 0xE000
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return "\0"
