"""A sealed segment keeps the masks of the filters read last: a filter repeated across reads is
evaluated once per segment, the kept mask is never changed by a read, and it is dropped with
the table it was evaluated on (an added field backfilled)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pymilvus.client.prepare import Prepare

from milvus.expr import compile_filter
from milvus.querynode.deletes import DeleteBuffer
from milvus.querynode.filters import MASKS_KEPT, MaskCache
from milvus.querynode.read import _visible_rows
from milvus.querynode.segments import GrowingSegment, SealedSegment
from tests.exprdata import make_schema as make_expr_schema
from tests.readpath import make_batch, make_schema
from tests.unit.test_querynode_schema_upgrade import NEW, old_batch

SCHEMA = make_schema()
VECS = np.zeros((6, 8), np.float32)


class Counting:
    """A compiled filter that counts its evaluations."""

    def __init__(self, expr: str, schema=SCHEMA, templates=None):
        self.compiled = compile_filter(schema, expr, templates)
        self.cache_key = self.compiled.cache_key
        self.calls = 0

    def __call__(self, table, indexes=None):
        self.calls += 1
        return self.compiled(table, indexes)


def _sealed(seg_id: int = 1, ts: int = 100) -> SealedSegment:
    batch = make_batch(SCHEMA, [1, 2, 3, 4, 5, 6], ts, VECS, tags=[0, 1, 2, 3, 4, 5])
    return SealedSegment(seg_id, 1, 10, "ch", pa.Table.from_batches([batch]))


def _pks(schema, segments, row_filter, read_ts=300, deletes=None) -> list:
    deletes = deletes or (DeleteBuffer().snapshot(),)
    rows = _visible_rows(schema, segments, deletes, read_ts, None, row_filter)
    return sorted(pk for r in rows for pk in r.view.pk("pk").filter(pa.array(r.mask)).to_pylist())


def test_a_repeated_filter_is_evaluated_once_per_sealed_segment():
    a, b = _sealed(1), _sealed(2)
    for _ in range(3):
        row_filter = Counting("tag >= 3")  # a new request compiles the same filter again
        assert _pks(SCHEMA, [a, b], row_filter) == [4, 4, 5, 5, 6, 6]
    assert row_filter.calls == 0  # the third request evaluated nothing
    first = Counting("tag >= 3")
    other = Counting("tag < 2")
    assert _pks(SCHEMA, [a], other) == [1, 2] and other.calls == 1
    assert _pks(SCHEMA, [a], first) == [4, 5, 6] and first.calls == 0


def test_a_growing_segments_filter_is_evaluated_every_time():
    growing = GrowingSegment(1, 1, 10, "ch")
    growing.append(make_batch(SCHEMA, [1, 2, 3], 100, VECS[:3], tags=[0, 1, 2]))
    row_filter = Counting("tag >= 1")
    assert _pks(SCHEMA, [growing], row_filter) == [2, 3]
    growing.append(make_batch(SCHEMA, [4], 110, VECS[:1], tags=[9]))
    assert _pks(SCHEMA, [growing], row_filter) == [2, 3, 4]
    assert row_filter.calls == 2


def test_reads_never_change_the_kept_mask():
    segment = _sealed()
    buffer = DeleteBuffer()
    buffer.add(pa.array([5], pa.int64()), np.array([200], np.uint64))
    deletes = (buffer.snapshot(),)
    row_filter = Counting("tag >= 3")
    assert _pks(SCHEMA, [segment], row_filter, read_ts=300, deletes=deletes) == [4, 6]  # 5 deleted at 200
    assert _pks(SCHEMA, [segment], row_filter, read_ts=150, deletes=deletes) == [4, 5, 6]  # before the delete
    assert row_filter.calls == 1
    assert _pks(SCHEMA, [segment], row_filter, read_ts=50, deletes=deletes) == []  # before the inserts


def test_a_table_backfilled_with_an_added_field_evaluates_again():
    sealed = SealedSegment(2, 1, 10, "ch", pa.Table.from_batches([old_batch([1, 2], 10)]))
    row_filter = Counting('note == "n/a"', NEW)
    assert _pks(NEW, [sealed], row_filter) == []  # no column yet: null, so false
    sealed.upgrade(NEW.arrow_schema)  # the column gets its default
    assert _pks(NEW, [sealed], row_filter) == [1, 2]
    assert row_filter.calls == 2


def test_a_segment_keeps_the_masks_of_its_last_filters_only():
    segment = _sealed()
    filters = [Counting(f"tag != {i}") for i in range(MASKS_KEPT + 1)]
    for f in filters:
        _pks(SCHEMA, [segment], f)
    assert len(segment.filter_masks) == MASKS_KEPT
    again = [Counting(f"tag != {i}") for i in range(MASKS_KEPT + 1)]
    _pks(SCHEMA, [segment], again[-1])  # kept
    _pks(SCHEMA, [segment], again[0])  # the oldest, dropped
    assert (again[-1].calls, again[0].calls) == (0, 1)


def test_the_mask_cache_hands_out_read_only_copies():
    cache = MaskCache(capacity=2)
    table = pa.table({"x": [1, 2]})
    shared = np.array([True, False])
    mask = cache.get("k", table, lambda: shared)
    assert not mask.flags.writeable and shared.flags.writeable
    assert cache.get("k", table, lambda: np.array([False, False])) is mask
    assert cache.get("k", pa.table({"x": [1, 2]}), lambda: np.array([False, True])).tolist() == [False, True]


def test_filters_that_keep_other_rows_have_other_keys():
    schema = make_expr_schema()

    def key(expr, templates=None):
        return compile_filter(schema, expr, templates).cache_key

    assert key("i64 > 5") == key("i64 > 5")
    assert key("i64 > 5") != key("i64 > 6") != key("i64 >= 6")
    assert key('j["a"] == true') != key('j["a"] == 1') != key('j["a"] == 1.0')
    assert key('s == "1"') != key('j["a"] == "1"')
    templated = [key("i64 > {x}", Prepare.prepare_expression_template({"x": v})) for v in (5, 6)]
    assert templated[0] == key("i64 > 5") and templated[1] != templated[0]
    assert key(f"i64 in {list(range(2000))}") is None  # too long to be worth keeping
