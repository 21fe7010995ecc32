"""Hybrid search through the real pymilvus client (``hybrid_search``), every role in this
process: two vector fields searched with their own filters and limits, fused by RRFRanker and
WeightedRanker exactly as the rules say (checked against the single searches' answers fused
here), with offset, output fields (static and dynamic) and clear errors for bad rankers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pymilvus import AnnSearchRequest, DataType, MilvusClient, MilvusException, RRFRanker, WeightedRanker

from tests.integration.cluster import running_cluster

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
ROWS = 300
NAME = "hybrid"
RNG = np.random.default_rng(21)
A = RNG.random((ROWS, DIM), dtype=np.float32)
B = RNG.random((ROWS, DIM), dtype=np.float32)
QA = RNG.random((3, DIM), dtype=np.float32)
QB = RNG.random((3, DIM), dtype=np.float32)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("hybrid") / "data", {}) as cluster:
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("a", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("b", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("tag", DataType.VARCHAR, max_length=16)
        index = c.prepare_index_params()
        index.add_index("a", index_type="FLAT", metric_type="L2")
        index.add_index("b", index_type="FLAT", metric_type="IP")
        c.create_collection(NAME, schema=schema, index_params=index, consistency_level="Strong")
        c.insert(NAME, [{"id": i, "a": A[i].tolist(), "b": B[i].tolist(), "tag": f"t{i % 7}", "extra": i * 3}
                        for i in range(ROWS)])
        yield c
        c.close()


def _requests(limit_a: int = 20, limit_b: int = 30, expr: str = "") -> list[AnnSearchRequest]:
    return [AnnSearchRequest(QA.tolist(), "a", {"metric_type": "L2"}, limit_a, expr=expr),
            AnnSearchRequest(QB.tolist(), "b", {"metric_type": "IP"}, limit_b, expr=expr)]


def _singles(client, requests) -> list[list[list[tuple[int, float]]]]:
    """Per search, per query: (id, score) best first, from plain searches."""
    out = []
    for req in requests:
        res = client.search(NAME, data=req.data, anns_field=req.anns_field, limit=req.limit, filter=req.expr or "",
                            search_params=req.param)
        out.append([[(h["id"], h["distance"]) for h in hits] for hits in res])
    return out


def _expected(singles, contribution) -> list[list[tuple[int, float]]]:
    fused = []
    for q in range(len(singles[0])):
        scores: dict[int, float] = {}
        for i, search in enumerate(singles):
            for rank, (pk, score) in enumerate(search[q], start=1):
                scores[pk] = scores.get(pk, 0.0) + contribution(i, rank, score)
        fused.append(sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])))
    return fused


def _check(got, want, limit: int, offset: int = 0) -> None:
    assert len(got) == len(want)
    for hits, expected in zip(got, want, strict=True):
        expected = expected[offset:offset + limit]
        assert [h["id"] for h in hits] == [pk for pk, _ in expected]
        assert [h["distance"] for h in hits] == pytest.approx([s for _, s in expected], rel=1e-5, abs=1e-6)


def test_rrf_fuses_the_ranks_of_every_search(client):
    singles = _singles(client, _requests())
    got = client.hybrid_search(NAME, _requests(), RRFRanker(60), limit=10)
    _check(got, _expected(singles, lambda i, rank, score: 1.0 / (60 + rank)), 10)
    got = client.hybrid_search(NAME, _requests(), RRFRanker(5), limit=5, offset=3)
    _check(got, _expected(singles, lambda i, rank, score: 1.0 / (5 + rank)), 5, offset=3)


def test_weighted_ranker_normalizes_each_metric_then_weighs(client):
    singles = _singles(client, _requests())
    weights = (0.3, 0.7)

    def normalized(i, rank, score):  # search 0 is L2 (a distance), search 1 is IP
        value = 1 - 2 * math.atan(score) / math.pi if i == 0 else 0.5 + math.atan(score) / math.pi
        return weights[i] * value

    got = client.hybrid_search(NAME, _requests(), WeightedRanker(*weights), limit=10)
    _check(got, _expected(singles, normalized), 10)

    def raw(i, rank, score):  # without norm_score a distance is still turned, a similarity kept
        return weights[i] * (1 - 2 * math.atan(score) / math.pi if i == 0 else score)

    got = client.hybrid_search(NAME, _requests(), WeightedRanker(*weights, norm_score=False), limit=10)
    _check(got, _expected(singles, raw), 10)


def test_filters_limits_and_output_fields(client):
    got = client.hybrid_search(NAME, _requests(5, 5, expr="id < 100"), RRFRanker(), limit=20,
                               output_fields=["tag", "extra"])
    for hits in got:
        assert 0 < len(hits) <= 10  # at most the two searches' 5 hits each
        for h in hits:
            assert h["id"] < 100
            assert h["entity"]["tag"] == f"t{h['id'] % 7}"
            assert h["entity"]["extra"] == h["id"] * 3


def test_bad_rankers_and_requests_are_refused(client):
    cases = [
        (lambda: client.hybrid_search(NAME, _requests(), WeightedRanker(0.5), limit=5), "weights"),
        (lambda: client.hybrid_search(NAME, _requests(), WeightedRanker(0.5, 1.5), limit=5), "range [0, 1]"),
        (lambda: client.hybrid_search(NAME, _requests(), RRFRanker(0), limit=5), "k of rrf"),
        (lambda: client.hybrid_search(NAME, [AnnSearchRequest(QA.tolist(), "a", {}, 5),
                                             AnnSearchRequest(QB[:1].tolist(), "b", {}, 5)], RRFRanker(), limit=5),
         "nq"),
        (lambda: client.hybrid_search(NAME, _requests(), RRFRanker(), limit=5, group_by_field="tag"), "grouping"),
    ]
    for call, words in cases:
        with pytest.raises(MilvusException) as excinfo:
            call()
        assert words in excinfo.value.message
