"""MVCC visibility: a row is visible at T iff _ts <= T and no delete (pk, d) has _ts < d <= T."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from milvus.querynode.deletes import ALL_PARTITIONS, DeleteBuffer, visible_mask
from milvus.querynode.tsafe import TSafe


def _reference(row_pks, row_ts, deletes, ts, partition):
    """The rule, row by row (the slow reference the vectorised code is checked against)."""
    out = []
    for pk, rts in zip(row_pks, row_ts, strict=True):
        hidden = any(dpk == pk and rts < d <= ts and part in (ALL_PARTITIONS, partition)
                     for dpk, d, part in deletes)
        out.append(rts <= ts and not hidden)
    return np.array(out, dtype=bool)


def _mask(buf: DeleteBuffer, pks, ts, read_ts, partition=7):
    snap = buf.snapshot()
    arr = pa.array(pks)
    return visible_mask(arr, np.asarray(ts, dtype=np.uint64), read_ts, snap.latest(read_ts, partition) if len(snap) else None)


def test_insert_visible_from_its_timestamp():
    buf = DeleteBuffer()
    assert _mask(buf, [1, 2, 3], [10, 20, 30], 5).tolist() == [False, False, False]
    assert _mask(buf, [1, 2, 3], [10, 20, 30], 20).tolist() == [True, True, False]
    assert _mask(buf, [1, 2, 3], [10, 20, 30], 2**63).tolist() == [True, True, True]


def test_delete_after_insert_hides_from_delete_ts_on_and_time_travel_sees_it():
    buf = DeleteBuffer()
    buf.add(pa.array([2]), np.array([25]))
    pks, ts = [1, 2, 3], [10, 20, 30]
    assert _mask(buf, pks, ts, 24).tolist() == [True, True, False]
    assert _mask(buf, pks, ts, 25).tolist() == [True, False, False]
    assert _mask(buf, pks, ts, 40).tolist() == [True, False, True]
    # time travel to an older T still sees the row
    assert _mask(buf, pks, ts, 21).tolist() == [True, True, False]


def test_delete_before_insert_does_not_hide_the_later_row():
    buf = DeleteBuffer()
    buf.add(pa.array([1]), np.array([5]))
    assert _mask(buf, [1], [10], 100).tolist() == [True]


def test_upsert_at_same_timestamp_hides_old_and_shows_new():
    buf = DeleteBuffer()
    # upsert of pk 1 at T=50: delete (1, 50) + insert (1, _ts=50)
    buf.add(pa.array([1]), np.array([50]))
    pks, ts = [1, 1], [10, 50]  # old row, new row
    assert _mask(buf, pks, ts, 49).tolist() == [True, False]
    assert _mask(buf, pks, ts, 50).tolist() == [False, True]
    assert _mask(buf, pks, ts, 99).tolist() == [False, True]


def test_partition_scoped_deletes():
    buf = DeleteBuffer()
    buf.add(pa.array([1]), np.array([20]), partition=7)
    buf.add(pa.array([2]), np.array([20]), partition=8)
    buf.add(pa.array([3]), np.array([20]))  # every partition
    assert _mask(buf, [1, 2, 3], [10, 10, 10], 30, partition=7).tolist() == [False, True, False]
    assert _mask(buf, [1, 2, 3], [10, 10, 10], 30, partition=8).tolist() == [True, False, False]


def test_string_primary_keys():
    buf = DeleteBuffer()
    buf.add(pa.array(["b", "zz"]), np.array([15, 15]))
    assert _mask(buf, ["a", "b", "c"], [10, 10, 10], 20).tolist() == [True, False, True]


def test_vectorised_matches_reference_on_random_histories():
    rng = np.random.default_rng(3)
    for _ in range(30):
        n, m = 200, 80
        row_pks = rng.integers(0, 40, n)
        row_ts = rng.integers(1, 100, n).astype(np.uint64)
        buf = DeleteBuffer()
        deletes = []
        for _ in range(4):
            k = m // 4
            dpk = rng.integers(0, 40, k)
            dts = rng.integers(1, 100, k)
            part = int(rng.choice([ALL_PARTITIONS, 7, 8]))
            buf.add(pa.array(dpk), dts, part)
            deletes += [(int(p), int(d), part) for p, d in zip(dpk, dts, strict=True)]
        for read_ts in (0, 10, 50, 99, 200):
            got = _mask(buf, row_pks, row_ts, read_ts, partition=7)
            want = _reference(row_pks.tolist(), row_ts.tolist(), deletes, read_ts, 7)
            assert (got == want).all()


def test_delete_buffer_rejects_mismatched_lengths_and_types():
    buf = DeleteBuffer()
    with pytest.raises(ValueError):
        buf.add(pa.array([1, 2]), np.array([1]))
    buf.add(pa.array([1]), np.array([1]))
    with pytest.raises(ValueError):
        buf.add(pa.array(["x"]), np.array([1]))
    assert len(buf) == 1


def test_tsafe_wait():
    ts = TSafe(5)
    assert ts.wait(5, 0.01)
    assert not ts.wait(6, 0.01)
    ts.advance(3)
    assert ts.get() == 5
    ts.advance(9)
    assert ts.wait(8, 0.01) and ts.get() == 9
    ts.close()
    assert not ts.wait(100, 5.0)


def test_a_truncation_hides_every_row_written_at_or_before_it():
    from milvus.querynode.read import _visible_rows
    from milvus.querynode.segments import SealedSegment
    from tests.readpath import make_batch, make_schema

    schema = make_schema()
    vecs = np.zeros((4, 8), np.float32)
    old = SealedSegment(1, 1, 10, "ch", pa.Table.from_batches([make_batch(schema, [1, 2, 3, 4], 100, vecs)]))
    mixed = SealedSegment(2, 1, 10, "ch", pa.Table.from_batches(
        [make_batch(schema, [5, 6, 7, 8], [140, 150, 160, 170], vecs)]))
    new = SealedSegment(3, 1, 10, "ch", pa.Table.from_batches([make_batch(schema, [9, 10, 11, 12], 200, vecs)]))
    deletes = (DeleteBuffer().snapshot(),)

    def visible(truncated_ts, read_ts=300):
        rows = _visible_rows(schema, [old, mixed, new], deletes, read_ts, None, None, truncated_ts)
        return sorted(pk for r in rows for pk in r.view.pk("pk").filter(pa.array(r.mask)).to_pylist())

    assert visible(0) == list(range(1, 13))
    assert visible(150) == [7, 8, 9, 10, 11, 12]  # at or before 150: gone, whole segment or some rows
    assert visible(99) == list(range(1, 13))
    assert visible(250) == []
    assert visible(150, read_ts=165) == [7]  # a Bounded read older than the newest rows
