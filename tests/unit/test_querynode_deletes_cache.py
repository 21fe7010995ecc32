"""The per-segment delete cache (milvus/querynode/deletes.py ``SegmentDeletes``): brought up to
date incrementally (deletes logged since the last read, rows appended since), it answers every
read timestamp exactly as the rule computed from scratch (``latest``/``visible_mask``, the
reference), for sealed and growing segments, integer and string keys, several logs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from milvus.querynode.deletes import ALL_PARTITIONS, NEVER, DeleteBuffer, visible_mask
from milvus.querynode.segments import GrowingSegment, SealedSegment
from milvus.schema import TIMESTAMP_FIELD

PART = 7


def _rows(pks, ts) -> pa.Table:
    return pa.table({"pk": pks, TIMESTAMP_FIELD: pa.array(np.asarray(ts, np.uint64))})


def _keys(values, kind: str) -> pa.Array:
    values = np.asarray(values, np.int64)
    return pa.array(values) if kind == "int" else pa.array([f"k{v:04d}" for v in values])


def _reference(view, logs, ts: int) -> np.ndarray:
    """The rule from scratch, over every delete of every log."""
    tables = [log.snapshot().table for log in logs if len(log)]
    if not tables:
        return visible_mask(view.pk("pk"), view.ts(), ts, None)
    buf = DeleteBuffer()
    for table in tables:
        for batch in table.to_batches():
            buf.append(batch)
    return visible_mask(view.pk("pk"), view.ts(), ts, buf.snapshot().latest(ts, view.partition_id))


def _cached(segment, view, logs, ts: int) -> np.ndarray:
    return segment.deletes.hidden(view, "pk", [log.snapshot() for log in logs]).visible(view.ts(), ts)


def _check(segment, logs, read_ts=(0, 5, 30, 60, 90, 120, 2**63)):
    view = segment.view()
    for ts in read_ts:
        got, want = _cached(segment, view, logs, ts), _reference(view, logs, ts)
        assert got.tolist() == want.tolist(), f"read at {ts}"


def _random_deletes(rng, buf: DeleteBuffer, kind: str, n: int = 15) -> None:
    part = int(rng.choice([ALL_PARTITIONS, PART, PART + 1]))
    buf.add(_keys(rng.integers(0, 60, n), kind), rng.integers(1, 130, n), part)


@pytest.mark.parametrize("kind", ["int", "str"])
def test_sealed_segment_matches_the_reference_as_deletes_arrive_between_reads(kind):
    rng = np.random.default_rng(5)
    for _ in range(10):
        n = 150  # keys 0..59: duplicates of a key at several timestamps
        segment = SealedSegment(1, 1, PART, "ch", _rows(_keys(rng.integers(0, 60, n), kind), rng.integers(1, 100, n)))
        buf = DeleteBuffer()
        _check(segment, [buf])
        for _ in range(5):
            _random_deletes(rng, buf, kind)
            _check(segment, [buf])


@pytest.mark.parametrize("kind", ["int", "str"])
def test_growing_segment_matches_the_reference_as_rows_and_deletes_arrive(kind):
    rng = np.random.default_rng(8)
    for _ in range(10):
        segment = GrowingSegment(1, 1, PART, "ch")
        buf = DeleteBuffer()
        for _ in range(6):
            # new rows, older and newer than deletes already applied to the others
            m = int(rng.integers(1, 30))
            segment.append(_rows(_keys(rng.integers(0, 60, m), kind), rng.integers(1, 100, m)).to_batches()[0])
            _check(segment, [buf])
            _random_deletes(rng, buf, kind)
            _check(segment, [buf])


def test_a_view_older_than_the_cache_gets_its_own_rows():
    segment = GrowingSegment(1, 1, PART, "ch")
    buf = DeleteBuffer()
    segment.append(_rows(pa.array([1, 2]), [10, 10]).to_batches()[0])
    old = segment.view()
    segment.append(_rows(pa.array([3, 1]), [20, 30]).to_batches()[0])
    _check(segment, [buf])  # the cache covers 4 rows now
    buf.add(pa.array([1, 3]), np.array([40, 40]))
    assert _cached(segment, old, [buf], 50).tolist() == [False, True]
    assert _cached(segment, segment.view(), [buf], 50).tolist() == [False, True, False, False]


def test_several_logs_and_a_log_replaced_by_another():
    rng = np.random.default_rng(2)
    segment = SealedSegment(1, 1, PART, "ch", _rows(pa.array(rng.integers(0, 60, 200)), rng.integers(1, 100, 200)))
    own, shipped = DeleteBuffer(), DeleteBuffer()
    for _ in range(3):
        _random_deletes(rng, own, "int")
        _random_deletes(rng, shipped, "int")
        _check(segment, [own, shipped])
    # the leader's log comes again under a new epoch (say it restarted): the same deletes and more
    again = DeleteBuffer()
    for batch in shipped.snapshot().table.to_batches():
        again.append(batch)
    _random_deletes(rng, again, "int")
    _check(segment, [own, again])
    assert set(segment.deletes.hidden(segment.view(), "pk", [own.snapshot(), again.snapshot()]).applied) == \
        {own.epoch, again.epoch}


def test_only_new_deletes_are_applied_and_a_reader_keeps_its_state():
    segment = SealedSegment(1, 1, PART, "ch", _rows(pa.array([1, 2, 3]), [10, 10, 10]))
    buf = DeleteBuffer()
    buf.add(pa.array([2]), np.array([20]))
    view = segment.view()
    before = segment.deletes.hidden(view, "pk", [buf.snapshot()])
    assert before.applied == {buf.epoch: 1} and before.first == 20
    assert segment.deletes.hidden(view, "pk", [buf.snapshot()]) is before  # nothing new: no work
    buf.add(pa.array([3, 9]), np.array([15, 15]))
    after = segment.deletes.hidden(view, "pk", [buf.snapshot()])
    assert after.applied == {buf.epoch: 3} and after.first == 15
    assert after.hidden_from.tolist() == [NEVER, 20, 15]
    assert before.hidden_from.tolist() == [NEVER, 20, NEVER]  # copy on write: a reader's state stays
    assert after.visible(view.ts(), 17).tolist() == [True, True, False]
    assert after.visible(view.ts(), 12).tolist() == [True, True, True]  # time travel


def test_a_segment_no_delete_hits_holds_no_per_row_array():
    segment = SealedSegment(1, 1, PART, "ch", _rows(pa.array([1, 2, 3]), [10, 10, 10]))
    buf = DeleteBuffer()
    buf.add(pa.array([7, 8]), np.array([20, 20]))
    buf.add(pa.array([1]), np.array([20]), partition=PART + 1)  # another partition's
    state = segment.deletes.hidden(segment.view(), "pk", [buf.snapshot()])
    assert state.rows == 3 and len(state.hidden_from) == 0 and state.first == NEVER
    assert state.visible(segment.view().ts(), 30).tolist() == [True, True, True]


def test_delete_log_positions_survive_folded_chunks():
    buf = DeleteBuffer()
    for i in range(10):
        buf.add(pa.array([i, i + 100]), np.array([i + 1, i + 50]))
    snap = buf.snapshot()
    buf.add(pa.array([999]), np.array([1000]))  # later: not in the snapshot
    assert len(snap) == 20 and len(buf) == 21
    assert snap.rows(4, 8)["pk"].to_pylist() == [2, 102, 3, 103]
    assert snap.rows(0, newer_than=55)["pk"].to_pylist() == [106, 107, 108, 109]
    assert buf.rows(19, 21)["pk"].to_pylist() == [109, 999]
    assert snap.rows(20) is None
    assert buf.snapshot() is not snap and buf.snapshot().epoch == snap.epoch
    assert DeleteBuffer().epoch != buf.epoch


@pytest.mark.parametrize("kind", ["int", "str"])
def test_segments_added_after_the_deletes_and_a_reloaded_copy_see_them_all(kind):
    rng = np.random.default_rng(4)
    buf = DeleteBuffer()
    for _ in range(4):
        _random_deletes(rng, buf, kind, n=40)
    keys, ts = _keys(rng.integers(0, 60, 100), kind), rng.integers(1, 100, 100)
    sealed = SealedSegment(1, 1, PART, "ch", _rows(keys, ts))
    _check(sealed, [buf])
    # released, then loaded again (a new copy): its cache starts over and agrees
    again = SealedSegment(1, 1, PART, "ch", _rows(keys, ts))
    _random_deletes(rng, buf, kind)
    _check(again, [buf])
    _check(sealed, [buf])
    # a growing segment whose rows (from binlogs, say) are older than deletes logged before them
    growing = GrowingSegment(2, 1, PART, "ch")
    growing.append(_rows(keys, ts).to_batches()[0])
    _check(growing, [buf])
