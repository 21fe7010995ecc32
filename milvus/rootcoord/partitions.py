"""The root coordinator's partition RPCs (a mixin of ``RootCoord``)."""

from __future__ import annotations

from milvus import errors
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.rootcoord import collection_spec as spec
from milvus.rootcoord.meta_table import (
    CollectionInfo,
    PartitionInfo,
)
from milvus.rootcoord.rpc import OK, answers
from milvus.tso import parse_ts


class PartitionRpcs:
    """CreatePartition, DropPartition, HasPartition, ShowPartitions."""

    @staticmethod
    def _partition_key_mode(coll: CollectionInfo) -> bool:
        return any(f.is_partition_key for f in spec.parse_schema(coll.schema).fields)

    @answers
    def CreatePartition(self, request: milvus_pb2.CreatePartitionRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name)
            if self._partition_key_mode(coll):
                raise errors.MilvusError("disable create partition if partition key mode is used")
            name = request.partition_name
            if any(p.name == name for p in coll.partitions):
                return OK  # creating an existing partition is a no-op, as in Milvus
            limit = self._params.max_partitions
            if len(coll.partitions) >= limit:
                raise errors.MilvusError(
                    f"partition number ({len(coll.partitions)}) exceeds max configuration ({limit}), "
                    f"collection: {coll.name}")
            partition = PartitionInfo(id=self._alloc_id(), name=name, created_ts=self._tso.alloc(), collection_id=coll.id)
            self._meta.add_partition(coll, partition)
            expired.append(self._expire(coll))
        return OK

    @answers
    def DropPartition(self, request: milvus_pb2.DropPartitionRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name)
            name = request.partition_name
            if name == self._params.default_partition:
                raise errors.MilvusError("default partition cannot be deleted")
            if self._partition_key_mode(coll):
                raise errors.MilvusError("disable drop partition if partition key mode is used")
            partition = next((p for p in coll.partitions if p.name == name), None)
            if partition is None:
                return OK  # dropping is idempotent, as in Milvus
            self._meta.mark_partition_dropping(coll, partition)
            expired.append(self._expire(coll))
        self._drops.kick()
        return OK

    @answers
    def HasPartition(self, request: milvus_pb2.HasPartitionRequest) -> milvus_pb2.BoolResponse:
        with self._lock:
            coll = self._find(request.db_name, request.collection_name)
            found = any(p.name == request.partition_name for p in coll.partitions)
        return milvus_pb2.BoolResponse(status=OK, value=found)

    @answers
    def ShowPartitions(self, request: milvus_pb2.ShowPartitionsRequest) -> milvus_pb2.ShowPartitionsResponse:
        with self._lock:
            coll = self._find(request.db_name, request.collection_name, request.collectionID)
            partitions = list(coll.partitions)
        if request.partition_names:
            by_name = {p.name: p for p in partitions}
            missing = [n for n in request.partition_names if n not in by_name]
            if missing:
                raise errors.PartitionNotFound(f"partition not found[partition={missing[0]}]")
            partitions = [by_name[n] for n in request.partition_names]
        return milvus_pb2.ShowPartitionsResponse(
            status=OK,
            partition_names=[p.name for p in partitions],
            partitionIDs=[p.id for p in partitions],
            created_timestamps=[p.created_ts for p in partitions],
            created_utc_timestamps=[parse_ts(p.created_ts)[0] for p in partitions],
            inMemory_percentages=[0] * len(partitions),
        )
