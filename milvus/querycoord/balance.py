"""Balancing a loaded collection's replicas over their query nodes (scale-out and scale-in).

A replica serves every vchannel of its collection on one shard leader (its growing rows,
deletes and L0 segments), and its flushed segments on any member (``segdist``: the checker
spreads and moves those by rows).  Here the unit that moves is a channel's leadership; every
channel weighs the same.

* Which nodes are members of a replica is ``placement``'s (resource groups): a node that
  joins the cluster joins a replica of its group (scale-out); a member that leaves the group,
  or stops, turns *ro* (outgoing) and is treated here like a stopping one: its channels move
  to the other (rw) members, and it stays (serving) when there is none.
* ``plan_moves`` (pure): the channel moves that bring a replica's nodes within the tolerance
  of each other, and every channel led by a stopping node (scale-in) to a live member.
* ``Balancer`` runs the moves without a failed or short read: a move first has the target
  node watch the channel and load its L0 segments while the source stays the leader, and the
  coordinator syncs the target's leader view like the source's; only once the target has the
  same view (and its tsafe caught up with the source's) does the replica's leader switch (the
  proxy's next ``GetShardLeaders`` names the target); the source keeps serving for ``grace``
  seconds more (reads resolved just before the switch), then unwatches the channel (its
  sealed segments stay until the checker releases them).  A read that still reaches the
  source afterwards is answered with a retriable error (``ChannelNotFound``) and the proxy
  asks for the leaders again.
* A stopping node that has nowhere to hand its channels to (no other live member) is let go:
  the coordinator unwatches and releases what it serves, so its graceful stop ends at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from milvus._proto import querycoord_pb2
from milvus.querycoord import segdist
from milvus.querycoord.checker import (
    Loaded,
    LoadSegments,
    NodeDist,
    ReleaseSegments,
    Task,
    UnwatchChannel,
    WatchChannel,
    leaders,
)
from milvus.querycoord.narrowing import narrowing_moves
from milvus.querycoord.target import CollectionTarget
from milvus.tso import parse_ts


@dataclass(frozen=True)
class Move:
    collection_id: int
    replica_id: int
    channel: str
    source: int
    target: int


def channel_weights(target: CollectionTarget) -> dict[str, int]:
    """Per channel: one (its sealed rows spread over the replica on their own)."""
    return dict.fromkeys(target.channels, 1)


def plan_moves(replica: querycoord_pb2.Replica, weights: Mapping[str, int], alive: Iterable[int],
               stopping: Iterable[int] = (), tolerance: float = 0.1, busy: Iterable[str] = ()) -> list[Move]:
    """Channel moves inside one replica: off stopping (or dead) leaders first, then from the
    most to the least loaded member while that narrows their gap by more than ``tolerance``
    (a fraction of the replica's mean load per node).  ``busy`` channels are not moved."""
    alive_set = set(alive)
    stop_set = set(stopping) | set(replica.ro_node_ids)  # outgoing members give their channels away too
    members = sorted(n for n in replica.node_ids if n in alive_set and n not in stop_set)
    if not members:
        return []
    busy_set = set(busy)
    lead = {c: n for c, n in leaders(replica).items() if c in weights}
    load = {n: 0 for n in members}
    for channel, node in lead.items():
        if node in load:
            load[node] += weights[channel]
    moves: list[Move] = []
    # channels on a node that leaves (or is gone): to the least loaded member, heaviest first
    for channel in sorted(lead, key=lambda c: (-weights[c], c)):
        node = lead[channel]
        if node in load or channel in busy_set:
            continue
        target = min(members, key=lambda n: (load[n], n))
        moves.append(Move(replica.collectionID, replica.id, channel, node, target))
        load[target] += weights[channel]
        lead[channel] = target
    first = {m.channel for m in moves}
    for channel, source, target in narrowing_moves(
            lead, weights.__getitem__, load, members, tolerance,
            movable=lambda c: c not in busy_set and c not in first):
        moves.append(Move(replica.collectionID, replica.id, channel, source, target))
    return moves


def _physical_ms(ts: int) -> int:
    return parse_ts(ts)[0]


class Balancer:
    """The moves in flight, kept by the query coordinator (in memory: after a restart the
    replicas' leaders are what was last switched, and planning starts again)."""

    def __init__(self, tolerance: float = 0.1, grace: float = 1.0, max_tsafe_lag_ms: int = 1000,
                 clock: Callable[[], float] = time.monotonic):
        self._tolerance = tolerance
        self._grace = grace
        self._max_lag_ms = max_tsafe_lag_ms
        self._clock = clock
        self._moves: dict[tuple[int, int, str], Move] = {}  # (collection, replica, channel)
        self._retiring: dict[tuple[int, int, str], float] = {}  # (node, collection, channel) -> until

    @property
    def moves(self) -> list[Move]:
        return sorted(self._moves.values(), key=lambda m: (m.collection_id, m.replica_id, m.channel))

    def step(self, collections: Iterable[Loaded], dist: Mapping[int, NodeDist], alive: Iterable[int],
             stopping: Iterable[int], tasks: list[Task]) -> tuple[list[Task], list[querycoord_pb2.Replica]]:
        """One round: the checker's ``tasks`` adjusted for the moves, plus the moves' own
        tasks; and the replicas whose leaders switched (to be saved before the tasks run)."""
        alive_set = set(alive)
        stop_set = set(stopping) & alive_set
        now = self._clock()
        self._retiring = {k: t for k, t in self._retiring.items() if t > now and k[0] in alive_set}
        collections = [c for c in collections if c.target is not None]
        loaded = {c.info.collectionID: c for c in collections}
        extra: list[Task] = []
        switched: list[querycoord_pb2.Replica] = []
        # (node, collection, channel) the checker's tasks (planned on the old leaders) must not undo
        keep: set[tuple[int, int, str]] = set()
        for key, move in list(self._moves.items()):
            coll = loaded.get(move.collection_id)
            replica = next((r for r in coll.replicas if r.id == move.replica_id), None) if coll else None
            if (replica is None or move.target not in alive_set or move.target in stop_set
                    or move.target in replica.ro_node_ids
                    or leaders(replica).get(move.channel) != move.source or move.target not in replica.node_ids
                    or move.channel not in coll.target.channels):
                del self._moves[key]  # the collection, the replica or a node went: plan again
                continue
            ready, todo = self._progress(move, coll.target, dist)
            if not ready:
                extra += todo
                continue
            fixed = querycoord_pb2.Replica()
            fixed.CopyFrom(replica)
            for leader in fixed.shard_leaders:
                if leader.channel_name == move.channel:
                    leader.node_id = move.target
            switched.append(fixed)
            keep.add((move.target, move.collection_id, move.channel))
            del self._moves[key]
            self._retiring[(move.source, move.collection_id, move.channel)] = now + self._grace
        # plan: one move at a time per replica
        busy_replicas = {(m.collection_id, m.replica_id) for m in self._moves.values()}
        switched_ids = {r.id for r in switched}
        for coll in collections:
            weights = channel_weights(coll.target)
            for replica in coll.replicas:
                key = (coll.info.collectionID, replica.id)
                if key in busy_replicas or replica.id in switched_ids:
                    continue
                planned = plan_moves(replica, weights, alive_set, stop_set, self._tolerance)
                if planned:
                    move = planned[0]
                    self._moves[(move.collection_id, move.replica_id, move.channel)] = move
                    extra += self._progress(move, coll.target, dist)[1]
        staged = {(m.target, m.collection_id, m.channel) for m in self._moves.values()}
        kept = _adjust(tasks, dist, staged | keep | set(self._retiring), stop_set)
        kept += _let_go(collections, dist, stop_set, alive_set, staged)
        return kept + extra, switched

    def _progress(self, move: Move, target: CollectionTarget, dist: Mapping[int, NodeDist]
                  ) -> tuple[bool, list[Task]]:
        """Whether the move's target serves the channel like its source; else what it needs."""
        cid, channel = move.collection_id, move.channel
        nd = dist.get(move.target)
        if nd is None:
            return False, []
        todo: list[Task] = []
        key = (cid, channel)
        if key not in nd.channels:
            todo.append(WatchChannel(move.target, cid, channel, move.replica_id))
        missing = tuple(sorted(s.id for s in target.sealed_of(channel) if segdist.is_l0(s)
                               and (cid, s.id) not in nd.sealed))
        if missing:  # the deletes a leader sends along with its reads
            todo.append(LoadSegments(move.target, cid, missing, move.replica_id))
        if todo:
            return False, todo
        source = dist.get(move.source)
        theirs = source.tsafe.get(key, 0) if source is not None else 0
        mine = nd.tsafe.get(key, 0)
        caught_up = _physical_ms(mine) + self._max_lag_ms >= _physical_ms(theirs)
        same_view = key in nd.serviceable and (source is None or nd.views.get(key) == source.views.get(key))
        # The source has read the channel all along: a segment flushed since the target was
        # fetched is in its growing data until the segment is loaded.  The target watched from
        # a checkpoint past such a segment's rows, so it reads them only once its view has
        # every flushed segment of the target; a view equal to the source's is not enough.
        view = nd.views.get(key, {})
        complete = all(s.id in view for s in target.sealed_of(channel) if not segdist.is_l0(s))
        return caught_up and same_view and complete, []


def _adjust(tasks: Iterable[Task], dist: Mapping[int, NodeDist], keep: set[tuple[int, int, str]],
            stopping: set[int]) -> list[Task]:
    """The checker's tasks less those that would undo a move: no unwatch of a channel a move
    stages on a node (or a source still serves in its grace period), nor release of that
    channel's segments there (the L0 segments a leader to be loaded), no new work for a
    stopping node."""
    tasks = list(tasks)
    out: list[Task] = []
    for task in tasks:
        if isinstance(task, (WatchChannel, LoadSegments)) and task.node_id in stopping:
            continue
        if isinstance(task, UnwatchChannel) and (task.node_id, task.collection_id, task.channel) in keep:
            continue
        if isinstance(task, ReleaseSegments):
            nd = dist.get(task.node_id)
            sealed = nd.sealed if nd is not None else {}
            segs = []
            for seg in task.segment_ids:
                where = (task.node_id, task.collection_id, sealed.get((task.collection_id, seg), ""))
                if where in keep:
                    continue
                segs.append(seg)
            if not segs:
                continue
            if len(segs) != len(task.segment_ids):
                task = ReleaseSegments(task.node_id, task.collection_id, tuple(segs))
        out.append(task)
    return out


def _let_go(collections: Iterable[Loaded], dist: Mapping[int, NodeDist], stopping: set[int], alive: set[int],
            staged: set[tuple[int, int, str]]) -> list[Task]:
    """Stopping nodes whose channels have nowhere to go (no other live member in their
    replica): unwatch and release what they serve, so that they can stop."""
    out: list[Task] = []
    if not stopping:
        return out
    stuck: set[tuple[int, int, str]] = set()
    for coll in collections:
        cid = coll.info.collectionID
        for replica in coll.replicas:
            others = [n for n in replica.node_ids if n in alive and n not in stopping
                      and n not in replica.ro_node_ids]
            if others:
                continue
            for channel, node in leaders(replica).items():
                if node in stopping:
                    stuck.add((node, cid, channel))
    for node in sorted(stopping):
        nd = dist.get(node)
        if nd is None:
            continue
        for cid, channel in sorted(nd.channels):
            if (node, cid, channel) in stuck:
                out.append(UnwatchChannel(node, cid, channel))
        for cid in sorted({c for c, _ in nd.sealed}):
            segs = tuple(sorted(s for (c, s), ch in nd.sealed.items() if c == cid and (node, cid, ch) in stuck
                                and (node, cid, ch) not in staged))
            if segs:
                out.append(ReleaseSegments(node, cid, segs))
    return out
