"""Deletes read from delta logs applied to stored rows, by the query nodes' MVCC rule: a row
of partition ``p`` written at ``_ts`` is gone when a delete (pk, d) of ``p`` or of every
partition (-1) has ``_ts < d``.  Compactions (milvus/datanode/compactor.py) and snapshot
restores (milvus/proxy/snapshots.py) read deletes and rows this way."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ALL_PARTITIONS = -1


@dataclass
class StoredDeletes:
    """(pk, d, partition) triples read from delta logs, those with d <= a timestamp (a
    compaction plan's, a snapshot's)."""

    pks: list[pa.Array] = field(default_factory=list)
    ts: list[np.ndarray] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)

    def add(self, pks: pa.Array, ts: np.ndarray, partition: int, upto: int) -> None:
        keep = ts <= np.uint64(upto)
        if keep.any():
            self.pks.append(pks.filter(pa.array(keep)))
            self.ts.append(ts[keep])
            self.partitions.append(partition)

    def latest(self, partition: int, pk_type: pa.DataType) -> pa.Table | None:
        """Per key, the newest delete that applies to ``partition``."""
        chosen = [(p.cast(pk_type) if p.type != pk_type else p, t)
                  for p, t, part in zip(self.pks, self.ts, self.partitions, strict=True)
                  if part in (ALL_PARTITIONS, partition)]
        if not chosen:
            return None
        table = pa.table({"pk": pa.concat_arrays([p for p, _ in chosen]),
                          "d": pa.array(np.concatenate([t for _, t in chosen]), pa.uint64())})
        grouped = table.group_by("pk").aggregate([("d", "max")])
        return pa.table({"pk": grouped["pk"].combine_chunks(), "d": grouped["d_max"].combine_chunks()})


def deleted_rows(pks: pa.Array, row_ts: np.ndarray, latest: pa.Table | None) -> np.ndarray:
    """True for the rows (keys ``pks`` written at ``row_ts``) a delete in ``latest``
    (``StoredDeletes.latest``) hides: one of the key newer than the row."""
    if latest is None or not len(pks):
        return np.zeros(len(pks), dtype=bool)
    idx = pc.index_in(pks, value_set=latest["pk"])
    found = idx.is_valid().to_numpy(zero_copy_only=False)
    d = latest["d"].to_numpy()[pc.fill_null(idx, 0).to_numpy()]
    return found & (d > row_ts)
