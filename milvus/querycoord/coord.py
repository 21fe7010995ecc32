"""The QueryCoord service (proto/querycoord.proto): load/release, replicas, shard leaders.

Injected by the composition root: the meta store (rooted at the meta prefix), a DataCoord
client (recovery info: checkpoints and segments), a RootCoord client (schemas and
vchannels), ``alloc_id(n)`` for replica ids, and query node clients through ``add_node``.

``LoadCollection``/``LoadPartitions`` only record what must be loaded (and its replicas) in
the meta store; a background loop — the checker — refreshes each loaded collection's target
from the data coordinator, reads every node's distribution (and, where a compaction result
replaces served segments through results no node served, names them: ``lineage``), and runs
the tasks that close the gap (watch channels, load flushed segments on the replica members
``segdist`` assigns them to, release what no node or leader view needs), then syncs each
channel's leader view (which node serves each sealed segment) to the nodes watching it.  So
a restart, a new flushed segment or a node that lost its state all converge the same way.
``GetLoadState`` reports how much of the target is served.

Query nodes belong to resource groups (``resource``) and a replica serves on nodes of its
group only (``placement``): each round first brings the groups to their configs, then every
replica's members in line with its group.

The RPCs are mixins by concern: ``loads`` (load, release, load states), ``serving`` (shard
leaders, replicas, served segments, LoadBalance) and ``resource_rpcs`` (resource groups);
this module keeps the shared state, the lifecycle, the query nodes and the checker round.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from milvus import errors
from milvus._proto import internal_pb2, querycoord_pb2, querynode_pb2
from milvus.kv.base import KV
from milvus.metastore.querycoord_catalog import QueryCoordCatalog
from milvus.querycoord import balance, checker, placement
from milvus.querycoord.checker import Loaded, NodeDist
from milvus.querycoord.lineage import Lineage
from milvus.querycoord.loads import LoadRpcs
from milvus.querycoord.meta import LoadMeta
from milvus.querycoord.resource import ResourceManager
from milvus.querycoord.resource_rpcs import ResourceGroupRpcs
from milvus.querycoord.rpc import SERVICE, log
from milvus.querycoord.serving import ServingRpcs
from milvus.querycoord.target import CollectionTarget, TargetManager, check
from milvus.rpc.health import probe
from milvus.rpc.memory_reports import MemoryReports

__all__ = ["SERVICE", "QueryCoord"]


def _served_by_collection(dist: dict[int, NodeDist]) -> dict[int, set[int]]:
    """Collection -> the sealed segments some node serves (one pass over every node's report)."""
    served: dict[int, set[int]] = {}
    for nd in dist.values():
        for cid, seg_id in nd.sealed:
            served.setdefault(cid, set()).add(seg_id)
    return served


@dataclasses.dataclass
class _Node:
    node_id: int
    client: Any
    address: str


class QueryCoord(LoadRpcs, ServingRpcs, ResourceGroupRpcs):
    name = "querycoord"

    def __init__(self, kv: KV, *, datacoord: Any, rootcoord: Any, alloc_id: Callable[[int], int],
                 check_interval: float = 1.0, node_id: int = 0, auto_balance: bool = True,
                 node_grace: float = 10.0, await_nodes: bool = False):
        """``node_grace``: seconds after start before a query node kept in a resource group
        (from before a restart) that did not come back leaves it.  ``await_nodes``: no checker
        round runs until ``expect_nodes`` named the query nodes live at start and each of them
        was added (or left), for ``node_grace`` seconds at most: a coordinator that takes over
        (a restart, a standby) learns of the live nodes a moment after it starts, and a round
        before that took every replica's members for dead (each replica lost its members and
        took them back, in another order)."""
        catalog = QueryCoordCatalog(kv)
        self._meta = LoadMeta(catalog)
        self._resources = ResourceManager(catalog)  # resource groups: which nodes serve which replicas
        self._node_grace = node_grace
        self._started_at = 0.0
        self._targets = TargetManager(datacoord, rootcoord)
        self._lineage = Lineage(datacoord)
        self._alloc_id = alloc_id
        self._interval = check_interval
        self._node_id = node_id
        self._nodes_lock = threading.Lock()
        self._nodes: dict[int, _Node] = {}
        self._fresh: set[int] = set()  # nodes added since the checker last asked every node (_nodes_lock)
        # live at start, not added yet (``expect_nodes``); None: not named yet (or not awaited)
        self._awaited: set[int] | None = None
        self._nodes_known = threading.Event()  # the checker may run rounds (see ``await_nodes``)
        if not await_nodes:
            self._nodes_known.set()
        self._round_lock = threading.Lock()  # one checker round at a time
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serving = False
        self._rounds = 0
        self._state_lock = threading.Lock()
        self._progress: dict[int, int] = {}  # percent of the target served
        self._ready: set[int] = set()  # collections whose whole target was served once
        self._last_dist: dict[int, NodeDist] = {}
        self._memory = MemoryReports()  # from the distributions the nodes answer (flow control)
        self._pins: dict[int, dict[int, int]] = {}  # collection -> segment -> node (LoadBalance); _state_lock
        # moves channels between the query nodes of a replica (scale-out, scale-in): balance.py
        self._balancer = balance.Balancer(grace=max(1.0, 2 * check_interval)) if auto_balance else None

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self, run_checker: bool = True) -> None:
        """Reload what was loaded; ``run_checker`` starts the background loop (tests may
        drive ``check_once`` themselves)."""
        self._meta.recover()
        self._resources.recover()
        self._started_at = time.monotonic()
        self._serving = True
        if run_checker:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="querycoord-checker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._serving = False
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def health(self) -> tuple[bool, dict[str, Any]]:
        with self._nodes_lock:
            nodes = sorted(self._nodes)
        return self._serving, {"query_nodes": nodes, "rounds": self._rounds}

    # ---- query nodes ---------------------------------------------------------------------

    def expect_nodes(self, node_ids: Iterable[int]) -> None:
        """The query nodes live when this coordinator starts following them (``await_nodes``):
        checker rounds run once this was called and each of them was added or left (a node
        added before this call counts; adding one alone lets no round run)."""
        with self._nodes_lock:
            self._awaited = set(node_ids) - set(self._nodes)
            self._settle()
        self.trigger()

    def _settle(self) -> None:
        """(``_nodes_lock`` held) Let rounds run once no awaited node is left."""
        if self._awaited is not None and not self._awaited and not self._nodes_known.is_set():
            self._nodes_known.set()
            log.info("query nodes known: %s", sorted(self._nodes))

    def add_node(self, node_id: int, client: Any, address: str = "") -> None:
        """A query node joined: it serves in its resource group (kept from before a restart,
        else the one that needs a node most)."""
        with self._nodes_lock:
            self._nodes[node_id] = _Node(node_id, client, address)
            self._fresh.add(node_id)
            if self._awaited is not None:
                self._awaited.discard(node_id)
                self._settle()
        group = self._resources.node_up(node_id)
        log.info("query node %d is in resource group %s", node_id, group)
        self.trigger()

    def remove_node(self, node_id: int) -> None:
        """A query node left the cluster: it leaves its resource group and its replicas."""
        with self._nodes_lock:
            self._nodes.pop(node_id, None)
            self._fresh.discard(node_id)
            if self._awaited is not None:
                self._awaited.discard(node_id)
                self._settle()
        self._resources.node_down(node_id)
        self._memory.forget(node_id)
        self.trigger()

    def _node(self, node_id: int) -> _Node | None:
        with self._nodes_lock:
            return self._nodes.get(node_id)

    def _node_ids(self) -> list[int]:
        with self._nodes_lock:
            return sorted(self._nodes)

    # ---- the checker ---------------------------------------------------------------------

    def trigger(self) -> None:
        """Run a checker round soon (instead of at the next interval)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception:  # noqa: BLE001 - a failed round is retried at the next one
                log.exception("query coordinator check round failed")
            self._wake.wait(self._interval)
            self._wake.clear()

    def _ask_distributions(self) -> list[tuple[int, querynode_pb2.GetDataDistributionResponse]]:
        """Every reachable query node's distribution, by node id order."""
        with self._nodes_lock:
            nodes = sorted(self._nodes.values(), key=lambda n: n.node_id)
        answers = []
        for node in nodes:
            try:
                resp = node.client.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
                check(resp.status, f"distribution of query node {node.node_id}")
            except Exception as exc:  # noqa: BLE001 - an unreachable node serves nothing
                log.warning("query node %d did not report its distribution: %s", node.node_id, exc)
                continue
            if resp.HasField("memory"):
                self._memory.put(resp.memory)
            answers.append((node.node_id, resp))
        return answers

    def _distribution(self) -> dict[int, NodeDist]:
        return {node_id: NodeDist.from_proto(node_id, resp) for node_id, resp in self._ask_distributions()}

    def _stopping(self, alive: list[int]) -> set[int]:
        """The query nodes stopping gracefully (their state says STOPPING): their channels move."""
        out = set()
        for node_id in alive:
            node = self._node(node_id)
            try:
                if node is not None and node.client.GetComponentStates(
                        internal_pb2.GetComponentStatesRequest()).state.state == internal_pb2.STOPPING:
                    out.add(node_id)
            except Exception:  # noqa: BLE001 - an unreachable node is handled as a dead one
                continue
        return out

    def _loaded(self, refresh: bool) -> list[Loaded]:
        out = []
        for info in self._meta.collections():
            target = self._targets.get(info.collectionID)
            if refresh or target is None:
                try:
                    target = self._targets.refresh(info)
                except Exception as exc:  # noqa: BLE001 - keep the last target we had
                    log.warning("target of collection %d not refreshed: %s", info.collectionID, exc)
            replicas = self._meta.replicas(info.collectionID)
            out.append(Loaded(info, replicas, target, self._pinned(info.collectionID, target, replicas)))
        return out

    def _pinned(self, collection_id: int, target: CollectionTarget | None,
                replicas: list[querycoord_pb2.Replica]) -> dict[int, int]:
        """The collection's LoadBalance pins of segments still in its target, to nodes still in
        one of its replicas (the others go)."""
        members = {n for replica in replicas for n in replica.node_ids}
        with self._state_lock:
            pins = self._pins.get(collection_id)
            if not pins:
                return {}
            for seg_id in [s for s, n in pins.items()
                           if n not in members or (target is not None and s not in target.sealed)]:
                del pins[seg_id]
            return dict(pins)

    def check_once(self) -> None:
        """One round: refresh targets, fix replicas, read the distribution, run the tasks,
        update load states."""
        if not self._nodes_known.is_set():
            if time.monotonic() - self._started_at < self._node_grace:
                return  # the nodes live now are not all known yet: they would look dead
            with self._nodes_lock:
                log.warning("query nodes %s were live at start but not added within %.0fs: rounds run without them",
                            sorted(self._awaited or ()), self._node_grace)
                self._awaited = set()
                self._settle()
        with self._round_lock:
            alive = self._node_ids()
            stopping = self._stopping(alive) if self._balancer is not None else set()
            with self._state_lock:  # nodes that answered last round (a killed one may not have expired yet)
                reachable = set(self._last_dist) & set(alive)
            with self._nodes_lock:  # or joined since: not asked yet
                reachable |= self._fresh & set(alive)
            if time.monotonic() - self._started_at > self._node_grace:
                # the nodes live now, not ``alive``: a node added since this round began is in a group already
                gone = self._resources.keep_only(self._node_ids)
                if gone:
                    log.info("query nodes %s did not come back: they left their resource groups", gone)
            self._resources.auto_recover()
            groups = {name: (nodes & set(alive)) - stopping for name, nodes in self._resources.nodes().items()}
            collections = self._loaded(refresh=True)
            for coll in collections:
                if coll.target is not None:
                    self._place(coll, groups, alive, reachable)
            collections = self._loaded(refresh=False)
            dist = self._distribution()
            served = _served_by_collection(dist)
            # a collection whose lineage is not known this round is held back: no task, no view
            planned = [self._with_lineage(coll, served.get(coll.info.collectionID, set()))
                       for coll in collections]
            rebalance = self._balancer is not None
            tasks = checker.check(planned, dist, stopping, rebalance)
            if self._balancer is not None:
                tasks, switched = self._balancer.step(planned, dist, alive, stopping, tasks)
                if switched:  # a move's target serves its channel now: it leads it
                    self._meta.put_replicas(switched)
                    log.info("shard leaders moved: %s", [(r.id, checker.leaders(r)) for r in switched])
            for task in tasks:
                self._run(task)
            dist = self._distribution()
            for coll in planned:
                self._sync_views(coll, dist, stopping, rebalance)
            for coll, plan in zip(collections, planned, strict=True):
                self._update_progress(plan if plan.target is not None else coll, dist)
            with self._state_lock:
                self._last_dist = dist
            with self._nodes_lock:
                self._fresh -= set(alive)
            self._rounds += 1

    def _with_lineage(self, coll: Loaded, served: set[int]) -> Loaded:
        """``coll`` with its target's compaction results naming the served segments they
        replace through unserved ones (``lineage``).  When the data coordinator cannot say, and
        some served segment may be replaced so, ``coll`` without a target: held back this round
        (no load, no release, no view), since a result loaded or synced without its served
        ancestors would be read beside them, and a later round would not resend that view."""
        target = coll.target
        if target is None:
            return coll
        cid = coll.info.collectionID
        try:
            expanded = self._lineage.expand(target, served)
        except Exception as exc:  # noqa: BLE001 - the next round asks again
            log.warning("compaction lineage of collection %d not known, collection held back this round: %s",
                        cid, exc)
            return dataclasses.replace(coll, target=None)
        if expanded is target:
            return coll
        self._targets.put(expanded, replacing=target)
        return dataclasses.replace(coll, target=expanded)

    def _place(self, coll: Loaded, groups: dict[str, set[int]], alive: list[int], reachable: set[int]) -> None:
        """Keep a collection's replica members in line with the resource groups (``placement``),
        let drained outgoing members go, and give every channel a live leader."""
        replicas = {r.id: r for r in coll.replicas}
        for replica in placement.recover_nodes(coll.replicas, groups, alive, reachable):
            replicas[replica.id] = replica
        cid = coll.info.collectionID
        with self._state_lock:
            serving = {node: bool(nd.sealed_of(cid)) or any(c == cid for c, _ in nd.channels)
                       for node, nd in self._last_dist.items()}
        for rid, replica in list(replicas.items()):
            drained = placement.drop_drained(replica, serving)
            if drained is not None:
                replicas[rid] = drained
        for replica in checker.fix_replicas(list(replicas.values()), coll.target.channels, alive,
                                            move_off_ro=self._balancer is None):
            replicas[replica.id] = replica
        before = {r.id: r for r in coll.replicas}
        changed = [r for rid, r in sorted(replicas.items()) if r != before[rid]]
        if changed:
            self._meta.put_replicas(changed)
            log.info("replicas of collection %d: %s", cid,
                     [(r.id, placement.group_of(r), list(r.node_ids), list(r.ro_node_ids)) for r in changed])

    def _sync_views(self, coll: Loaded, dist: dict[int, NodeDist], stopping: set[int], rebalance: bool) -> None:
        """Give every node watching a channel of the collection (its leader, or a leader to be)
        the leader view the segments served now call for; ``dist`` is updated with what was synced.

        A node serving the channel already gets every view: the rows of a flushed segment not
        loaded yet are in its growing data.  A node that has not served it yet watched from
        the checkpoint, past such rows: it gets its first view (and becomes serviceable) only
        once the view has every segment of the channel's target, so that it never answers a
        short read."""
        target = coll.target
        if target is None:
            return
        cid = coll.info.collectionID
        for replica in coll.replicas:
            plan = checker.plan_replica(cid, replica, target, dist, stopping, rebalance, coll.pinned)
            for channel, view in sorted(plan.views.items()):
                complete = all(s.id in view.nodes for s in target.sealed_of(channel))
                for node_id in sorted(replica.node_ids):
                    nd = dist.get(node_id)
                    key = (cid, channel)
                    if nd is None or key not in nd.channels or (nd.views.get(key) == view.nodes
                                                                and key in nd.serviceable):
                        continue
                    if key not in nd.serviceable and not complete:
                        continue
                    node = self._node(node_id)
                    if node is None:
                        continue
                    request = querynode_pb2.SyncDistributionRequest(
                        collectionID=cid, channel=channel, dropped=view.dropped,
                        sealed=[self._location(cid, seg_id, holder, target, dist)
                                for seg_id, holder in sorted(view.nodes.items())])
                    try:
                        check(node.client.SyncDistribution(request), f"SyncDistribution on query node {node_id}")
                    except Exception as exc:  # noqa: BLE001 - the next round syncs again
                        log.warning("leader view of %s not synced on query node %d: %s", channel, node_id, exc)
                        continue
                    nd.views[key] = dict(view.nodes)
                    nd.serviceable.add(key)

    def _location(self, cid: int, seg_id: int, holder: int, target: CollectionTarget,
                  dist: dict[int, NodeDist]) -> querynode_pb2.SegmentLocation:
        """A view entry: the target's segment info, or what its node reports (a segment leaving the target)."""
        node = self._node(holder)
        out = querynode_pb2.SegmentLocation(segmentID=seg_id, node_id=holder, address=node.address if node else "")
        info = target.sealed.get(seg_id)
        if info is not None:
            out.partitionID, out.num_rows = info.partition_id, info.num_of_rows
            out.compaction_from.extend(info.compaction_from)
            out.deltalogs.extend(info.deltalogs)
        elif holder in dist:
            out.partitionID = dist[holder].partition_of.get((cid, seg_id), 0)
        return out

    def _update_progress(self, coll: Loaded, dist: dict[int, NodeDist]) -> None:
        """A collection is ready once its whole target was served (in this process's life);
        later targets (new flushed segments) are handed off behind the scenes."""
        info = coll.info
        cid = info.collectionID
        percent = checker.progress(coll, dist)
        with self._state_lock:
            self._progress[cid] = percent
            if percent == 100:
                self._ready.add(cid)
        if percent == 100 and info.status != querycoord_pb2.LOADED and self._meta.collection(cid):
            info.status = querycoord_pb2.LOADED
            self._meta.put(info)
            log.info("collection %d loaded", cid)

    # ---- tasks ---------------------------------------------------------------------------

    def _run(self, task: checker.Task) -> None:
        node = self._node(task.node_id)
        if node is None:
            return
        try:
            status = self._call(node, task)
            check(status, f"{type(task).__name__} on query node {task.node_id}")
        except Exception as exc:  # noqa: BLE001 - the next round retries
            log.warning("task %s failed: %s", task, exc)

    def _call(self, node: _Node, task: checker.Task) -> Any:
        if isinstance(task, checker.WatchChannel):
            target = self._targets.get(task.collection_id)
            info = self._meta.collection(task.collection_id)
            if target is None or info is None:
                return errors.OK
            request = querynode_pb2.QWatchDmChannelRequest(
                replicaID=task.replica_id, vchannel=target.channels[task.channel], schema=target.schema,
                schema_version=target.schema_version,
                partitionIDs=list(info.partitionIDs) if info.load_type == querycoord_pb2.LOAD_PARTITIONS else [],
                unflushed_segments=target.unflushed.get(task.channel, []))
            return node.client.WatchDmChannel(request)
        if isinstance(task, checker.LoadSegments):
            target = self._targets.get(task.collection_id)
            if target is None:
                return errors.OK
            request = querynode_pb2.LoadSegmentsRequest(
                replicaID=task.replica_id, collectionID=task.collection_id, schema=target.schema,
                schema_version=target.schema_version,
                segments=[target.sealed[s] for s in task.segment_ids if s in target.sealed],
                index_infos=[i for s in task.segment_ids for i in target.indexes.get(s, ())])
            return node.client.LoadSegments(request)
        if isinstance(task, checker.ReleaseSegments):
            return node.client.ReleaseSegments(querynode_pb2.ReleaseSegmentsRequest(
                collectionID=task.collection_id, segmentIDs=list(task.segment_ids)))
        return node.client.UnwatchDmChannel(querynode_pb2.QUnwatchDmChannelRequest(
            collectionID=task.collection_id, channel_name=task.channel))

    def _forget(self, collection_id: int) -> None:
        """Unload a collection: meta first (the checker stops serving it), then the nodes now."""
        self._meta.remove(collection_id)
        self._targets.remove(collection_id)
        with self._state_lock:
            self._progress.pop(collection_id, None)
            self._ready.discard(collection_id)
            self._pins.pop(collection_id, None)
        self._release_on_nodes(collection_id)

    def _release_on_nodes(self, collection_id: int) -> None:
        """Stop serving a collection everywhere now (not at the next round)."""
        for node_id, nd in self._distribution().items():
            segments = tuple(sorted(nd.sealed_of(collection_id)))
            if segments:
                self._run(checker.ReleaseSegments(node_id, collection_id, segments))
            for coll, channel in sorted(nd.channels):
                if coll == collection_id:
                    self._run(checker.UnwatchChannel(node_id, collection_id, channel))

    # ---- RPCs (the others: loads.py, serving.py, resource_rpcs.py) --------------------------

    def GetComponentStates(self, request: internal_pb2.GetComponentStatesRequest) -> internal_pb2.ComponentStates:
        """Its own state and, as subcomponents, each registered query node's."""
        state = internal_pb2.HEALTHY if self._serving else internal_pb2.INITIALIZING
        with self._nodes_lock:
            nodes = list(self._nodes.values())
        return internal_pb2.ComponentStates(
            state=internal_pb2.ComponentInfo(node_id=self._node_id, role="querycoord", state=state), status=errors.OK,
            subcomponent_states=[probe("querynode", node.node_id, node.client) for node in nodes])
