"""Load/release through the query coordinator; flush, flush state and statistics through the
data coordinator."""

from __future__ import annotations

from milvus import errors
from milvus._proto import datacoord_pb2, querycoord_pb2
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.channel_writer import ChannelWriter
from milvus.proxy.collections import Collections
from milvus.proxy.segment_info import query_segment_infos

_SEGMENT_STATE = {
    datacoord_pb2.GROWING: common_pb2.SegmentState.Growing,
    datacoord_pb2.SEALED: common_pb2.SegmentState.Sealed,
    datacoord_pb2.FLUSHING: common_pb2.SegmentState.Flushing,
    datacoord_pb2.FLUSHED: common_pb2.SegmentState.Flushed,
    datacoord_pb2.DROPPED: common_pb2.SegmentState.Dropped,
}
_LOAD_STATE = {
    querycoord_pb2.LOAD_STATUS_NONE: common_pb2.LoadState.LoadStateNotLoad,
    querycoord_pb2.LOADING: common_pb2.LoadState.LoadStateLoading,
    querycoord_pb2.LOADED: common_pb2.LoadState.LoadStateLoaded,
}


class Loads:
    def __init__(self, collections: Collections, datacoord: Caller, querycoord: Caller, writer: ChannelWriter):
        self._collections = collections
        self._datacoord = datacoord
        self._querycoord = querycoord
        self._writer = writer

    # ---- load / release -------------------------------------------------------------

    def load_collection(self, db: str, request: milvus_pb2.LoadCollectionRequest) -> None:
        """Replicas go to the resource groups named (the query coordinator checks them)."""
        coll = self._collections.get(db, request.collection_name)
        self._collections.ensure_watched(coll)
        self._querycoord("LoadCollection", querycoord_pb2.LoadCollectionRequest(
            dbID=coll.info.db_id, collectionID=coll.id, replica_number=max(1, request.replica_number),
            resource_groups=request.resource_groups, refresh=request.refresh, load_fields=request.load_fields))

    def load_partitions(self, db: str, request: milvus_pb2.LoadPartitionsRequest) -> None:
        coll = self._collections.get(db, request.collection_name)
        self._collections.ensure_watched(coll)
        self._querycoord("LoadPartitions", querycoord_pb2.LoadPartitionsRequest(
            dbID=coll.info.db_id, collectionID=coll.id, partitionIDs=coll.partition_ids(request.partition_names),
            replica_number=max(1, request.replica_number), refresh=request.refresh,
            resource_groups=request.resource_groups))

    def release_collection(self, db: str, name: str) -> None:
        coll = self._collections.get(db, name)
        self._querycoord("ReleaseCollection", querycoord_pb2.ReleaseCollectionRequest(
            dbID=coll.info.db_id, collectionID=coll.id))

    def release_partitions(self, db: str, name: str, partitions) -> None:
        coll = self._collections.get(db, name)
        self._querycoord("ReleasePartitions", querycoord_pb2.ReleasePartitionsRequest(
            dbID=coll.info.db_id, collectionID=coll.id, partitionIDs=coll.partition_ids(partitions)))

    def load_state(self, db: str, name: str, partitions=()) -> querycoord_pb2.GetLoadStateResponse:
        coll = self._collections.get(db, name)
        return self._querycoord("GetLoadState", querycoord_pb2.GetLoadStateRequest(
            collectionID=coll.id, partitionIDs=coll.partition_ids(partitions)))

    def partition_loaded(self, db: str, name: str, partition: str) -> bool:
        """Whether the partition is loaded (or loading), alone or with its whole collection;
        False for a collection or partition that does not exist."""
        try:
            coll = self._collections.get(db, name)
            part_ids = coll.partition_ids([partition])
        except (errors.DatabaseNotFound, errors.CollectionNotFound, errors.PartitionNotFound):
            return False
        state = self._querycoord("GetLoadState", querycoord_pb2.GetLoadStateRequest(
            collectionID=coll.id, partitionIDs=part_ids)).state
        return state != querycoord_pb2.LOAD_STATUS_NONE

    def public_load_state(self, db: str, name: str, partitions=()) -> int:
        return _LOAD_STATE.get(self.load_state(db, name, partitions).state, common_pb2.LoadState.LoadStateNotLoad)

    def loading_progress(self, db: str, name: str, partitions=()) -> int:
        state = self.load_state(db, name, partitions)
        if state.state == querycoord_pb2.LOAD_STATUS_NONE:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={name}]")
        return 100 if state.state == querycoord_pb2.LOADED else int(state.progress)

    def load_balance(self, db: str, request: milvus_pb2.LoadBalanceRequest) -> None:
        """Move sealed segments of a loaded collection off a query node (``utility.load_balance``)."""
        coll = self._collections.get(db, request.collectionName)
        self._querycoord("LoadBalance", querycoord_pb2.LoadBalanceRequest(
            collectionID=coll.id, source_node=request.src_nodeID, destination_nodes=request.dst_nodeIDs,
            segment_ids=request.sealed_segmentIDs))

    def replicas(self, db: str, request: milvus_pb2.GetReplicasRequest) -> milvus_pb2.GetReplicasResponse:
        """The replicas of a loaded collection (by id, or by name in ``db``): members, and per
        channel its leader and the nodes serving it when ``with_shard_nodes``."""
        coll = self._collections.get_by_id(request.collectionID) if request.collectionID \
            else self._collections.get(db, request.collection_name)
        found = self._querycoord("GetReplicas", querycoord_pb2.GetReplicasRequest(collectionID=coll.id))
        response = milvus_pb2.GetReplicasResponse(status=errors.OK)
        for replica in found.replicas:
            info = response.replicas.add(replicaID=replica.id, collectionID=replica.collectionID,
                                         partition_ids=found.partitionIDs, node_ids=replica.node_ids,
                                         resource_group_name=replica.resource_group,
                                         num_outbound_node=replica.num_outbound_node)
            for shard in replica.shards:
                info.shard_replicas.add(leaderID=shard.leader_id, leader_addr=shard.leader_address,
                                        dm_channel_name=shard.channel_name,
                                        node_ids=shard.node_ids if request.with_shard_nodes else [])
        return response

    def loaded_percentages(self, collection_ids: list[int]) -> dict[int, int]:
        if not collection_ids:
            return {}
        response = self._querycoord("ShowLoadedCollections", querycoord_pb2.ShowLoadedCollectionsRequest())
        wanted = set(collection_ids)
        return {cid: p for cid, p in zip(response.collectionIDs, response.progress, strict=False) if cid in wanted}

    # ---- flush and statistics -------------------------------------------------------

    def _flush(self, coll) -> datacoord_pb2.FlushResponse:
        self._collections.ensure_watched(coll)
        return self._datacoord("Flush", datacoord_pb2.FlushRequest(dbID=coll.info.db_id, collectionID=coll.id))

    def flush(self, db: str, names) -> milvus_pb2.FlushResponse:
        response = milvus_pb2.FlushResponse(status=errors.OK, db_name=db)
        for name in names:
            flushed = self._flush(self._collections.get(db, name))
            self._writer.kick()  # the data nodes flush once their tsafe passes flush_ts
            response.coll_segIDs[name].data.extend(flushed.segmentIDs)
            response.flush_coll_segIDs[name].data.extend(flushed.flushSegmentIDs)
            response.coll_seal_times[name] = 0
            response.coll_flush_ts[name] = flushed.flush_ts
        return response

    def flush_all(self, collections) -> int:
        """Flush every collection of ``collections`` (``CollectionInfo``); the flush-all
        timestamp: every row written before it is persisted once ``flush_all_state`` says so."""
        flush_all_ts = max((self._flush(self._collections.get_by_id(info.id)).flush_ts for info in collections),
                           default=0)
        self._writer.kick()
        return flush_all_ts

    def flush_all_state(self, collections, flush_all_ts: int) -> bool:
        """Whether every channel of the collections that existed at ``flush_all_ts`` has
        persisted everything before it."""
        self._writer.kick()
        for info in collections:
            if info.created_ts > flush_all_ts:
                continue
            if not self._datacoord("GetFlushState", datacoord_pb2.GetFlushStateRequest(
                    collectionID=info.id, flush_ts=flush_all_ts)).flushed:
                return False
        return True

    def flush_state(self, db: str, request: milvus_pb2.GetFlushStateRequest) -> bool:
        coll = self._collections.get(db, request.collection_name) if request.collection_name else None
        self._writer.kick()
        return self._datacoord("GetFlushState", datacoord_pb2.GetFlushStateRequest(
            collectionID=coll.id if coll else 0, segmentIDs=request.segmentIDs, flush_ts=request.flush_ts)).flushed

    def row_count(self, db: str, name: str, partition: str = "") -> int:
        coll = self._collections.get(db, name)
        partitions = [coll.partition_id(partition)] if partition else []
        return self._datacoord("GetCollectionStatistics", datacoord_pb2.GetCollectionStatisticsRequest(
            collectionID=coll.id, partitionIDs=partitions, truncated_ts=coll.info.truncated_ts)).row_count

    def persistent_segments(self, db: str, name: str) -> list[milvus_pb2.PersistentSegmentInfo]:
        coll = self._collections.get(db, name)
        recovery = self._datacoord("GetRecoveryInfo", datacoord_pb2.GetRecoveryInfoRequest(collectionID=coll.id))
        return [milvus_pb2.PersistentSegmentInfo(
            segmentID=s.id, collectionID=s.collection_id, partitionID=s.partition_id, num_rows=s.num_of_rows,
            state=_SEGMENT_STATE.get(s.state, common_pb2.SegmentState.SegmentStateNone), insert_channel=s.insert_channel,
            level=s.level) for s in recovery.segments]

    def query_segments(self, db: str, name: str) -> list[milvus_pb2.QuerySegmentInfo]:
        return query_segment_infos(self._collections, self._datacoord, self._querycoord, db, name)


def stats_pairs(row_count: int) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key="row_count", value=str(row_count))]

