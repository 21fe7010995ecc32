"""Full-text search across processes: one shard whose sealed segments are spread over two
query node processes, so the leader weighs the query terms by statistics it asks the other
node for (BM25StatsSegments over gRPC); every search ranks and scores the rows as a plain BM25
over all the texts (sealed on either node, growing on the leader)."""

from __future__ import annotations

import pytest
from pymilvus import DataType, Function, FunctionType, MilvusClient

from tests.conftest import wait_for
from tests.e2e.test_balance import _nodes_of_segments, one_querynode_cluster, spread
from tests.e2e.test_cluster import STARTUP
from tests.integration.test_full_text import _best, _bm25_scores, _corpus

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

NAME = "fulltext"
QUERIES = ["vector search", "shard leader merge merge", "data row column", "zzz"]


@pytest.fixture
def cluster(tmp_path):
    with one_querynode_cluster(tmp_path) as running:
        yield running


def test_bm25_statistics_span_query_node_processes(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.proxy_ports[0]}", timeout=60)
    try:
        schema = c.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", input_field_names=["text"], output_field_names=["sparse"],
                                     function_type=FunctionType.BM25))
        index = c.prepare_index_params()
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params={"bm25_k1": 1.4, "bm25_b": 0.8})
        c.create_collection(NAME, schema=schema, index_params=index, num_shards=1, consistency_level="Strong")
        texts = _corpus(230, seed=23)
        for lo in range(0, 200, 50):  # four sealed segments of the one channel
            c.insert(NAME, [{"id": i, "text": texts[i]} for i in range(lo, lo + 50)])
            c.flush(NAME)
        c.load_collection(NAME)
        c.insert(NAME, [{"id": i, "text": texts[i]} for i in range(200, 230)])  # growing, on the leader
        segments = len(wait_for(lambda: _nodes_of_segments(c, NAME), timeout=60, message="segments listed"))
        assert segments >= 4

        second = cluster._child("querynode", 2, 2)
        cluster.spawn(second)
        cluster.children.append(second)
        wait_for(second.healthy, timeout=STARTUP, interval=0.2, message="the second query node")
        wait_for(lambda: spread(c, segments, 2, NAME), timeout=120, interval=0.5,
                 message="sealed segments spread over both query nodes")

        got = c.search(NAME, data=QUERIES, anns_field="sparse", limit=6)
        for query, hits in zip(QUERIES, got, strict=True):
            want = _bm25_scores(texts, query, 1.4, 0.8)
            assert [h["id"] for h in hits] == _best(want, 6), query
            assert [h["distance"] for h in hits] == pytest.approx([want[h["id"]] for h in hits], rel=1e-4)
        assert got[3] == []
    finally:
        c.close()
