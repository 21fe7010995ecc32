"""What one vchannel's consumer holds in memory, and when it must be written: a pure state machine.

``consume(msg_id, envelope)`` feeds every message of the pchannel in order (``None`` for a
message of another vchannel, which only moves the position).  ``plan()`` says which buffers
to write now; the caller writes them and reports each with ``done(task)``.  No I/O here.

Positions.  ``MessageID``s are ordered; a position ``(id, ts)`` means "replay by seeking
after ``id``" (``None``: from the start of the pchannel), and ``ts`` means "every row and
delete of this vchannel with a timestamp below ``ts`` is persisted".  Each buffer remembers
the id of the message consumed just before its first message (``replay_from``) and the
smallest ``begin_ts`` it holds (several proxies' writes interleave between two ticks, so a
later message may be older); the channel checkpoint is the oldest ``replay_from`` with the
smallest of those timestamps and tsafe, or the last consumed message at tsafe when nothing is
buffered.  So a restart that seeks after the checkpoint sees every message holding
unpersisted data.  tsafe moves with the (merged) time ticks only (docs/datapath.md).

Replay without duplicates.  The messages after the checkpoint may hold rows that some sync
already persisted (another buffer kept the checkpoint back).  Each segment's sync records
the last message it covers (the segment's ``dml_position``); on replay, rows of segment S
in a message at or before S's position are skipped.  Deletes are skipped the same way per
partition, up to the newest L0 segment's position of that partition.  Rows of dropped
segments are skipped altogether.

Sync policy.  A segment's buffer is written (as one more binlog of a still growing segment)
once it holds ``max_rows`` rows or ``max_bytes`` bytes or is ``max_age`` seconds old; the
deletes of a partition likewise (as a new L0 segment).  A flush request ``(flush_ts,
segments)`` becomes due once tsafe >= flush_ts: then the listed segments are written and
marked flushed (even with nothing buffered) and every buffer holding data older than
flush_ts is written, so the checkpoint reaches flush_ts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from milvus._proto import msgstream_pb2
from milvus.schema import ids_to_arrow, ipc_to_batch
from milvus.schema.evolve import concat_versions
from milvus.schema.pk import num_ids

MessageID = Any  # ordered, from the message queue


def _id_key(msg_id: MessageID | None) -> tuple:
    return (0,) if msg_id is None else (1, msg_id)


def id_le(a: MessageID | None, b: MessageID | None) -> bool:
    """``a <= b`` where ``None`` (the start of the channel) precedes every id."""
    if a is None:
        return True
    return b is not None and a <= b


@dataclass(frozen=True)
class Position:
    msg_id: MessageID | None
    ts: int


@dataclass(frozen=True)
class SyncPolicy:
    max_rows: int
    max_bytes: int
    max_age: float


@dataclass
class _Buffer:
    collection_id: int
    partition_id: int
    replay_from: MessageID | None  # the message consumed before this buffer's first one
    first_begin_ts: int
    first_id: MessageID
    started: float
    last_id: MessageID = None
    last_ts: int = 0
    rows: int = 0
    nbytes: int = 0
    min_ts: int = field(init=False, default=0)  # the smallest begin_ts of its messages

    def __post_init__(self) -> None:
        self.min_ts = self.first_begin_ts

    def due(self, policy: SyncPolicy, now: float) -> bool:
        return self.rows >= policy.max_rows or self.nbytes >= policy.max_bytes or now - self.started >= policy.max_age


@dataclass
class _InsertBuffer(_Buffer):
    tables: list[pa.Table] = field(default_factory=list)


@dataclass
class _DeleteBuffer(_Buffer):
    pks: list[pa.Array] = field(default_factory=list)
    tss: list[np.ndarray] = field(default_factory=list)


@dataclass(frozen=True)
class SyncTask:
    """One write: a segment's buffered rows (``kind == "insert"``; ``table`` may be None for a
    flush of a segment with nothing buffered) or a partition's deletes (``"delete"``, written
    as a new L0 segment)."""

    kind: str
    key: tuple
    collection_id: int
    partition_id: int
    segment_id: int  # 0 for deletes: the writer allocates the L0 segment
    rows: int
    flushed: bool
    start: Position | None
    end: Position | None
    table: pa.Table | None = None
    pks: pa.Array | None = None
    tss: np.ndarray | None = None


@dataclass(frozen=True)
class Plan:
    tasks: list[SyncTask]
    flush_upto: int  # > 0: once every task is done, the flush requests up to this ts are complete


def _concat_tables(tables: list[pa.Table]) -> pa.Table:
    """One table of a buffer's rows; rows from before a field was added read its default or
    null (the newer batches carry the field and its default)."""
    return concat_versions(tables)


class ChannelBuffer:
    def __init__(
        self,
        vchannel: str,
        start: Position,
        policy: SyncPolicy,
        clock: Callable[[], float],
        segment_positions: Mapping[int, MessageID] | None = None,
        delete_positions: Mapping[int, MessageID] | None = None,
        dropped_segments: Iterable[int] = (),
    ):
        self.vchannel = vchannel
        self._policy = policy
        self._clock = clock
        self._last: MessageID | None = start.msg_id
        self._tsafe = start.ts
        self._skip_rows = dict(segment_positions or {})
        self._skip_deletes = dict(delete_positions or {})
        self._dropped = set(dropped_segments)
        self._inserts: dict[int, _InsertBuffer] = {}
        self._deletes: dict[int, _DeleteBuffer] = {}
        self._flushes: list[tuple[int, frozenset[int]]] = []
        self._flushed: set[int] = set()

    # ---- state --------------------------------------------------------------------------

    @property
    def tsafe(self) -> int:
        return self._tsafe

    @property
    def last_id(self) -> MessageID | None:
        return self._last

    @property
    def buffered_rows(self) -> int:
        return sum(b.rows for b in self._inserts.values())

    @property
    def buffered_deletes(self) -> int:
        return sum(b.rows for b in self._deletes.values())

    def _buffers(self) -> dict[tuple, _Buffer]:
        out: dict[tuple, _Buffer] = {("insert", sid): b for sid, b in self._inserts.items()}
        out.update({("delete", pid): b for pid, b in self._deletes.items()})
        return out

    def checkpoint(self, excluding: Iterable[tuple] = ()) -> Position:
        """Where a restart must replay from, once the buffers in ``excluding`` are persisted."""
        skip = set(excluding)
        rest = [b for key, b in self._buffers().items() if key not in skip]
        if not rest:
            return Position(self._last, self._tsafe)
        oldest = min(rest, key=lambda b: _id_key(b.replay_from))
        return Position(oldest.replay_from, min(self._tsafe, *(b.min_ts for b in rest)))

    # ---- input --------------------------------------------------------------------------

    def consume(self, msg_id: MessageID, envelope: msgstream_pb2.Envelope | None) -> None:
        """The next message of the pchannel; ``None`` when it belongs to another vchannel."""
        prev, self._last = self._last, msg_id
        if envelope is None:
            return
        if envelope.kind == msgstream_pb2.TIME_TICK:
            self._tsafe = max(self._tsafe, envelope.end_ts)
        if envelope.kind == msgstream_pb2.INSERT and envelope.insert.vchannel == self.vchannel:
            self._on_insert(prev, msg_id, envelope)
        elif envelope.kind == msgstream_pb2.DELETE and envelope.delete.vchannel == self.vchannel:
            self._on_delete(prev, msg_id, envelope)

    def _on_insert(self, prev: MessageID | None, msg_id: MessageID, envelope: msgstream_pb2.Envelope) -> None:
        msg = envelope.insert
        if msg.segment_id in self._dropped:
            return
        persisted = self._skip_rows.get(msg.segment_id)
        if persisted is not None and msg_id <= persisted:
            return
        table = pa.Table.from_batches([ipc_to_batch(msg.arrow_batch)])
        if table.num_rows == 0:
            return
        buf = self._inserts.get(msg.segment_id)
        if buf is None:
            buf = self._inserts[msg.segment_id] = _InsertBuffer(
                msg.collection_id, msg.partition_id, prev, envelope.begin_ts, msg_id, self._clock())
        buf.tables.append(table)
        buf.min_ts = min(buf.min_ts, envelope.begin_ts)
        buf.rows += table.num_rows
        buf.nbytes += table.nbytes
        buf.last_id, buf.last_ts = msg_id, envelope.end_ts

    def _on_delete(self, prev: MessageID | None, msg_id: MessageID, envelope: msgstream_pb2.Envelope) -> None:
        msg = envelope.delete
        persisted = self._skip_deletes.get(msg.partition_id)
        if persisted is not None and msg_id <= persisted:
            return
        n = num_ids(msg.primary_keys)
        if n == 0:
            return
        if len(msg.timestamps) != n:
            raise ValueError(f"delete message with {n} keys and {len(msg.timestamps)} timestamps")
        pks = ids_to_arrow(msg.primary_keys)
        tss = np.asarray(msg.timestamps, dtype=np.uint64)
        buf = self._deletes.get(msg.partition_id)
        if buf is None:
            buf = self._deletes[msg.partition_id] = _DeleteBuffer(
                msg.collection_id, msg.partition_id, prev, envelope.begin_ts, msg_id, self._clock())
        buf.pks.append(pks)
        buf.tss.append(tss)
        buf.min_ts = min(buf.min_ts, envelope.begin_ts)
        buf.rows += n
        buf.nbytes += pks.nbytes + tss.nbytes
        buf.last_id, buf.last_ts = msg_id, envelope.end_ts

    def request_flush(self, flush_ts: int, segment_ids: Iterable[int]) -> None:
        self._flushes.append((flush_ts, frozenset(segment_ids)))

    # ---- output -------------------------------------------------------------------------

    def plan(self) -> Plan:
        """The writes due now, oldest data first."""
        now = self._clock()
        due = [(ts, ids) for ts, ids in self._flushes if ts <= self._tsafe]
        upto = max((ts for ts, _ in due), default=0)
        flush_ids = set().union(*(ids for _, ids in due)) if due else set()
        tasks = []
        for key, buf in sorted(self._buffers().items(), key=lambda kv: _id_key(kv[1].replay_from)):
            kind, ident = key
            flushed = kind == "insert" and (ident in flush_ids or ident in self._flushed)
            if flushed or (upto and buf.min_ts < upto) or buf.due(self._policy, now):
                tasks.append(self._task(key, buf, flushed))
        for sid in sorted(flush_ids - set(self._inserts) - self._flushed - self._dropped):
            tasks.append(SyncTask("insert", ("insert", sid), 0, 0, sid, 0, True, None, None))
        return Plan(tasks, upto)

    def _task(self, key: tuple, buf: _Buffer, flushed: bool) -> SyncTask:
        start = Position(buf.first_id, buf.first_begin_ts)
        end = Position(buf.last_id, buf.last_ts)
        if isinstance(buf, _InsertBuffer):
            table = _concat_tables(buf.tables)
            return SyncTask("insert", key, buf.collection_id, buf.partition_id, key[1], buf.rows, flushed,
                            start, end, table=table)
        assert isinstance(buf, _DeleteBuffer)
        pks = pa.concat_arrays(buf.pks) if len(buf.pks) > 1 else buf.pks[0]
        return SyncTask("delete", key, buf.collection_id, buf.partition_id, 0, buf.rows, True, start, end,
                        pks=pks, tss=np.concatenate(buf.tss))

    def done(self, task: SyncTask) -> None:
        """``task`` is persisted (and recorded by the data coordinator)."""
        kind, ident = task.key
        if kind == "insert":
            self._inserts.pop(ident, None)
            if task.end is not None:
                self._skip_rows[ident] = task.end.msg_id
            if task.flushed:
                self._flushed.add(ident)
        else:
            self._deletes.pop(ident, None)
            if task.end is not None:
                self._skip_deletes[ident] = task.end.msg_id

    def drop_segment(self, segment_id: int) -> None:
        """Forget a segment the data coordinator no longer knows (its rows cannot be recorded)."""
        self._inserts.pop(segment_id, None)
        self._dropped.add(segment_id)

    def finish_flush(self, upto: int) -> None:
        """Every task of a plan with ``flush_upto == upto`` is done."""
        self._flushes = [(ts, ids) for ts, ids in self._flushes if ts > upto]
