"""Reads by primary key (``get``, ``query`` with ``pk in [..]``, partial updates) find their rows in
a sealed segment by binary search over its keys sorted once, to the same rows as comparing every
key: unsorted and sorted segments, keys held twice, keys missing, deletes and time travel.  A
query over integer keys orders and deduplicates its rows in numpy, as the Arrow path does."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.querynode.deletes import DeleteBuffer
from milvus.querynode.query import _query_arrow, _query_int_keys
from milvus.querynode.read import SegmentRows, _pk_mask, _visible_rows
from milvus.querynode.segments import GrowingSegment, SealedSegment
from tests.readpath import make_batch, make_schema

SCHEMA = make_schema()


def _sealed(pks, ts=100) -> SealedSegment:
    vecs = np.zeros((len(pks), 8), np.float32)
    return SealedSegment(1, 1, 10, "ch", pa.Table.from_batches([make_batch(SCHEMA, pks, ts, vecs)]))


def _by_comparison(segment, wanted: pa.Array) -> np.ndarray:
    return pc.is_in(segment.view().pk("pk"), value_set=wanted).to_numpy(zero_copy_only=False)


def test_binary_search_finds_the_rows_comparing_every_key_finds():
    rng = np.random.default_rng(5)
    keys = rng.permutation(np.arange(-500, 500) * 3)
    held_twice = np.concatenate([keys, keys[:40]])  # a sealed segment may hold a key twice
    for pks in (keys, np.sort(keys), held_twice, np.sort(held_twice)):
        segment = _sealed(pks.tolist())
        for size in (1, 7, 30, 62):
            wanted = pa.array(rng.choice(np.arange(-1600, 1600), size=size), type=pa.int64())
            got = _pk_mask(segment.view(), "pk", wanted)
            assert got.tolist() == _by_comparison(segment, wanted).tolist()
            assert np.count_nonzero(got) >= 1 or not np.isin(wanted.to_numpy(), pks).any()
    # the sorted keys are kept on the segment: no copy of keys already in order
    ordered = _sealed(list(range(0, 3000, 3)))
    _pk_mask(ordered.view(), "pk", pa.array([3, 4, 2997], type=pa.int64()))
    keys_kept, order = ordered.view().derived(("sorted_pks", "pk"), lambda t: None)
    assert order is None and np.shares_memory(keys_kept, ordered.view().pk("pk").to_numpy(zero_copy_only=False))


def test_reads_by_key_see_deletes_time_travel_and_growing_rows():
    sealed = _sealed([30, 10, 20, 10], ts=100)  # 10 twice: the later write shadows at query time
    growing = GrowingSegment(2, 1, 10, "ch")
    growing.append(make_batch(SCHEMA, [40, 20], 200, np.zeros((2, 8), np.float32)))
    buffer = DeleteBuffer()
    buffer.add(pa.array([30], pa.int64()), np.array([150], np.uint64))
    wanted = pa.array([10, 20, 30, 40, 50], pa.int64())

    def keys(read_ts):
        rows = _visible_rows(SCHEMA, [sealed, growing], [buffer.snapshot()], read_ts, wanted, None)
        return sorted(k for r in rows for k in r.view.pk("pk").filter(pa.array(r.mask)).to_pylist())

    assert keys(120) == [10, 10, 20, 30]
    assert keys(160) == [10, 10, 20]  # 30 deleted at 150
    assert keys(250) == [10, 10, 20, 20, 40]  # the growing rows written at 200


def test_integer_key_queries_order_and_deduplicate_as_the_arrow_path_does():
    rng = np.random.default_rng(11)
    # keys repeated within and across segments (many times, or now and then): a small page of
    # many rows is sorted from a partition's candidates, unless repeats leave too few keys
    for key_range in (150, 100_000):
        segments = []
        for seg_id in range(3):
            n = 200
            pks = rng.integers(0, key_range, size=n).tolist()
            ts = rng.choice([100, 200, 300], size=n).astype(np.uint64)  # ties too
            batch = make_batch(SCHEMA, pks, ts, np.zeros((n, 8), np.float32))
            segment = SealedSegment(seg_id, 1, 10, "ch", pa.Table.from_batches([batch]))
            segments.append(SegmentRows(segment.view(), rng.random(n) < 0.7))
        for limit, offset in ((-1, 0), (1, 0), (10, 0), (10, 25), (100, 30), (1000, 3), (5, 1000)):
            fast = _query_int_keys(segments, "pk", pa.int64(), limit, offset)
            slow = _query_arrow(segments, "pk", pa.int64(), limit, offset)
            assert fast.pks.type == slow.pks.type
            assert fast.pks.to_pylist() == slow.pks.to_pylist()
            assert fast.segment.tolist() == slow.segment.tolist()
            assert fast.offset.tolist() == slow.offset.tolist()
            assert fast.ts.tolist() == slow.ts.tolist()
        everything = _query_int_keys(segments, "pk", pa.int64(), -1, 0).pks.to_pylist()
        assert everything == sorted(set(everything))
