"""The QueryCoord service (proto/querycoord.proto): load/release, replicas, shard leaders.

Injected by the composition root: the meta store (rooted at the meta prefix), a DataCoord
client (recovery info: checkpoints and segments), a RootCoord client (schemas and
vchannels), ``alloc_id(n)`` for replica ids, and query node clients through ``add_node``.

``LoadCollection``/``LoadPartitions`` only record what must be loaded (and its replicas) in
the meta store; a background loop — the checker — refreshes each loaded collection's target
from the data coordinator, reads every node's distribution, and runs the tasks that close
the gap (watch channels, load flushed segments on the replica members ``segdist`` assigns
them to, release what no node or leader view needs), then syncs each channel's leader view
(which node serves each sealed segment) to the nodes watching it.  So a restart, a new
flushed segment or a node that lost its state all converge the same way.
``GetLoadState`` reports how much of the target is served.

Query nodes belong to resource groups (``resource``) and a replica serves on nodes of its
group only (``placement``): each round first brings the groups to their configs, then every
replica's members in line with its group.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from milvus import errors
from milvus._proto import internal_pb2, querycoord_pb2, querynode_pb2
from milvus.grpc_gen import common_pb2
from milvus.kv.base import KV
from milvus.metastore.querycoord_catalog import QueryCoordCatalog
from milvus.querycoord import balance, checker, placement, resource, segdist
from milvus.querycoord.checker import Loaded, NodeDist
from milvus.querycoord.meta import LoadMeta
from milvus.querycoord.resource import ResourceManager
from milvus.querycoord.target import CollectionTarget, TargetManager, check
from milvus.rpc.answers import rpc_answers
from milvus.rpc.health import probe
from milvus.rpc.memory_reports import MemoryReports

log = logging.getLogger(__name__)

SERVICE = querycoord_pb2.DESCRIPTOR.services_by_name["QueryCoord"]


_answers = rpc_answers(
    SERVICE,
    ready=lambda self: self._serving,
    not_ready=lambda self: "service not ready[querycoord]",
    log=log,
)


@dataclass
class _Node:
    node_id: int
    client: Any
    address: str


class QueryCoord:
    name = "querycoord"

    def __init__(self, kv: KV, *, datacoord: Any, rootcoord: Any, alloc_id: Callable[[int], int],
                 check_interval: float = 1.0, node_id: int = 0, auto_balance: bool = True,
                 node_grace: float = 10.0):
        """``node_grace``: seconds after start before a query node kept in a resource group
        (from before a restart) that did not come back leaves it."""
        catalog = QueryCoordCatalog(kv)
        self._meta = LoadMeta(catalog)
        self._resources = ResourceManager(catalog)  # resource groups: which nodes serve which replicas
        self._node_grace = node_grace
        self._started_at = 0.0
        self._targets = TargetManager(datacoord, rootcoord)
        self._alloc_id = alloc_id
        self._interval = check_interval
        self._node_id = node_id
        self._nodes_lock = threading.Lock()
        self._nodes: dict[int, _Node] = {}
        self._fresh: set[int] = set()  # nodes added since the checker last asked every node (_nodes_lock)
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

    def add_node(self, node_id: int, client: Any, address: str = "") -> None:
        """A query node joined: it serves in its resource group (kept from before a restart,
        else the one that needs a node most)."""
        with self._nodes_lock:
            self._nodes[node_id] = _Node(node_id, client, address)
            self._fresh.add(node_id)
        group = self._resources.node_up(node_id)
        log.info("query node %d is in resource group %s", node_id, group)
        self.trigger()

    def remove_node(self, node_id: int) -> None:
        """A query node left the cluster: it leaves its resource group and its replicas."""
        with self._nodes_lock:
            self._nodes.pop(node_id, None)
            self._fresh.discard(node_id)
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
        with self._round_lock:
            alive = self._node_ids()
            stopping = self._stopping(alive) if self._balancer is not None else set()
            with self._state_lock:  # nodes that answered last round (a killed one may not have expired yet)
                reachable = set(self._last_dist) & set(alive)
            with self._nodes_lock:  # or joined since: not asked yet
                reachable |= self._fresh & set(alive)
            if time.monotonic() - self._started_at > self._node_grace:
                gone = self._resources.keep_only(alive)
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
            rebalance = self._balancer is not None
            tasks = checker.check(collections, dist, stopping, rebalance)
            if self._balancer is not None:
                tasks, switched = self._balancer.step(collections, dist, alive, stopping, tasks)
                if switched:  # a move's target serves its channel now: it leads it
                    self._meta.put_replicas(switched)
                    log.info("shard leaders moved: %s", [(r.id, checker.leaders(r)) for r in switched])
            for task in tasks:
                self._run(task)
            dist = self._distribution()
            for coll in collections:
                self._sync_views(coll, dist, stopping, rebalance)
            for coll in collections:
                self._update_progress(coll, dist)
            with self._state_lock:
                self._last_dist = dist
            with self._nodes_lock:
                self._fresh -= set(alive)
            self._rounds += 1

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

    # ---- RPCs ----------------------------------------------------------------------------

    def GetComponentStates(self, request: internal_pb2.GetComponentStatesRequest) -> internal_pb2.ComponentStates:
        """Its own state and, as subcomponents, each registered query node's."""
        state = internal_pb2.HEALTHY if self._serving else internal_pb2.INITIALIZING
        with self._nodes_lock:
            nodes = list(self._nodes.values())
        return internal_pb2.ComponentStates(
            state=internal_pb2.ComponentInfo(node_id=self._node_id, role="querycoord", state=state), status=errors.OK,
            subcomponent_states=[probe("querynode", node.node_id, node.client) for node in nodes])

    def _new_replicas(self, collection_id: int, count: int, groups: list[str]) -> list[querycoord_pb2.Replica]:
        """``count`` replicas spread over the resource groups named (``placement``), each
        given its share of its group's nodes and a leader per channel."""
        alive = set(self._node_ids())
        nodes = {name: members & alive for name, members in self._resources.nodes().items()}
        per_group = placement.replicas_per_group(groups, count, nodes)
        channels = self._targets.describe(collection_id).virtual_channels
        ids = iter(range(self._alloc_id(count), 1 << 62))
        replicas = [querycoord_pb2.Replica(id=next(ids), collectionID=collection_id, resource_group=name)
                    for name, n in per_group.items() for _ in range(n)]
        placed = {r.id: r for r in placement.recover_nodes(replicas, nodes, alive)}
        replicas = [placed.get(r.id, r) for r in replicas]
        led = {r.id: r for r in checker.fix_replicas(replicas, channels, alive)}
        return [led.get(r.id, r) for r in replicas]

    def _load(self, collection_id: int, db_id: int, replica_number: int, partitions: list[int] | None,
              load_fields: list[str], refresh: bool, groups: list[str]) -> None:
        replica_number = replica_number or 1
        current = self._meta.collection(collection_id)
        if current is not None:
            if current.replica_number != replica_number and not refresh:
                raise errors.ParameterInvalid(
                    f"can't change the replica number for loaded collection: expected={current.replica_number}, "
                    f"actual={replica_number}")
            used = sorted({placement.group_of(r) for r in self._meta.replicas(collection_id)})
            if groups and sorted(set(groups)) != used and not refresh:
                raise errors.ParameterInvalid(
                    f"can't change the resource groups for loaded collection: expected={used}, "
                    f"actual={sorted(set(groups))}")
            if partitions is None:
                if current.load_type == querycoord_pb2.LOAD_PARTITIONS:
                    current.load_type = querycoord_pb2.LOAD_COLLECTION
                    del current.partitionIDs[:]
                    current.status = querycoord_pb2.LOADING
                    self._meta.put(current)
                    with self._state_lock:
                        self._ready.discard(collection_id)
            elif current.load_type == querycoord_pb2.LOAD_PARTITIONS:
                new = [p for p in partitions if p not in current.partitionIDs]
                if new:
                    current.partitionIDs.extend(new)
                    current.status = querycoord_pb2.LOADING
                    self._meta.put(current)
                    with self._state_lock:
                        self._ready.discard(collection_id)
                    self._on_leaders(collection_id, lambda client: client.LoadPartitions(
                        querynode_pb2.QLoadPartitionsRequest(collectionID=collection_id, partitionIDs=new)))
            self.trigger()
            return
        self._targets.describe(collection_id, refresh=True)  # fails early for an unknown collection
        info = querycoord_pb2.CollectionLoadInfo(
            collectionID=collection_id, dbID=db_id, replica_number=replica_number,
            load_type=querycoord_pb2.LOAD_COLLECTION if partitions is None else querycoord_pb2.LOAD_PARTITIONS,
            partitionIDs=partitions or [], status=querycoord_pb2.LOADING, load_fields=load_fields)
        try:
            replicas = self._new_replicas(collection_id, replica_number, groups)
        except errors.MilvusError as exc:  # Milvus' wording: what failed, then why
            what = "collection" if partitions is None else "partitions"
            raise type(exc)(f"failed to load {what}: {exc.message}", code=exc.code, legacy=exc.legacy) from None
        self._meta.put(info, replicas)
        log.info("loading collection %d (%d replicas in %s, partitions %s)", collection_id, replica_number,
                 sorted({placement.group_of(r) for r in replicas}), "all" if partitions is None else partitions)
        self.trigger()

    def _on_leaders(self, collection_id: int, call: Callable[[Any], Any]) -> None:
        nodes = {leader.node_id for r in self._meta.replicas(collection_id) for leader in r.shard_leaders}
        for node_id in sorted(nodes):
            node = self._node(node_id)
            if node is not None:
                try:
                    call(node.client)
                except Exception as exc:  # noqa: BLE001 - the node reloads from the target later
                    log.warning("query node %d: %s", node_id, exc)

    @_answers
    def LoadCollection(self, request: querycoord_pb2.LoadCollectionRequest):
        self._load(request.collectionID, request.dbID, request.replica_number, None, list(request.load_fields),
                   request.refresh, list(request.resource_groups))
        return errors.OK

    @_answers
    def LoadPartitions(self, request: querycoord_pb2.LoadPartitionsRequest):
        if not request.partitionIDs:
            raise errors.ParameterInvalid("LoadPartitions: no partition given")
        self._load(request.collectionID, request.dbID, request.replica_number, list(request.partitionIDs), [],
                   request.refresh, list(request.resource_groups))
        return errors.OK

    @_answers
    def ReleaseCollection(self, request: querycoord_pb2.ReleaseCollectionRequest):
        with self._round_lock:
            if self._meta.collection(request.collectionID) is None:
                return errors.OK
            self._forget(request.collectionID)
        log.info("released collection %d", request.collectionID)
        return errors.OK

    @_answers
    def ReleasePartitions(self, request: querycoord_pb2.ReleasePartitionsRequest):
        with self._round_lock:
            info = self._meta.collection(request.collectionID)
            if info is None:
                return errors.OK
            released = list(request.partitionIDs)
            if info.load_type == querycoord_pb2.LOAD_COLLECTION:
                if request.base.msg_type != common_pb2.DropPartition:
                    raise errors.ParameterInvalid(
                        "releasing some partitions after load collection is not supported")
                # a dropped partition (the root coordinator's drop): the collection stays loaded
                self._on_leaders(request.collectionID, lambda client: client.ReleasePartitions(
                    querynode_pb2.QReleasePartitionsRequest(collectionID=request.collectionID, partitionIDs=released)))
                self.trigger()
                return errors.OK
            left = [p for p in info.partitionIDs if p not in set(request.partitionIDs)]
            if not left:
                self._forget(request.collectionID)
                return errors.OK
            del info.partitionIDs[:]
            info.partitionIDs.extend(left)
            self._meta.put(info)
            self._on_leaders(request.collectionID, lambda client: client.ReleasePartitions(
                querynode_pb2.QReleasePartitionsRequest(collectionID=request.collectionID, partitionIDs=released)))
        self.trigger()
        return errors.OK

    def _percent(self, info: querycoord_pb2.CollectionLoadInfo) -> int:
        """100 once loaded and served since this coordinator started, else the progress (<100)."""
        with self._state_lock:
            if info.status == querycoord_pb2.LOADED and info.collectionID in self._ready:
                return 100
            return min(99, self._progress.get(info.collectionID, 0))

    @_answers
    def GetLoadState(self, request: querycoord_pb2.GetLoadStateRequest):
        info = self._meta.collection(request.collectionID)
        if info is None:
            return querycoord_pb2.GetLoadStateResponse(status=errors.OK, state=querycoord_pb2.LOAD_STATUS_NONE)
        if request.partitionIDs and info.load_type == querycoord_pb2.LOAD_PARTITIONS:
            if any(p not in info.partitionIDs for p in request.partitionIDs):
                return querycoord_pb2.GetLoadStateResponse(status=errors.OK, state=querycoord_pb2.LOAD_STATUS_NONE)
        percent = self._percent(info)
        state = querycoord_pb2.LOADED if percent == 100 else querycoord_pb2.LOADING
        return querycoord_pb2.GetLoadStateResponse(status=errors.OK, state=state, progress=percent)

    @_answers
    def GetShardLeaders(self, request: querycoord_pb2.GetShardLeadersRequest):
        """The replicas whose every channel has a live leader watching it (a replica that lost
        a node is left out until the checker gave its channels to a live member); ChannelNotFound
        when no replica can serve."""
        info = self._meta.collection(request.collectionID)
        if info is None:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={request.collectionID}]")
        if self._percent(info) < 100:
            raise errors.ServiceUnavailable(f"collection {request.collectionID} is still loading")
        with self._state_lock:
            dist = self._last_dist
        resp = querycoord_pb2.GetShardLeadersResponse(status=errors.OK)
        unavailable = ""
        for replica in self._meta.replicas(request.collectionID):
            leaders = []
            for leader in replica.shard_leaders:
                node = self._node(leader.node_id)
                key = (request.collectionID, leader.channel_name)
                served = leader.node_id in dist and key in dist[leader.node_id].channels and \
                    key in dist[leader.node_id].serviceable
                if node is None or not served:
                    unavailable = unavailable or leader.channel_name
                    break
                leaders.append((leader.channel_name, leader.node_id, node.address))
            else:
                out = resp.replicas.add(id=replica.id, collectionID=replica.collectionID, node_ids=replica.node_ids)
                for channel, node_id, address in leaders:
                    out.shard_leaders.add(channel_name=channel, node_id=node_id, address=address)
        if not resp.replicas:
            raise errors.ChannelNotFound(f"channel {unavailable} of collection {request.collectionID} is not "
                                         f"available: no serving leader")
        return resp

    @_answers
    def GetReplicas(self, request: querycoord_pb2.GetReplicasRequest):
        """Every replica of a loaded collection, serving or not: its members and, per channel,
        the leader and the nodes its leader view reads sealed segments from."""
        info = self._meta.collection(request.collectionID)
        if info is None:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={request.collectionID}]")
        with self._state_lock:
            dist = self._last_dist
        resp = querycoord_pb2.GetReplicasResponse(status=errors.OK, partitionIDs=info.partitionIDs)
        group_of_node = {n: name for name, nodes in self._resources.nodes().items() for n in nodes}
        for replica in self._meta.replicas(request.collectionID):
            out = resp.replicas.add(id=replica.id, collectionID=replica.collectionID,
                                    node_ids=placement.rw_nodes(replica), resource_group=placement.group_of(replica),
                                    num_outbound_node=placement.outbound(replica, group_of_node))
            for leader in replica.shard_leaders:
                node = self._node(leader.node_id)
                view = dist[leader.node_id].views.get((request.collectionID, leader.channel_name), {}) \
                    if leader.node_id in dist else {}
                out.shards.add(channel_name=leader.channel_name, leader_id=leader.node_id,
                               leader_address=node.address if node is not None else "",
                               node_ids=sorted({leader.node_id, *view.values()}))
        return resp

    @_answers
    def LoadBalance(self, request: querycoord_pb2.LoadBalanceRequest):
        """Pin sealed segments the source node serves to other members of its replica (see
        the request's comment in querycoord.proto); the checker moves them at once."""
        cid, source = request.collectionID, request.source_node
        if self._meta.collection(cid) is None:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={cid}]")
        replica = next((r for r in self._meta.replicas(cid) if source in r.node_ids), None)
        if replica is None:
            raise errors.ParameterInvalid(f"source node {source} of collection {cid} not found in any replica")
        alive = set(self._node_ids())
        if source not in alive:
            raise errors.NodeNotFound(f"source node {source} is not a live query node")
        destinations = list(request.destination_nodes) or [n for n in replica.node_ids if n != source]
        for node in destinations:
            if node == source or node not in replica.node_ids:
                raise errors.ParameterInvalid(f"destination node {node} has to be another member of source node "
                                              f"{source}'s replica {replica.id} (members {sorted(replica.node_ids)})")
            if node not in alive:
                raise errors.NodeNotFound(f"destination node {node} is not a live query node")
        if not destinations:
            raise errors.ParameterInvalid(f"replica {replica.id} has no other member to move segments to")
        dist = self._distribution()  # asked now: the last round's may predate what the caller saw
        target = self._targets.get(cid)
        on_source = dist[source].sealed_of(cid) if source in dist else {}
        moving = list(request.segment_ids) or sorted(on_source)
        for seg_id in moving:
            if seg_id not in on_source:
                raise errors.SegmentNotFound(f"sealed segment {seg_id} of collection {cid} is not on query node {source}")
            if target is not None and seg_id in target.sealed and segdist.is_l0(target.sealed[seg_id]):
                raise errors.ParameterInvalid(f"segment {seg_id} holds deletes only: it stays with its channel's leader")
        rows = {n: sum(info.num_of_rows for s, info in (target.sealed.items() if target else ())
                       if dist.get(n) is not None and s in dist[n].sealed_of(cid)) for n in destinations}
        with self._state_lock:
            pins = self._pins.setdefault(cid, {})
            for seg_id in moving:
                node = min(destinations, key=lambda n: (rows[n], n))
                pins[seg_id] = node
                rows[node] += target.sealed[seg_id].num_of_rows if target and seg_id in target.sealed else 0
        log.info("load balance of collection %d: segments %s pinned away from query node %d", cid, moving, source)
        self.trigger()
        return errors.OK

    # ---- resource groups (resource.py: the groups; placement.py: replicas in them) -----------

    def _all_replicas(self) -> list[querycoord_pb2.Replica]:
        return [r for info in self._meta.collections() for r in self._meta.replicas(info.collectionID)]

    @_answers
    def CreateResourceGroup(self, request: querycoord_pb2.CreateResourceGroupRequest):
        self._resources.create(request.name, request.config if request.HasField("config") else None)
        log.info("resource group %s created", request.name)
        self.trigger()
        return errors.OK

    @_answers
    def UpdateResourceGroups(self, request: querycoord_pb2.UpdateResourceGroupsRequest):
        self._resources.update(dict(request.resource_groups))
        self.trigger()
        return errors.OK

    @_answers
    def TransferNode(self, request: querycoord_pb2.TransferNodeRequest):
        self._resources.transfer_node(request.source, request.target, request.num_node)
        self.trigger()
        return errors.OK

    @_answers
    def DropResourceGroup(self, request: querycoord_pb2.DropResourceGroupRequest):
        """Refused while a replica is in the group, for the default group, a group whose
        limits are not 0, or one another group's transfer config names."""
        with self._round_lock:  # no replica moves in meanwhile
            placement.check_unused(request.name, self._all_replicas())
            self._resources.remove(request.name)
        self.trigger()
        return errors.OK

    @_answers
    def ListResourceGroups(self, request: querycoord_pb2.ListResourceGroupsRequest):
        return querycoord_pb2.ListResourceGroupsResponse(status=errors.OK, names=self._resources.names())

    @_answers
    def TransferReplica(self, request: querycoord_pb2.TransferReplicaRequest):
        """Move replicas of a loaded collection to another group: the checker gives them
        nodes there and moves their data off the nodes of the old one."""
        for role, name in (("source", request.source), ("target", request.target)):
            if not self._resources.exists(name):
                raise errors.ResourceGroupNotFound(f"the {role} resource group[{name}] doesn't exist: "
                                                   f"{resource.not_found(name).message}")
        if request.source == request.target:
            raise errors.ParameterInvalid(f"source resource group and target resource group should not be the "
                                          f"same, resource group: {request.source}: invalid parameter")
        if request.num_replica <= 0:
            raise resource.invalid("NumReplica > 0", f"invalid NumReplica {request.num_replica}")
        cid = request.collectionID
        with self._round_lock:
            if self._meta.collection(cid) is None:
                raise resource.invalid("Collection not loaded", f"collectionID {cid}")
            moved = placement.transfer(self._meta.replicas(cid), request.source, request.target, request.num_replica)
            self._meta.put_replicas(moved)
        log.info("replicas %s of collection %d moved from resource group %s to %s", [r.id for r in moved], cid,
                 request.source, request.target)
        self.trigger()
        return errors.OK

    @_answers
    def DescribeResourceGroup(self, request: querycoord_pb2.DescribeResourceGroupRequest):
        """A group's config, its live nodes and, per collection, its replicas in the group,
        their members that left the group (outgoing) and the group's nodes still serving
        replicas of other groups (incoming)."""
        name = request.name
        group = self._resources.get(name)
        if group is None:
            raise resource.not_found(name)
        out = querycoord_pb2.ResourceGroupInfo(name=name, capacity=group.capacity, config=group.config)
        for node_id in sorted(group.nodes):
            node = self._node(node_id)
            if node is not None:
                out.nodes.add(node_id=node.node_id, address=node.address, hostname=node.address.rsplit(":", 1)[0])
        out.num_available_node = len(out.nodes)
        loaded, outgoing, incoming = placement.usage(name, group.nodes, self._all_replicas())
        out.num_loaded_replica.update(loaded)
        out.num_outgoing_node.update(outgoing)
        out.num_incoming_node.update(incoming)
        return querycoord_pb2.DescribeResourceGroupResponse(status=errors.OK, resource_group=out)

    @_answers
    def ShowLoadedCollections(self, request: querycoord_pb2.ShowLoadedCollectionsRequest):
        resp = querycoord_pb2.ShowLoadedCollectionsResponse(status=errors.OK)
        wanted = set(request.collectionIDs)
        for info in self._meta.collections():
            if wanted and info.collectionID not in wanted:
                continue
            resp.collectionIDs.append(info.collectionID)
            resp.progress.append(self._percent(info))
        missing = sorted(wanted - set(resp.collectionIDs))
        if missing:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={missing[0]}]")
        return resp

    @_answers
    def ShowLoadedPartitions(self, request: querycoord_pb2.ShowLoadedPartitionsRequest):
        info = self._meta.collection(request.collectionID)
        if info is None:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={request.collectionID}]")
        return querycoord_pb2.ShowLoadedPartitionsResponse(status=errors.OK, load_type=info.load_type,
                                                           partitionIDs=info.partitionIDs)

    @_answers
    def GetNodeMemory(self, request: internal_pb2.GetNodeMemoryRequest):
        """The query nodes' memory, as they reported it with their newest distribution."""
        return self._memory.answer()

    @_answers
    def GetQuerySegments(self, request: querycoord_pb2.GetQuerySegmentsRequest):
        """The sealed segments the query nodes serve now for a loaded collection (asked of every
        node, not the checker's last round), each with the nodes serving it."""
        if self._meta.collection(request.collectionID) is None:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={request.collectionID}]")
        found: dict[int, querycoord_pb2.QuerySegment] = {}
        for node_id, resp in self._ask_distributions():
            for seg in resp.segments:
                if not seg.sealed or seg.collectionID != request.collectionID:
                    continue
                out = found.get(seg.id)
                if out is None:
                    out = found[seg.id] = querycoord_pb2.QuerySegment(
                        segmentID=seg.id, collectionID=seg.collectionID, partitionID=seg.partitionID,
                        num_rows=seg.num_rows, index_build_ids=seg.index_build_ids, channel=seg.channel)
                if node_id not in out.node_ids:
                    out.node_ids.append(node_id)
        return querycoord_pb2.GetQuerySegmentsResponse(status=errors.OK,
                                                       segments=[found[s] for s in sorted(found)])
