"""The query coordinator's RPCs about what serves a loaded collection (a mixin of
``QueryCoord``): shard leaders, replicas, the segments the nodes serve, their memory, and
LoadBalance's pins."""

from __future__ import annotations

from milvus import errors
from milvus._proto import internal_pb2, querycoord_pb2
from milvus.querycoord import placement, segdist
from milvus.querycoord.rpc import answers, log


class ServingRpcs:
    """GetShardLeaders, GetReplicas, LoadBalance, GetQuerySegments, GetNodeMemory."""

    @answers
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

    @answers
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

    @answers
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

    @answers
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

    @answers
    def GetNodeMemory(self, request: internal_pb2.GetNodeMemoryRequest):
        """The query nodes' memory, as they reported it with their newest distribution."""
        return self._memory.answer()
