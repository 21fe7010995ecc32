"""BM25 full-text search: the sparse index, the exact path and a shard leader weighing query
terms by statistics of every segment it reads (its own and a worker's) all give the BM25
scores of a plain computation over every row (milvus/index/bm25.py); the index spec takes the
BM25 metric on function outputs only, with k1 and b; the proxy sends query texts as term
counts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pymilvus.grpc_gen import common_pb2

from milvus.errors import ParameterInvalid
from milvus.grpc_gen import schema_pb2
from milvus.index import FieldSpec, bm25, build_index, load_index, resolve_index
from milvus.index.spec import parse_build_params
from milvus.proxy.fulltext import query_placeholders
from milvus.querynode.search import make_plan
from milvus.querynode.vectors import decode_placeholders
from milvus.schema import CollectionSchemaModel, normalize_schema
from milvus.schema.analyzer import STANDARD, query_terms
from milvus.schema.vectors import SparseMatrix
from tests.readpath import make_batch, make_schema, placeholder
from tests.unit import test_querynode_delegation as delegation

PT = common_pb2.PlaceholderType
K1, B = 1.5, 0.6


def _bm25_schema(pk: str = "int") -> CollectionSchemaModel:
    proto = make_schema(pk, extra_vectors=True).proto
    out = schema_pb2.CollectionSchema()
    out.CopyFrom(proto)
    next(f for f in out.fields if f.name == "svec").is_function_output = True
    return CollectionSchemaModel(normalize_schema(out))


def _docs(rng, n, vocab=30):
    """Rows of term counts: each row holds a few of ``vocab`` terms, 1..4 times."""
    rows = []
    for _ in range(n):
        terms = rng.choice(vocab, size=rng.integers(1, 8), replace=False)
        rows.append({int(t): float(rng.integers(1, 5)) for t in terms})
    return rows


def _expected(rows: list[dict], query: dict, k1=K1, b=B) -> np.ndarray:
    """BM25 of every row for one query of term counts, computed plainly."""
    n = len(rows)
    lengths = [sum(r.values()) for r in rows]
    avgdl = sum(lengths) / n
    out = np.zeros(n)
    for term, q in query.items():
        df = sum(1 for r in rows if term in r)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, r in enumerate(rows):
            tf = r.get(term, 0.0)
            if tf:
                out[i] += q * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[i] / avgdl))
    return out


def _csr(rows: list[dict]) -> SparseMatrix:
    indptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    indices = np.array([t for r in rows for t in sorted(r)], dtype=np.uint32)
    values = np.array([r[t] for r in rows for t in sorted(r)], dtype=np.float32)
    return SparseMatrix(indptr, indices, values)


def test_term_weights_and_idf_follow_the_formula():
    s = bm25.Settings(k1=1.2, b=0.75, avgdl=10.0)
    w = bm25.term_weights(np.array([1.0, 3.0]), np.array([10.0, 20.0]), s)
    assert w[0] == pytest.approx(1 * 2.2 / (1 + 1.2))  # a row of average length
    assert w[1] == pytest.approx(3 * 2.2 / (3 + 1.2 * (0.25 + 0.75 * 2)))
    assert bm25.idf(10, np.array([0, 10]))[0] == pytest.approx(math.log(1 + 10.5 / 0.5))
    assert bm25.idf(10, np.array([0, 10]))[1] == pytest.approx(math.log(1 + 0.5 / 10.5))


def test_stats_of_disjoint_rows_add_up():
    rng = np.random.default_rng(1)
    rows = _docs(rng, 50)
    a, b = _csr(rows[:20]), _csr(rows[20:])
    both = bm25.add([bm25.Stats.of(20, a.indices, a.values), bm25.Stats.of(30, b.indices, b.values)])
    terms = np.array([0, 3, 29, 1000], dtype=np.uint32)
    got = both.only(terms)
    assert got.num_rows == 50
    assert got.total_length == pytest.approx(sum(sum(r.values()) for r in rows))
    assert got.row_counts.tolist() == [sum(1 for r in rows if int(t) in r) for t in terms]


@pytest.mark.parametrize("index_type", ["SPARSE_INVERTED_INDEX", "SPARSE_WAND"])
def test_the_index_scores_like_the_formula(index_type):
    rng = np.random.default_rng(2)
    rows = [{}, *_docs(rng, 300), {}]  # empty rows too, first and last
    files = build_index(index_type, "BM25", {"drop_ratio_build": 0.0, "bm25_k1": K1, "bm25_b": B}, _csr(rows),
                        kind="sparse", dim=0, num_rows=len(rows))
    index = load_index(lambda name: files[name])
    queries = [{1: 1.0, 7: 2.0}, {3: 1.0}, {29: 1.0, 4: 1.0, 11: 1.0}]
    m = _csr(rows)
    stats = bm25.Stats.of(len(rows), m.indices, m.values)
    weighted = bm25.weigh_queries([(np.array(sorted(q), np.uint32), np.array([q[t] for t in sorted(q)], np.float32))
                                   for q in queries], stats.only(bm25.query_terms(
                                       [(np.array(sorted(q), np.uint32), None) for q in queries])))
    scores, labels = index.search(weighted, 10, {bm25.AVGDL: bm25.avgdl(stats)})
    for i, q in enumerate(queries):
        want = _expected(rows, q)
        order = np.lexsort((np.arange(len(rows)), -want))[:10]
        assert labels[i].tolist() == order.tolist()
        np.testing.assert_allclose(scores[i], want[order], rtol=1e-5)


def test_bm25_is_only_for_function_outputs_and_their_default():
    schema = _bm25_schema()
    group = placeholder([{1: 1.0}], PT.SparseFloatVector)
    assert make_plan(schema, "svec", "", group, 5, b"").metric == "BM25"
    with pytest.raises(ParameterInvalid, match="searched with metric BM25, not IP"):
        make_plan(schema, "svec", "IP", group, 5, b"")
    with pytest.raises(ParameterInvalid, match="only for the output field of a BM25 function"):
        make_plan(make_schema(extra_vectors=True), "svec", "BM25", group, 5, b"")


class _Nodes(delegation.Nodes):
    """The delegation harness with a BM25 function output (``svec``) holding each row's terms."""

    def __init__(self, tmp_path, rows):
        super().__init__(tmp_path, "int")
        self.schema = _bm25_schema()
        self.rows = rows

    def _batch(self, keys, ts):
        keys = list(keys)
        return make_batch(self.schema, keys, ts, np.zeros((len(keys), delegation.DIM), np.float32),
                          svecs=[self.rows[k] for k in keys])

    def sealed(self, segment, keys, ts, vecs=None, deletes=None):
        from milvus._proto import datacoord_pb2
        from milvus.binlog import insert_log_key, write_insert_log
        batch = self._batch(keys, ts)
        path = insert_log_key(delegation.COLL, delegation.PART, segment, segment * 10)
        self.storage.put(path, write_insert_log(batch))
        info = datacoord_pb2.SegmentInfo(id=segment, collection_id=delegation.COLL, partition_id=delegation.PART,
                                         insert_channel=delegation.VCH, num_of_rows=batch.num_rows,
                                         state=datacoord_pb2.FLUSHED)
        info.binlogs.add(field_id=0).binlogs.add(entries_num=batch.num_rows, log_path=path)
        return info

    def insert(self, segment, keys, ts, vecs=None):
        from tests.readpath import insert_envelope
        self.send(insert_envelope(delegation.VCH, delegation.COLL, delegation.PART, segment, self._batch(keys, ts), ts))


def test_a_leader_weighs_terms_over_its_own_and_its_workers_segments(tmp_path):
    rng = np.random.default_rng(5)
    rows = _docs(rng, 260)
    n = _Nodes(tmp_path, rows)
    try:
        segs = [n.sealed(1, range(0, 100), 100), n.sealed(2, range(100, 220), 100)]
        n.watch(delegation.LEADER, flushed=[1, 2])
        n.watch(delegation.REFERENCE, flushed=[1, 2])
        n.load(delegation.LEADER, segs[0])
        n.load(delegation.WORKER, segs[1])
        n.load(delegation.REFERENCE, *segs)
        n.sync({1: delegation.LEADER, 2: delegation.WORKER}, segs)
        n.insert(9, range(220, 260), 200)  # growing rows on the leader (and the reference)
        n.tick(300)
        queries = [{2: 1.0, 5: 1.0}, {17: 2.0}, {999: 1.0}]
        request = n.request(300, placeholder_group=placeholder(queries, PT.SparseFloatVector), topk=8,
                            nq=len(queries), anns_field="svec", metric_type="BM25", bm25_k1=K1, bm25_b=B,
                            search_params=json.dumps({"params": {}}).encode())
        n.methods.clear()
        led = n.nodes[delegation.LEADER].Search(request)
        assert led.status.code == 0, led.status.reason
        assert "BM25StatsSegments" in n.methods  # the worker's segment counted in the statistics
        alone = n.nodes[delegation.REFERENCE].Search(request)
        pos = 0
        for i, q in enumerate(queries):
            want = _expected(rows, q)
            hits = np.flatnonzero(want > 0)
            order = hits[np.lexsort((hits, -want[hits]))][:8]
            k = led.topks[i]
            assert list(led.ids.int_id.data[pos:pos + k]) == order.tolist()
            np.testing.assert_allclose(led.scores[pos:pos + k], want[order], rtol=1e-5)
            pos += k
        assert list(alone.ids.int_id.data) == list(led.ids.int_id.data)
        np.testing.assert_allclose(alone.scores, led.scores, rtol=1e-6)
        assert led.topks[2] == 0  # a term no row holds: no hit
    finally:
        n.close()


def _field(function_output=True):
    return FieldSpec("sparse", schema_pb2.SparseFloatVector, is_function_output=function_output)


def test_index_spec_bm25_metric_and_parameters():
    spec = resolve_index(_field(), {"index_type": "AUTOINDEX"})
    assert spec.metric_type == "BM25"  # the default of a function output
    assert (spec.build_params["bm25_k1"], spec.build_params["bm25_b"]) == (1.2, 0.75)
    spec = resolve_index(_field(), {"index_type": "SPARSE_WAND", "metric_type": "BM25",
                                    "params": json.dumps({"bm25_k1": 1.5, "bm25_b": 0, "inverted_index_algo": "daat_wand"})})
    assert spec.build_params == {"drop_ratio_build": 0.0, "bm25_k1": 1.5, "bm25_b": 0.0,
                                 "inverted_index_algo": "DAAT_WAND"}
    assert parse_build_params("SPARSE_WAND", spec.index_params(), "BM25")["bm25_k1"] == 1.5
    assert parse_build_params("AUTOINDEX", {"bm25_k1": "1.7"}, "BM25") == {"bm25_k1": 1.7, "bm25_b": 0.75}
    with pytest.raises(ParameterInvalid, match=r"bm25_k1.*\[1.2, 2\]"):
        resolve_index(_field(), {"metric_type": "BM25", "bm25_k1": "3"})
    with pytest.raises(ParameterInvalid, match="index's metric type must be BM25"):
        resolve_index(_field(), {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "IP"})
    with pytest.raises(ParameterInvalid, match="only for the output field of a BM25 function"):
        resolve_index(_field(False), {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25"})
    with pytest.raises(ParameterInvalid, match="inverted index algo"):
        resolve_index(_field(), {"metric_type": "BM25", "inverted_index_algo": "FAST"})


def test_the_proxy_sends_query_texts_as_term_counts():
    schema = _bm25_schema()
    texts = common_pb2.PlaceholderGroup(placeholders=[common_pb2.PlaceholderValue(
        tag="$0", type=PT.VarChar, values=[b"Vector search, vector!", b""])]).SerializeToString()
    [first, empty] = decode_placeholders(query_placeholders(schema.field("svec"), texts, STANDARD),
                                         schema_pb2.SparseFloatVector, None)
    dims, counts = query_terms("vector search vector")
    assert first[0].tolist() == dims.tolist() and first[1].tolist() == counts.tolist()
    assert sorted(counts.tolist()) == [1.0, 2.0]
    assert len(empty[0]) == 0
    with pytest.raises(ParameterInvalid, match="search it with query texts"):
        query_placeholders(schema.field("svec"), placeholder([{1: 1.0}], PT.SparseFloatVector), STANDARD)
