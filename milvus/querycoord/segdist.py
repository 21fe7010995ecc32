"""Segment-level distribution inside a replica (pure functions).

Every sealed segment of a loaded collection is served, per replica, by one member node,
not necessarily the leader of its channel; the leader (delegator) reads the channel's other
sealed segments on the nodes its *leader view* names (``SyncDistribution``).

* ``assign``: the node of each target segment.  An L0 segment (deletes only) goes to its
  channel's leader, which sends its deletes along with every read.  A segment pinned to a
  member (LoadBalance) goes there and stays; any other segment stays where the leader view
  reads it (or where a member serves it); a segment served nowhere goes to the member with
  the fewest rows; then, with ``rebalance``, unpinned segments move from the most to the least
  loaded member while that narrows their gap by more than ``tolerance`` (a fraction of the
  mean rows per member).  Stopping, unreachable and outgoing (ro) members get nothing (a pin
  to one waits).
* ``leader_view``: what a channel's leader should read, from what the members serve now: a
  target segment on its assigned node once that node serves it, else where the view had it
  (even on a node that went: the read then fails, retriably, and is never short), else on any
  member serving it.  Until every target segment is in the view, served segments that left
  the target (compaction sources) stay in it too.
* ``keeps``: whether a node must keep serving a segment: it is assigned there, or a leader
  view (reported or about to be synced) reads it there.  So a move loads the target node
  first, switches the view, then releases the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from milvus._proto import datacoord_pb2, querycoord_pb2
from milvus.querycoord.narrowing import narrowing_moves
from milvus.querycoord.target import CollectionTarget


def is_l0(info: datacoord_pb2.SegmentInfo) -> bool:
    return info.level == datacoord_pb2.SEGMENT_LEVEL_L0 or (not info.binlogs and bool(info.deltalogs))


@dataclass(frozen=True)
class View:
    """One channel's leader view: segment -> node, and the segments leaving reads."""

    nodes: dict[int, int]
    dropped: tuple[int, ...] = ()


def members(replica: querycoord_pb2.Replica, reachable: Iterable[int], stopping: Iterable[int] = ()) -> list[int]:
    """The members that may take segments: reachable, not stopping, not outgoing (ro)."""
    up = set(reachable) - set(stopping) - set(replica.ro_node_ids)
    return sorted(n for n in replica.node_ids if n in up)


def assign(target: CollectionTarget, lead: Mapping[str, int], nodes: list[int], served: Mapping[int, set[int]],
           viewed: Mapping[int, int], rebalance: bool = True, tolerance: float = 0.1,
           pinned: Mapping[int, int] | None = None) -> dict[int, int]:
    """Segment -> node for one replica.  ``lead``: channel -> leader; ``nodes``: the members
    that may take segments; ``served``: segment -> members serving it now; ``viewed``:
    segment -> node the leader views read it on now; ``pinned``: segment -> the node a
    LoadBalance request put it on."""
    out: dict[int, int] = {}
    load = {n: 0 for n in nodes}
    unplaced: list[datacoord_pb2.SegmentInfo] = []
    pinned = {s: n for s, n in (pinned or {}).items() if n in load}
    for seg_id, info in sorted(target.sealed.items()):
        if is_l0(info):
            leader = lead.get(info.insert_channel, 0)
            if leader:
                out[seg_id] = leader
            continue
        if seg_id in pinned:
            out[seg_id] = pinned[seg_id]
            load[pinned[seg_id]] += _weight(info)
            continue
        here = served.get(seg_id, set()) & set(nodes)
        node = viewed.get(seg_id)
        if node not in here:
            node = min(here) if here else None
        if node is None:
            unplaced.append(info)
            continue
        out[seg_id] = node
        load[node] += _weight(info)
    if not nodes:
        return out
    for info in sorted(unplaced, key=lambda s: (-_weight(s), s.id)):
        node = min(nodes, key=lambda n: (load[n], n))
        out[info.id] = node
        load[node] += _weight(info)
    if rebalance and len(nodes) > 1:
        narrowing_moves(out, lambda s: _weight(target.sealed[s]), load, nodes, tolerance,
                        movable=lambda s: not is_l0(target.sealed[s]) and s not in pinned)
    return out


def _weight(info: datacoord_pb2.SegmentInfo) -> int:
    return max(0, info.num_of_rows) + 1


def leader_view(channel: str, target: CollectionTarget, assigned: Mapping[int, int],
                served: Mapping[int, set[int]], current: Mapping[int, int], served_here: Mapping[int, str]) -> View:
    """The view of ``channel`` its leader should have.  ``served``: segment -> members serving
    it; ``current``: the leader's view now; ``served_here``: every sealed segment the members
    serve (segment -> channel)."""
    nodes: dict[int, int] = {}
    complete = True
    for info in target.sealed_of(channel):
        seg_id = info.id
        where = served.get(seg_id, set())
        node = assigned.get(seg_id)
        if node not in where:
            node = current.get(seg_id) if current.get(seg_id) in where else (min(where) if where else None)
        if node is None:
            complete = False
            if seg_id in current:
                nodes[seg_id] = current[seg_id]  # gone with its node: reads fail until it is back
            continue
        nodes[seg_id] = node
    dropped = []
    for seg_id, seg_channel in sorted(served_here.items()):
        if seg_channel != channel or seg_id in target.sealed:
            continue
        where = served.get(seg_id, set())
        if not complete and where:
            nodes[seg_id] = current[seg_id] if current.get(seg_id) in where else min(where)
        else:
            dropped.append(seg_id)
    return View(nodes, tuple(dropped))


def keeps(node: int, seg_id: int, assigned: Mapping[int, int], views: Iterable[Mapping[int, int]]) -> bool:
    """Whether ``node`` must keep serving ``seg_id``: assigned there, or some view reads it there."""
    return assigned.get(seg_id) == node or any(view.get(seg_id) == node for view in views)
