"""Resource groups: which query nodes may serve which replicas (Milvus 2.4 semantics).

Every query node is in exactly one group; ``__default_resource_group`` always exists.  A
group is declared by its config (``milvus.proto.rg.ResourceGroupConfig``): ``requests`` (the
nodes it should have) and ``limits`` (the most it may have), with ``transfer_from`` /
``transfer_to`` naming the groups to take missing nodes from, or give redundant ones to,
first.  The groups converge on their configs (``auto_recover``, after every change and every
checker round):

* a group short of its requests takes nodes from the groups holding more than their own
  requests (those past their limits first, then its ``transfer_from`` ones, then the most
  oversized);
* a group past its limits gives nodes to the groups below theirs (those short of requests
  first, then its ``transfer_to`` ones, then the most room), else to the default group;
* a node that joins goes to the group most short of requests, else to the one with the most
  room below its limits, else to the default group; a node that leaves leaves its group.

``transfer_node`` (deprecated in Milvus, still served) only rewrites two configs (requests
and limits moved by ``num`` nodes) and lets the groups converge.  The groups, their configs
and their nodes are persisted through the catalog: after a restart a node that comes back
finds its group.  Errors carry Milvus' codes and messages (``pkg/util/merr``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from google.protobuf import text_format

from milvus import errors
from milvus._proto import querycoord_pb2
from milvus.grpc_gen import rg_pb2
from milvus.metastore.querycoord_catalog import QueryCoordCatalog

DEFAULT_RESOURCE_GROUP = "__default_resource_group"
DEFAULT_CAPACITY = 1_000_000  # the default group's capacity (and its limits at first start)
MAX_RESOURCE_GROUPS = 1024  # Milvus' quotaAndLimits.limits.maxResourceGroupNumOfQueryNode



def config(requests: int, limits: int) -> rg_pb2.ResourceGroupConfig:
    return rg_pb2.ResourceGroupConfig(requests=rg_pb2.ResourceGroupLimit(node_num=requests),
                                      limits=rg_pb2.ResourceGroupLimit(node_num=limits))


def not_found(name: str) -> errors.MilvusError:
    return errors.ResourceGroupNotFound(f"resource group not found[rg={name}]")


def invalid(expected: object, actual: object, reason: str = "") -> errors.MilvusError:
    """Milvus' ``merr.WrapErrParameterInvalid``: ``reason: invalid parameter[expected=..][actual=..]``."""
    message = f"invalid parameter[expected={expected}][actual={actual}]"
    return errors.ParameterInvalid(f"{reason}: {message}" if reason else message)


def node_not_enough(name: str, current: int, expected: int) -> errors.MilvusError:
    return errors.ResourceGroupNodeNotEnough(
        f"resource group node not enough[rg={name}][currentNodeNum={current}][expectedNodeNum={expected}]")


def _illegal(name: str, cfg: rg_pb2.ResourceGroupConfig, reason: str) -> errors.MilvusError:
    shown = text_format.MessageToString(cfg, as_one_line=True)
    return errors.ResourceGroupIllegalConfig(f"{reason}: resource group illegal config[rg={name}][config={shown}]")


@dataclass
class Group:
    """One resource group: its config and its nodes (a copy; the manager keeps its own)."""

    name: str
    config: rg_pb2.ResourceGroupConfig
    nodes: set[int] = field(default_factory=set)

    @property
    def requests(self) -> int:
        return self.config.requests.node_num

    @property
    def limits(self) -> int:
        return self.config.limits.node_num

    @property
    def capacity(self) -> int:
        """Milvus 2.3's capacity, still reported: the requests (the default group: 1000000)."""
        return DEFAULT_CAPACITY if self.name == DEFAULT_RESOURCE_GROUP else self.requests

    def missing(self) -> int:
        return max(0, self.requests - len(self.nodes))

    def oversized(self) -> int:
        return max(0, len(self.nodes) - self.requests)

    def room(self) -> int:
        return max(0, self.limits - len(self.nodes))

    def redundant(self) -> int:
        return max(0, len(self.nodes) - self.limits)

    def takes_from(self, name: str) -> bool:
        return any(t.resource_group == name for t in self.config.transfer_from)

    def gives_to(self, name: str) -> bool:
        return any(t.resource_group == name for t in self.config.transfer_to)

    def copy(self) -> Group:
        cfg = rg_pb2.ResourceGroupConfig()
        cfg.CopyFrom(self.config)
        return Group(self.name, cfg, set(self.nodes))

    def meta(self) -> querycoord_pb2.ResourceGroupMeta:
        return querycoord_pb2.ResourceGroupMeta(name=self.name, capacity=self.capacity, nodes=sorted(self.nodes),
                                                config=self.config)

    @classmethod
    def from_meta(cls, meta: querycoord_pb2.ResourceGroupMeta) -> Group:
        if meta.HasField("config"):
            cfg = meta.config
        elif meta.name == DEFAULT_RESOURCE_GROUP:  # a Milvus 2.3 layout: only a capacity
            cfg = config(0, meta.capacity)
        else:
            cfg = config(meta.capacity, meta.capacity)
        return cls(meta.name, cfg, set(meta.nodes))


def _pick_node(source: Group) -> int:
    """The node a group gives away: the newest (highest id)."""
    return max(source.nodes)


class ResourceManager:
    """The resource groups, in memory and in the meta store; thread-safe, getters return copies."""

    def __init__(self, catalog: QueryCoordCatalog):
        self._catalog = catalog
        self._lock = threading.RLock()
        self._groups: dict[str, Group] = {DEFAULT_RESOURCE_GROUP: Group(DEFAULT_RESOURCE_GROUP,
                                                                        config(0, DEFAULT_CAPACITY))}

    def recover(self) -> None:
        groups = {DEFAULT_RESOURCE_GROUP: Group(DEFAULT_RESOURCE_GROUP, config(0, DEFAULT_CAPACITY))}
        seen: set[int] = set()
        for meta in self._catalog.list_resource_groups():
            group = Group.from_meta(meta)
            group.nodes -= seen  # a node is in one group (never written otherwise)
            seen |= group.nodes
            groups[group.name] = group
        with self._lock:
            self._groups = groups

    # ---- reads ---------------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._lock:
            return [DEFAULT_RESOURCE_GROUP, *sorted(n for n in self._groups if n != DEFAULT_RESOURCE_GROUP)]

    def get(self, name: str) -> Group | None:
        with self._lock:
            group = self._groups.get(name)
            return group.copy() if group is not None else None

    def exists(self, name: str) -> bool:
        with self._lock:
            return name in self._groups

    def nodes(self) -> dict[str, set[int]]:
        """Every group's nodes, by group name (one consistent view)."""
        with self._lock:
            return {name: set(g.nodes) for name, g in self._groups.items()}

    def group_of(self, node: int) -> str | None:
        with self._lock:
            return next((name for name, g in self._groups.items() if node in g.nodes), None)

    # ---- declarative changes --------------------------------------------------------------

    def create(self, name: str, cfg: rg_pb2.ResourceGroupConfig | None) -> None:
        """A new group (idempotent for the same config); nodes come by ``auto_recover``."""
        if not name:
            raise errors.ParameterMissing("resource group name couldn't be empty")
        cfg = cfg if cfg is not None else config(0, 0)
        with self._lock:
            if name in self._groups:
                if self._groups[name].config == cfg:
                    return
                raise errors.ResourceGroupAlreadyExist(f"resource group already exist, but create with different "
                                                f"config[rg={name}]")
            if len(self._groups) >= MAX_RESOURCE_GROUPS:
                raise errors.ResourceGroupReachLimit(f"resource group num reach limit[rg={name}][limit={MAX_RESOURCE_GROUPS}]")
            self._validate(name, cfg)
            self._commit([Group(name, cfg)])
            self._auto_recover()

    def update(self, configs: Mapping[str, rg_pb2.ResourceGroupConfig]) -> None:
        """New configs for existing groups, all or none; the nodes follow by ``auto_recover``."""
        if not configs:
            return
        with self._lock:
            changed = []
            for name, cfg in sorted(configs.items()):
                if name not in self._groups:
                    raise not_found(name)
                self._validate(name, cfg)
                group = self._groups[name].copy()
                group.config.CopyFrom(cfg)
                changed.append(group)
            self._commit(changed)
            self._auto_recover()

    def transfer_node(self, source: str, target: str, num: int) -> None:
        """Move ``num`` nodes' worth of requests (and limits) from one group's config to
        another's (Milvus' compatibility rewrite of the 2.3 call); the nodes follow."""
        if source == target:
            raise errors.ParameterInvalid(f"source resource group and target resource group should not be the "
                                          f"same, resource group: {source}: invalid parameter")
        if num <= 0:
            raise invalid("NumNode > 0", f"invalid NumNode {num}")
        with self._lock:
            for name in (source, target):
                if name not in self._groups:
                    raise not_found(name)
            src, dst = self._groups[source], self._groups[target]
            if len(src.nodes) < num:
                raise node_not_enough(source, len(src.nodes), num)
            src_cfg, dst_cfg = rg_pb2.ResourceGroupConfig(), rg_pb2.ResourceGroupConfig()
            src_cfg.CopyFrom(src.config)
            dst_cfg.CopyFrom(dst.config)
            src_cfg.requests.node_num = max(0, src_cfg.requests.node_num - num)
            if source != DEFAULT_RESOURCE_GROUP:
                src_cfg.limits.node_num = max(0, src_cfg.limits.node_num - num)
            dst_cfg.requests.node_num += num
            if dst_cfg.requests.node_num > dst_cfg.limits.node_num:
                dst_cfg.limits.node_num = dst_cfg.requests.node_num
            self.update({source: src_cfg, target: dst_cfg})

    def remove(self, name: str) -> None:
        """Drop a group whose limits are 0 and that no other group's transfer config names
        (the caller checks it holds no replica); its nodes go elsewhere first."""
        with self._lock:
            group = self._groups.get(name)
            if group is None:
                return  # dropping a missing group is fine
            if name == DEFAULT_RESOURCE_GROUP:
                raise invalid("not default resource group", name, "default resource group is not deletable")
            if group.limits != 0:
                raise invalid("not empty resource group", name, "resource group's limits node num is not 0")
            for other in self._groups.values():
                if other.takes_from(name):
                    raise invalid("not `TransferFrom` of resource group", name,
                                  f"resource group {name} is used by {other.name}'s `TransferFrom`, "
                                  f"remove that configuration first")
                if other.gives_to(name):
                    raise invalid("not `TransferTo` of resource group", name,
                                  f"resource group {name} is used by {other.name}'s `TransferTo`, "
                                  f"remove that configuration first")
            while self._groups[name].nodes:
                if not self._give_away(name):
                    raise errors.ServiceInternal(f"nodes of resource group {name} have nowhere to go")
            self._catalog.remove_resource_group(name)
            del self._groups[name]
            self._auto_recover()

    # ---- nodes ---------------------------------------------------------------------------

    def node_up(self, node: int) -> str:
        """A query node that (re)joined: the group it is in now."""
        with self._lock:
            name = self.group_of(node)
            if name is not None:
                return name
            target = self._group_for_incoming()
            group = self._groups[target].copy()
            group.nodes.add(node)
            self._commit([group])
            return target

    def node_down(self, node: int) -> None:
        """A query node that left the cluster leaves its group."""
        with self._lock:
            name = self.group_of(node)
            if name is None:
                return
            group = self._groups[name].copy()
            group.nodes.discard(node)
            self._commit([group])

    def keep_only(self, alive: Callable[[], Iterable[int]]) -> list[int]:
        """Drop the nodes no longer in the cluster (kept in the meta store from before a
        restart and never back); the nodes dropped.  ``alive()`` (the live nodes) is asked
        under this manager's lock: a node that joins registers as live before ``node_up``
        puts it in a group, so a join racing this call is never taken for gone."""
        with self._lock:
            live = set(alive())
            gone = sorted(n for g in self._groups.values() for n in g.nodes if n not in live)
            for node in gone:
                self.node_down(node)
            return gone

    def auto_recover(self) -> None:
        with self._lock:
            self._auto_recover()

    # ---- internals (under the lock) -------------------------------------------------------

    def _validate(self, name: str, cfg: rg_pb2.ResourceGroupConfig) -> None:
        if not cfg.HasField("limits") or not cfg.HasField("requests"):
            raise _illegal(name, cfg, "requests or limits is required")
        if cfg.requests.node_num < 0 or cfg.limits.node_num < 0:
            raise _illegal(name, cfg, "node num in `requests` or `limits` should not less than 0")
        if cfg.limits.node_num < cfg.requests.node_num:
            raise _illegal(name, cfg, "limits node num should not less than requests node num")
        for kind, transfers in (("TransferFrom", cfg.transfer_from), ("TransferTo", cfg.transfer_to)):
            for transfer in transfers:
                if transfer.resource_group == name:
                    raise _illegal(name, cfg, f"resource group in `{kind}` {name} should not be itself")
                if transfer.resource_group not in self._groups:
                    raise _illegal(name, cfg, f"resource group in `{kind}` {transfer.resource_group} not exist")

    def _commit(self, groups: list[Group]) -> None:
        """Persist changed groups in one transaction, then take them in memory."""
        self._catalog.save_resource_groups([g.meta() for g in groups])
        for group in groups:
            self._groups[group.name] = group

    def _move(self, node: int, source: str, target: str) -> None:
        src, dst = self._groups[source].copy(), self._groups[target].copy()
        src.nodes.discard(node)
        dst.nodes.add(node)
        self._commit([src, dst])

    def _ordered(self) -> list[Group]:
        return [self._groups[name] for name in sorted(self._groups)]

    def _group_for_incoming(self) -> str:
        short = [g for g in self._ordered() if g.missing() > 0]
        if short:
            return max(short, key=lambda g: g.missing()).name  # ties: the first by name
        roomy = [g for g in self._ordered() if g.room() > 0]
        if roomy:
            return max(roomy, key=lambda g: g.room()).name
        return DEFAULT_RESOURCE_GROUP

    def _take_one(self, name: str) -> bool:
        """Give group ``name`` one node from the group that can best spare one."""
        target = self._groups[name]

        def priority(g: Group) -> int:
            if g.redundant() > 0:
                return g.redundant() * 1_000_000
            if target.takes_from(g.name):
                return g.oversized() * 100_000
            return g.oversized()

        sources = [g for g in self._ordered() if g.name != name and g.oversized() > 0]
        if not sources:
            return False
        best = max(sources, key=priority)  # ties: the first by name
        self._move(_pick_node(best), best.name, name)
        return True

    def _give_away(self, name: str) -> bool:
        """Move one node of group ``name`` to the group that best takes one (else the default)."""
        source = self._groups[name]

        def priority(g: Group) -> int:
            if g.missing() > 0:
                return g.missing() * 1_000_000
            if source.gives_to(g.name):
                return g.room() * 100_000
            return g.room()

        targets = [g for g in self._ordered() if g.name != name and g.room() > 0]
        if targets:
            target = max(targets, key=priority).name
        elif name != DEFAULT_RESOURCE_GROUP:
            target = DEFAULT_RESOURCE_GROUP
        else:
            return False
        self._move(_pick_node(source), name, target)
        return True

    def _auto_recover(self) -> None:
        """Bring every group within its requests and limits, as far as the nodes allow."""
        for _ in range(sum(len(g.nodes) for g in self._groups.values()) * 2 + 1):
            changed = False
            for name in sorted(self._groups):
                group = self._groups[name]
                if group.missing() > 0:
                    changed = self._take_one(name) or changed
                elif group.redundant() > 0:
                    changed = self._give_away(name) or changed
            if not changed:
                return
