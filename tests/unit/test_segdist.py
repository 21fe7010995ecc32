"""Segment-level distribution inside a replica (milvus/querycoord/segdist.py and the checker's
use of it): sealed segments spread over the replica's members by rows, move on join and
leave, and the leader view switches before a source copy is released."""

from __future__ import annotations

from milvus._proto import datacoord_pb2, querycoord_pb2
from milvus.querycoord import checker as chk
from milvus.querycoord import segdist
from milvus.querycoord.target import CollectionTarget

L1, L0 = datacoord_pb2.SEGMENT_LEVEL_L1, datacoord_pb2.SEGMENT_LEVEL_L0


def _target(rows: dict[int, int], channel="a", l0=(), replaced=None) -> CollectionTarget:
    sealed = {s: datacoord_pb2.SegmentInfo(id=s, insert_channel=channel, num_of_rows=n, state=datacoord_pb2.FLUSHED,
                                           level=L1, compaction_from=(replaced or {}).get(s, ()))
              for s, n in rows.items()}
    for s in l0:
        sealed[s] = datacoord_pb2.SegmentInfo(id=s, insert_channel=channel, state=datacoord_pb2.FLUSHED, level=L0)
    return CollectionTarget(1, b"", {channel: datacoord_pb2.VchannelInfo(channelName=channel)}, sealed)


def _load(target: CollectionTarget, assigned: dict[int, int], nodes) -> dict[int, int]:
    load = dict.fromkeys(nodes, 0)
    for seg, node in assigned.items():
        if not segdist.is_l0(target.sealed[seg]):
            load[node] += target.sealed[seg].num_of_rows
    return load


def test_new_segments_spread_over_members_by_rows_and_l0_stays_with_the_leader():
    target = _target({1: 900, 2: 500, 3: 400, 4: 300, 5: 200, 6: 100}, l0=[9])
    assigned = segdist.assign(target, {"a": 1}, [1, 2, 3], served={}, viewed={})
    assert assigned[9] == 1
    load = _load(target, assigned, [1, 2, 3])
    assert max(load.values()) - min(load.values()) <= 200  # heaviest first, each to the lightest member
    assert set(assigned.values()) == {1, 2, 3}


def test_served_segments_stay_put_when_balanced():
    target = _target({1: 100, 2: 100, 3: 100, 4: 100})
    served = {1: {1}, 2: {2}, 3: {1}, 4: {2}}
    assert segdist.assign(target, {"a": 1}, [1, 2], served, viewed={}) == {1: 1, 2: 2, 3: 1, 4: 2}


def test_a_joining_member_takes_segments_until_within_tolerance():
    target = _target({1: 100, 2: 100, 3: 100, 4: 100, 5: 100, 6: 100})
    served = {s: {1} for s in range(1, 7)}
    viewed = dict.fromkeys(range(1, 7), 1)
    assigned = segdist.assign(target, {"a": 1}, [1, 2, 3], served, viewed)
    assert sorted(_load(target, assigned, [1, 2, 3]).values()) == [200, 200, 200]
    # without rebalancing nothing that is served moves
    assert segdist.assign(target, {"a": 1}, [1, 2, 3], served, viewed, rebalance=False) == \
        dict.fromkeys(range(1, 7), 1)
    # one heavy segment does not ping-pong
    heavy = _target({1: 1000})
    assert segdist.assign(heavy, {"a": 1}, [1, 2], {1: {1}}, {1: 1}) == {1: 1}


def test_segments_of_a_leaving_member_go_to_the_others():
    target = _target({1: 100, 2: 100, 3: 100, 4: 100})
    served = {1: {1}, 2: {2}, 3: {3}, 4: {3}}
    replica = querycoord_pb2.Replica(id=7, collectionID=1, node_ids=[1, 2, 3])
    nodes = segdist.members(replica, reachable=[1, 2, 3], stopping=[3])
    assert nodes == [1, 2]
    assigned = segdist.assign(target, {"a": 1}, nodes, served, viewed={})
    assert assigned[1] == 1 and assigned[2] == 2 and {assigned[3], assigned[4]} == {1, 2}
    # a member that went (not reachable) is no member either
    assert segdist.members(replica, reachable=[1, 3]) == [1, 3]


def test_the_view_moves_a_segment_only_once_its_new_node_serves_it():
    target = _target({1: 100})
    current = {1: 1}
    # assigned to 2, served only on 1 yet: the view still reads it on 1
    assert segdist.leader_view("a", target, {1: 2}, {1: {1}}, current, {1: "a"}).nodes == {1: 1}
    # served on both: the view switches to 2
    assert segdist.leader_view("a", target, {1: 2}, {1: {1, 2}}, current, {1: "a"}).nodes == {1: 2}
    # its node went and nobody serves it: the view keeps it there (reads fail, never short)
    assert segdist.leader_view("a", target, {1: 2}, {}, current, {}).nodes == {1: 1}
    # not served anywhere and never in the view (a fresh hand-off): the growing copy serves
    assert segdist.leader_view("a", target, {1: 2}, {}, {}, {}).nodes == {}


def test_compaction_sources_stay_in_the_view_until_the_result_serves():
    target = _target({8: 300}, replaced={8: (5, 6)})
    current = {5: 1, 6: 2}
    served_here = {5: "a", 6: "a"}
    view = segdist.leader_view("a", target, {8: 2}, {5: {1}, 6: {2}}, current, served_here)
    assert view.nodes == {5: 1, 6: 2} and view.dropped == ()
    served_here[8] = "a"
    view = segdist.leader_view("a", target, {8: 2}, {5: {1}, 6: {2}, 8: {2}}, current, served_here)
    assert view.nodes == {8: 2} and view.dropped == (5, 6)


def _node(node_id, sealed, channels=(), views=None):
    d = chk.NodeDist(node_id)
    d.channels = {(1, c) for c in channels}
    d.sealed = {(1, s): "a" for s in sealed}
    d.views = {(1, c): dict(v) for c, v in (views or {}).items()}
    d.serviceable = set(d.views)
    return d


def test_the_source_copy_is_released_only_after_the_leader_view_moved():
    target = _target({1: 100, 2: 100})
    replica = querycoord_pb2.Replica(id=7, collectionID=1, node_ids=[1, 2])
    replica.shard_leaders.add(channel_name="a", node_id=1)
    coll = chk.Loaded(querycoord_pb2.CollectionLoadInfo(collectionID=1), [replica], target)
    # both on the leader: one moves to node 2 (loaded there first)
    dist = {1: _node(1, [1, 2], ["a"], {"a": {1: 1, 2: 1}}), 2: _node(2, [])}
    tasks = chk.check([coll], dist)
    moving = next(t for t in tasks if isinstance(t, chk.LoadSegments))
    assert moving.node_id == 2 and len(moving.segment_ids) == 1
    seg = moving.segment_ids[0]
    assert not any(isinstance(t, chk.ReleaseSegments) for t in tasks)
    # node 2 serves it, the view still reads it on node 1: nothing released yet
    dist[2] = _node(2, [seg])
    assert not any(isinstance(t, chk.ReleaseSegments) for t in chk.check([coll], dist))
    plan = chk.plan_replica(1, replica, target, dist)
    assert plan.views["a"].nodes[seg] == 2  # the view to sync
    # the leader reports the new view: node 1 lets its copy go
    dist[1] = _node(1, [1, 2], ["a"], {"a": {**plan.views["a"].nodes}})
    assert chk.ReleaseSegments(1, 1, (seg,)) in chk.check([coll], dist)
    # progress counts the segments the leader view reads where they are served
    assert chk.progress(coll, dist) == 100
    dist[2] = _node(2, [])
    assert chk.progress(coll, dist) < 100


def test_pinned_segments_go_to_their_node_and_are_never_rebalanced():
    target = _target({1: 100, 2: 100, 3: 100, 4: 100})
    served = {1: {1}, 2: {1}, 3: {2}, 4: {2}}
    viewed = {1: 1, 2: 1, 3: 2, 4: 2}
    # LoadBalance put 1 and 2 on node 3 and 4 on node 3 too: node 3 holds three segments, node 1 none
    pinned = {1: 3, 2: 3, 4: 3}
    assigned = segdist.assign(target, {"a": 1}, [1, 2, 3], served, viewed, pinned=pinned)
    assert {s: assigned[s] for s in pinned} == pinned
    assert assigned[3] == 2  # the most loaded node's segments are all pinned: nothing to narrow the gap with
    # a pin to a node that is not a member (gone, or stopping) waits: the segment is placed as usual
    assert segdist.assign(target, {"a": 1}, [1, 2], served, viewed, pinned={1: 3}) == {1: 1, 2: 1, 3: 2, 4: 2}
