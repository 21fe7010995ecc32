"""A view of a KV under one root: roles see ``a/b`` where the store holds ``by-dev/meta/a/b``."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

from milvus.kv.base import (
    KV,
    Compare,
    Event,
    Get,
    KeyValue,
    Op,
    TxnResult,
    Watch,
)


class PrefixedKV(KV):
    """Prepends ``root`` to every key going in and strips it from every key coming out.

    It does not own ``inner``: ``close`` ends the watches opened through this view and
    leaves ``inner`` open.
    """

    def __init__(self, inner: KV, root: str):
        self._inner = inner
        self._root = root
        self._lock = threading.Lock()
        self._watches: set[_PrefixedWatch] = set()

    @property
    def root(self) -> str:
        return self._root

    @property
    def inner(self) -> KV:
        return self._inner

    def _in(self, key: str) -> str:
        return self._root + key

    def _out(self, kv: KeyValue) -> KeyValue:
        return dataclasses.replace(kv, key=kv.key[len(self._root):])

    def _op(self, op: Op) -> Op:
        return dataclasses.replace(op, key=self._in(op.key))

    def _response(self, op: Op, response: object) -> object:
        if isinstance(op, Get):
            return [self._out(kv) for kv in response]  # type: ignore[attr-defined]
        return response

    def get(self, key: str) -> KeyValue | None:
        kv = self._inner.get(self._in(key))
        return self._out(kv) if kv else None

    def range(self, prefix: str, limit: int = 0) -> list[KeyValue]:
        return [self._out(kv) for kv in self._inner.range(self._in(prefix), limit)]

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        return self._inner.put(self._in(key), value, lease)

    def delete(self, key: str) -> bool:
        return self._inner.delete(self._in(key))

    def delete_prefix(self, prefix: str) -> int:
        return self._inner.delete_prefix(self._in(prefix))

    def txn(self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()) -> TxnResult:
        result = self._inner.txn(
            [dataclasses.replace(c, key=self._in(c.key)) for c in compares],
            [self._op(op) for op in success],
            [self._op(op) for op in failure],
        )
        branch = success if result.succeeded else failure
        result.responses = [self._response(op, r) for op, r in zip(branch, result.responses, strict=True)]
        return result

    def revision(self) -> int:
        return self._inner.revision()

    def grant_lease(self, ttl: float) -> int:
        return self._inner.grant_lease(ttl)

    def keepalive(self, lease: int) -> float:
        return self._inner.keepalive(lease)

    def revoke_lease(self, lease: int) -> None:
        self._inner.revoke_lease(lease)

    def watch_prefix(self, prefix: str, start_revision: int | None = None) -> Watch:
        watch = _PrefixedWatch(self, self._inner.watch_prefix(self._in(prefix), start_revision))
        with self._lock:
            self._watches.add(watch)
        return watch

    def _forget(self, watch: _PrefixedWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def close(self) -> None:
        with self._lock:
            watches, self._watches = self._watches, set()
        for watch in watches:
            watch.cancel()


class _PrefixedWatch(Watch):
    def __init__(self, owner: PrefixedKV, inner: Watch):
        self._owner = owner
        self._inner = inner
        self._strip = len(owner.root)

    def get(self, timeout: float | None = None) -> Event | None:
        event = self._inner.get(timeout)
        return dataclasses.replace(event, key=event.key[self._strip:]) if event else None

    def cancel(self) -> None:
        self._owner._forget(self)
        self._inner.cancel()
