"""GetQuerySegmentInfo: the sealed segments the query nodes serve for a loaded collection.

The query coordinator answers which sealed segments are served and by which query nodes
(``GetQuerySegments``: it asks every node's distribution); the data coordinator adds what
the nodes do not report: the segment's level and size (its insert binlogs, as Milvus'
``mem_size`` estimate) and the name/id of the index the nodes search it with (the finished
builds ``GetIndexInfos`` lists, matched by build id).  Served segments are reported
``Sealed``, as Milvus' query coordinator does.
"""

from __future__ import annotations

from milvus._proto import datacoord_pb2, querycoord_pb2
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.collections import Collections


def query_segment_infos(collections: Collections, datacoord: Caller, querycoord: Caller, db: str,
                        name: str) -> list[milvus_pb2.QuerySegmentInfo]:
    """CollectionNotFound for an unknown collection, CollectionNotLoaded for one not loaded."""
    coll = collections.get(db, name)
    served = querycoord("GetQuerySegments", querycoord_pb2.GetQuerySegmentsRequest(collectionID=coll.id)).segments
    if not served:
        return []
    ids = [s.segmentID for s in served]
    meta = {s.id: s for s in datacoord("GetSegmentInfo", datacoord_pb2.GetSegmentInfoRequest(
        segmentIDs=ids, includeUnHealthy=True)).infos}
    builds = {}
    for info in datacoord("GetIndexInfos", datacoord_pb2.GetIndexInfosRequest(
            collectionID=coll.id, segmentIDs=ids)).infos:
        builds[info.buildID] = info
    out = []
    for seg in served:
        segment = meta.get(seg.segmentID)
        index = next((builds[b] for b in seg.index_build_ids if b in builds), None)
        out.append(milvus_pb2.QuerySegmentInfo(
            segmentID=seg.segmentID, collectionID=seg.collectionID, partitionID=seg.partitionID,
            num_rows=seg.num_rows, state=common_pb2.SegmentState.Sealed,
            nodeID=seg.node_ids[0] if seg.node_ids else 0, nodeIds=seg.node_ids,
            mem_size=_binlog_size(segment) if segment is not None else 0,
            level=segment.level if segment is not None else common_pb2.SegmentLevel.Legacy,
            index_name=index.index_name if index is not None else "",
            indexID=index.indexID if index is not None else 0))
    return out


def _binlog_size(segment: datacoord_pb2.SegmentInfo) -> int:
    return sum(log.log_size for group in segment.binlogs for log in group.binlogs)
