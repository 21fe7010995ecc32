"""The embedded meta store for standalone: etcd v3 semantics over one SQLite file.

Durability: the file runs in WAL mode and every write is one SQLite transaction.  With
``durable=True`` (the default) ``synchronous=FULL`` fsyncs the WAL before a commit returns,
so an acknowledged write survives a crash of the process *and* of the machine.  With
``durable=False`` (``synchronous=NORMAL``) the WAL is written but not fsynced per commit: a
kill -9 of the process loses nothing (the bytes are in the OS page cache), a power cut
may lose the last commits.  The file is opened with ``locking_mode=EXCLUSIVE``: one process
owns it, a second opener fails instead of corrupting the revision counter.

History: every write also appends its events to an ``events`` table, which watches replay
from ``start_revision``.  Only the last ``history_revisions`` revisions are kept (pruned in
batches as writes go on, or on demand with ``compact``); asking for older ones raises
``CompactedError``.

Every call takes one lock and uses one connection.  Watches never slow a writer down: each
has its own unbounded queue, filled (without blocking) after the write commits.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from milvus.kv.base import (
    KV,
    CompactedError,
    Compare,
    Delete,
    Event,
    EventType,
    Get,
    KeyValue,
    KVError,
    Op,
    Put,
    TxnResult,
    Watch,
    compare_holds,
    prefix_end,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_PUT, _DELETE = 0, 1
_REPLAY_PAGE = 512
_FIRST_REVISION = 1  # as in etcd, a fresh store is at revision 1; the first write makes 2
# etcd's default limits (--max-txn-ops, --max-request-bytes), kept here so that code written
# against the embedded store does not break on a real etcd
MAX_TXN_OPS = 128
MAX_REQUEST_BYTES = 1536 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease != 0;
CREATE TABLE IF NOT EXISTS events (
    rev INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    type INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (rev, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY,
    ttl REAL NOT NULL,
    deadline REAL NOT NULL  -- wall-clock seconds, so that a restart can tell what expired
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


def _key_range(prefix: str) -> tuple[bytes, bytes | None]:
    """``[low, high)`` of the keys starting with ``prefix``, as bytes; ``high`` None: unbounded."""
    end = prefix_end(prefix)
    return prefix.encode(), (None if end == "\0" else end.encode())


def _kv(row: tuple) -> KeyValue:
    key, value, create_rev, mod_rev, version, lease = row
    return KeyValue(key.decode(), bytes(value), create_rev, mod_rev, version, lease)


def _need_key(key: str) -> bytes:
    if not key:
        raise KVError("key is not provided")
    return key.encode()


def _request_bytes(compares: Sequence[Compare], ops: Sequence[Op]) -> int:
    size = sum(len(c.key) + (len(c.operand) if isinstance(c.operand, bytes) else 8) for c in compares)
    for op in ops:
        size += len(op.key) + (len(op.value) if isinstance(op, Put) else 0)
    return size


def _check_branch(ops: Sequence[Op]) -> None:
    """etcd refuses a branch that puts one key twice, or puts a key it also deletes."""
    puts: set[str] = set()
    deletes: list[Delete] = []
    for op in ops:
        if isinstance(op, Put):
            if op.key in puts:
                raise KVError(f"duplicate key given in txn request: {op.key!r}")
            puts.add(op.key)
        elif isinstance(op, Delete):
            deletes.append(op)
        elif not isinstance(op, Get):
            raise TypeError(f"not a txn op: {op!r}")
    for d in deletes:
        for key in puts:
            if key == d.key or (d.prefix and key.startswith(d.key)):
                raise KVError(f"duplicate key given in txn request: {key!r} is put and deleted")


@dataclass
class _Lease:
    ttl: float
    deadline: float  # time.monotonic()


class _Batch:
    """The writes of one revision, applied inside the open SQLite transaction."""

    def __init__(self, db: sqlite3.Connection, revision: int, leases: dict[int, _Lease]):
        self.db = db
        self.revision = revision
        self.leases = leases
        self.events: list[tuple[int, bytes, bytes]] = []  # (type, key, value)

    def get(self, key: str) -> KeyValue | None:
        row = self.db.execute(
            "SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key = ?", (_need_key(key),)
        ).fetchone()
        return _kv(row) if row else None

    def range(self, prefix: str, limit: int = 0) -> list[KeyValue]:
        low, high = _key_range(prefix)
        sql = "SELECT key, value, create_rev, mod_rev, version, lease FROM kv WHERE key >= ?"
        args: list = [low]
        if high is not None:
            sql += " AND key < ?"
            args.append(high)
        sql += " ORDER BY key"
        if limit > 0:
            sql += " LIMIT ?"
            args.append(limit)
        return [_kv(row) for row in self.db.execute(sql, args)]

    def put(self, key: str, value: bytes, lease: int) -> None:
        if lease and lease not in self.leases:
            raise KVError(f"requested lease not found: {lease}")
        raw = _need_key(key)
        old = self.get(key)
        create_rev = old.create_revision if old else self.revision
        version = old.version + 1 if old else 1
        value = bytes(value)
        self.db.execute(
            "INSERT OR REPLACE INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES (?, ?, ?, ?, ?, ?)",
            (raw, value, create_rev, self.revision, version, lease),
        )
        self.events.append((_PUT, raw, value))

    def delete_keys(self, keys: list[bytes]) -> int:
        for raw in keys:
            self.db.execute("DELETE FROM kv WHERE key = ?", (raw,))
            self.events.append((_DELETE, raw, b""))
        return len(keys)

    def delete(self, key: str, prefix: bool) -> int:
        if prefix:
            keys = [kv.key.encode() for kv in self.range(key)]
        else:
            keys = [key.encode()] if self.get(key) else []
        return self.delete_keys(keys)

    def apply(self, op: Op) -> object:
        if isinstance(op, Put):
            self.put(op.key, op.value, op.lease)
            return None
        if isinstance(op, Delete):
            return self.delete(op.key, op.prefix)
        if isinstance(op, Get):
            if op.prefix:
                return self.range(op.key)
            kv = self.get(op.key)
            return [kv] if kv else []
        raise TypeError(f"not a txn op: {op!r}")


class LocalKV(KV):
    """A revisioned key-value store in one SQLite file, with leases and watch."""

    def __init__(
        self,
        path: str,
        *,
        history_revisions: int = 100_000,
        durable: bool = True,
        max_txn_ops: int = MAX_TXN_OPS,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ):
        if history_revisions < 1:
            raise ValueError("history_revisions must be >= 1")
        self._path = path
        self._max_txn_ops = max_txn_ops
        self._max_request_bytes = max_request_bytes
        self._history = history_revisions
        self._prune_slack = max(1, history_revisions // 10)
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._closed = False
        self._watches: set[_LocalWatch] = set()
        self._leases: dict[int, _Lease] = {}
        try:
            # one connection, locked for this process: there is never a reason to wait for a lock
            self._db = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise KVError(f"cannot open meta store {path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise KVError(f"{path}: cannot switch to WAL mode (got {mode!r})")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
            self._rev = self._meta("revision", _FIRST_REVISION)
            self._compacted = self._meta("compacted", 0)
            self._next_lease = self._meta("next_lease", 1)
            self._load_leases()
        except sqlite3.Error as exc:
            self._db.close()
            raise KVError(f"cannot open meta store {path}: {exc}") from exc
        except BaseException:
            self._db.close()
            raise
        self._expirer = threading.Thread(target=self._expire_loop, name="LocalKV-lease-expiry", daemon=True)
        self._expirer.start()

    # ---- plumbing --------------------------------------------------------------------

    def _meta(self, name: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, name: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def _check_open(self) -> None:
        if self._closed:
            raise KVError("meta store is closed")

    def _read(self, fn: Callable[[_Batch], T]) -> T:
        with self._lock:
            self._check_open()
            try:
                return fn(_Batch(self._db, self._rev + 1, self._leases))
            except sqlite3.Error as exc:
                raise KVError(f"meta store read failed: {exc}") from exc

    def _write(self, fn: Callable[[_Batch], T]) -> tuple[T, int]:
        """Run ``fn`` in one SQLite transaction; its writes (if any) make one new revision."""
        with self._lock:
            self._check_open()
            batch = _Batch(self._db, self._rev + 1, self._leases)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(batch)
                    if batch.events:
                        self._record(batch)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise KVError(f"meta store write failed: {exc}") from exc
            if batch.events:
                self._rev = batch.revision
                self._publish(batch)
            return result, self._rev

    def _record(self, batch: _Batch) -> None:
        self._db.executemany(
            "INSERT INTO events (rev, seq, type, key, value) VALUES (?, ?, ?, ?, ?)",
            [(batch.revision, seq, kind, key, value) for seq, (kind, key, value) in enumerate(batch.events)],
        )
        self._set_meta("revision", batch.revision)
        if batch.revision - self._compacted > self._history + self._prune_slack:
            self._drop_history(batch.revision - self._history)

    def _drop_history(self, compacted: int) -> None:
        self._db.execute("DELETE FROM events WHERE rev <= ?", (compacted,))
        self._set_meta("compacted", compacted)
        self._compacted = compacted

    def _publish(self, batch: _Batch) -> None:
        events = [
            (key, Event(EventType.PUT if kind == _PUT else EventType.DELETE, key.decode(), value, batch.revision))
            for kind, key, value in batch.events
        ]
        for watch in self._watches:
            watch._offer(events)

    # ---- reads and writes ------------------------------------------------------------

    def get(self, key: str) -> KeyValue | None:
        return self._read(lambda b: b.get(key))

    def range(self, prefix: str, limit: int = 0) -> list[KeyValue]:
        return self._read(lambda b: b.range(prefix, limit))

    def _check_request(self, compares: Sequence[Compare], *branches: Sequence[Op]) -> None:
        if max(len(compares), *(len(ops) for ops in branches)) > self._max_txn_ops:
            raise KVError(f"too many operations in txn request (at most {self._max_txn_ops} per list)")
        size = sum(_request_bytes(compares if i == 0 else (), ops) for i, ops in enumerate(branches))
        if size > self._max_request_bytes:
            raise KVError(f"request is too large ({size} bytes, at most {self._max_request_bytes})")
        for ops in branches:
            _check_branch(ops)

    def put(self, key: str, value: bytes, lease: int = 0) -> int:
        self._check_request((), [Put(key, value, lease)])
        _, rev = self._write(lambda b: b.put(key, value, lease))
        return rev

    def delete(self, key: str) -> bool:
        count, _ = self._write(lambda b: b.delete(key, prefix=False))
        return count > 0

    def delete_prefix(self, prefix: str) -> int:
        count, _ = self._write(lambda b: b.delete(prefix, prefix=True))
        return count

    def txn(self, compares: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()) -> TxnResult:
        self._check_request(compares, success, failure)

        def body(batch: _Batch) -> tuple[bool, list]:
            ok = all(compare_holds(cmp, batch.get(cmp.key)) for cmp in compares)
            return ok, [batch.apply(op) for op in (success if ok else failure)]

        (ok, responses), rev = self._write(body)
        return TxnResult(ok, responses, rev)

    def revision(self) -> int:
        with self._lock:
            self._check_open()
            return self._rev

    def compact(self, revision: int) -> None:
        """Forget the history older than ``revision`` (etcd's compaction)."""
        with self._lock:
            self._check_open()
            if revision > self._rev:
                raise KVError(f"required revision {revision} is a future revision (current {self._rev})")
            if revision - 1 <= self._compacted:
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._drop_history(revision - 1)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise KVError(f"meta store compaction failed: {exc}") from exc

    # ---- leases ----------------------------------------------------------------------

    def _load_leases(self) -> None:
        """Leases of the previous run; those whose deadline passed while it was down expire now."""
        wall, mono = time.time(), time.monotonic()
        rows = self._db.execute("SELECT id, ttl, deadline FROM leases ORDER BY id").fetchall()
        for lease_id, ttl, deadline in rows:
            self._leases[lease_id] = _Lease(ttl, mono + (deadline - wall))
        for lease_id, _, deadline in rows:
            if deadline <= wall:
                self._end_lease(lease_id)

    def grant_lease(self, ttl: float) -> int:
        if ttl <= 0:
            raise ValueError(f"lease TTL must be positive, got {ttl}")
        with self._lock:
            lease_id = self._next_lease

            def body(_: _Batch) -> None:
                self._db.execute(
                    "INSERT INTO leases (id, ttl, deadline) VALUES (?, ?, ?)", (lease_id, ttl, time.time() + ttl)
                )
                self._set_meta("next_lease", lease_id + 1)

            self._write(body)
            self._next_lease = lease_id + 1
            self._leases[lease_id] = _Lease(ttl, time.monotonic() + ttl)
            self._wake.notify_all()
            return lease_id

    def keepalive(self, lease: int) -> float:
        with self._lock:
            self._check_open()
            current = self._leases.get(lease)
            if current is not None and current.deadline <= time.monotonic():
                self._end_lease(lease)  # expired, the expiry thread just has not run yet
                current = None
            if current is None:
                raise KVError(f"requested lease not found: {lease}")
            self._write(
                lambda _: self._db.execute(
                    "UPDATE leases SET deadline = ? WHERE id = ?", (time.time() + current.ttl, lease)
                )
            )
            current.deadline = time.monotonic() + current.ttl
            return current.ttl

    def revoke_lease(self, lease: int) -> None:
        with self._lock:
            self._check_open()
            if lease in self._leases:
                self._end_lease(lease)

    def _end_lease(self, lease: int) -> None:
        """Delete the lease and its keys, in one revision (with DELETE events)."""

        def body(batch: _Batch) -> None:
            keys = [row[0] for row in self._db.execute("SELECT key FROM kv WHERE lease = ? ORDER BY key", (lease,))]
            batch.delete_keys(keys)
            self._db.execute("DELETE FROM leases WHERE id = ?", (lease,))

        self._write(body)
        self._leases.pop(lease, None)

    def _expire_loop(self) -> None:
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                for lease_id in [i for i, lease in self._leases.items() if lease.deadline <= now]:
                    try:
                        self._end_lease(lease_id)
                    except Exception:  # noqa: BLE001 - the expiry thread must go on
                        log.exception("could not expire lease %d; retrying", lease_id)
                        self._wake.wait(1.0)
                        break
                else:
                    deadline = min((lease.deadline for lease in self._leases.values()), default=None)
                    self._wake.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # ---- watch -----------------------------------------------------------------------

    def watch_prefix(self, prefix: str, start_revision: int | None = None) -> Watch:
        if start_revision is not None and start_revision < 0:
            raise ValueError(f"start_revision must be >= 0, got {start_revision}")
        with self._lock:
            self._check_open()
            if start_revision and start_revision <= self._compacted:
                raise CompactedError(
                    f"required revision {start_revision} has been compacted (history starts after {self._compacted})"
                )
            watch = _LocalWatch(self, prefix, start_revision or self._rev + 1, self._rev)
            self._watches.add(watch)
            return watch

    def _history_page(self, low: bytes, high: bytes | None, after: tuple[int, int], until: int) -> list[tuple]:
        """Events of the key range after position ``(rev, seq)`` up to revision ``until``."""
        with self._lock:
            if self._closed:
                return []  # the watch is being ended by close()
            if after[0] <= self._compacted:
                raise CompactedError(f"required revision {after[0]} has been compacted")
            sql = "SELECT rev, seq, type, key, value FROM events WHERE (rev, seq) > (?, ?) AND rev <= ? AND key >= ?"
            args: list = [after[0], after[1], until, low]
            if high is not None:
                sql += " AND key < ?"
                args.append(high)
            sql += " ORDER BY rev, seq LIMIT ?"
            args.append(_REPLAY_PAGE)
            try:
                return self._db.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise KVError(f"meta store read failed: {exc}") from exc

    def _forget(self, watch: _LocalWatch) -> None:
        with self._lock:
            self._watches.discard(watch)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
            watches, self._watches = self._watches, set()
        self._expirer.join()
        for watch in watches:
            watch._end()
        with self._lock:
            self._db.close()


_END = object()


class _LocalWatch(Watch):
    """Replays the history from the store page by page, then hands out live events."""

    def __init__(self, store: LocalKV, prefix: str, start_revision: int, replay_until: int):
        self._store = store
        self._low, self._high = _key_range(prefix)
        # the next history position is after (rev, seq); None once the replay is done
        replay = start_revision <= replay_until
        self._cursor: tuple[int, int] | None = (start_revision, -1) if replay else None
        self._replay_until = replay_until
        self._first_live = start_revision  # a watch may start at a future revision
        self._buffer: deque[Event] = deque()
        self._live: queue.SimpleQueue = queue.SimpleQueue()
        self._ended = False
        self._error: KVError | None = None

    def _offer(self, events: list[tuple[bytes, Event]]) -> None:
        """Called by the store, under its lock, after a write committed."""
        for key, event in events:
            if key.startswith(self._low) and event.mod_revision >= self._first_live:
                self._live.put(event)

    def _end(self) -> None:
        self._ended = True
        self._live.put(_END)

    def _replay_some(self) -> None:
        assert self._cursor is not None
        try:
            rows = self._store._history_page(self._low, self._high, self._cursor, self._replay_until)
        except KVError as exc:
            self._error = exc
            self.cancel()
            raise
        if not rows:
            self._cursor = None
            return
        for rev, _seq, kind, key, value in rows:
            self._buffer.append(
                Event(EventType.PUT if kind == _PUT else EventType.DELETE, key.decode(), bytes(value), rev)
            )
        self._cursor = (rows[-1][0], rows[-1][1])

    def get(self, timeout: float | None = None) -> Event | None:
        if self._error is not None:
            raise self._error
        if self._ended:
            return None
        while not self._buffer and self._cursor is not None:
            self._replay_some()
        if self._buffer:
            return self._buffer.popleft()
        try:
            item = self._live.get(timeout=timeout)
        except queue.Empty:
            return None
        if item is _END:
            self._live.put(_END)  # every later get returns None at once
            return None
        return item

    def cancel(self) -> None:
        if not self._ended:
            self._store._forget(self)
            self._end()
