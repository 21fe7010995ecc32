"""Brute-force search is exact and ordered like Milvus (see milvus/querynode/distance.py)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from pymilvus.grpc_gen import common_pb2

from milvus.errors import ParameterInvalid
from milvus.querynode.read import SegmentRows
from milvus.querynode.search import PlanSettingsCache, make_plan, search, smallest
from milvus.querynode.segments import GrowingSegment, SealedSegment
from tests.readpath import make_batch, make_schema, placeholder

PT = common_pb2.PlaceholderType
DIM = 8


def _segments(schema, parts, masks=None):
    out = []
    for i, batch in enumerate(parts):
        seg = SealedSegment(100 + i, 1, 10, "ch", pa.Table.from_batches([batch]))
        mask = np.ones(batch.num_rows, dtype=bool) if masks is None else masks[i]
        out.append(SegmentRows(seg.view(), mask))
    return out


def _run(schema, segments, field, metric, queries, topk, kind=PT.FloatVector, params=None):
    plan = make_plan(schema, field, metric, placeholder(queries, kind), topk,
                     json.dumps(params or {}).encode())
    hits = search(plan, segments, "pk")
    out, pos = [], 0
    for k in hits.topks.tolist():
        out.append((hits.pks.to_pylist()[pos:pos + k], hits.scores[pos:pos + k]))
        pos += k
    return out


def _truth(metric, q, x):
    if metric == "L2":
        return ((x[None, :, :] - q[:, None, :]) ** 2).sum(-1), False
    if metric == "IP":
        return q @ x.T, True
    qn = np.linalg.norm(q, axis=1)[:, None]
    xn = np.linalg.norm(x, axis=1)[None, :]
    return (q @ x.T) / (qn * xn), True


def _expected(scores_row, pks, k, desc):
    key = -scores_row if desc else scores_row
    order = np.lexsort((pks, key))[:k]
    return [int(pks[i]) for i in order], scores_row[order]


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_float_metrics_match_numpy_across_segments(metric):
    rng = np.random.default_rng(7)
    schema = make_schema()
    x = rng.standard_normal((300, DIM)).astype(np.float32)
    pks = np.arange(300, dtype=np.int64) * 3
    parts = [make_batch(schema, pks[:120], 1, x[:120]), make_batch(schema, pks[120:], 1, x[120:])]
    q = rng.standard_normal((5, DIM)).astype(np.float32)
    got = _run(schema, _segments(schema, parts), "vec", metric, q, 10)
    truth, desc = _truth(metric, q.astype(np.float64), x.astype(np.float64))
    for i, (ids, scores) in enumerate(got):
        want_ids, want_scores = _expected(truth[i], pks, 10, desc)
        assert ids == want_ids
        np.testing.assert_allclose(scores, want_scores, rtol=1e-4, atol=1e-4)
        assert list(scores) == sorted(scores, reverse=desc)


@pytest.mark.parametrize("metric", ["L2", "IP"])
def test_ties_are_ordered_by_primary_key(metric):
    schema = make_schema()
    # integer-valued vectors: every distance is exact, many ties
    x = np.array([[1, 0, 0, 0, 0, 0, 0, 0]] * 6 + [[0, 1, 0, 0, 0, 0, 0, 0]] * 6, dtype=np.float32)
    pks = np.array([50, 3, 41, 9, 27, 1, 8, 60, 2, 33, 4, 70])
    parts = [make_batch(schema, pks[::2], 1, x[::2]), make_batch(schema, pks[1::2], 1, x[1::2])]
    q = np.array([[1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    (ids, scores), = _run(schema, _segments(schema, parts), "vec", metric, q, 8)
    assert ids == [1, 3, 9, 27, 41, 50, 2, 4]
    assert list(scores[:6]) == [0.0 if metric == "L2" else 1.0] * 6


def test_topk_larger_than_rows_and_masked_rows_excluded():
    schema = make_schema()
    x = np.eye(DIM, dtype=np.float32)
    parts = [make_batch(schema, list(range(DIM)), 1, x)]
    mask = np.ones(DIM, dtype=bool)
    mask[[1, 5]] = False
    (ids, scores), = _run(schema, _segments(schema, parts, [mask]), "vec", "L2", x[:1], 100)
    assert len(ids) == DIM - 2 and 1 not in ids and 5 not in ids
    assert ids[0] == 0 and scores[0] == 0.0


def test_duplicate_primary_keys_keep_their_best_hit():
    schema = make_schema()
    x = np.array([[0] * DIM, [3] * DIM, [1] * DIM], dtype=np.float32)
    parts = [make_batch(schema, [7, 7], 1, x[:2]), make_batch(schema, [8], 1, x[2:])]
    (ids, scores), = _run(schema, _segments(schema, parts), "vec", "L2", np.zeros((1, DIM)), 10)
    assert ids == [7, 8] and list(scores) == [0.0, float(DIM)]


def test_string_primary_keys_and_nq_many():
    schema = make_schema("str")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, DIM)).astype(np.float32)
    pks = [f"k{i:03d}" for i in range(50)]
    parts = [make_batch(schema, pks, 1, x)]
    q = x[[3, 17, 42]]
    got = _run(schema, _segments(schema, parts), "vec", "L2", q, 1)
    assert [g[0] for g in got] == [["k003"], ["k017"], ["k042"]]


def test_binary_hamming_and_jaccard():
    schema = make_schema(extra_vectors=True)
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 256, (100, DIM // 8), dtype=np.uint8)
    bits[0] = 0
    x = rng.standard_normal((100, DIM)).astype(np.float32)
    pks = np.arange(100)
    parts = [make_batch(schema, pks, 1, x, bvecs=bits)]
    q = rng.integers(0, 256, (3, DIM // 8), dtype=np.uint8)
    ub = np.unpackbits(bits, axis=1).astype(bool)
    uq = np.unpackbits(q, axis=1).astype(bool)
    ham = (uq[:, None, :] != ub[None, :, :]).sum(-1)
    inter = (uq[:, None, :] & ub[None, :, :]).sum(-1)
    union = (uq[:, None, :] | ub[None, :, :]).sum(-1)
    jac = np.where(union > 0, 1 - inter / np.maximum(union, 1), 0.0)
    for metric, truth in (("HAMMING", ham), ("JACCARD", jac)):
        got = _run(schema, _segments(schema, parts), "bvec", metric, q, 7, kind=PT.BinaryVector)
        for i, (ids, scores) in enumerate(got):
            want_ids, want_scores = _expected(truth[i].astype(np.float64), pks, 7, False)
            assert ids == want_ids
            np.testing.assert_allclose(scores, want_scores, rtol=1e-6)


def test_sparse_inner_product_skips_rows_without_overlap():
    schema = make_schema(extra_vectors=True)
    rows = [{1: 1.0, 5: 2.0}, {5: 1.0}, {9: 4.0}, {}, {1: 0.5, 9: 1.0, 100: 3.0}]
    x = np.zeros((5, DIM), dtype=np.float32)
    parts = [make_batch(schema, [10, 11, 12, 13, 14], 1, x, svecs=rows)]
    got = _run(schema, _segments(schema, parts), "svec", "IP", [{1: 2.0, 5: 1.0}, {100: 1.0}, {77: 1.0}], 10,
               kind=PT.SparseFloatVector)
    assert got[0][0] == [10, 11, 14] and list(got[0][1]) == [4.0, 1.0, 1.0]
    assert got[1][0] == [14] and list(got[1][1]) == [3.0]
    assert got[2][0] == []


def test_range_search():
    schema = make_schema()
    x = np.array([[i] + [0] * (DIM - 1) for i in range(10)], dtype=np.float32)
    parts = [make_batch(schema, list(range(10)), 1, x)]
    (ids, scores), = _run(schema, _segments(schema, parts), "vec", "L2", np.zeros((1, DIM)), 10,
                          params={"params": {"radius": 20, "range_filter": 4}})
    assert ids == [2, 3, 4] and list(scores) == [4.0, 9.0, 16.0]
    (ids, _), = _run(schema, _segments(schema, parts), "vec", "IP", np.ones((1, DIM)), 10,
                     params={"radius": 6, "range_filter": 8})
    assert ids == [8, 7]


def test_bad_requests():
    schema = make_schema()
    with pytest.raises(ParameterInvalid, match="dim"):
        make_plan(schema, "vec", "L2", placeholder(np.zeros((1, DIM + 1))), 5, b"")
    with pytest.raises(ParameterInvalid, match="metric"):
        make_plan(schema, "vec", "HAMMING", placeholder(np.zeros((1, DIM))), 5, b"")
    with pytest.raises(ParameterInvalid, match="not found"):
        make_plan(schema, "nope", "L2", placeholder(np.zeros((1, DIM))), 5, b"")
    with pytest.raises(ParameterInvalid, match="topk"):
        make_plan(schema, "vec", "L2", placeholder(np.zeros((1, DIM))), 0, b"")
    plan = make_plan(schema, "", "", placeholder(np.zeros((2, DIM))), 5, b"")
    assert plan.metric == "COSINE" and plan.nq == 2
    with pytest.raises(ParameterInvalid, match="dim"):  # a later query vector of another dim
        make_plan(schema, "vec", "L2", placeholder([np.zeros(DIM), np.zeros(DIM - 1)]), 5, b"")


def test_plan_settings_cache_reuses_only_checked_settings_of_the_same_schema():
    schema = make_schema()
    cache = PlanSettingsCache()
    params = json.dumps({"metric_type": "L2", "params": {"ef": 32, "radius": 3}}).encode()
    q = placeholder(np.ones((2, DIM)))
    plan = make_plan(schema, "vec", "l2", q, 5, params, cache)
    plain = make_plan(schema, "vec", "l2", q, 5, params)  # the same plan as without a cache
    assert vars(plan).keys() == vars(plain).keys()
    for name, value in vars(plain).items():
        if name == "queries":
            np.testing.assert_array_equal(plan.queries, value)
        else:
            assert getattr(plan, name) == value, name
    again = make_plan(schema, "vec", "l2", placeholder(np.zeros((1, DIM))), 5, params, cache)
    assert again.params is plan.params and again.field is plan.field  # reused, not rebuilt
    assert (again.metric, again.radius, again.nq) == ("L2", 3.0, 1)
    np.testing.assert_array_equal(again.queries, np.zeros((1, DIM), dtype=np.float32))
    # a hit still checks the query vectors
    with pytest.raises(ParameterInvalid, match="dim"):
        make_plan(schema, "vec", "l2", placeholder(np.zeros((1, DIM + 1))), 5, params, cache)
    # what failed a check is not kept: it fails again, with the same error first
    for _ in range(2):
        with pytest.raises(ParameterInvalid, match="JSON"):
            make_plan(schema, "vec", "L2", q, 5, b"{", cache)
        with pytest.raises(ParameterInvalid, match="dim"):  # the vectors are checked before the parameters
            make_plan(schema, "vec", "L2", placeholder(np.zeros((1, DIM + 1))), 5, b"{", cache)
    # another schema object (a new version of the collection) does not see the entry
    other = make_schema()
    assert make_plan(other, "vec", "l2", q, 5, params, cache).field is other.get_field("vec")
    # a full cache starts over and keeps answering
    small = PlanSettingsCache(capacity=2)
    for topk in (1, 2, 3, 1):
        assert make_plan(schema, "vec", "L2", q, topk, b"", small).topk == topk


@pytest.mark.parametrize("k", [1, 7, 100])
def test_smallest_keeps_every_tie_of_the_kth(k):
    rng = np.random.default_rng(k)
    for n in (5, 300, 20_000):
        row = rng.integers(0, 50, n).astype(np.float32)
        row[rng.integers(0, n, n // 10)] = np.inf
        got = np.sort(smallest(row, k))
        finite = row[np.isfinite(row)]
        if len(finite) <= k:
            want = np.flatnonzero(np.isfinite(row))
        else:
            threshold = np.sort(finite)[k - 1]
            want = np.flatnonzero(row <= threshold)
        assert got.tolist() == want.tolist()


def test_growing_segment_caches_extend_as_rows_arrive():
    schema = make_schema(extra_vectors=True)
    rng = np.random.default_rng(2)
    seg = GrowingSegment(1, 1, 10, "ch")
    x = rng.standard_normal((60, DIM)).astype(np.float32)
    rows = [{int(i): 1.0} for i in range(60)]
    info, sinfo = schema.field("vec"), schema.field("svec")
    for start in range(0, 60, 3):  # more batches than the growing segment keeps apart
        seg.append(make_batch(schema, list(range(start, start + 3)), start, x[start:start + 3],
                              svecs=rows[start:start + 3]))
        view = seg.view()
        dense = view.dense(info)
        assert np.array_equal(dense.matrix, x[:start + 3])
        np.testing.assert_allclose(dense.sq_norms, (x[:start + 3] ** 2).sum(1), rtol=1e-5)
        matrix, row_ids = view.sparse(sinfo)
        assert matrix.num_rows == start + 3 and row_ids.tolist() == list(range(start + 3))
        assert view.ts().tolist() == sorted(np.repeat(np.arange(0, start + 3, 3), 3).tolist())
        assert view.pk("pk").to_pylist() == list(range(start + 3))
