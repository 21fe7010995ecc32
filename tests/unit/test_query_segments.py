"""QueryCoord.GetQuerySegments: the sealed segments the query nodes serve, each with every
node serving it (one per replica); growing segments are left out; an unloaded collection
answers CollectionNotLoaded."""

from __future__ import annotations

from milvus import errors
from milvus._proto import querycoord_pb2
from tests.unit.test_querycoord import COLL, PART, PART2, VCHS, Cluster


def _segments(c: Cluster) -> querycoord_pb2.GetQuerySegmentsResponse:
    return c.qc.GetQuerySegments(querycoord_pb2.GetQuerySegmentsRequest(collectionID=COLL))


def test_sealed_segments_with_their_nodes_per_replica(tmp_path):
    c = Cluster(tmp_path, nodes=2)
    try:
        assert _segments(c).status.code == errors.CollectionNotLoaded.code
        c.flush(5, VCHS[0], [1, 2], 100)
        c.flush(7, VCHS[1], [3, 4, 5], 110, partition=PART2)
        c.insert(VCHS[1], 9, [6], 120)  # growing: not listed
        c.tick(200)
        c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL, replica_number=2))
        c.qc.check_once()
        assert c.state().state == querycoord_pb2.LOADED
        resp = _segments(c)
        assert resp.status.code == 0
        assert [(s.segmentID, s.partitionID, s.num_rows, list(s.node_ids), s.channel) for s in resp.segments] == [
            (5, PART, 2, [1, 2], VCHS[0]), (7, PART2, 3, [1, 2], VCHS[1])]
        assert all(s.collectionID == COLL for s in resp.segments)
        # a node gone: its copies are no longer listed
        c.qc.remove_node(2)
        assert [list(s.node_ids) for s in _segments(c).segments] == [[1], [1]]
        c.qc.ReleaseCollection(querycoord_pb2.ReleaseCollectionRequest(collectionID=COLL))
        assert _segments(c).status.code == errors.CollectionNotLoaded.code
    finally:
        c.close()
