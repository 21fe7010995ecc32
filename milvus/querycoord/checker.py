"""Checkers: compare the target with the distribution and say what to do (pure functions).

The distribution is what the query nodes report (``GetDataDistribution``).  Each replica
serves every vchannel of its collection on one shard leader (growing rows and deletes), and
every flushed segment on one member node, the leader of its channel or not (``segdist``:
balanced by rows); the leader reads the others through its leader view.  Rules:

* a leader that does not watch its channel gets ``WatchChannel``;
* a flushed segment of the target its assigned node does not serve sealed gets
  ``LoadSegments``; so does a served one whose index builds differ from the target's (the
  node swaps its indexes atomically, keeping its rows);
* a node releases a sealed segment only when it is neither assigned there nor read there by a
  leader view, reported or about to be synced (``segdist.keeps``): a moved segment answers on
  its new node, and a compaction's replacements answer, before the old copy goes;
* a channel watched by a node that is not its leader is unwatched once the leader watches it;
  everything served for a collection that is not loaded is released.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from milvus._proto import querycoord_pb2, querynode_pb2
from milvus.querycoord import segdist
from milvus.querycoord.target import CollectionTarget


@dataclass
class NodeDist:
    """One query node's report: watched channels and sealed segments, per collection."""

    node_id: int
    channels: set[tuple[int, str]] = field(default_factory=set)
    sealed: dict[tuple[int, int], str] = field(default_factory=dict)  # (collection, segment) -> channel
    # (collection, segment) -> the index builds the node searches that sealed segment with
    index_builds: dict[tuple[int, int], frozenset[int]] = field(default_factory=dict)
    tsafe: dict[tuple[int, str], int] = field(default_factory=dict)  # (collection, channel) -> tsafe
    # (collection, channel) -> the leader view it reads with (segment -> node); watched channels only
    views: dict[tuple[int, str], dict[int, int]] = field(default_factory=dict)
    serviceable: set[tuple[int, str]] = field(default_factory=set)  # channels whose view was synced
    partition_of: dict[tuple[int, int], int] = field(default_factory=dict)  # (collection, segment) -> partition

    @classmethod
    def from_proto(cls, node_id: int, resp: querynode_pb2.GetDataDistributionResponse) -> NodeDist:
        dist = cls(node_id)
        dist.channels = {(c.collectionID, c.channel_name) for c in resp.channels}
        dist.tsafe = {(c.collectionID, c.channel_name): c.tsafe for c in resp.channels}
        dist.sealed = {(s.collectionID, s.id): s.channel for s in resp.segments if s.sealed}
        dist.index_builds = {(s.collectionID, s.id): frozenset(s.index_build_ids) for s in resp.segments if s.sealed}
        dist.views = {(c.collectionID, c.channel_name): {v.segmentID: v.node_id for v in c.leader_view}
                      for c in resp.channels}
        dist.serviceable = {(c.collectionID, c.channel_name) for c in resp.channels if c.serviceable}
        dist.partition_of = {(s.collectionID, s.id): s.partitionID for s in resp.segments if s.sealed}
        return dist

    def sealed_of(self, collection_id: int) -> dict[int, str]:
        return {seg: ch for (coll, seg), ch in self.sealed.items() if coll == collection_id}


@dataclass(frozen=True)
class WatchChannel:
    node_id: int
    collection_id: int
    channel: str
    replica_id: int


@dataclass(frozen=True)
class UnwatchChannel:
    node_id: int
    collection_id: int
    channel: str


@dataclass(frozen=True)
class LoadSegments:
    node_id: int
    collection_id: int
    segment_ids: tuple[int, ...]
    replica_id: int


@dataclass(frozen=True)
class ReleaseSegments:
    node_id: int
    collection_id: int
    segment_ids: tuple[int, ...]


Task = WatchChannel | UnwatchChannel | LoadSegments | ReleaseSegments


@dataclass(frozen=True)
class Loaded:
    """A loaded collection as the checker sees it."""

    info: querycoord_pb2.CollectionLoadInfo
    replicas: list[querycoord_pb2.Replica]
    target: CollectionTarget | None
    pinned: Mapping[int, int] = field(default_factory=dict)  # segment -> node (LoadBalance)


def leaders(replica: querycoord_pb2.Replica) -> dict[str, int]:
    return {leader.channel_name: leader.node_id for leader in replica.shard_leaders}


@dataclass(frozen=True)
class ReplicaPlan:
    """Where one replica's sealed segments go, and the leader view of each channel."""

    replica: querycoord_pb2.Replica
    assigned: dict[int, int]  # segment -> node
    views: dict[str, segdist.View]  # channel -> the view its leader (and a leader to be) should have
    reported: dict[str, list[dict[int, int]]]  # channel -> the views members watching it report now


def plan_replica(cid: int, replica: querycoord_pb2.Replica, target: CollectionTarget, dist: Mapping[int, NodeDist],
                 stopping: Iterable[int] = (), rebalance: bool = True,
                 pinned: Mapping[int, int] | None = None) -> ReplicaPlan:
    lead = leaders(replica)
    reachable = [n for n in replica.node_ids if n in dist]
    served: dict[int, set[int]] = {}
    served_here: dict[int, str] = {}
    for node in reachable:
        for seg, channel in dist[node].sealed_of(cid).items():
            served.setdefault(seg, set()).add(node)
            served_here[seg] = channel
    current: dict[str, dict[int, int]] = {}
    reported: dict[str, list[dict[int, int]]] = {}
    for channel in target.channels:
        leader = dist.get(lead.get(channel, 0))
        current[channel] = leader.views.get((cid, channel), {}) if leader is not None else {}
        reported[channel] = [dist[n].views[(cid, channel)] for n in reachable if (cid, channel) in dist[n].views]
    viewed = {seg: node for view in current.values() for seg, node in view.items()}
    assigned = segdist.assign(target, lead, segdist.members(replica, reachable, stopping), served, viewed,
                              rebalance=rebalance, pinned=pinned)
    views = {channel: segdist.leader_view(channel, target, assigned, served, current[channel], served_here)
             for channel in target.channels}
    return ReplicaPlan(replica, assigned, views, reported)


def assign_replicas(collection_id: int, replica_ids: list[int], nodes: Iterable[int],
                    channels: Iterable[str]) -> list[querycoord_pb2.Replica]:
    """New replicas over ``nodes`` (each node in one replica), channels spread round-robin."""
    nodes = sorted(nodes)
    channels = sorted(channels)
    count = len(replica_ids)
    replicas = []
    for i, replica_id in enumerate(replica_ids):
        members = nodes[i::count]
        replica = querycoord_pb2.Replica(id=replica_id, collectionID=collection_id, node_ids=members)
        for j, channel in enumerate(channels):
            replica.shard_leaders.add(channel_name=channel, node_id=members[j % len(members)])
        replicas.append(replica)
    return replicas


def fix_replicas(replicas: list[querycoord_pb2.Replica], channels: Iterable[str],
                 alive: Iterable[int], move_off_ro: bool = False) -> list[querycoord_pb2.Replica]:
    """The replicas that need a change (copies): dead members dropped, channels without a live
    leader among the members given one (a rw member, else an ro one: see ``placement``);
    with ``move_off_ro`` (no balancer to move them without a gap) channels led by an ro
    member go to a rw member at once."""
    alive_set = set(alive)
    changed = []
    for replica in replicas:
        members = [n for n in replica.node_ids if n in alive_set]
        ro = [n for n in replica.ro_node_ids if n in members]
        rw = sorted(n for n in members if n not in ro)
        current = leaders(replica)
        new_leaders = {}
        for j, channel in enumerate(sorted(channels)):
            node = current.get(channel)
            if node not in members or (move_off_ro and node in ro and rw):
                pool = rw or sorted(ro)
                node = pool[j % len(pool)] if pool else 0
            new_leaders[channel] = node
        if members != list(replica.node_ids) or ro != list(replica.ro_node_ids) or new_leaders != current:
            fixed = querycoord_pb2.Replica()
            fixed.CopyFrom(replica)
            del fixed.node_ids[:], fixed.ro_node_ids[:], fixed.shard_leaders[:]
            fixed.node_ids.extend(members)
            fixed.ro_node_ids.extend(ro)
            for channel, node in sorted(new_leaders.items()):
                fixed.shard_leaders.add(channel_name=channel, node_id=node)
            changed.append(fixed)
    return changed


def check(collections: Iterable[Loaded], dist: Mapping[int, NodeDist], stopping: Iterable[int] = (),
          rebalance: bool = True) -> list[Task]:
    """Every task that brings the distribution closer to the targets (``stopping`` nodes get
    no segments; ``rebalance``: segments also move to even out rows)."""
    tasks: list[Task] = []
    loaded_ids = set()
    stopping = set(stopping)
    for coll in collections:
        loaded_ids.add(coll.info.collectionID)
        if coll.target is not None:
            plans = [plan_replica(coll.info.collectionID, r, coll.target, dist, stopping, rebalance, coll.pinned)
                     for r in coll.replicas]
            tasks += _check_collection(coll, coll.target, dist, plans)
    # whatever a node serves for a collection that is not loaded goes
    for node_id, nd in sorted(dist.items()):
        for coll_id, channel in sorted(nd.channels):
            if coll_id not in loaded_ids:
                tasks.append(UnwatchChannel(node_id, coll_id, channel))
        stray: dict[int, list[int]] = {}
        for (coll_id, seg), _ in sorted(nd.sealed.items()):
            if coll_id not in loaded_ids:
                stray.setdefault(coll_id, []).append(seg)
        tasks += [ReleaseSegments(node_id, c, tuple(segs)) for c, segs in sorted(stray.items())]
    return tasks


def _check_collection(coll: Loaded, target: CollectionTarget, dist: Mapping[int, NodeDist],
                      plans: list[ReplicaPlan]) -> list[Task]:
    cid = coll.info.collectionID
    tasks: list[Task] = []
    wanted_channels: dict[int, set[str]] = {}  # node -> channels it leads
    for plan in plans:
        replica = plan.replica
        lead = leaders(replica)
        for channel in sorted(target.channels):
            node = lead.get(channel, 0)
            nd = dist.get(node)
            if nd is None:
                continue  # no live leader yet: fix_replicas assigns one
            wanted_channels.setdefault(node, set()).add(channel)
            if (cid, channel) not in nd.channels:
                tasks.append(WatchChannel(node, cid, channel, replica.id))
        # sealed segments, per assigned node: missing ones, and served ones whose index builds
        # differ from the target's (the node swaps their indexes: the index hand-off)
        missing: dict[int, list[int]] = {}
        for seg_id, node in sorted(plan.assigned.items()):
            nd = dist.get(node)
            if nd is None:
                continue
            if (cid, seg_id) not in nd.sealed or nd.index_builds.get((cid, seg_id), frozenset()) != \
                    target.index_builds(seg_id):
                missing.setdefault(node, []).append(seg_id)
        tasks += [LoadSegments(node, cid, tuple(segs), replica.id) for node, segs in sorted(missing.items())]

    plan_of = {n: plan for plan in plans for n in plan.replica.node_ids}
    for node_id, nd in sorted(dist.items()):
        plan = plan_of.get(node_id)
        extra = []
        for seg_id, channel in sorted(nd.sealed_of(cid).items()):
            if plan is not None:
                view = plan.views.get(channel)
                views = [*plan.reported.get(channel, ()), *([view.nodes] if view is not None else [])]
                if segdist.keeps(node_id, seg_id, plan.assigned, views):
                    continue
            extra.append(seg_id)
        if extra:
            tasks.append(ReleaseSegments(node_id, cid, tuple(extra)))
        for coll_id, channel in sorted(nd.channels):
            if coll_id != cid or channel in wanted_channels.get(node_id, ()):
                continue
            # the channel moved (or went): unwatch once a leader of it serves it
            if channel not in target.channels or any((cid, channel) in d.channels for n, d in dist.items()
                                                     if channel in wanted_channels.get(n, ())):
                tasks.append(UnwatchChannel(node_id, cid, channel))
    return tasks


def progress(coll: Loaded, dist: Mapping[int, NodeDist]) -> int:
    """Percent of the target served: channels watched by their leaders with a synced view, and
    sealed segments each leader view reads on a node serving them, over all replicas."""
    target = coll.target
    if target is None:
        return 0
    cid = coll.info.collectionID
    total = done = 0
    for replica in coll.replicas:
        lead = leaders(replica)
        for channel in target.channels:
            total += 1
            nd = dist.get(lead.get(channel, 0))
            done += nd is not None and (cid, channel) in nd.channels and (cid, channel) in nd.serviceable
        for seg_id, info in target.sealed.items():
            total += 1
            nd = dist.get(lead.get(info.insert_channel, 0))
            node = nd.views.get((cid, info.insert_channel), {}).get(seg_id) if nd is not None else None
            holder = dist.get(node) if node is not None else None
            done += holder is not None and (cid, seg_id) in holder.sealed
    if not coll.replicas:
        return 0
    return 100 if total == 0 else done * 100 // total
