"""Replicas in resource groups: which query nodes each replica of a collection may use
(pure functions; Milvus 2.4's ``AssignReplica`` and ``RecoverNodesInCollection``).

A replica lives in one resource group (``Replica.resource_group``, empty for the default
one).  Its members (``node_ids``) are *rw* nodes, in its group, which take its channels and
segments, and *ro* nodes (``ro_node_ids``): members that left the group (moved to another
one, or stopping) or that the replica has more of than its share.  An ro node keeps
serving what it holds while the checker moves its channels and segments to rw members;
once it holds nothing of the collection it leaves the replica (``drop_drained``).  A node
serves at most one replica of a collection, rw or ro.

``recover_nodes`` keeps the members in line with the groups: rw members out of the group
turn ro, ro members back in the group turn rw again when their replica needs them, dead
members go, and the group's nodes that no replica of the collection uses are shared out so
that the replicas of one group get as many nodes as each other (one more for some).  A
replica whose group has no node left keeps serving on its ro members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from milvus import errors
from milvus._proto import querycoord_pb2
from milvus.querycoord.resource import DEFAULT_RESOURCE_GROUP, invalid, node_not_enough, not_found


def group_of(replica: querycoord_pb2.Replica) -> str:
    return replica.resource_group or DEFAULT_RESOURCE_GROUP


def rw_nodes(replica: querycoord_pb2.Replica) -> list[int]:
    ro = set(replica.ro_node_ids)
    return [n for n in replica.node_ids if n not in ro]


def replicas_per_group(resource_groups: Sequence[str], replica_number: int,
                       group_nodes: Mapping[str, Iterable[int]]) -> dict[str, int]:
    """How many replicas of a new load go to each group: all in the default group when none
    is named, all in the one named, else one per group named (a group named twice gets
    two).  Refused when a group does not exist or has fewer nodes than its replicas."""
    groups = list(resource_groups)
    if len(groups) not in (0, 1, replica_number):
        raise errors.ParameterInvalid(f"replica=[{replica_number}] resource group=[{','.join(groups)}], "
                                      f"resource group num can only be 0, 1 or same as replica number")
    if not groups:
        counts = {DEFAULT_RESOURCE_GROUP: replica_number}
    elif len(groups) == 1:
        counts = {groups[0]: replica_number}
    else:
        counts = {}
        for name in groups:
            counts[name] = counts.get(name, 0) + 1
    for name, count in counts.items():
        if name not in group_nodes:
            raise not_found(name)
        available = len(set(group_nodes[name]))
        if count > available:
            raise node_not_enough(name, available, count)
    return counts


@dataclass
class _Members:
    """One replica's members, sorted out against its group."""

    replica: querycoord_pb2.Replica
    group: str
    rw: list[int]  # in the group: stay rw
    new_ro: list[int]  # rw, out of the group: turn ro
    recoverable: list[int]  # ro, back in the group: may turn rw
    unrecoverable: list[int]  # ro, out of the group: stay ro
    expected: int = 0
    added: list[int] = field(default_factory=list)

    def all(self) -> list[int]:
        return [*self.rw, *self.new_ro, *self.recoverable, *self.unrecoverable]


def _sort_out(replica: querycoord_pb2.Replica, group_nodes: set[int], alive: set[int]) -> _Members:
    ro = set(replica.ro_node_ids)
    members = _Members(replica, group_of(replica), [], [], [], [])
    for node in replica.node_ids:
        if node not in alive:
            continue  # a dead member just goes
        if node in ro:
            (members.recoverable if node in group_nodes else members.unrecoverable).append(node)
        else:
            (members.rw if node in group_nodes else members.new_ro).append(node)
    return members


def _leads(replica: querycoord_pb2.Replica, node: int) -> int:
    return sum(leader.node_id == node for leader in replica.shard_leaders)


def recover_nodes(replicas: Sequence[querycoord_pb2.Replica], group_nodes: Mapping[str, Iterable[int]],
                  alive: Iterable[int], usable: Iterable[int] | None = None) -> list[querycoord_pb2.Replica]:
    """The replicas of one collection whose members change (copies), given each group's
    nodes that may serve (alive, not stopping); ``usable``: the nodes a replica may newly
    take (the reachable ones; default: every node of the groups)."""
    alive = set(alive)
    groups = {name: set(nodes) & alive for name, nodes in group_nodes.items()}
    infos = [_sort_out(r, groups.get(group_of(r), set()), alive) for r in replicas]
    used = {n for info in infos for n in info.all()}
    by_group: dict[str, list[_Members]] = {}
    for info in infos:
        by_group.setdefault(info.group, []).append(info)
    for name, members in sorted(by_group.items()):
        nodes = groups.get(name, set())
        usable_here = nodes if usable is None else nodes & set(usable)
        incoming = sorted(n for n in usable_here if n not in used)
        # a node of the group still serving a replica of another group is not counted yet
        elsewhere = {n for info in infos if info.group != name for n in info.all()} & nodes
        share, extra = divmod(len(nodes) - len(elsewhere), len(members))
        # the replicas holding the most get the extra ones: fewer nodes move
        for i, info in enumerate(sorted(members, key=lambda m: (len(m.rw) + len(m.recoverable), m.replica.id),
                                        reverse=True)):
            info.expected = share + (1 if i < extra else 0)
        for info in sorted(members, key=lambda m: m.replica.id):
            if len(info.rw) > info.expected:  # more than its share: the extra ones turn ro
                excess = sorted(info.rw, key=lambda n: (_leads(info.replica, n), -n))[:len(info.rw) - info.expected]
                info.rw = [n for n in info.rw if n not in excess]
                info.new_ro += excess
            need = info.expected - len(info.rw)
            back = sorted(info.recoverable)[:max(0, need)]
            info.rw += back
            info.recoverable = [n for n in info.recoverable if n not in back]
            need -= len(back)
            while need > 0 and incoming:
                node = incoming.pop(0)
                info.rw.append(node)
                info.added.append(node)
                need -= 1
    changed = []
    for info in infos:
        ro = sorted({*info.new_ro, *info.recoverable, *info.unrecoverable})
        kept = [n for n in info.replica.node_ids if n in set(info.rw) | set(ro)]
        node_ids = kept + [n for n in info.added if n not in kept]
        if node_ids == list(info.replica.node_ids) and ro == sorted(info.replica.ro_node_ids):
            continue
        out = querycoord_pb2.Replica()
        out.CopyFrom(info.replica)
        del out.node_ids[:]
        out.node_ids.extend(node_ids)
        del out.ro_node_ids[:]
        out.ro_node_ids.extend(ro)
        changed.append(out)
    return changed


def drop_drained(replica: querycoord_pb2.Replica, serving: Mapping[int, bool]) -> querycoord_pb2.Replica | None:
    """The replica without its ro members that serve nothing of the collection any more
    (``serving``: node -> whether it serves a channel or sealed segment of the collection,
    for the nodes that reported; a node that did not report stays) and lead no channel of
    it; None when none leaves."""
    leading = {leader.node_id for leader in replica.shard_leaders}
    gone = {n for n in replica.ro_node_ids if n in serving and not serving[n] and n not in leading}
    if not gone:
        return None
    out = querycoord_pb2.Replica()
    out.CopyFrom(replica)
    del out.node_ids[:]
    out.node_ids.extend(n for n in replica.node_ids if n not in gone)
    del out.ro_node_ids[:]
    out.ro_node_ids.extend(n for n in replica.ro_node_ids if n not in gone)
    return out


def outbound(replica: querycoord_pb2.Replica, group_of_node: Mapping[int, str]) -> dict[str, int]:
    """The replica's ro members in another group than its own, counted by that group."""
    out: dict[str, int] = {}
    for node in replica.ro_node_ids:
        name = group_of_node.get(node)
        if name is not None and name != group_of(replica):
            out[name] = out.get(name, 0) + 1
    return out


def usage(name: str, nodes: set[int], replicas: Iterable[querycoord_pb2.Replica]
          ) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """Per collection: its replicas in group ``name``; their ro members not in the group
    (outgoing); and the group's ``nodes`` that are ro members of its replicas in other groups
    (incoming).  Collections with none are left out."""
    loaded: dict[int, int] = {}
    outgoing: dict[int, int] = {}
    incoming: dict[int, int] = {}
    for replica in replicas:
        cid = replica.collectionID
        if group_of(replica) == name:
            loaded[cid] = loaded.get(cid, 0) + 1
            count, into = sum(n not in nodes for n in replica.ro_node_ids), outgoing
        else:
            count, into = sum(n in nodes for n in replica.ro_node_ids), incoming
        if count:
            into[cid] = into.get(cid, 0) + count
    return loaded, outgoing, incoming


def check_unused(name: str, replicas: Iterable[querycoord_pb2.Replica]) -> None:
    """Refuse (Milvus' words) to drop group ``name`` while a replica is in it."""
    loaded = usage(name, set(), replicas)[0]
    if loaded:
        raise invalid("empty resource group", f"resource group {name} has collection {min(loaded)} loaded",
                      f"some replicas still loaded in resource group[{name}], release it first")


def transfer(replicas: Sequence[querycoord_pb2.Replica], source: str, target: str,
             count: int) -> list[querycoord_pb2.Replica]:
    """``count`` of a collection's replicas in group ``source``, moved to ``target`` (copies;
    their nodes follow through ``recover_nodes``)."""
    movable = [r for r in replicas if group_of(r) == source]
    if len(movable) < count:
        cid = replicas[0].collectionID if replicas else 0
        raise invalid("NumReplica not greater than the number of replica in source resource group",
                      f"only found [{len(movable)}] replicas of collection [{cid}] in source resource group "
                      f"[{source}], but {count} require")
    moved = []
    for replica in movable[:count]:
        out = querycoord_pb2.Replica()
        out.CopyFrom(replica)
        out.resource_group = target
        moved.append(out)
    return moved
