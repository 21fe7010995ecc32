"""GetQuerySegmentInfo and GetPersistentSegmentInfo through the real pymilvus client, every
role in this process: flushed segments of a loaded collection are listed with the query node
serving them, their rows summing to the total, agreeing with the persistent view; an unknown
collection and a released one answer the errors pymilvus expects."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import Collection, MilvusClient, MilvusException, connections, utility
from pymilvus.grpc_gen import common_pb2

from tests.conftest import wait_for
from tests.integration.cluster import running_cluster

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 8
ROWS = 200
SEGMENTS = 3
OVERRIDES = {
    "dataCoord.enableAutoCompaction": False,
    "indexCoord.segment.minSegmentNumRowsToEnableIndex": 100,
}
VECS = np.random.default_rng(11).random((SEGMENTS * ROWS, DIM), dtype=np.float32)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("segment_info") / "data", OVERRIDES) as cl:
        yield cl


@pytest.fixture
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    c.close()


@pytest.fixture
def orm(cluster):
    connections.connect("seginfo", uri=f"http://127.0.0.1:{cluster.port}")
    yield "seginfo"
    connections.disconnect("seginfo")


def test_query_segment_info_lists_the_served_flushed_segments(cluster, client, orm):
    name = "served"
    client.create_collection(name, dimension=DIM, metric_type="L2", consistency_level="Strong", num_shards=1)
    client.release_collection(name)
    for k in range(SEGMENTS):
        client.insert(name, [{"id": i, "vector": VECS[i].tolist()} for i in range(k * ROWS, (k + 1) * ROWS)])
        client.flush(name)
    Collection(name, using=orm).load(replica_number=1)
    coll_id = client.describe_collection(name)["collection_id"]
    total = SEGMENTS * ROWS

    def served():
        infos = utility.get_query_segment_info(name, using=orm)
        return infos if sum(i.num_rows for i in infos) == total else None

    infos = wait_for(served, timeout=60, message="flushed segments served")
    node_id = cluster.querynode.node_id
    for info in infos:
        assert info.collectionID == coll_id
        assert info.partitionID > 0
        assert list(info.nodeIds) == [node_id]  # one replica: one node
        assert info.state == common_pb2.SegmentState.Sealed
        assert info.level == common_pb2.SegmentLevel.L1
        assert info.mem_size > 0

    persistent = client.list_persistent_segments(name)
    flushed = {p.segment_id: p for p in persistent if p.state == common_pb2.SegmentState.Flushed and p.num_rows}
    assert {i.segmentID: i.num_rows for i in infos} == {s: p.num_rows for s, p in flushed.items()}
    assert {i.segmentID: i.partitionID for i in infos} == {s: p.partition_id for s, p in flushed.items()}
    assert all(p.level == common_pb2.SegmentLevel.L1 and p.collection_id == coll_id for p in flushed.values())

    # the MilvusClient view: the index each segment is searched with, once built and loaded
    def indexed():
        loaded = client.list_loaded_segments(name)
        return loaded if loaded and all(s.index_name == "vector" and s.index_id for s in loaded) else None

    loaded = wait_for(indexed, timeout=60, message="segments served with their index")
    assert sorted(s.segment_id for s in loaded) == sorted(flushed)
    assert all(s.node_ids == [node_id] for s in loaded)


def test_query_segment_info_errors(client, orm):
    with pytest.raises(MilvusException) as unknown:
        utility.get_query_segment_info("no_such_collection", using=orm)
    assert unknown.value.code == 100  # CollectionNotFound

    name = "released"
    client.create_collection(name, dimension=DIM, metric_type="L2", consistency_level="Strong")
    client.insert(name, [{"id": i, "vector": VECS[i].tolist()} for i in range(10)])
    client.flush(name)
    client.release_collection(name)
    with pytest.raises(MilvusException) as not_loaded:
        utility.get_query_segment_info(name, using=orm)
    assert not_loaded.value.code == 101  # CollectionNotLoaded
    assert sum(s.num_rows for s in client.list_persistent_segments(name)) == 10  # loaded or not


def test_replicas_of_a_loaded_collection(cluster, client, orm):
    name = "replicated"
    client.create_collection(name, dimension=DIM, metric_type="L2", consistency_level="Strong", num_shards=2)
    client.insert(name, [{"id": i, "vector": VECS[i].tolist()} for i in range(50)])
    client.flush(name)
    node_id = cluster.querynode.node_id
    channels = client.describe_collection(name)["num_shards"]

    groups = Collection(name, using=orm).get_replicas().groups  # ORM: GetReplicas with shard nodes
    assert len(groups) == 1
    group = groups[0]
    assert list(group.group_nodes) == [node_id]
    assert group.resource_group == "__default_resource_group"
    assert len(group.shards) == channels == 2
    assert len({shard.channel_name for shard in group.shards}) == 2
    for shard in group.shards:
        assert shard.shard_leader == node_id
        assert list(shard.shard_nodes) == [node_id]

    described = client.describe_replica(name)  # MilvusClient
    assert [r.id for r in described] == [group.id]
    assert sorted(s.channel_name for s in described[0].shards) == sorted(s.channel_name for s in group.shards)

    client.release_collection(name)
    with pytest.raises(MilvusException) as not_loaded:
        client.describe_replica(name)
    assert not_loaded.value.code == 101  # CollectionNotLoaded


def test_flush_all_persists_every_collection_of_every_database(client):
    client.create_database("flushdb")
    names = [("default", "fa_one"), ("default", "fa_two"), ("flushdb", "fa_three")]
    for db, name in names:
        client.using_database(db)
        client.create_collection(name, dimension=DIM, metric_type="L2", consistency_level="Strong")
        client.insert(name, [{"id": i, "vector": VECS[i].tolist()} for i in range(30)])
    client.using_database("default")
    client.flush_all(timeout=60)  # FlushAll, then GetFlushAllState until flushed
    for db, name in names:
        client.using_database(db)
        flushed = [s for s in client.list_persistent_segments(name) if s.state == common_pb2.SegmentState.Flushed]
        assert sum(s.num_rows for s in flushed) == 30, (db, name)
    client.using_database("default")


def test_the_default_resource_group_holds_the_query_node_and_other_groups_need_nodes(cluster, client):
    name = "grouped"
    client.create_collection(name, dimension=DIM, metric_type="L2", consistency_level="Strong")
    assert client.list_resource_groups() == ["__default_resource_group"]
    group = client.describe_resource_group("__default_resource_group")
    assert [n.node_id for n in group.nodes] == [cluster.querynode.node_id]
    assert group.num_available_node == 1 and group.capacity == 1_000_000
    assert group.num_loaded_replica[name] == 1
    with pytest.raises(MilvusException) as missing:
        client.describe_resource_group("rg1")
    assert missing.value.code == 300  # ResourceGroupNotFound
    client.create_resource_group("rg1")
    empty = client.describe_resource_group("rg1")
    assert (empty.num_available_node, empty.capacity, list(empty.nodes)) == (0, 0, [])
    with pytest.raises(MilvusException) as loaded:  # Milvus checks the replicas first
        client.drop_resource_group("__default_resource_group")
    assert "some replicas still loaded in resource group[__default_resource_group]" in loaded.value.message
    client.release_collection(name)
    with pytest.raises(MilvusException) as load:
        client.load_collection(name, resource_groups=["rg1"])
    assert load.value.code == 304 and "resource group node not enough[rg=rg1]" in load.value.message
    client.load_collection(name, resource_groups=["__default_resource_group"])
    assert client.get_load_state(name)["state"].name == "Loaded"
    client.drop_resource_group("rg1")
    assert client.list_resource_groups() == ["__default_resource_group"]
