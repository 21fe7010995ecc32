"""Resource groups through the real pymilvus client (MilvusClient and the ORM ``utility``),
every role in this process with four query nodes: groups are created and given nodes
(``transfer_node``, configs), a collection loads two replicas in two groups, describe
counts them, searches stay exact while nodes move between groups and a replica moves to
another group (``transfer_replica``), drops are refused the way Milvus refuses them, and a
restart of the whole stack keeps the groups, their nodes and where the replicas are; and
the ORM loads a partition into a group (``_resource_groups``)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from pymilvus import Collection, DataType, MilvusClient, MilvusException, Partition, utility
from pymilvus.client.types import ResourceGroupConfig

from tests.conftest import wait_for
from tests.integration.cluster import running_stack

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DEFAULT = "__default_resource_group"
DIM = 8
ROWS = 240
VECS = np.random.default_rng(11).normal(size=(ROWS, DIM)).astype(np.float32)
EXTRA_NODES = (2, 3, 4)


def _nodes(client: MilvusClient, group: str) -> list[int]:
    return sorted(n.node_id for n in client.describe_resource_group(group).nodes)


def _replicas(client: MilvusClient, name: str) -> dict[str, list[int]]:
    return {r.resource_group: sorted(r.group_nodes) for r in client.describe_replica(name)}


def _create(client: MilvusClient, name: str) -> None:
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong", num_shards=2)


def _fill(client: MilvusClient, name: str) -> None:
    """Three flushes (sealed segments on both shards), then growing rows."""
    step = ROWS // 4
    for start in range(0, ROWS, step):
        client.insert(name, [{"id": i, "vec": VECS[i].tolist()} for i in range(start, start + step)])
        if start + step < ROWS:
            client.flush(name)


def _exact(client: MilvusClient, name: str, probes=(0, 77, 150, 239)) -> None:
    """Every row counted once and each probe finding itself first: no replica short or doubled."""
    assert client.query(name, output_fields=["count(*)"])[0]["count(*)"] == ROWS
    hits = client.search(name, [VECS[i].tolist() for i in probes], limit=3, anns_field="vec")
    assert [h[0]["id"] for h in hits] == list(probes)
    assert all(h[0]["distance"] < 1e-5 for h in hits)


class Reader:
    """Searches and counts in a loop while the test moves nodes; remembers what went wrong."""

    def __init__(self, client: MilvusClient, name: str):
        self.failures: list[str] = []
        self.reads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(client, name), daemon=True)
        self._thread.start()

    def _run(self, client: MilvusClient, name: str) -> None:
        while not self._stop.wait(0.02):
            try:
                _exact(client, name)
                self.reads += 1
            except (AssertionError, MilvusException) as exc:
                self.failures.append(repr(exc))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def test_resource_groups_replicas_and_a_restart(tmp_path):
    data = tmp_path / "data"
    with running_stack(data) as s, s.client() as c, s.orm("rg") as alias:
        for node_id in EXTRA_NODES:
            s.cluster.add_query_node(node_id)
        assert c.list_resource_groups() == [DEFAULT]
        assert _nodes(c, DEFAULT) == [1, 2, 3, 4]

        # groups: rg2 asks for one node and takes it at once; rg1 gets one by transfer_node
        c.create_resource_group("rg1")
        c.create_resource_group("rg2", config=ResourceGroupConfig(requests={"node_num": 1}, limits={"node_num": 1}))
        assert _nodes(c, "rg2") == [4]
        utility.transfer_node(DEFAULT, "rg1", 1, using=alias)
        assert (_nodes(c, DEFAULT), _nodes(c, "rg1"), _nodes(c, "rg2")) == ([1, 2], [3], [4])
        rg1 = c.describe_resource_group("rg1")
        assert (rg1.capacity, rg1.num_available_node, rg1.config.requests.node_num, rg1.config.limits.node_num) == \
            (1, 1, 1, 1)
        assert sorted(utility.list_resource_groups(using=alias)) == sorted([DEFAULT, "rg1", "rg2"])
        with pytest.raises(MilvusException) as short:
            utility.transfer_node("rg1", "rg2", 2, using=alias)
        assert short.value.code == 304 and "resource group node not enough[rg=rg1]" in short.value.message
        with pytest.raises(MilvusException) as missing:
            c.describe_resource_group("nope")
        assert missing.value.code == 300

        # two replicas, one in each group
        _create(c, "docs")
        _fill(c, "docs")
        c.release_collection("docs")
        with pytest.raises(MilvusException) as lacking:
            c.load_collection("docs", replica_number=2, resource_groups=["rg1"])
        assert lacking.value.code == 304
        assert "resource group node not enough[rg=rg1][currentNodeNum=1][expectedNodeNum=2]" in lacking.value.message
        with pytest.raises(MilvusException, match="resource group num can only be 0, 1 or same as replica number"):
            c.load_collection("docs", replica_number=3, resource_groups=["rg1", "rg2"])
        c.load_collection("docs", replica_number=2, resource_groups=["rg1", "rg2"])
        assert _replicas(c, "docs") == {"rg1": [3], "rg2": [4]}
        assert dict(c.describe_resource_group("rg1").num_loaded_replica) == {"docs": 1}
        assert dict(c.describe_resource_group(DEFAULT).num_loaded_replica) == {}
        _exact(c, "docs")

        reader = Reader(c, "docs")
        try:
            # rg1 grows to two nodes: its replica takes node 2 and spreads onto it
            utility.transfer_node(DEFAULT, "rg1", 1, using=alias)
            assert _nodes(c, "rg1") == [2, 3]
            wait_for(lambda: _replicas(c, "docs")["rg1"] == [2, 3], timeout=30, message="rg1 replica on two nodes")
            # the rg2 replica moves to the default group: node 1 takes over, node 4 drains, then leaves it
            c.transfer_replica("rg2", DEFAULT, "docs", 1)
            wait_for(lambda: c.describe_resource_group(DEFAULT).num_outgoing_node.get("docs") == 1, timeout=30,
                     message="node 4 outgoing")
            assert dict(c.describe_resource_group("rg2").num_incoming_node) == {"docs": 1}
            wait_for(lambda: _replicas(c, "docs").get(DEFAULT) == [1]
                     and not c.describe_resource_group(DEFAULT).num_outgoing_node, timeout=30,
                     message="node 4 drained")
            assert dict(c.describe_resource_group("rg2").num_incoming_node) == {}
            wait_for(lambda: reader.reads >= 3, timeout=30, message="reads after the moves")
        finally:
            reader.stop()
        assert reader.failures == []
        assert _replicas(c, "docs") == {"rg1": [2, 3], DEFAULT: [1]}
        _exact(c, "docs")

        # drops: a group with replicas, or limits above 0, is refused; the default group too
        with pytest.raises(MilvusException, match=r"some replicas still loaded in resource group\[rg1\]"):
            c.drop_resource_group("rg1")
        with pytest.raises(MilvusException, match="resource group's limits node num is not 0"):
            c.drop_resource_group("rg2")
        c.update_resource_groups({"rg2": ResourceGroupConfig(requests={"node_num": 0}, limits={"node_num": 0})})
        assert _nodes(c, "rg2") == [] and _nodes(c, DEFAULT) == [1, 4]
        c.drop_resource_group("rg2")
        assert c.list_resource_groups() == [DEFAULT, "rg1"]
        wait_for(lambda: _replicas(c, "docs")[DEFAULT] == [1, 4], timeout=30, message="node 4 back in the replica")

    # the whole stack restarts on the same data: groups, nodes and replicas' groups are kept
    with running_stack(data) as s, s.client() as c:
        for node_id in EXTRA_NODES:
            s.cluster.add_query_node(node_id)
        assert c.list_resource_groups() == [DEFAULT, "rg1"]
        assert (_nodes(c, DEFAULT), _nodes(c, "rg1")) == ([1, 4], [2, 3])
        rg1 = c.describe_resource_group("rg1").config
        assert (rg1.requests.node_num, rg1.limits.node_num) == (2, 2)
        wait_for(lambda: c.get_load_state("docs")["state"].name == "Loaded", timeout=60, message="reloaded")
        assert _replicas(c, "docs") == {"rg1": [2, 3], DEFAULT: [1, 4]}
        _exact(c, "docs")
        with pytest.raises(MilvusException, match="default resource group is not deletable"):
            c.release_collection("docs")
            c.drop_resource_group(DEFAULT)


def test_orm_loads_partitions_into_a_group(tmp_path):
    with running_stack(tmp_path / "data") as s, s.client() as c, s.orm("rg_orm") as alias:
        for node_id in (2, 3):
            s.cluster.add_query_node(node_id)
        utility.create_resource_group("rg1", using=alias,
                                      config=ResourceGroupConfig(requests={"node_num": 1}, limits={"node_num": 1}))
        assert utility.describe_resource_group("rg1", using=alias).num_available_node == 1
        _create(c, "parts")
        c.release_collection("parts")
        c.create_partition("parts", "p1")
        c.insert("parts", [{"id": i, "vec": VECS[i].tolist()} for i in range(10)], partition_name="p1")
        c.insert("parts", [{"id": i, "vec": VECS[i].tolist()} for i in range(10, 30)])
        with pytest.raises(MilvusException) as unknown:
            Collection("parts", using=alias).load(replica_number=2, _resource_groups=["rg1", "nope"])
        assert unknown.value.code == 300 and "resource group not found[rg=nope]" in unknown.value.message
        Partition(Collection("parts", using=alias), "p1").load(replica_number=1, _resource_groups=["rg1"])
        assert _replicas(c, "parts") == {"rg1": _nodes(c, "rg1")}
        assert dict(utility.describe_resource_group("rg1", using=alias).num_loaded_replica) == {"parts": 1}
        assert c.query("parts", output_fields=["count(*)"], partition_names=["p1"])[0]["count(*)"] == 10
