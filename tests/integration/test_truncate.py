"""TruncateCollection through the real pymilvus client, every role in this process: every row
written before the truncation is gone from searches, queries, counts and statistics at once
(sealed and growing rows alike, Bounded reads too), the schema, index, aliases and load state
stay, rows written after it are served, and a compaction drops the truncated segments."""

from __future__ import annotations

import pytest
from pymilvus import Collection, DataType, MilvusClient, MilvusException, connections

from tests.conftest import wait_for
from tests.integration.cluster import running_cluster

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("truncate") / "data", {}) as running:
        yield running


@pytest.fixture(scope="module")
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    c.close()


def _rows(ids):
    return [{"id": i, "vec": [float(i), 1.0], "tag": i % 3} for i in ids]


def _create(client, name):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("tag", DataType.INT64)
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


def _count(client, name, level="Strong"):
    return client.query(name, filter="", output_fields=["count(*)"], consistency_level=level)[0]["count(*)"]


def test_truncate_hides_every_old_row_and_keeps_the_collection(client):
    _create(client, "docs")
    client.create_alias("docs", "docs_alias")
    client.insert("docs", _rows(range(100)))
    client.flush("docs")
    sealed = {s.segment_id for s in client.list_persistent_segments("docs")}
    client.insert("docs", _rows(range(100, 150)))  # growing
    assert _count(client, "docs") == 150

    client.truncate_collection("docs")
    assert _count(client, "docs") == 0
    assert _count(client, "docs", "Bounded") == 0  # a Bounded read just after sees none either
    assert client.search("docs", data=[[1.0, 1.0]], limit=5)[0] == []
    assert client.query("docs", filter="tag == 1", output_fields=["id"]) == []
    assert client.get(collection_name="docs", ids=[1, 120]) == []
    assert client.get_collection_stats("docs")["row_count"] == 0
    assert client.describe_index("docs", "vec")["index_type"] == "FLAT"
    assert str(client.get_load_state("docs")["state"]) == "Loaded"
    assert client.describe_alias("docs_alias")["collection_name"] == "docs"

    client.insert("docs", _rows([1, 500, 501]))  # an old key again, and new ones
    assert sorted(r["id"] for r in client.query("docs", filter="", output_fields=["id"], limit=10)) == [1, 500, 501]
    assert _count(client, "docs_alias") == 3
    hits = client.search("docs", data=[[1.0, 1.0]], limit=5)[0]
    assert [h["id"] for h in hits] == [1, 500, 501]

    # the compaction the truncation started drops the old sealed segment
    wait_for(lambda: not sealed & {s.segment_id for s in client.list_persistent_segments("docs")}, timeout=60,
             message="the truncated segment dropped")
    assert _count(client, "docs") == 3


def test_truncate_is_refused_through_an_alias_or_for_an_unknown_collection(client):
    _create(client, "named")
    client.create_alias("named", "named_alias")
    with pytest.raises(MilvusException, match="via alias"):
        client.truncate_collection("named_alias")
    with pytest.raises(MilvusException) as info:
        client.truncate_collection("nope")
    assert info.value.code == 100


def test_the_orm_truncates_too(client, cluster):
    _create(client, "orm_docs")
    client.insert("orm_docs", _rows(range(10)))
    connections.connect("truncate", uri=f"http://127.0.0.1:{cluster.port}")
    try:
        Collection("orm_docs", using="truncate").truncate()
    finally:
        connections.disconnect("truncate")
    assert _count(client, "orm_docs") == 0
