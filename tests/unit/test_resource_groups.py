"""Resource groups: the groups converging on their configs (``resource``), replicas placed on
their groups' nodes (``placement``), persistence in the meta store, and the query
coordinator's RPCs over real query nodes (several in one process)."""

from __future__ import annotations

import pytest

from milvus import errors
from milvus._proto import querycoord_pb2, querynode_pb2
from milvus.grpc_gen import rg_pb2
from milvus.kv.local import LocalKV
from milvus.metastore.querycoord_catalog import QueryCoordCatalog
from milvus.proxy.validate import NameRules
from milvus.querycoord import placement
from milvus.querycoord.resource import DEFAULT_RESOURCE_GROUP as DEFAULT
from milvus.querycoord.resource import ResourceManager, config
from tests.conftest import wait_for
from tests.unit.test_querycoord import COLL, VCHS, Cluster

# ---- the groups ------------------------------------------------------------------------------


@pytest.fixture
def kv(tmp_path):
    store = LocalKV(str(tmp_path / "kv.sqlite3"))
    yield store
    store.close()


def _manager(kv, nodes=()) -> ResourceManager:
    rm = ResourceManager(QueryCoordCatalog(kv))
    rm.recover()
    for node in nodes:
        rm.node_up(node)
    return rm


def _layout(rm: ResourceManager) -> dict[str, list[int]]:
    return {name: sorted(nodes) for name, nodes in rm.nodes().items()}


def test_nodes_join_the_default_group_and_transfer_node_moves_requests_then_nodes(kv):
    rm = _manager(kv, [1, 2, 3])
    assert rm.names() == [DEFAULT] and _layout(rm) == {DEFAULT: [1, 2, 3]}
    assert rm.get(DEFAULT).capacity == 1_000_000
    rm.create("rg1", None)
    rm.create("rg1", None)  # the same config again: fine
    assert _layout(rm) == {DEFAULT: [1, 2, 3], "rg1": []}
    rm.transfer_node(DEFAULT, "rg1", 2)  # rg1 now requests 2 nodes: it takes them from the default group
    assert _layout(rm) == {DEFAULT: [1], "rg1": [2, 3]}
    rg1 = rm.get("rg1")
    assert (rg1.requests, rg1.limits, rg1.capacity) == (2, 2, 2)
    assert (rm.get(DEFAULT).requests, rm.get(DEFAULT).limits) == (0, 1_000_000)
    rm.transfer_node("rg1", DEFAULT, 1)  # rg1 is past its limits (1): one node goes back
    assert _layout(rm) == {DEFAULT: [1, 3], "rg1": [2]}
    assert (rm.get(DEFAULT).requests, rm.get("rg1").requests, rm.get("rg1").limits) == (1, 1, 1)


def test_a_joining_node_goes_where_it_is_missing_and_a_leaving_one_is_replaced(kv):
    rm = _manager(kv, [1])
    rm.create("rg1", config(2, 2))
    assert _layout(rm) == {DEFAULT: [], "rg1": [1]}  # taken from the default group at once
    assert rm.node_up(2) == "rg1"  # the group short of its requests first
    assert rm.node_up(3) == DEFAULT
    rm.node_down(1)
    assert _layout(rm) == {DEFAULT: [3], "rg1": [2]}
    rm.auto_recover()  # rg1 misses a node: the default group gives one
    assert _layout(rm) == {DEFAULT: [], "rg1": [2, 3]}


def test_transfer_from_and_to_are_preferred(kv):
    rm = _manager(kv, [1, 2, 3, 4])
    rm.create("a", config(0, 4))
    rm.create("b", config(0, 20))  # room for 20: weighs more than the default group's (Milvus' priorities)
    rm.transfer_node(DEFAULT, "a", 2)
    assert _layout(rm)["a"] == [3, 4]
    cfg = config(1, 1)
    cfg.transfer_to.add(resource_group="b")
    rm.update({"a": cfg})  # a is past its limits: its extra node goes to b, not to the default group
    assert _layout(rm) == {DEFAULT: [1, 2], "a": [3], "b": [4]}
    cfg = config(2, 2)
    cfg.transfer_from.add(resource_group="b")
    rm.update({"a": cfg})  # a misses one: from b (named in transfer_from) rather than the default group
    assert _layout(rm) == {DEFAULT: [1, 2], "a": [3, 4], "b": []}


def test_configs_are_validated_like_milvus(kv):
    rm = _manager(kv, [1])
    cases = [
        (rg_pb2.ResourceGroupConfig(requests=rg_pb2.ResourceGroupLimit(node_num=1)), "requests or limits is required"),
        (config(-1, 1), "node num in `requests` or `limits` should not less than 0"),
        (config(2, 1), "limits node num should not less than requests node num"),
    ]
    for cfg, reason in cases:
        with pytest.raises(errors.ResourceGroupIllegalConfig) as bad:
            rm.create("rg1", cfg)
        assert bad.value.code == 303 and bad.value.message.startswith(f"{reason}: resource group illegal config[rg=rg1]")
    cfg = config(0, 0)
    cfg.transfer_from.add(resource_group="nope")
    with pytest.raises(errors.ResourceGroupIllegalConfig, match="resource group in `TransferFrom` nope not exist"):
        rm.create("rg1", cfg)
    rm.create("rg1", config(0, 1))
    with pytest.raises(errors.ResourceGroupAlreadyExist) as exists:
        rm.create("rg1", config(0, 2))
    assert exists.value.code == 301
    with pytest.raises(errors.ResourceGroupNotFound, match=r"resource group not found\[rg=nope\]"):
        rm.update({"nope": config(0, 0)})
    with pytest.raises(errors.ParameterMissing, match="resource group name couldn't be empty"):
        rm.create("", None)


def test_transfer_node_and_drop_are_refused_like_milvus(kv):
    rm = _manager(kv, [1])
    rm.create("rg1", None)
    with pytest.raises(errors.ParameterInvalid, match="should not be the same"):
        rm.transfer_node("rg1", "rg1", 1)
    with pytest.raises(errors.ParameterInvalid, match=r"invalid parameter\[expected=NumNode > 0\]\[actual=invalid NumNode 0\]"):
        rm.transfer_node(DEFAULT, "rg1", 0)
    with pytest.raises(errors.ResourceGroupNodeNotEnough) as short:
        rm.transfer_node(DEFAULT, "rg1", 2)
    assert short.value.message == "resource group node not enough[rg=__default_resource_group][currentNodeNum=1]" \
                                  "[expectedNodeNum=2]"
    with pytest.raises(errors.ResourceGroupNotFound):
        rm.transfer_node(DEFAULT, "nope", 1)
    with pytest.raises(errors.ParameterInvalid, match="default resource group is not deletable"):
        rm.remove(DEFAULT)
    rm.transfer_node(DEFAULT, "rg1", 1)
    with pytest.raises(errors.ParameterInvalid, match="resource group's limits node num is not 0"):
        rm.remove("rg1")
    cfg = config(0, 0)
    cfg.transfer_to.add(resource_group="rg1")
    rm.create("rg2", cfg)
    rm.update({"rg1": config(0, 0)})  # limits 0: node 1 goes back to the default group...
    assert _layout(rm) == {DEFAULT: [1], "rg1": [], "rg2": []}
    with pytest.raises(errors.ParameterInvalid, match="resource group rg1 is used by rg2's `TransferTo`"):
        rm.remove("rg1")  # ...but rg2 still names it
    rm.remove("rg2")
    rm.remove("rg1")
    rm.remove("rg1")  # dropping a missing group is fine
    assert rm.names() == [DEFAULT]


def test_groups_configs_and_nodes_survive_a_restart(kv):
    rm = _manager(kv, [1, 2, 3])
    rm.create("rg1", None)
    rm.transfer_node(DEFAULT, "rg1", 1)
    again = _manager(kv)
    assert _layout(again) == {DEFAULT: [1, 2], "rg1": [3]}
    assert again.get("rg1").config == config(1, 1)
    assert again.node_up(3) == "rg1"  # a node that comes back finds its group
    assert again.keep_only(lambda: [1, 3]) == [2]  # one that does not leave it
    assert _layout(_manager(kv)) == {DEFAULT: [1], "rg1": [3]}


def test_the_proxy_checks_names_like_milvus():
    rules = NameRules(max_name_length=8)
    for name in ("rg1", "_rg", "Rg_2"):
        rules.resource_group(name)
    for name, reason in [("", "resource group name couldn't be empty"),
                         ("1rg", "Invalid resource group name 1rg. the first character of a resource group name "
                                 "must be an underscore or letter"),
                         ("rg-1", "Invalid resource group name rg-1. resource group name can only contain numbers, "
                                  "letters and underscores"),
                         ("rg_toolong", "the length of a resource group name must be less than 8 characters")]:
        with pytest.raises(errors.ParameterInvalid) as bad:
            rules.resource_group(name)
        assert reason in bad.value.message


# ---- replicas in groups ----------------------------------------------------------------------


def _replicas(*groups: str, cid: int = 1) -> list[querycoord_pb2.Replica]:
    return [querycoord_pb2.Replica(id=i + 1, collectionID=cid, resource_group=g) for i, g in enumerate(groups)]


def _members(replicas, changed) -> list[tuple[list[int], list[int]]]:
    by_id = {r.id: r for r in replicas} | {r.id: r for r in changed}
    return [(sorted(placement.rw_nodes(r)), sorted(r.ro_node_ids)) for _, r in sorted(by_id.items())]


def test_replicas_per_group_follows_milvus_assign_replica():
    nodes = {DEFAULT: {1}, "a": {2, 3}, "b": {4}}
    assert placement.replicas_per_group([], 1, nodes) == {DEFAULT: 1}
    assert placement.replicas_per_group(["a"], 2, nodes) == {"a": 2}
    assert placement.replicas_per_group(["a", "b"], 2, nodes) == {"a": 1, "b": 1}
    with pytest.raises(errors.ParameterInvalid, match=r"replica=\[3\] resource group=\[a,b\], resource group num "
                                                      r"can only be 0, 1 or same as replica number"):
        placement.replicas_per_group(["a", "b"], 3, nodes)
    with pytest.raises(errors.ResourceGroupNodeNotEnough, match=r"\[rg=b\]\[currentNodeNum=1\]\[expectedNodeNum=2\]"):
        placement.replicas_per_group(["b"], 2, nodes)
    with pytest.raises(errors.ResourceGroupNotFound, match=r"\[rg=c\]"):
        placement.replicas_per_group(["a", "c"], 2, nodes)


def test_replicas_share_their_groups_nodes():
    replicas = _replicas("a", "a", "b")
    changed = placement.recover_nodes(replicas, {"a": {1, 2, 3}, "b": {4}}, alive=[1, 2, 3, 4])
    assert _members(replicas, changed) == [([1], []), ([2, 3], []), ([4], [])]
    # a node of another group is never taken; a node no replica uses is shared out
    replicas = [*_replicas("a"), *_replicas("b")[:0]]
    assert _members(replicas, placement.recover_nodes(replicas, {"a": {1}, "b": {2}}, alive=[1, 2])) == [([1], [])]


def test_members_that_leave_the_group_turn_ro_and_come_back_rw():
    (replica,) = _replicas("a")
    replica.node_ids.extend([1, 2])
    # node 2 moved to group b: it turns ro (still serving); node 3 joined a: it is taken
    (moved,) = placement.recover_nodes([replica], {"a": {1, 3}, "b": {2}}, alive=[1, 2, 3])
    assert (list(moved.node_ids), list(moved.ro_node_ids)) == ([1, 2, 3], [2])
    # node 2 back in a: rw again (its replica needs it); a dead member just goes
    (back,) = placement.recover_nodes([moved], {"a": {1, 2, 3}}, alive=[2, 3])
    assert (list(back.node_ids), list(back.ro_node_ids)) == ([2, 3], [])
    # the group lost every node: the members keep serving as ro ones
    (alone,) = placement.recover_nodes([back], {"a": set(), "b": {2, 3}}, alive=[2, 3])
    assert sorted(alone.ro_node_ids) == [2, 3] and placement.rw_nodes(alone) == []


def test_a_node_serves_one_replica_of_a_collection_until_it_drained():
    r1, r2 = _replicas("a", "b")
    r1.node_ids.append(1)
    r2.node_ids.append(2)
    # node 1 moves from a to b: r1 keeps it (ro) until it drained; r2 cannot take it before
    (r1,) = placement.recover_nodes([r1, r2], {"a": set(), "b": {1, 2}}, alive=[1, 2])
    assert list(r1.ro_node_ids) == [1]
    assert placement.recover_nodes([r1, r2], {"a": set(), "b": {1, 2}}, alive=[1, 2]) == []
    assert placement.drop_drained(r1, {1: True}) is None  # still serving
    drained = placement.drop_drained(r1, {1: False})
    assert list(drained.node_ids) == [] and list(drained.ro_node_ids) == []
    (r2,) = placement.recover_nodes([drained, r2], {"a": set(), "b": {1, 2}}, alive=[1, 2])
    assert sorted(r2.node_ids) == [1, 2]


def test_a_replica_with_more_than_its_share_gives_nodes_up():
    r1, r2 = _replicas("a", "a")
    r1.node_ids.extend([1, 2])  # r2 moved into a (transfer_replica): it gets a share
    changed = placement.recover_nodes([r1, r2], {"a": {1, 2}}, alive=[1, 2])
    assert _members([r1, r2], changed) == [([1], [2]), ([], [])]
    assert placement.usage("a", {1, 2}, [*changed]) == ({1: 1}, {}, {})


def test_usage_counts_replicas_outgoing_and_incoming_nodes():
    r1, r2 = _replicas("a", "b", cid=9)
    r1.node_ids.extend([1, 2])
    r1.ro_node_ids.append(2)  # node 2 moved to b but still serves r1
    assert placement.usage("a", {1}, [r1, r2]) == ({9: 1}, {9: 1}, {})
    assert placement.usage("b", {2}, [r1, r2]) == ({9: 1}, {}, {9: 1})
    assert placement.outbound(r1, {1: "a", 2: "b"}) == {"b": 1}
    with pytest.raises(errors.ParameterInvalid, match=r"some replicas still loaded in resource group\[a\], "
                                                      r"release it first"):
        placement.check_unused("a", [r1, r2])
    with pytest.raises(errors.ParameterInvalid, match=r"only found \[0\] replicas of collection \[9\] in source "
                                                      r"resource group \[c\], but 1 require"):
        placement.transfer([r1, r2], "c", "a", 1)
    (moved,) = placement.transfer([r1, r2], "b", "a", 1)
    assert moved.id == r2.id and moved.resource_group == "a"


# ---- through the query coordinator -----------------------------------------------------------


def _ok(status):
    status = status if hasattr(status, "code") and not hasattr(status, "status") else status.status
    assert status.code == 0, status.reason


def _describe(qc, name) -> querycoord_pb2.ResourceGroupInfo:
    resp = qc.DescribeResourceGroup(querycoord_pb2.DescribeResourceGroupRequest(name=name))
    _ok(resp)
    return resp.resource_group


def _replica_nodes(qc) -> dict[str, tuple[list[int], list[int]]]:
    resp = qc.GetReplicas(querycoord_pb2.GetReplicasRequest(collectionID=COLL))
    out = {}
    for info, replica in zip(resp.replicas, qc._meta.replicas(COLL), strict=True):
        out[info.resource_group] = (sorted(info.node_ids), sorted(replica.ro_node_ids))
    return out


def test_replicas_load_in_their_groups_move_with_transfer_replica_and_survive_a_restart(tmp_path):
    c = Cluster(tmp_path, nodes=3)
    try:
        qc = c.qc
        c.flush(5, VCHS[0], [1, 2], 100)
        c.flush(6, VCHS[1], [3], 100)
        c.tick(200)
        for name in ("rg1", "rg2"):
            _ok(qc.CreateResourceGroup(querycoord_pb2.CreateResourceGroupRequest(name=name)))
            _ok(qc.TransferNode(querycoord_pb2.TransferNodeRequest(source=DEFAULT, target=name, num_node=1)))
        assert {n: sorted(x.node_id for x in _describe(qc, n).nodes) for n in (DEFAULT, "rg1", "rg2")} == \
            {DEFAULT: [1], "rg1": [3], "rg2": [2]}
        too_many = qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(
            collectionID=COLL, replica_number=2, resource_groups=["rg1"]))
        assert too_many.code == 304 and too_many.reason.startswith("failed to load collection: resource group node "
                                                                   "not enough[rg=rg1]")
        _ok(qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL, replica_number=2,
                                                                   resource_groups=["rg1", "rg2"])))
        c.qc.check_once()
        assert c.state().state == querycoord_pb2.LOADED
        assert _replica_nodes(qc) == {"rg1": ([3], []), "rg2": ([2], [])}
        assert c.query(200, node_id=3) == [1, 2, 3] and c.query(200, node_id=2) == [1, 2, 3]
        assert dict(_describe(qc, "rg1").num_loaded_replica) == {COLL: 1}
        moved = qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL, replica_number=2,
                                                                       resource_groups=["rg1", DEFAULT]))
        assert moved.code == errors.ParameterInvalid.code and "can't change the resource groups" in moved.reason
        dropped = qc.DropResourceGroup(querycoord_pb2.DropResourceGroupRequest(name="rg2"))
        assert dropped.code == errors.ParameterInvalid.code and "release it first" in dropped.reason

        # the rg2 replica moves to the default group: node 1 takes over, node 2 drains and leaves it
        _ok(qc.TransferReplica(querycoord_pb2.TransferReplicaRequest(source="rg2", target=DEFAULT,
                                                                     collectionID=COLL, num_replica=1)))
        c.qc.check_once()
        assert _replica_nodes(qc)[DEFAULT] == ([1], [2])
        assert dict(_describe(qc, DEFAULT).num_outgoing_node) == {COLL: 1}
        assert dict(_describe(qc, "rg2").num_incoming_node) == {COLL: 1}


        def drained():
            c.qc.check_once()
            return _replica_nodes(qc)[DEFAULT] == ([1], [])

        wait_for(drained, message="node 2 drained")  # the old leader serves a grace period after the switch
        assert _replica_nodes(qc) == {"rg1": ([3], []), DEFAULT: ([1], [])}
        assert c.query(200, node_id=1) == [1, 2, 3]
        assert not c.nodes[2].GetDataDistribution(querynode_pb2.GetDataDistributionRequest()).channels
        assert dict(_describe(qc, "rg2").num_incoming_node) == {}
        _ok(qc.TransferNode(querycoord_pb2.TransferNodeRequest(source="rg2", target=DEFAULT, num_node=1)))
        _ok(qc.DropResourceGroup(querycoord_pb2.DropResourceGroupRequest(name="rg2")))
        names = qc.ListResourceGroups(querycoord_pb2.ListResourceGroupsRequest()).names
        assert list(names) == [DEFAULT, "rg1"]

        # the whole query side restarts: groups, their nodes and the replicas' groups are kept
        c.qc.stop()
        for node_id in (1, 2, 3):
            c.nodes[node_id].stop()
        c.qc = c.new_coord()
        for node_id in (1, 2, 3):
            c.add_node(node_id)
        c.qc.check_once()
        assert list(c.qc.ListResourceGroups(querycoord_pb2.ListResourceGroupsRequest()).names) == [DEFAULT, "rg1"]
        assert sorted(x.node_id for x in _describe(c.qc, "rg1").nodes) == [3]
        assert sorted(x.node_id for x in _describe(c.qc, DEFAULT).nodes) == [1, 2]
        assert _replica_nodes(c.qc) == {"rg1": ([3], []), DEFAULT: ([1, 2], [])}  # node 2 back in the default group
        assert c.state().state == querycoord_pb2.LOADED
        assert c.query(200, node_id=3) == [1, 2, 3]
    finally:
        c.close()


def test_a_node_that_leaves_is_replaced_from_the_default_group(tmp_path):
    c = Cluster(tmp_path, nodes=3)
    try:
        qc = c.qc
        c.flush(5, VCHS[0], [1], 100)
        c.tick(200)
        _ok(qc.CreateResourceGroup(querycoord_pb2.CreateResourceGroupRequest(name="rg1", config=config(1, 1))))
        assert sorted(x.node_id for x in _describe(qc, "rg1").nodes) == [3]
        _ok(qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL, resource_groups=["rg1"])))
        c.qc.check_once()
        assert _replica_nodes(qc) == {"rg1": ([3], [])}
        qc.remove_node(3)  # node 3 dies: rg1 misses a node, the default group gives node 2
        c.nodes.pop(3).stop()
        c.qc.check_once()
        assert sorted(x.node_id for x in _describe(qc, "rg1").nodes) == [2]
        assert _replica_nodes(qc) == {"rg1": ([2], [])}
        c.qc.check_once()
        assert c.query(200, node_id=2) == [1]
    finally:
        c.close()
