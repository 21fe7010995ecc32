"""Query balancing (milvus/querycoord/balance.py): the pure planning, the staged moves of the
Balancer, and a query coordinator with real query nodes moving channels to a node that
joins and off a node that stops, with every read complete in between."""

from __future__ import annotations

import threading
import time

from milvus import errors
from milvus._proto import datacoord_pb2, internal_pb2, querycoord_pb2, querynode_pb2
from milvus.querycoord import balance
from milvus.querycoord import checker as chk
from milvus.querycoord.target import CollectionTarget
from milvus.tso import compose_ts
from tests.conftest import wait_for
from tests.readpath import ids_list
from tests.unit.test_querycoord import COLL, VCHS, Cluster

RECENT_TS = compose_ts(100_000, 0)
RETRIABLE = {errors.CollectionNotLoaded.code, errors.ChannelNotFound.code, errors.ServiceNotReady.code}


def _replica(leaders: dict[str, int], nodes: list[int], rid: int = 7, cid: int = 1) -> querycoord_pb2.Replica:
    r = querycoord_pb2.Replica(id=rid, collectionID=cid, node_ids=nodes)
    for channel, node in sorted(leaders.items()):
        r.shard_leaders.add(channel_name=channel, node_id=node)
    return r


# ---- pure planning ---------------------------------------------------------------------------


def test_channels_weigh_the_same_their_sealed_rows_spread_on_their_own():
    seg = datacoord_pb2.SegmentInfo(id=1, insert_channel="a", num_of_rows=10, state=datacoord_pb2.FLUSHED)
    target = CollectionTarget(1, b"", {"a": datacoord_pb2.VchannelInfo(), "b": datacoord_pb2.VchannelInfo()},
                              {1: seg})
    assert balance.channel_weights(target) == {"a": 1, "b": 1}


def test_a_joining_node_gets_channels_until_within_tolerance():
    weights = {"a": 100, "b": 90, "c": 10, "d": 5}
    replica = _replica({c: 1 for c in weights}, [1, 2])
    moves = balance.plan_moves(replica, weights, alive=[1, 2])
    assert moves  # node 2 gets channels
    load = {1: 0, 2: 0}
    lead = chk.leaders(replica)
    for m in moves:
        assert m.source == 1 and m.target == 2 and m.replica_id == 7
        lead[m.channel] = m.target
    for c, n in lead.items():
        load[n] += weights[c]
    assert abs(load[1] - load[2]) <= 20  # 205 rows: 100+5 / 90+10 at best
    # balanced already: nothing moves; and no ping-pong of a single heavy channel
    assert balance.plan_moves(_replica({"a": 1, "b": 2}, [1, 2]), {"a": 100, "b": 95}, [1, 2]) == []
    assert balance.plan_moves(_replica({"a": 1}, [1, 2]), {"a": 100}, [1, 2]) == []
    # busy channels stay
    assert all(m.channel != "a" for m in balance.plan_moves(replica, weights, [1, 2], busy=["a"]))


def test_channels_of_a_stopping_node_move_to_the_least_loaded_members():
    weights = {"a": 50, "b": 40, "c": 30}
    replica = _replica({"a": 1, "b": 1, "c": 2}, [1, 2, 3])
    moves = balance.plan_moves(replica, weights, alive=[1, 2, 3], stopping=[1])
    off = {m.channel: m.target for m in moves if m.source == 1}
    assert set(off) == {"a", "b"} and off["a"] == 3 and off["b"] == 2
    # no member left to take them: nothing planned (the balancer lets the node go)
    assert balance.plan_moves(_replica({"a": 1}, [1]), {"a": 5}, alive=[1], stopping=[1]) == []


def test_channels_of_ro_members_move_to_the_rw_ones():
    replica = _replica({"a": 1, "b": 2}, [1, 2, 3])
    replica.ro_node_ids.append(1)  # node 1 left the replica's resource group
    moves = balance.plan_moves(replica, {"a": 1, "b": 1}, alive=[1, 2, 3])
    assert [(m.channel, m.source, m.target) for m in moves] == [("a", 1, 3)]
    replica.ro_node_ids.extend([2, 3])  # nowhere to go: they stay where they are
    assert balance.plan_moves(replica, {"a": 1, "b": 1}, alive=[1, 2, 3]) == []


# ---- the staged move -------------------------------------------------------------------------


def _loaded(replica, sealed=()):
    target = CollectionTarget(1, b"", {c: datacoord_pb2.VchannelInfo(channelName=c) for c in ("a", "b")},
                              {s.id: s for s in sealed})
    info = querycoord_pb2.CollectionLoadInfo(collectionID=1, replica_number=1)
    return chk.Loaded(info, [replica], target)


def _dist(node, channels, sealed, ts=RECENT_TS, views=None):
    d = chk.NodeDist(node)
    d.channels = {(1, c) for c in channels}
    d.tsafe = {(1, c): ts for c in channels}
    d.sealed = {(1, s): c for s, c in sealed.items()}
    d.views = {(1, c): dict(v) for c, v in (views or {}).items()}
    d.serviceable = set(d.views)
    return d


def test_a_move_syncs_the_target_view_first_switches_the_leader_then_retires_the_source():
    now = [0.0]
    b = balance.Balancer(grace=1.0, clock=lambda: now[0])
    segs = [datacoord_pb2.SegmentInfo(id=10, insert_channel="a", num_of_rows=50, state=datacoord_pb2.FLUSHED),
            datacoord_pb2.SegmentInfo(id=11, insert_channel="b", num_of_rows=40, state=datacoord_pb2.FLUSHED),
            datacoord_pb2.SegmentInfo(id=12, insert_channel="a", level=datacoord_pb2.SEGMENT_LEVEL_L0,
                                      state=datacoord_pb2.FLUSHED)]
    replica = _replica({"a": 1, "b": 1}, [1, 2], cid=1)
    view = {10: 1, 12: 1}
    dist = {1: _dist(1, ["a", "b"], {10: "a", 11: "b", 12: "a"}, views={"a": view, "b": {11: 1}}),
            2: _dist(2, [], {})}
    coll = _loaded(replica, segs)
    tasks, switched = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert switched == []
    assert [m.channel for m in b.moves] == ["a"]
    # the move: watch and the channel's L0 segment (its deletes); the checker spreads sealed rows
    assert chk.WatchChannel(2, 1, "a", 7) in tasks and chk.LoadSegments(2, 1, (12,), 7) in tasks
    assert chk.LoadSegments(2, 1, (10,), 7) in tasks

    # node 2 watches "a" with its L0 segment, but its view is not synced yet: no switch
    dist[2] = _dist(2, ["a"], {12: "a"})
    tasks, switched = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert switched == [] and not any(isinstance(t, chk.UnwatchChannel) for t in tasks)

    # synced like the source, but its tsafe is far behind: still no switch
    dist[2] = _dist(2, ["a"], {12: "a"}, ts=compose_ts(1, 0), views={"a": view})
    tasks, switched = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert switched == []

    dist[2] = _dist(2, ["a"], {12: "a"}, views={"a": view})
    tasks, switched = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert [chk.leaders(r) for r in switched] == [{"a": 2, "b": 1}]
    assert b.moves == []
    coll = _loaded(switched[0], segs)
    # the source keeps serving for the grace period...
    tasks, _ = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert not any(isinstance(t, chk.UnwatchChannel) for t in tasks)
    # ...then unwatches the channel (its sealed segments go once no view reads them there)
    now[0] = 5.0
    tasks, _ = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert chk.UnwatchChannel(1, 1, "a") in tasks


def test_a_move_waits_until_the_target_view_has_every_flushed_segment():
    """Segment 13 was flushed after the source started reading the channel: the source still
    has its rows as growing data, the target (watching from a later checkpoint) has them only
    in the sealed segment.  Equal views that lack it do not make the target ready."""
    b = balance.Balancer(grace=1.0, clock=lambda: 0.0)
    segs = [datacoord_pb2.SegmentInfo(id=10, insert_channel="a", num_of_rows=50, state=datacoord_pb2.FLUSHED),
            datacoord_pb2.SegmentInfo(id=13, insert_channel="a", num_of_rows=60, state=datacoord_pb2.FLUSHED),
            datacoord_pb2.SegmentInfo(id=11, insert_channel="b", num_of_rows=40, state=datacoord_pb2.FLUSHED)]
    replica = _replica({"a": 1, "b": 1}, [1, 2], cid=1)
    coll = _loaded(replica, segs)
    partial = {10: 1}  # 13 is served nowhere yet
    dist = {1: _dist(1, ["a", "b"], {10: "a", 11: "b"}, views={"a": partial, "b": {11: 1}}),
            2: _dist(2, ["a"], {}, views={"a": partial})}
    _, switched = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert switched == [] and [m.channel for m in b.moves] == ["a"]  # planned
    _, switched = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert switched == [] and [m.channel for m in b.moves] == ["a"]  # watched, synced, caught up: not ready

    full = {10: 1, 13: 2}  # loaded on node 2, both views synced
    dist[1].views[(1, "a")] = dict(full)
    dist[2] = _dist(2, ["a"], {13: "a"}, views={"a": full})
    _, switched = b.step([coll], dist, [1, 2], [], chk.check([coll], dist))
    assert [chk.leaders(r) for r in switched] == [{"a": 2, "b": 1}]


def test_a_stopping_node_with_nowhere_to_go_is_let_go():
    b = balance.Balancer()
    replica = _replica({"a": 1, "b": 1}, [1])
    dist = {1: _dist(1, ["a", "b"], {10: "a"})}
    coll = _loaded(replica, [datacoord_pb2.SegmentInfo(id=10, insert_channel="a", state=datacoord_pb2.FLUSHED)])
    tasks, switched = b.step([coll], dist, [1], [1], chk.check([coll], dist))
    assert switched == []
    assert chk.UnwatchChannel(1, 1, "a") in tasks and chk.UnwatchChannel(1, 1, "b") in tasks
    # and no new work is given to it
    dist = {1: _dist(1, [], {})}
    tasks, _ = b.step([coll], dist, [1], [1], chk.check([coll], dist))
    assert not any(isinstance(t, (chk.WatchChannel, chk.LoadSegments)) for t in tasks)


# ---- with real query nodes -------------------------------------------------------------------


def _read_all(c: Cluster, ts: int, leaders=None) -> list[int] | None:
    """A read as the proxy does it: per shard leader, that node for its channels; None when a
    leader answered a retriable error (the proxy asks for the leaders again)."""
    if leaders is None:
        resp = c.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL))
        assert resp.status.code == 0, resp.status.reason
        leaders = {sl.channel_name: sl.node_id for sl in resp.replicas[0].shard_leaders}
    ids = []
    for node_id in sorted(set(leaders.values())):
        channels = [ch for ch, n in leaders.items() if n == node_id]
        resp = c.nodes[node_id].Query(querynode_pb2.ShardRequest(collectionID=COLL, channels=channels,
                                                                 guarantee_ts=ts))
        if resp.status.code in RETRIABLE:
            return None
        assert resp.status.code == 0, resp.status.reason
        ids += ids_list(resp.ids)
    return sorted(ids)


def _leaders(c: Cluster) -> dict[str, int]:
    return chk.leaders(c.qc._meta.replicas(COLL)[0])


def test_scale_out_then_graceful_scale_in_keep_every_read_complete(tmp_path):
    c = Cluster(tmp_path, nodes=1)
    try:
        rows = {}
        seg = 100
        for i, vch in enumerate(VCHS):
            for j in range(3):
                pks = list(range(1000 * i + 10 * j, 1000 * i + 10 * j + 5))
                c.flush(seg, vch, pks, 100)
                rows.update(dict.fromkeys(pks))
                seg += 1
        c.tick(200)
        everything = sorted(rows)
        c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
        c.qc.check_once()
        assert c.state().state == querycoord_pb2.LOADED
        assert _read_all(c, 200) == everything
        assert set(_leaders(c).values()) == {1}

        # scale-out: node 2 joins; rounds move one channel to it, every read complete meanwhile
        c.add_node(2)
        _rounds_until(c, everything, lambda: set(_leaders(c).values()) == {1, 2} and not c.qc._balancer.moves,
                      "a channel moved to node 2")
        assert list(c.qc._meta.replicas(COLL)[0].node_ids) == [1, 2]
        # the source lets go after its grace period
        _rounds_until(c, everything, lambda: len(_dist_channels(c, 1)) == 1, "node 1 unwatched the moved channel")
        assert len(_dist_channels(c, 2)) == 1

        # scale-in: node 1 drains (says STOPPING, serves on); its channel moves to node 2, then it is empty
        drained = []
        drain = threading.Thread(target=lambda: drained.append(c.nodes[1].drain(timeout=30.0)))
        drain.start()
        try:
            wait_for(lambda: c.nodes[1].GetComponentStates(internal_pb2.GetComponentStatesRequest()).state.state
                     == internal_pb2.STOPPING, message="node 1 stopping")
            _rounds_until(c, everything, lambda: not _dist_channels(c, 1) and set(_leaders(c).values()) == {2},
                          "node 1's channel moved to node 2")
        finally:
            drain.join(timeout=60)
        assert drained == [True]  # drained, not timed out
    finally:
        c.close()


def _rounds_until(c: Cluster, everything: list[int], done, what: str, timeout: float = 20.0) -> None:
    """Checker rounds until ``done()``; after each, a fresh read and one through the leaders
    known before the round (a proxy that resolved just before) are complete (or retriable)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        before = _leaders(c)
        c.qc.check_once()
        assert _read_all(c, 200) == everything
        stale = _read_all(c, 200, leaders=before)
        assert stale is None or stale == everything


def _dist_channels(c: Cluster, node_id: int) -> set[str]:
    resp = c.nodes[node_id].GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    return {ch.channel_name for ch in resp.channels}


# ---- data node channels ----------------------------------------------------------------------


def test_data_node_channels_are_rebalanced_when_a_node_joins(tmp_path):
    from milvus.datacoord.channels import ChannelManager
    from milvus.kv.local import LocalKV
    from milvus.metastore.datacoord_catalog import DataCoordCatalog

    kv = LocalKV(str(tmp_path / "kv.sqlite3"))
    try:
        manager = ChannelManager(DataCoordCatalog(kv))
        manager.add_node(1, object())
        manager.watch(1, [f"v{i}" for i in range(5)], b"schema")
        assert {w.node_id for w in manager.all()} == {1}
        assert manager.rebalance() == []  # one node: nothing to even out
        manager.add_node(2, object())
        moves = manager.rebalance()
        assert [(old, w.vchannel, w.node_id) for old, w in moves] == [(1, "v4", 2), (1, "v3", 2)]
        assert sorted(w.node_id for w in manager.all()) == [1, 1, 1, 2, 2]
        assert manager.rebalance() == []
        # the new owners are persisted
        again = ChannelManager(DataCoordCatalog(kv))
        again.recover()
        assert {w.vchannel: w.node_id for w in again.all()} == {w.vchannel: w.node_id for w in manager.all()}
    finally:
        kv.close()
