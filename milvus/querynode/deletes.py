"""Deletes and MVCC visibility.

A shard (vchannel) keeps every delete it saw — from the channel and from the delta logs of
loaded segments (L0 included) — as (pk, ts, partition) triples.  A row of a segment in
partition ``p`` is visible at timestamp T iff ``_ts <= T`` and there is no delete (pk, d) of
partition ``p`` or of every partition (-1) with ``_ts < d <= T``.  Equivalently: the latest
delete of the key at or before T is not newer than the row.  Upsert at T (delete + insert at
the same T) therefore hides the old row from T on and shows the new one from T on.

A delete comes to a shard twice: from the channel, then read back from the delta log the data
node wrote it to (an L0 segment's, or the segment's own) when that segment is loaded, and a
segment loaded again brings its delta logs again.  ``DeleteBuffer.add_unseen`` keeps such a
delete once: a delete (pk, d, p) hides nothing that a held (pk, d, p) or (pk, d, every
partition) does not.

A delete log (``DeleteBuffer``) is append-only: a position in it names the same deletes for
the log's whole life, and its ``epoch`` (new for every log) tells logs apart, so a reader can
keep what it derived from the deletes up to a position and later add only the newer ones.
``SegmentDeletes`` does that per segment: for every row, the timestamp from which a delete
hides it (the smallest delete timestamp of its key newer than the row), which answers a read
at any T.  ``latest``/``visible_mask`` compute the rule from scratch: the reference the
incremental form is checked against.

Everything here is vectorised with pyarrow/numpy: no Python loop over rows.
"""

from __future__ import annotations

import bisect
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ALL_PARTITIONS = -1
NEVER = np.iinfo(np.uint64).max  # hidden-from timestamp of a row no delete hides
_CHUNK_ROWS = 8192  # small appends are folded into the last chunk up to this many rows


class DeleteBuffer:
    """Append-only (pk, ts, partition) log of one vchannel (or the copy of another node's log).
    Thread-safe.  ``epoch`` is unique to this log: positions of one epoch never change meaning."""

    def __init__(self) -> None:
        self.epoch = uuid.uuid4().hex[:16]
        self._lock = threading.Lock()
        self._chunks: list[pa.RecordBatch] = []
        self._ends: list[int] = []  # position after each chunk
        self._newest: list[int] = []  # newest delete timestamp of each chunk
        self._snapshot: DeleteSnapshot | None = None
        self._unseen_lock = threading.Lock()  # one ``add_unseen`` at a time
        self._read_back_newest = -1  # the newest timestamp ``add_unseen`` was given

    def add_unseen(self, pks: pa.Array, ts: np.ndarray, partition: int = ALL_PARTITIONS) -> int:
        """Append the deletes not held already (the same key and timestamp, held for
        ``partition`` or for every partition); returns how many were appended.  For deletes
        read back from delta logs, which the channel (or an earlier load) may have brought."""
        ts = np.asarray(ts, dtype=np.uint64)
        if len(pks) != len(ts):
            raise ValueError("deletes: pks and timestamps differ in length")
        if not len(pks):
            return 0
        # (a channel ``add`` racing this one may still hold a delete twice: harmless, as before)
        with self._unseen_lock:
            incoming = pa.table({"pk": pks, "ts": pa.array(ts)})
            oldest = int(ts.min())
            held = self.rows(0, len(self), newer_than=oldest - 1 if oldest else None)
            if held is not None:
                scopes = [ALL_PARTITIONS] if partition == ALL_PARTITIONS else [ALL_PARTITIONS, partition]
                held = held.filter(pc.is_in(held["partition"], value_set=pa.array(scopes, pa.int64())))
                if held.num_rows:
                    if held.schema.field("pk").type != incoming.schema.field("pk").type:
                        held = held.set_column(0, "pk", held["pk"].cast(incoming.schema.field("pk").type))
                    held = held.select(["pk", "ts"]).group_by(["pk", "ts"]).aggregate([])
                    incoming = incoming.join(held, ["pk", "ts"], join_type="left anti")
            incoming = incoming.group_by(["pk", "ts"]).aggregate([])  # a delta log read twice in one call
            self._read_back_newest = max(self._read_back_newest, int(ts.max()))
            if incoming.num_rows:
                self.add(incoming["pk"].combine_chunks(), incoming["ts"].to_numpy(), partition)
            return incoming.num_rows

    def may_hold(self, ts: np.ndarray) -> bool:
        """Whether deletes timestamped ``ts`` may be held already: ``add_unseen`` was given a
        delete as new as the oldest of them (a channel replaying what a delta log brought)."""
        return len(ts) > 0 and self._read_back_newest >= int(np.min(ts))

    def add(self, pks: pa.Array, ts: np.ndarray, partition: int = ALL_PARTITIONS) -> None:
        if len(pks) != len(ts):
            raise ValueError("deletes: pks and timestamps differ in length")
        if not len(pks):
            return
        self.append(pa.record_batch({
            "pk": pks,
            "ts": pa.array(np.asarray(ts, dtype=np.uint64)),
            "partition": pa.array(np.full(len(pks), partition, dtype=np.int64)),
        }))

    def append(self, batch: pa.RecordBatch) -> None:
        """Append rows (pk, ts, partition) as they are."""
        if not batch.num_rows:
            return
        newest = int(pc.max(batch["ts"]).as_py())
        with self._lock:
            if self._chunks and not self._chunks[0].schema.equals(batch.schema):
                raise ValueError(f"deletes: primary key type {batch.schema.field('pk').type} does not match "
                                 f"{self._chunks[0].schema.field('pk').type}")
            if self._chunks and self._chunks[-1].num_rows < _CHUNK_ROWS:
                # the last chunk grows (same rows first: positions keep their meaning)
                self._chunks[-1] = pa.concat_batches([self._chunks[-1], batch])
                self._ends[-1] += batch.num_rows
                self._newest[-1] = max(self._newest[-1], newest)
            else:
                self._chunks.append(batch)
                self._ends.append((self._ends[-1] if self._ends else 0) + batch.num_rows)
                self._newest.append(newest)
            self._snapshot = None

    def __len__(self) -> int:
        with self._lock:
            return self._ends[-1] if self._ends else 0

    def snapshot(self) -> DeleteSnapshot:
        """The deletes seen so far (later ones are not in it)."""
        with self._lock:
            if self._snapshot is None:
                self._snapshot = DeleteSnapshot(self, self._ends[-1] if self._ends else 0)
            return self._snapshot

    def rows(self, start: int, end: int, newer_than: int | None = None) -> pa.Table | None:
        """The deletes at positions [start, end) (only those with ts > ``newer_than`` when
        given); None when there are none."""
        if end <= start:
            return None
        with self._lock:
            first = bisect.bisect_right(self._ends, start)
            last = min(bisect.bisect_left(self._ends, end) + 1, len(self._chunks))
            picked = [(self._chunks[i], self._ends[i], self._newest[i]) for i in range(first, last)]
        batches = []
        for chunk, chunk_end, newest in picked:
            if newer_than is not None and newest <= newer_than:
                continue
            chunk_start = chunk_end - chunk.num_rows
            lo, hi = max(start, chunk_start) - chunk_start, min(end, chunk_end) - chunk_start
            part = chunk.slice(lo, hi - lo)
            if newer_than is not None:
                part = part.filter(pc.greater(part["ts"], pa.scalar(newer_than, pa.uint64())))
            if part.num_rows:
                batches.append(part)
        return pa.Table.from_batches(batches) if batches else None


class DeleteSnapshot:
    """The first ``len`` deletes of a log (immutable), with the per-key latest delete at T
    cached per partition."""

    def __init__(self, log: DeleteBuffer, end: int):
        self._log = log
        self._end = end
        self._table: pa.Table | None = None
        self._latest: dict[tuple[int, int], pa.Table | None] = {}
        self._ipc: bytes | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._end

    @property
    def epoch(self) -> str:
        return self._log.epoch

    def rows(self, start: int = 0, end: int | None = None, newer_than: int | None = None) -> pa.Table | None:
        """The deletes at positions [start, end) (``end``: at most len; see ``DeleteBuffer.rows``)."""
        return self._log.rows(start, self._end if end is None else min(end, self._end), newer_than)

    @property
    def table(self) -> pa.Table | None:
        if self._table is None and self._end:
            self._table = self.rows()
        return self._table

    def to_ipc(self, start: int = 0) -> bytes:
        """The deletes at positions [start, len) as an Arrow IPC stream (pk, ts, partition);
        every delete (``start`` 0) is built once."""
        if start == 0 and self._ipc is not None:
            return self._ipc
        table = self.table if start == 0 else self.rows(start)
        data = b""
        if table is not None and table.num_rows:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            data = sink.getvalue().to_pybytes()
        if start == 0:
            self._ipc = data
        return data

    def latest(self, ts: int, partition: int) -> pa.Table | None:
        """Per key, the newest delete with d <= ``ts`` that applies to ``partition``:
        a table (pk, d), or None when there is none."""
        key = (ts, partition)
        with self._lock:
            if key in self._latest:
                return self._latest[key]
        result = None
        table = self.table
        if table is not None:
            mask = pc.and_(
                pc.less_equal(table["ts"], pa.scalar(ts, pa.uint64())),
                pc.is_in(table["partition"], value_set=pa.array([ALL_PARTITIONS, partition], pa.int64())),
            )
            chosen = table.filter(mask)
            if chosen.num_rows:
                grouped = chosen.group_by("pk").aggregate([("ts", "max")])
                result = pa.table({"pk": grouped["pk"].combine_chunks(), "d": grouped["ts_max"].combine_chunks()})
        with self._lock:
            self._latest[key] = result
        return result


def read_ipc_deletes(data: bytes, pk_type: pa.DataType) -> pa.Table | None:
    """Deletes from ``DeleteSnapshot.to_ipc``, primary keys as ``pk_type``."""
    if not data:
        return None
    with pa.ipc.open_stream(data) as reader:
        table = reader.read_all()
    if table.schema.field("pk").type != pk_type:
        table = table.set_column(0, "pk", table["pk"].cast(pk_type))
    return table.select(["pk", "ts", "partition"])


@dataclass(frozen=True)
class HiddenRows:
    """Deletes applied to one segment: per row, the timestamp from which a delete hides it
    (the smallest delete ts of the row's key and partition newer than the row; NEVER: none),
    for the first ``rows`` rows and the deletes of each log (by epoch) up to ``applied``."""

    rows: int
    # uint64 per row, read-only; it may end before ``rows``: no delete hides the rows past its end
    hidden_from: np.ndarray
    first: int  # the smallest of hidden_from: no row is hidden before it
    applied: Mapping[str, int]

    def covers(self, rows: int, logs: Sequence[DeleteSnapshot]) -> bool:
        return self.rows >= rows and all(self.applied.get(log.epoch, -1) >= len(log) for log in logs)

    def visible(self, row_ts: np.ndarray, ts: int, inserted: bool = False) -> np.ndarray:
        """Rows (the first ``len(row_ts)``) visible at ``ts``: inserted by then, not yet hidden.
        ``inserted``: the caller knows every row was inserted by ``ts`` (no comparison needed)."""
        mask = np.ones(len(row_ts), dtype=bool) if inserted else row_ts <= np.uint64(ts)
        if self.first <= ts:
            hidden = self.hidden_from[:len(row_ts)]
            mask[:len(hidden)] &= hidden > np.uint64(ts)
        return mask


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


def _writable(hidden: np.ndarray, rows: int) -> np.ndarray:
    """``hidden`` as a writable array of ``rows`` entries (a copy unless it is one already)."""
    if hidden.flags.writeable and len(hidden) == rows:
        return hidden
    out = np.full(rows, NEVER, np.uint64)
    out[:len(hidden)] = hidden
    return out


_NO_ROWS = HiddenRows(0, _frozen(np.zeros(0, np.uint64)), int(NEVER), {})


class SegmentDeletes:
    """The deletes applied to one segment's rows (``HiddenRows``), brought up to date on a read
    by applying only the deletes logged, and the rows appended, since the last one."""

    def __init__(self, partition_id: int):
        self._partitions = pa.array([ALL_PARTITIONS, partition_id], pa.int64())
        self._lock = threading.Lock()
        self._state = _NO_ROWS

    def hidden(self, view: Any, pk_name: str, logs: Sequence[DeleteSnapshot]) -> HiddenRows:
        """``HiddenRows`` covering ``view``'s rows and every delete of ``logs`` (perhaps more
        of both: later rows of the segment, deletes logged since)."""
        state = self._state
        if state.covers(view.num_rows, logs):
            return state
        with self._lock:  # one update at a time; the others then find it done
            state = self._state
            if not state.covers(view.num_rows, logs):
                if view.num_rows < state.rows:  # an older view: update on the segment's rows now
                    view = view.segment.view()
                state = self._state = self._update(state, view, pk_name, logs)
            return state

    def _update(self, state: HiddenRows, view: Any, pk_name: str, logs: Sequence[DeleteSnapshot]) -> HiddenRows:
        latest: dict[str, DeleteSnapshot] = {}
        for log in logs:
            if len(log) >= len(latest.get(log.epoch, ())):
                latest[log.epoch] = log
        # logs no longer read are forgotten (what they hid stays hidden: a delete is a fact)
        applied = {epoch: min(state.applied.get(epoch, 0), len(log)) for epoch, log in latest.items()}
        n, hidden, row_ts, pks = view.num_rows, state.hidden_from, view.ts(), view.pk(pk_name)
        first = state.first
        if n > state.rows:
            # rows appended since: the deletes applied to the others (only those newer than a new row matter)
            tail_ts, tail_pks = row_ts[state.rows:], pks.slice(state.rows)
            oldest = int(tail_ts.min())
            for epoch, log in latest.items():
                rows, d = self._hits(tail_pks, tail_ts, log.rows(0, applied[epoch], newer_than=oldest), None)
                if len(rows):
                    hidden = _writable(hidden, n)
                    np.minimum.at(hidden, rows + state.rows, d)
                    first = min(first, int(d.min()))
        index = None
        for epoch, log in latest.items():
            if applied[epoch] < len(log):
                if index is None and pa.types.is_integer(pks.type):
                    index = _pk_index(view, pk_name)
                rows, d = self._hits(pks, row_ts, log.rows(applied[epoch]), index)
                if len(rows):
                    hidden = _writable(hidden, n)
                    np.minimum.at(hidden, rows, d)
                    first = min(first, int(d.min()))
                applied[epoch] = len(log)
        return HiddenRows(n, _frozen(hidden), first, applied)

    def _hits(self, pks: pa.Array, row_ts: np.ndarray, deletes: pa.Table | None,
              index: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
        """Rows the ``deletes`` of this segment's partition hide, with the delete timestamp of
        each (a row may come several times)."""
        empty = np.zeros(0, np.int64), np.zeros(0, np.uint64)
        if deletes is None or not deletes.num_rows:
            return empty
        deletes = deletes.filter(pc.is_in(deletes["partition"], value_set=self._partitions))
        if not deletes.num_rows:
            return empty
        del_pks = deletes["pk"]
        if del_pks.type != pks.type:
            del_pks = del_pks.cast(pks.type)
        rows, which = _key_matches(pks, del_pks.combine_chunks(), index)
        if not len(rows):
            return empty
        d = deletes["ts"].to_numpy()[which]
        newer = d > row_ts[rows]
        return rows[newer], d[newer]


def _sorted_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys[order], order


def _merge_sorted(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.concatenate([a[0], b[0]])
    rows = np.concatenate([a[1], b[1] + len(a[1])])
    order = np.argsort(keys, kind="stable")  # two sorted runs: a merge
    return keys[order], rows[order]


def _pk_index(view: Any, pk_name: str) -> tuple[np.ndarray, np.ndarray]:
    """An integer primary key column sorted, and the row of each sorted key (cached on the
    segment, extended as rows arrive)."""
    def build(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        column = table.column(pk_name)
        return _sorted_keys(np.asarray(column.to_numpy(), dtype=np.int64))
    return view.derived(("deletes-pk-index", pk_name), build, _merge_sorted)


def _key_matches(pks: pa.Array, del_pks: pa.Array, index: tuple[np.ndarray, np.ndarray] | None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, delete) pair with equal keys: row positions in ``pks`` and the delete's
    position in ``del_pks``.  ``index``: ``_pk_index`` of integer ``pks`` when at hand."""
    if pa.types.is_integer(pks.type):
        keys, rows = index if index is not None else _sorted_keys(np.asarray(pks.to_numpy(), dtype=np.int64))
        probe = np.asarray(del_pks.to_numpy(), dtype=np.int64)
    else:  # keys as codes: the position of each key among the deleted ones
        unique = pc.unique(del_pks)
        codes = pc.index_in(pks, value_set=unique)
        matched = np.flatnonzero(codes.is_valid().to_numpy(zero_copy_only=False))
        if not len(matched):
            return matched, matched
        keys, order = _sorted_keys(pc.fill_null(codes, -1).to_numpy()[matched].astype(np.int64))
        rows = matched[order]
        probe = pc.index_in(del_pks, value_set=unique).to_numpy().astype(np.int64)
    lo = np.searchsorted(keys, probe, "left")
    counts = np.searchsorted(keys, probe, "right") - lo
    total = int(counts.sum())
    if not total:
        empty = np.zeros(0, np.int64)
        return empty, empty
    which = np.repeat(np.arange(len(probe)), counts)
    within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows[np.repeat(lo, counts) + within], which


def deleted_mask(row_pks: pa.Array, row_ts: np.ndarray, latest: pa.Table | None) -> np.ndarray:
    """True for rows some delete in ``latest`` (see ``DeleteSnapshot.latest``) hides."""
    if latest is None or not len(row_pks):
        return np.zeros(len(row_pks), dtype=bool)
    keys = latest["pk"]
    if keys.type != row_pks.type:
        keys = keys.cast(row_pks.type)
    idx = pc.index_in(row_pks, value_set=keys)
    found = idx.is_valid().to_numpy(zero_copy_only=False)
    d = latest["d"].to_numpy()[pc.fill_null(idx, 0).to_numpy()]
    return found & (d > row_ts)


def visible_mask(row_pks: pa.Array, row_ts: np.ndarray, ts: int, latest: pa.Table | None) -> np.ndarray:
    """Rows visible at ``ts``: inserted at or before it and not deleted after insert, by then."""
    mask = row_ts <= np.uint64(ts)
    if latest is not None and mask.any():
        mask &= ~deleted_mask(row_pks, row_ts, latest)
    return mask
