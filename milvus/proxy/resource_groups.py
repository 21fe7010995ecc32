"""Resource groups through the query coordinator (which keeps them): names checked like
Milvus' proxy, collections named by the caller turned into ids, and back into names in
``describe``."""

from __future__ import annotations

from collections.abc import Mapping

from milvus import errors
from milvus._proto import querycoord_pb2
from milvus.grpc_gen import milvus_pb2, rg_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.collections import Collections
from milvus.proxy.validate import NameRules


class ResourceGroups:
    def __init__(self, collections: Collections, querycoord: Caller, names: NameRules):
        self._collections = collections
        self._querycoord = querycoord
        self._names = names

    def create(self, name: str, config: rg_pb2.ResourceGroupConfig | None) -> None:
        self._names.resource_group(name)
        self._querycoord("CreateResourceGroup", querycoord_pb2.CreateResourceGroupRequest(name=name, config=config))

    def update(self, configs: Mapping[str, rg_pb2.ResourceGroupConfig]) -> None:
        for name in configs:
            self._names.resource_group(name)
        request = querycoord_pb2.UpdateResourceGroupsRequest()
        for name, config in configs.items():
            request.resource_groups[name].CopyFrom(config)
        self._querycoord("UpdateResourceGroups", request)

    def drop(self, name: str) -> None:
        self._querycoord("DropResourceGroup", querycoord_pb2.DropResourceGroupRequest(name=name))

    def names(self) -> list[str]:
        return list(self._querycoord("ListResourceGroups", querycoord_pb2.ListResourceGroupsRequest()).names)

    def transfer_node(self, source: str, target: str, num: int) -> None:
        self._querycoord("TransferNode", querycoord_pb2.TransferNodeRequest(source=source, target=target,
                                                                            num_node=num))

    def transfer_replica(self, db: str, source: str, target: str, collection: str, num: int) -> None:
        coll = self._collections.get(db, collection)
        self._querycoord("TransferReplica", querycoord_pb2.TransferReplicaRequest(
            source=source, target=target, collectionID=coll.id, num_replica=num))

    def describe(self, name: str) -> milvus_pb2.ResourceGroup:
        """The group as pymilvus reads it; its per-collection counts keyed by collection name."""
        found = self._querycoord("DescribeResourceGroup",
                                 querycoord_pb2.DescribeResourceGroupRequest(name=name)).resource_group
        group = milvus_pb2.ResourceGroup(name=found.name, capacity=found.capacity,
                                         num_available_node=found.num_available_node, config=found.config,
                                         nodes=found.nodes)
        for counts, into in ((found.num_loaded_replica, group.num_loaded_replica),
                             (found.num_outgoing_node, group.num_outgoing_node),
                             (found.num_incoming_node, group.num_incoming_node)):
            for collection_id, count in counts.items():
                try:
                    into[self._collections.get_by_id(collection_id).name] = count
                except errors.CollectionNotFound:
                    continue  # dropped meanwhile
        return group
