"""The query node's vectorised search (every segment answered by its index, no loop over
queries) answers exactly what the general per-query path answers, and steps aside where it
cannot (a key twice, a filter the index cannot fill, a range search, string keys)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from pymilvus.grpc_gen import schema_pb2

from milvus.index import DENSE, FieldSpec, build_index, load_index, resolve_index
from milvus.querynode import search as search_module
from milvus.querynode.indexes import SegmentIndex
from milvus.querynode.read import SegmentRows, every_row
from milvus.querynode.search import make_plan, search
from milvus.querynode.segments import SealedSegment
from tests.readpath import make_batch, make_schema, placeholder

DIM = 8


def _indexed_segment(schema, seg_id: int, pks: np.ndarray, x: np.ndarray, index_type: str, metric: str,
                     tmp_path) -> SealedSegment:
    seg = SealedSegment(seg_id, 1, 10, "ch", pa.Table.from_batches([make_batch(schema, pks, 1, x)]))
    spec = resolve_index(FieldSpec("vec", schema_pb2.FloatVector, DIM), {"index_type": index_type,
                                                                         "metric_type": metric})
    files = build_index(spec.index_type, metric, spec.build_params, x, kind=DENSE, dim=DIM, num_rows=len(pks))
    index = load_index(files.__getitem__, tmp_path / f"s{seg_id}")
    seg.set_indexes({101: SegmentIndex(seg_id, 101, "idx", index)})
    return seg


def _both(schema, segments: list[SealedSegment], masks, metric: str, q: np.ndarray, topk: int, params=None):
    plan = make_plan(schema, "vec", metric, placeholder(q), topk, json.dumps(params or {}).encode())
    fast_rows, slow_rows = [], []
    for seg, mask in zip(segments, masks, strict=True):
        view = seg.view()
        if mask is None:
            fast_rows.append(SegmentRows(view, every_row(view), view.num_rows))
            slow_rows.append(SegmentRows(view, np.ones(view.num_rows, dtype=bool)))
        else:
            fast_rows.append(SegmentRows(view, mask, int(mask.sum())))
            slow_rows.append(SegmentRows(view, mask.copy()))
    fast_taken = search_module._search_matrices(plan, fast_rows, "pk") is not None
    fast, slow = search(plan, fast_rows, "pk"), search(plan, slow_rows, "pk")
    return fast, slow, fast_taken


def _same(a, b) -> None:
    assert a.topks.tolist() == b.topks.tolist()
    assert a.pks.to_pylist() == b.pks.to_pylist()
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.segment.tolist() == b.segment.tolist() and a.offset.tolist() == b.offset.tolist()


@pytest.mark.parametrize("index_type", ["FLAT", "HNSW"])
@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_vectorised_path_matches_the_general_one(index_type, metric, tmp_path):
    rng = np.random.default_rng(3)
    schema = make_schema()
    x = rng.standard_normal((500, DIM)).astype(np.float32)
    pks = rng.permutation(5000)[:500].astype(np.int64)
    segs = [_indexed_segment(schema, 1, pks[:300], x[:300], index_type, metric, tmp_path),
            _indexed_segment(schema, 2, pks[300:], x[300:], index_type, metric, tmp_path)]
    for nq, topk in ((1, 10), (37, 10), (5, 64)):
        q = rng.standard_normal((nq, DIM)).astype(np.float32)
        fast, slow, taken = _both(schema, segs, [None, None], metric, q, topk)
        assert taken
        _same(fast, slow)
        assert fast.topks.tolist() == [topk] * nq


def test_ties_by_primary_key_and_topk_above_rows(tmp_path):
    schema = make_schema()
    x = np.array([[1, 0, 0, 0, 0, 0, 0, 0]] * 6 + [[0, 1, 0, 0, 0, 0, 0, 0]] * 6, dtype=np.float32)
    pks = np.array([50, 3, 41, 9, 27, 1, 8, 60, 2, 33, 4, 70], dtype=np.int64)
    seg = _indexed_segment(schema, 1, pks, x, "FLAT", "L2", tmp_path)
    q = np.array([[1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    fast, slow, taken = _both(schema, [seg], [None], "L2", q, 20)
    assert taken
    _same(fast, slow)
    assert fast.pks.to_pylist()[:6] == [1, 3, 9, 27, 41, 50] and fast.topks.tolist() == [12]


def test_steps_aside_for_a_key_twice_and_a_filter_the_index_cannot_fill(tmp_path):
    rng = np.random.default_rng(5)
    schema = make_schema()
    x = rng.standard_normal((200, DIM)).astype(np.float32)
    pks = np.arange(200, dtype=np.int64)
    # the same keys in both segments (an upsert's rows before compaction): one hit per key
    segs = [_indexed_segment(schema, 1, pks, x, "FLAT", "L2", tmp_path),
            _indexed_segment(schema, 2, pks, x + 0.01, "FLAT", "L2", tmp_path)]
    q = x[:4] + 0.001
    fast, slow, taken = _both(schema, segs, [None, None], "L2", q, 10)
    assert not taken
    _same(fast, slow)
    assert all(len(set(fast.pks.to_pylist()[i * 10:(i + 1) * 10])) == 10 for i in range(4))
    # a filter keeping some rows: still the same answer (the index answers with the mask)
    mask = np.zeros(200, dtype=bool)
    mask[::3] = True
    seg = _indexed_segment(schema, 3, pks, x, "HNSW", "L2", tmp_path)
    fast, slow, _ = _both(schema, [seg], [mask], "L2", x[:3], 10)
    _same(fast, slow)
    assert set(fast.pks.to_pylist()) <= set(np.flatnonzero(mask).tolist())


def test_range_search_takes_the_general_path(tmp_path):
    rng = np.random.default_rng(9)
    schema = make_schema()
    x = rng.standard_normal((300, DIM)).astype(np.float32)
    seg = _indexed_segment(schema, 1, np.arange(300, dtype=np.int64), x, "FLAT", "L2", tmp_path)
    fast, slow, taken = _both(schema, [seg], [None], "L2", x[:2], 10, {"radius": 4.0, "range_filter": 1.0})
    assert not taken
    _same(fast, slow)


def test_a_key_twice_inside_one_sealed_segment_still_steps_aside(tmp_path):
    # one segment holding a key twice (an insert repeated before the flush): the shortcut for
    # segments without a key twice must not apply, and the answer keeps one hit per key
    schema = make_schema()
    x = np.array([[1, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0.01]] + [[0, 0, 1, 0, 0, 0, 0, 0]] * 8,
                 dtype=np.float32)
    pks = np.array([7, 7, 1, 2, 3, 4, 5, 6, 8, 9], dtype=np.int64)
    seg = _indexed_segment(schema, 1, pks, x, "FLAT", "L2", tmp_path)
    q = np.array([[1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    fast, slow, taken = _both(schema, [seg], [None], "L2", q, 5)
    assert not taken
    _same(fast, slow)
    assert fast.pks.to_pylist().count(7) == 1
    # without the key twice the same segment layout takes the vectorised path
    seg = _indexed_segment(schema, 2, np.arange(10, dtype=np.int64), x, "FLAT", "L2", tmp_path)
    fast, slow, taken = _both(schema, [seg], [None], "L2", q, 5)
    assert taken
    _same(fast, slow)


def test_an_exact_index_with_fewer_allowed_rows_than_k(tmp_path):
    rng = np.random.default_rng(11)
    schema = make_schema()
    x = rng.standard_normal((100, DIM)).astype(np.float32)
    seg = _indexed_segment(schema, 1, np.arange(100, dtype=np.int64), x, "FLAT", "L2", tmp_path)
    mask = np.zeros(100, dtype=bool)
    mask[[5, 17, 60]] = True
    for nq in (1, 4):
        fast, slow, _ = _both(schema, [seg], [mask], "L2", x[:nq], 10)
        _same(fast, slow)
        assert fast.topks.tolist() == [3] * nq
        assert sorted(fast.pks.to_pylist()[:3]) == [5, 17, 60]


def _lean_calls(monkeypatch) -> list[bool]:
    """Whether each call of the one-segment shortcut answered (True) or stepped aside."""
    calls: list[bool] = []
    real = search_module._one_segment_hits

    def spy(*args):
        out = real(*args)
        calls.append(out is not None)
        return out
    monkeypatch.setattr(search_module, "_one_segment_hits", spy)
    return calls


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_one_segment_shortcut_matches_the_general_path(metric, tmp_path, monkeypatch):
    calls = _lean_calls(monkeypatch)
    rng = np.random.default_rng(17)
    schema = make_schema()
    # every vector five times: ties the shortcut must order by primary key
    x = np.repeat(rng.standard_normal((60, DIM)).astype(np.float32), 5, axis=0)
    pks = rng.permutation(10_000)[:300].astype(np.int64)
    seg = _indexed_segment(schema, 1, pks, x, "FLAT", metric, tmp_path)
    mask = np.zeros(300, dtype=bool)
    mask[::2] = True
    for nq, topk, rows in ((1, 10, None), (6, 7, None), (3, 300, None), (1, 10, mask), (4, 12, mask)):
        q = x[rng.integers(0, 300, nq)] + 0.01 * rng.standard_normal((nq, DIM)).astype(np.float32)
        fast, slow, taken = _both(schema, [seg], [rows], metric, q, topk)
        assert taken
        _same(fast, slow)
        assert fast.topks.tolist() == [min(topk, 300 if rows is None else 150)] * nq
        assert fast.pk_values.dtype == np.int64 and fast.pks.type == pa.int64()
    assert calls and all(calls)


def test_one_segment_shortcut_answers_an_inf_hit_and_steps_aside_for_a_score_that_is_none(tmp_path, monkeypatch):
    calls = _lean_calls(monkeypatch)
    schema = make_schema()
    x = np.ones((20, DIM), dtype=np.float32)
    x[3] = 1e38  # its inner product overflows to +inf: a hit, the best one
    seg = _indexed_segment(schema, 1, np.arange(20, dtype=np.int64), x, "FLAT", "IP", tmp_path)
    fast, slow, taken = _both(schema, [seg], [None], "IP", np.ones((1, DIM), dtype=np.float32), 20)
    assert taken and calls and all(calls)
    calls.clear()
    _same(fast, slow)
    assert fast.pks.to_pylist()[0] == 3 and fast.scores[0] == np.inf and fast.topks.tolist() == [20]
    x[3] = -1e38  # -inf: no hit (``distance.is_hit``)
    seg = _indexed_segment(schema, 2, np.arange(20, dtype=np.int64), x, "FLAT", "IP", tmp_path)
    fast, slow, _ = _both(schema, [seg], [None], "IP", np.ones((1, DIM), dtype=np.float32), 20)
    assert not any(calls)  # left to the code after it
    _same(fast, slow)
    assert 3 not in fast.pks.to_pylist() and fast.topks.tolist() == [19]
