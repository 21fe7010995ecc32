"""Non-finite scores (an overflowed inner product, a NaN from ``inf - inf``) are hits, or not,
the same way on every read path: a result is a hit iff its rank key is below ``+inf``, the
key being the score for L2 and its negation for IP/COSINE, NaN's key ``+inf``
(``milvus.util.ranking``).  So an IP ``+inf`` ranks first, growing or sealed, exact or by an
index, on one node or merged; a NaN is never a hit."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest
from pymilvus.grpc_gen import schema_pb2

from milvus._proto import querynode_pb2
from milvus.index import DENSE, FieldSpec, build_index, load_index, resolve_index
from milvus.proxy.dql import Dql
from milvus.querynode import distance
from milvus.querynode.delegator import SearchPart, merge_search
from milvus.querynode.indexes import SegmentIndex
from milvus.querynode.read import SegmentRows, every_row
from milvus.querynode.search import make_plan, search
from milvus.querynode.segments import GrowingSegment, SealedSegment
from tests.readpath import make_batch, make_schema, placeholder

DIM = 8
NAN, INF = float("nan"), float("inf")


def test_rank_key_and_is_hit():
    l2 = distance.rank_key(np.array([1.0, INF, NAN, 0.0, -INF], np.float32), "L2")
    assert l2.tolist() == [1.0, INF, INF, 0.0, -INF]
    assert distance.is_hit(l2).tolist() == [True, False, False, True, True]
    ip = np.array([INF, 8.0, NAN, -INF], np.float32)
    keys = distance.rank_key(ip, "IP")
    assert keys.tolist() == [-INF, -8.0, INF, INF] and keys.dtype == np.float32
    assert distance.is_hit(keys).tolist() == [True, True, False, False]
    assert np.isnan(ip[2])  # the scores are left as they are
    assert distance.is_hit(np.array([NAN])).tolist() == [False]  # even a raw NaN key is no hit


def _vectors(n: int) -> np.ndarray:
    """Row i scores 8 * (i + 1) against a query of ones (no ties: an index may pick any of
    several rows tied at the k-th), but rows 3 and 5."""
    x = np.ones((n, DIM), dtype=np.float32) * np.arange(1, n + 1, dtype=np.float32)[:, None]
    x[3] = 1e38  # inner product with ones: +inf
    x[5] = -1e38  # -inf: no hit
    return x


def _sealed(schema, seg_id: int, pks, x, index_type: str | None, metric: str, tmp_path) -> SealedSegment:
    seg = SealedSegment(seg_id, 1, 10, "ch", pa.Table.from_batches([make_batch(schema, pks, 1, x)]))
    if index_type is not None:
        spec = resolve_index(FieldSpec("vec", schema_pb2.FloatVector, DIM),
                             {"index_type": index_type, "metric_type": metric})
        files = build_index(spec.index_type, metric, spec.build_params, x, kind=DENSE, dim=DIM, num_rows=len(pks))
        seg.set_indexes({101: SegmentIndex(seg_id, 101, "idx", load_index(files.__getitem__, tmp_path / str(seg_id)))})
    return seg


def _growing(schema, seg_id: int, pks, x) -> GrowingSegment:
    seg = GrowingSegment(seg_id, 1, 10, "ch")
    seg.append(make_batch(schema, pks, 1, x))
    return seg


def _search(schema, segments, metric: str, topk: int, shared_mask: bool):
    """Every row visible: with the shared all-rows mask (the vectorised path where indexes
    allow) or a private one (the per-query path)."""
    plan = make_plan(schema, "vec", metric, placeholder(np.ones((1, DIM), np.float32)), topk, json.dumps({}).encode())
    rows = []
    for seg in segments:
        view = seg.view()
        rows.append(SegmentRows(view, every_row(view), view.num_rows) if shared_mask
                    else SegmentRows(view, np.ones(view.num_rows, dtype=bool)))
    hits = search(plan, rows, "pk")
    return hits.pks.to_pylist(), hits.scores.tolist()


@pytest.mark.parametrize("index_type", [None, "FLAT", "HNSW"])
@pytest.mark.parametrize("shared_mask", [True, False])
@pytest.mark.parametrize("topk", [3, 20])
def test_ip_inf_ranks_first_and_minus_inf_is_no_hit_growing_and_sealed(index_type, shared_mask, topk, tmp_path):
    schema = make_schema()
    x = _vectors(20)
    pks = np.arange(20, dtype=np.int64)
    rest = [p for p in range(19, -1, -1) if p not in (3, 5)]
    want_pks = [3, *rest][:topk]
    want_scores = [INF] + [8.0 * (p + 1) for p in rest][:topk - 1]
    for segments in ([_growing(schema, 1, pks, x)], [_sealed(schema, 1, pks, x, index_type, "IP", tmp_path)]):
        assert _search(schema, segments, "IP", topk, shared_mask) == (want_pks, want_scores)
    # across a growing and a sealed segment, keys apart (the +inf row sits in the sealed one)
    low = np.full((10, DIM), 0.01, dtype=np.float32)  # scores 0.08: after every sealed hit
    low[4] = 1e38  # a second +inf, in the growing segment: ties with the sealed one, by key
    segments = [_growing(schema, 2, pks[:10] + 100, low), _sealed(schema, 3, pks, x, index_type, "IP", tmp_path)]
    got = _search(schema, segments, "IP", topk, shared_mask)
    both = [3, 104, *rest, *[p for p in range(100, 110) if p != 104]]
    assert got[0] == both[:topk]
    assert got[1][:2] == [INF, INF] and 5 not in got[0] and all(np.isfinite(got[1][2:]))


def test_nan_is_no_hit_on_the_exact_path():
    schema = make_schema()
    x = np.ones((6, DIM), dtype=np.float32)
    x[2, 0], x[2, 1] = 3e38, 3e38  # ||x||^2 overflows: L2 to ones is inf - inf = NaN
    seg = _growing(schema, 1, np.arange(6, dtype=np.int64), x)
    pks, scores = _search(schema, [seg], "L2", 10, shared_mask=False)
    assert 2 not in pks and pks == [0, 1, 3, 4, 5] and scores == [0.0] * 5


def test_the_delegator_merge_ranks_inf_first_and_drops_nan():
    def part(pks, scores, topks):
        return SearchPart(pa.array(pks, pa.int64()), np.asarray(scores, np.float32), np.asarray(topks, np.int64),
                          None)
    parts = [part([7, 1, 2], [INF, 8.0, NAN], [3]), part([4, 5, 6], [NAN, 9.0, 3.0], [3])]
    merged = merge_search(parts, 1, 10, "IP", [])
    assert merged.pks.to_pylist() == [7, 5, 1, 6] and merged.scores.tolist() == [INF, 9.0, 8.0, 3.0]
    assert merged.topks.tolist() == [4]
    parts = [part([7, 1], [NAN, 1.0], [2]), part([4, 5], [INF, 0.5], [2])]  # L2: +inf and NaN are no hits
    merged = merge_search(parts, 1, 10, "L2", [])
    assert merged.pks.to_pylist() == [5, 1] and merged.topks.tolist() == [2]


def test_the_proxy_merge_of_shards_ranks_inf_first_and_drops_nan():
    coll = SimpleNamespace(schema=make_schema())
    dql = Dql(None, None, None, None, lambda: 0)  # type: ignore[arg-type]

    def shard(pks, scores):
        return querynode_pb2.ShardSearchResults(num_queries=1, ids=schema_pb2.IDs(int_id=schema_pb2.LongArray(data=pks)),
                                                scores=scores, topks=[len(pks)], metric_type="IP")
    merged = dql._merge(coll, [shard([7, 1, 2], [INF, 8.0, NAN]), shard([4, 5], [NAN, 9.0])], 10)
    ranked = merged.ranked[0]
    assert merged.pk_values[ranked].tolist() == [7, 5, 1]
    assert merged.scores[ranked].tolist() == [INF, 9.0, 8.0]
