"""Query: the rows a read may see, ordered by primary key, with [offset, offset+limit) kept;
or only their count (count(*)).  A key present in several visible rows (a duplicate insert
without upsert) is returned once: its newest row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.querynode.read import SegmentRows


@dataclass
class QueryHits:
    pks: pa.Array
    segment_rows: list[SegmentRows]
    segment: np.ndarray  # int64 index into segment_rows
    offset: np.ndarray  # int64 row offset in that segment
    ts: np.ndarray  # uint64 insert timestamp of each row


def count(segments: list[SegmentRows]) -> int:
    return int(sum(rows.visible if rows.visible is not None else int(np.count_nonzero(rows.mask)) for rows in segments))


def query(segments: list[SegmentRows], pk_name: str, pk_type: pa.DataType, limit: int, offset: int) -> QueryHits:
    if not segments:
        return QueryHits(pa.array([], type=pk_type), segments, np.zeros(0, np.int64), np.zeros(0, np.int64),
                         np.zeros(0, np.uint64))
    if pa.types.is_integer(pk_type):
        return _query_int_keys(segments, pk_name, pk_type, limit, offset)
    return _query_arrow(segments, pk_name, pk_type, limit, offset)


def _query_arrow(segments: list[SegmentRows], pk_name: str, pk_type: pa.DataType, limit: int,
                 offset: int) -> QueryHits:
    pks, ts, seg, off = [], [], [], []
    for s, rows in enumerate(segments):
        idx = np.flatnonzero(rows.mask)
        take = pa.array(idx, pa.int64())
        pks.append(rows.view.pk(pk_name).take(take))
        ts.append(rows.view.ts()[idx])
        seg.append(np.full(len(idx), s, dtype=np.int64))
        off.append(idx.astype(np.int64))
    table = pa.table({
        "pk": pa.concat_arrays(pks),
        "ts": np.concatenate(ts),
        "seg": np.concatenate(seg),
        "off": np.concatenate(off),
    })
    order = pc.sort_indices(table, sort_keys=[("pk", "ascending"), ("ts", "descending")])
    table = table.take(order)
    table = table.filter(_first_of_runs(table["pk"].combine_chunks()))
    start = max(offset, 0)
    stop = table.num_rows if limit <= 0 else min(table.num_rows, start + limit)
    table = table.slice(start, max(0, stop - start))
    return QueryHits(
        pks=table["pk"].combine_chunks(),
        segment_rows=segments,
        segment=table["seg"].to_numpy(),
        offset=table["off"].to_numpy(),
        ts=table["ts"].to_numpy(),
    )


def _query_int_keys(segments: list[SegmentRows], pk_name: str, pk_type: pa.DataType, limit: int,
                    offset: int) -> QueryHits:
    """``query`` for integer keys, in numpy: the same order (key ascending, newest row first)
    and the same rows kept.  Only the keys of every visible row are gathered; timestamps,
    segments and offsets only for the rows a page can hold (see ``_candidates``)."""
    rows_of = [np.flatnonzero(rows.mask) for rows in segments]
    keys = np.concatenate([rows.view.pk(pk_name).to_numpy(zero_copy_only=False)[idx]
                           for rows, idx in zip(segments, rows_of, strict=True)])
    bounds = np.cumsum([len(idx) for idx in rows_of])
    positions = _candidates(keys, offset + limit if limit > 0 else 0)
    segment = np.searchsorted(bounds, positions, side="right")
    offsets = np.empty(len(positions), dtype=np.int64)
    stamps = np.empty(len(positions), dtype=np.uint64)
    for s, (rows, idx) in enumerate(zip(segments, rows_of, strict=True)):
        here = np.flatnonzero(segment == s)
        if len(here):
            at = idx[positions[here] - (bounds[s] - len(idx))]
            offsets[here] = at
            stamps[here] = rows.view.ts()[at]
    keys = keys[positions]
    order = np.lexsort((~stamps, keys))  # ~: the newest row of a key first (uint64)
    keys = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    picked = order[first]
    start = max(offset, 0)
    picked = picked[start:] if limit <= 0 else picked[start:start + limit]
    return QueryHits(
        pks=pa.array(keys[first][start:start + len(picked)], type=pk_type),
        segment_rows=segments,
        segment=segment[picked].astype(np.int64),
        offset=offsets[picked],
        ts=stamps[picked],
    )


def _candidates(keys: np.ndarray, need: int) -> np.ndarray:
    """The positions of the rows a page of the ``need`` smallest distinct keys comes from: all
    rows, or (a small page of many rows) every row of a key up to the ``need``-th smallest
    row's, found by a partition, when those hold ``need`` distinct keys (keys held twice can
    leave fewer)."""
    if 0 < need < len(keys) // 4:
        kth = np.partition(keys, need - 1)[need - 1]
        candidates = np.flatnonzero(keys <= kth)
        if len(np.unique(keys[candidates])) >= need:
            return candidates
    return np.arange(len(keys))


def _first_of_runs(sorted_pks: pa.Array) -> np.ndarray:
    """True for the first row of every run of equal keys."""
    keep = np.ones(len(sorted_pks), dtype=bool)
    if len(sorted_pks) > 1:
        n = len(sorted_pks)
        keep[1:] = pc.not_equal(sorted_pks.slice(1), sorted_pks.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    return keep
