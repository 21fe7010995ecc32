"""Deletes and MVCC visibility.

A shard (vchannel) keeps every delete it saw — from the channel and from the delta logs of
loaded segments (L0 included) — as (pk, ts, partition) triples.  A row of a segment in
partition ``p`` is visible at timestamp T iff ``_ts <= T`` and there is no delete (pk, d) of
partition ``p`` or of every partition (-1) with ``_ts < d <= T``.  Equivalently: the latest
delete of the key at or before T is not newer than the row.  Upsert at T (delete + insert at
the same T) therefore hides the old row from T on and shows the new one from T on.

Everything here is vectorised with pyarrow/numpy: no Python loop over rows.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ALL_PARTITIONS = -1


class DeleteBuffer:
    """Append-only (pk, ts, partition) log of one vchannel.  Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: list[pa.RecordBatch] = []
        self._snapshot: DeleteSnapshot | None = None

    def add(self, pks: pa.Array, ts: np.ndarray, partition: int = ALL_PARTITIONS) -> None:
        if len(pks) != len(ts):
            raise ValueError("deletes: pks and timestamps differ in length")
        if not len(pks):
            return
        batch = pa.record_batch({
            "pk": pks,
            "ts": pa.array(np.asarray(ts, dtype=np.uint64)),
            "partition": pa.array(np.full(len(pks), partition, dtype=np.int64)),
        })
        with self._lock:
            if self._chunks and not self._chunks[0].schema.equals(batch.schema):
                raise ValueError(f"deletes: primary key type {batch.schema.field('pk').type} does not match "
                                 f"{self._chunks[0].schema.field('pk').type}")
            self._chunks.append(batch)
            self._snapshot = None

    def __len__(self) -> int:
        with self._lock:
            return sum(len(c) for c in self._chunks)

    def snapshot(self) -> DeleteSnapshot:
        """The deletes seen so far (later ones are not in it)."""
        with self._lock:
            if self._snapshot is None:
                table = pa.Table.from_batches(self._chunks) if self._chunks else None
                self._snapshot = DeleteSnapshot(table)
            return self._snapshot


class DeleteSnapshot:
    """An immutable set of deletes, with the per-key latest delete at T cached per partition."""

    def __init__(self, table: pa.Table | None):
        self._table = table
        self._latest: dict[tuple[int, int], pa.Table | None] = {}
        self._ipc: bytes | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return 0 if self._table is None else self._table.num_rows

    @property
    def table(self) -> pa.Table | None:
        return self._table

    def to_ipc(self) -> bytes:
        """The deletes as an Arrow IPC stream (pk, ts, partition), built once."""
        with self._lock:
            if self._ipc is not None:
                return self._ipc
        data = b""
        if self._table is not None and self._table.num_rows:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, self._table.schema) as writer:
                writer.write_table(self._table)
            data = sink.getvalue().to_pybytes()
        with self._lock:
            self._ipc = data
        return data

    def merged(self, ipc: bytes, pk_type: pa.DataType) -> DeleteSnapshot:
        """These deletes and those of ``ipc`` (``to_ipc`` of another snapshot) together."""
        if not ipc:
            return self
        with pa.ipc.open_stream(ipc) as reader:
            other = reader.read_all()
        if other.schema.field("pk").type != pk_type:
            other = other.set_column(0, "pk", other["pk"].cast(pk_type))
        if self._table is None or not self._table.num_rows:
            return DeleteSnapshot(other)
        mine = self._table
        if mine.schema.field("pk").type != pk_type:
            mine = mine.set_column(0, "pk", mine["pk"].cast(pk_type))
        return DeleteSnapshot(pa.concat_tables([mine, other.select(mine.column_names)]))

    def latest(self, ts: int, partition: int) -> pa.Table | None:
        """Per key, the newest delete with d <= ``ts`` that applies to ``partition``:
        a table (pk, d), or None when there is none."""
        key = (ts, partition)
        with self._lock:
            if key in self._latest:
                return self._latest[key]
        result = None
        table = self._table
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
