"""The query coordinator's load and release RPCs and load states (a mixin of ``QueryCoord``):
they record what must be loaded, and its replicas, in the meta store; the checker does the
rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from milvus import errors
from milvus._proto import querycoord_pb2, querynode_pb2
from milvus.grpc_gen import common_pb2
from milvus.querycoord import checker, placement
from milvus.querycoord.rpc import answers, log


class LoadRpcs:
    """LoadCollection, LoadPartitions, ReleaseCollection, ReleasePartitions, GetLoadState,
    ShowLoadedCollections, ShowLoadedPartitions."""

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

    @answers
    def LoadCollection(self, request: querycoord_pb2.LoadCollectionRequest):
        self._load(request.collectionID, request.dbID, request.replica_number, None, list(request.load_fields),
                   request.refresh, list(request.resource_groups))
        return errors.OK

    @answers
    def LoadPartitions(self, request: querycoord_pb2.LoadPartitionsRequest):
        if not request.partitionIDs:
            raise errors.ParameterInvalid("LoadPartitions: no partition given")
        self._load(request.collectionID, request.dbID, request.replica_number, list(request.partitionIDs), [],
                   request.refresh, list(request.resource_groups))
        return errors.OK

    @answers
    def ReleaseCollection(self, request: querycoord_pb2.ReleaseCollectionRequest):
        with self._round_lock:
            if self._meta.collection(request.collectionID) is None:
                return errors.OK
            self._forget(request.collectionID)
        log.info("released collection %d", request.collectionID)
        return errors.OK

    @answers
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

    @answers
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

    @answers
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

    @answers
    def ShowLoadedPartitions(self, request: querycoord_pb2.ShowLoadedPartitionsRequest):
        info = self._meta.collection(request.collectionID)
        if info is None:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={request.collectionID}]")
        return querycoord_pb2.ShowLoadedPartitionsResponse(status=errors.OK, load_type=info.load_type,
                                                           partitionIDs=info.partitionIDs)
