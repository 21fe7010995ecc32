"""The query coordinator's resource group RPCs (a mixin of ``QueryCoord``; ``resource``: the
groups, ``placement``: replicas in them)."""

from __future__ import annotations

from milvus import errors
from milvus._proto import querycoord_pb2
from milvus.querycoord import placement, resource
from milvus.querycoord.rpc import answers, log


class ResourceGroupRpcs:
    """CreateResourceGroup, UpdateResourceGroups, TransferNode, DropResourceGroup,
    ListResourceGroups, TransferReplica, DescribeResourceGroup."""

    def _all_replicas(self) -> list[querycoord_pb2.Replica]:
        return [r for info in self._meta.collections() for r in self._meta.replicas(info.collectionID)]

    @answers
    def CreateResourceGroup(self, request: querycoord_pb2.CreateResourceGroupRequest):
        self._resources.create(request.name, request.config if request.HasField("config") else None)
        log.info("resource group %s created", request.name)
        self.trigger()
        return errors.OK

    @answers
    def UpdateResourceGroups(self, request: querycoord_pb2.UpdateResourceGroupsRequest):
        self._resources.update(dict(request.resource_groups))
        self.trigger()
        return errors.OK

    @answers
    def TransferNode(self, request: querycoord_pb2.TransferNodeRequest):
        self._resources.transfer_node(request.source, request.target, request.num_node)
        self.trigger()
        return errors.OK

    @answers
    def DropResourceGroup(self, request: querycoord_pb2.DropResourceGroupRequest):
        """Refused while a replica is in the group, for the default group, a group whose
        limits are not 0, or one another group's transfer config names."""
        with self._round_lock:  # no replica moves in meanwhile
            placement.check_unused(request.name, self._all_replicas())
            self._resources.remove(request.name)
        self.trigger()
        return errors.OK

    @answers
    def ListResourceGroups(self, request: querycoord_pb2.ListResourceGroupsRequest):
        return querycoord_pb2.ListResourceGroupsResponse(status=errors.OK, names=self._resources.names())

    @answers
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

    @answers
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
