"""QueryCoord: load/release through the checker, hand-off, compaction, restart, replicas.

The data coordinator is a small fake here (recovery info only); query nodes are real, on
the embedded MQ and object storage, called through ``LocalClient`` like in standalone.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from milvus import errors
from milvus._proto import datacoord_pb2, querycoord_pb2, querynode_pb2, rootcoord_pb2
from milvus.binlog import insert_log_key, write_insert_log
from milvus.grpc_gen import common_pb2
from milvus.kv.local import LocalKV
from milvus.mq.local import LocalMQ
from milvus.querycoord import QueryCoord
from milvus.querycoord import checker as chk
from milvus.querycoord.target import CollectionTarget
from milvus.querynode import SERVICE as QN_SERVICE
from milvus.querynode import QueryNode
from milvus.rpc import LocalClient
from milvus.storage.local import LocalStorage
from tests.conftest import wait_for
from tests.readpath import DIM, ids_list, insert_envelope, make_batch, make_schema, time_tick_envelope

COLL, PART, PART2 = 1, 10, 11
PCH = "by-dev-rootcoord-dml_0"
VCHS = [f"{PCH}_{COLL}v0", f"{PCH}_{COLL}v1"]
OK = errors.OK


class FakeDataCoord:
    def __init__(self):
        self.segments: dict[int, datacoord_pb2.SegmentInfo] = {}
        self.checkpoints: dict[str, datacoord_pb2.VchannelInfo] = {}

    def GetRecoveryInfo(self, request):
        resp = datacoord_pb2.GetRecoveryInfoResponse(status=OK)
        parts = set(request.partitionIDs)
        for vch in VCHS:
            info = resp.channels.add(collectionID=COLL, channelName=vch)
            for seg in self.segments.values():
                if seg.insert_channel == vch and seg.state == datacoord_pb2.FLUSHED:
                    info.flushedSegmentIds.append(seg.id)
        for seg in self.segments.values():
            if seg.state != datacoord_pb2.DROPPED and (not parts or seg.partition_id in parts):
                resp.segments.append(seg)
        return resp

    def GetSegmentInfo(self, request):
        resp = datacoord_pb2.GetSegmentInfoResponse(status=OK)
        for seg_id in request.segmentIDs:
            seg = self.segments.get(seg_id)
            if seg is not None and (seg.state != datacoord_pb2.DROPPED or request.includeUnHealthy):
                resp.infos.append(seg)
        return resp


class FakeRootCoord:
    def __init__(self, schema):
        self.schema = schema

    def DescribeCollectionInternal(self, request):
        if request.collection_id != COLL:
            return rootcoord_pb2.DescribeCollectionInternalResponse(
                status=errors.to_status(errors.CollectionNotFound(f"collection {request.collection_id} not found")))
        info = rootcoord_pb2.CollectionInfo(id=COLL, schema=self.schema.proto.SerializeToString(),
                                            virtual_channels=VCHS, shards_num=2)
        return rootcoord_pb2.DescribeCollectionInternalResponse(status=OK, collection=info)


class Cluster:
    def __init__(self, tmp_path, nodes=1):
        self.tmp = tmp_path
        self.schema = make_schema()
        self.kv = LocalKV(str(tmp_path / "kv.sqlite3"))
        self.mq = LocalMQ(tmp_path / "mq", sync=False)
        self.storage = LocalStorage(tmp_path / "storage")
        self.datacoord = FakeDataCoord()
        self.rootcoord = FakeRootCoord(self.schema)
        self.ids = itertools.count(1000)
        self.nodes: dict[int, QueryNode] = {}
        self.producer = self.mq.create_producer(PCH)
        self.qc = self.new_coord()
        for node_id in range(1, nodes + 1):
            self.add_node(node_id)

    def new_coord(self):
        qc = QueryCoord(self.kv, datacoord=self.datacoord, rootcoord=self.rootcoord,
                        alloc_id=lambda n: next(self.ids), check_interval=0.05)
        qc.start(run_checker=False)
        return qc

    def add_node(self, node_id):
        node = QueryNode(node_id, self.mq, self.storage, read_timeout=5.0, peer=self.peer)
        node.start()
        self.nodes[node_id] = node
        self.qc.add_node(node_id, LocalClient(node, QN_SERVICE), f"127.0.0.1:{20000 + node_id}")
        return node

    def peer(self, node_id, _address):
        """A query node's client of another (a leader reading its workers' segments)."""
        if node_id not in self.nodes:
            raise errors.NodeNotFound(f"query node {node_id} is gone")
        return LocalClient(self.nodes[node_id], QN_SERVICE)

    def insert(self, vch, segment, pks, ts, partition=PART):
        batch = make_batch(self.schema, pks, ts, np.zeros((len(pks), DIM), np.float32))
        self.producer.send(insert_envelope(vch, COLL, partition, segment, batch, ts), {"vchannel": vch})

    def tick(self, ts):
        self.producer.send(time_tick_envelope(ts), {"vchannel": ""})

    def flush(self, segment, vch, pks, ts, partition=PART, level=datacoord_pb2.SEGMENT_LEVEL_L1):
        batch = make_batch(self.schema, pks, ts, np.zeros((len(pks), DIM), np.float32))
        key = insert_log_key(COLL, partition, segment, next(self.ids))
        self.storage.put(key, write_insert_log(batch))
        info = datacoord_pb2.SegmentInfo(id=segment, collection_id=COLL, partition_id=partition, insert_channel=vch,
                                         num_of_rows=len(pks), state=datacoord_pb2.FLUSHED, level=level)
        info.binlogs.add(field_id=0).binlogs.add(entries_num=len(pks), log_path=key)
        self.datacoord.segments[segment] = info
        return info

    def query(self, ts, node_id=1, channels=VCHS, **kw):
        resp = self.nodes[node_id].Query(querynode_pb2.ShardRequest(collectionID=COLL, channels=channels,
                                                                    guarantee_ts=ts, **kw))
        assert resp.status.code == 0, resp.status.reason
        return ids_list(resp.ids)

    def state(self, partitions=()):
        return self.qc.GetLoadState(querycoord_pb2.GetLoadStateRequest(collectionID=COLL, partitionIDs=partitions))

    def close(self):
        self.qc.stop()
        for node in self.nodes.values():
            node.stop()
        self.producer.close()
        self.mq.close()
        self.kv.close()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.close()


def _dist(node):
    return node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())


def test_load_watches_channels_loads_flushed_segments_and_reports_progress(cluster):
    cluster.flush(5, VCHS[0], [1, 2], 100)
    cluster.insert(VCHS[1], 6, [3], 110)
    cluster.tick(200)
    assert cluster.state().state == querycoord_pb2.LOAD_STATUS_NONE
    assert cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL)).code == 0
    assert cluster.state().state == querycoord_pb2.LOADING
    cluster.qc.check_once()
    state = cluster.state()
    assert state.state == querycoord_pb2.LOADED and state.progress == 100
    assert cluster.query(200) == [1, 2, 3]
    leaders = cluster.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL))
    assert leaders.status.code == 0
    assert sorted((sl.channel_name, sl.node_id, sl.address) for sl in leaders.replicas[0].shard_leaders) == [
        (VCHS[0], 1, "127.0.0.1:20001"), (VCHS[1], 1, "127.0.0.1:20001")]
    shown = cluster.qc.ShowLoadedCollections(querycoord_pb2.ShowLoadedCollectionsRequest())
    assert list(shown.collectionIDs) == [COLL] and list(shown.progress) == [100]
    # loading again is a no-op; another replica number is refused
    assert cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL)).code == 0
    bad = cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL, replica_number=2))
    assert bad.code == errors.ParameterInvalid.code


def test_new_flushed_segment_is_handed_off(cluster):
    cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
    cluster.qc.check_once()
    cluster.insert(VCHS[0], 7, [1, 2, 3], 100)
    cluster.tick(150)
    assert cluster.query(150) == [1, 2, 3]
    assert [(s.id, s.sealed) for s in _dist(cluster.nodes[1]).segments] == [(7, False)]
    cluster.flush(7, VCHS[0], [1, 2, 3], 100)
    cluster.qc.check_once()
    assert [(s.id, s.sealed) for s in _dist(cluster.nodes[1]).segments] == [(7, True)]
    assert cluster.nodes[1].Query(querynode_pb2.ShardRequest(collectionID=COLL, channels=VCHS, guarantee_ts=150,
                                                             count_only=True)).count == 3


def _serve_then_compact_away_5_and_6(cluster):
    """Segments 5 and 6 (keys 1, 2, 3) loaded and served, then dropped by a compaction."""
    cluster.flush(5, VCHS[0], [1, 2], 100)
    cluster.flush(6, VCHS[0], [3], 100)
    cluster.tick(200)
    cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
    cluster.qc.check_once()
    assert cluster.query(200) == [1, 2, 3]
    for s in (5, 6):
        cluster.datacoord.segments[s].state = datacoord_pb2.DROPPED


def _compact_again_unserved(cluster):
    """5 + 6 -> 7 -> 8 with 7 dropped before any node served it: 8 names only 7."""
    cluster.flush(7, VCHS[0], [1, 2, 3], 100).compaction_from.extend([5, 6])
    cluster.datacoord.segments[7].state = datacoord_pb2.DROPPED
    cluster.flush(8, VCHS[0], [1, 2, 3], 100).compaction_from.extend([7])


def test_compacted_segments_are_replaced_without_gap(cluster):
    _serve_then_compact_away_5_and_6(cluster)
    cluster.flush(8, VCHS[0], [1, 2, 3], 100)
    # plan only: the new segment loads first, the old ones go only once it serves
    dist = {1: chk.NodeDist.from_proto(1, _dist(cluster.nodes[1]))}
    loaded = cluster.qc._loaded(refresh=True)
    tasks = chk.check(loaded, dist)
    assert tasks == [chk.LoadSegments(1, COLL, (8,), loaded[0].replicas[0].id)]
    cluster.qc.check_once()  # loads 8
    assert sorted(s.id for s in _dist(cluster.nodes[1]).segments) == [5, 6, 8]
    cluster.qc.check_once()  # 8 serves: 5 and 6 go
    assert sorted(s.id for s in _dist(cluster.nodes[1]).segments) == [8]
    assert cluster.nodes[1].Query(querynode_pb2.ShardRequest(collectionID=COLL, channels=VCHS, guarantee_ts=200,
                                                             count_only=True)).count == 3


def test_a_result_compacted_again_before_it_served_replaces_the_served_sources(cluster):
    """5 + 6 -> 7 -> 8 between two rounds (7 never served): 8 names only 7, yet replaces the
    served 5 and 6, whose rows it holds; the leader must never read 8 beside them, also while
    the channel's view is incomplete (9 cannot load yet)."""
    _serve_then_compact_away_5_and_6(cluster)
    _compact_again_unserved(cluster)
    unloadable = cluster.flush(9, VCHS[0], [4], 100)
    cluster.storage.remove(unloadable.binlogs[0].binlogs[0].log_path)
    cluster.qc.check_once()  # loads 8; 9 fails
    assert sorted(s.id for s in _dist(cluster.nodes[1]).segments if s.sealed) == [5, 6, 8]
    assert cluster.query(200) == [1, 2, 3]
    assert cluster.nodes[1].Query(querynode_pb2.ShardRequest(collectionID=COLL, channels=VCHS, guarantee_ts=200,
                                                             count_only=True)).count == 3
    cluster.qc.check_once()  # the view is still incomplete (9): 5 and 6 stay, unread
    assert cluster.query(200) == [1, 2, 3]
    assert list(cluster.qc._targets.get(COLL).sealed[8].compaction_from) == [7, 5, 6]


def test_a_round_that_cannot_learn_the_lineage_holds_the_collection_back(cluster, monkeypatch):
    """5 + 6 -> 7 -> 8 between two rounds, and the data coordinator cannot give 7's sources in
    the next one: 8 must not be loaded or synced naming only 7 (read beside 5 and 6 and never
    resent); the round leaves the collection as it is, and a later round replaces 5 and 6."""
    _serve_then_compact_away_5_and_6(cluster)
    assert cluster.state().progress == 100
    _compact_again_unserved(cluster)

    def unavailable(request):
        return datacoord_pb2.GetSegmentInfoResponse(status=errors.to_status(errors.ServiceUnavailable("down")))

    monkeypatch.setattr(cluster.datacoord, "GetSegmentInfo", unavailable)
    cluster.qc.check_once()
    assert sorted(s.id for s in _dist(cluster.nodes[1]).segments if s.sealed) == [5, 6]
    assert cluster.nodes[1].Query(querynode_pb2.ShardRequest(collectionID=COLL, channels=VCHS, guarantee_ts=200,
                                                             count_only=True)).count == 3
    assert cluster.state().progress == 100
    monkeypatch.undo()
    cluster.qc.check_once()
    cluster.qc.check_once()
    assert sorted(s.id for s in _dist(cluster.nodes[1]).segments if s.sealed) == [8]
    assert cluster.query(200) == [1, 2, 3]
    assert cluster.nodes[1].Query(querynode_pb2.ShardRequest(collectionID=COLL, channels=VCHS, guarantee_ts=200,
                                                             count_only=True)).count == 3


def test_release_collection(cluster):
    cluster.flush(5, VCHS[0], [1], 100)
    cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
    cluster.qc.check_once()
    assert cluster.qc.ReleaseCollection(querycoord_pb2.ReleaseCollectionRequest(collectionID=COLL)).code == 0
    assert cluster.state().state == querycoord_pb2.LOAD_STATUS_NONE
    dist = _dist(cluster.nodes[1])
    assert not dist.channels and not dist.segments
    resp = cluster.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL))
    assert resp.status.code == errors.CollectionNotLoaded.code
    assert cluster.qc.ReleaseCollection(querycoord_pb2.ReleaseCollectionRequest(collectionID=COLL)).code == 0


def test_partitions(cluster):
    cluster.flush(5, VCHS[0], [1], 100, partition=PART)
    cluster.flush(6, VCHS[0], [2], 100, partition=PART2)
    cluster.insert(VCHS[1], 7, [3], 100, partition=PART)
    cluster.insert(VCHS[1], 8, [4], 100, partition=PART2)
    cluster.tick(200)
    cluster.qc.LoadPartitions(querycoord_pb2.LoadPartitionsRequest(collectionID=COLL, partitionIDs=[PART]))
    cluster.qc.check_once()
    assert cluster.state([PART]).state == querycoord_pb2.LOADED
    assert cluster.state([PART2]).state == querycoord_pb2.LOAD_STATUS_NONE
    assert cluster.query(200) == [1, 3]
    cluster.qc.LoadPartitions(querycoord_pb2.LoadPartitionsRequest(collectionID=COLL, partitionIDs=[PART2]))
    cluster.qc.check_once()
    assert cluster.state([PART, PART2]).state == querycoord_pb2.LOADED
    assert cluster.query(200) == [1, 2, 3, 4]
    shown = cluster.qc.ShowLoadedPartitions(querycoord_pb2.ShowLoadedPartitionsRequest(collectionID=COLL))
    assert shown.load_type == querycoord_pb2.LOAD_PARTITIONS and sorted(shown.partitionIDs) == [PART, PART2]
    cluster.qc.ReleasePartitions(querycoord_pb2.ReleasePartitionsRequest(collectionID=COLL, partitionIDs=[PART]))
    cluster.qc.check_once()  # the leader view leaves segment 5 out...
    assert cluster.query(200) == [2, 4]
    cluster.qc.check_once()  # ...then the node releases it
    assert sorted(s.id for s in _dist(cluster.nodes[1]).segments if s.sealed) == [6]
    cluster.qc.ReleasePartitions(querycoord_pb2.ReleasePartitionsRequest(collectionID=COLL, partitionIDs=[PART2]))
    assert cluster.state().state == querycoord_pb2.LOAD_STATUS_NONE
    cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
    bad = cluster.qc.ReleasePartitions(querycoord_pb2.ReleasePartitionsRequest(collectionID=COLL,
                                                                                partitionIDs=[PART]))
    assert bad.code == errors.ParameterInvalid.code


def test_a_dropped_partition_is_released_from_a_collection_loaded_whole(cluster):
    cluster.flush(5, VCHS[0], [1], 100, partition=PART)
    cluster.flush(6, VCHS[0], [2], 100, partition=PART2)
    cluster.insert(VCHS[1], 7, [3], 100, partition=PART)
    cluster.insert(VCHS[1], 8, [4], 100, partition=PART2)
    cluster.tick(200)
    cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
    cluster.qc.check_once()
    assert cluster.query(200) == [1, 2, 3, 4]
    # the root coordinator's drop: the data coordinator marks the segments dropped too
    cluster.datacoord.segments[6].state = datacoord_pb2.DROPPED
    drop = common_pb2.MsgBase(msg_type=common_pb2.DropPartition)
    assert cluster.qc.ReleasePartitions(querycoord_pb2.ReleasePartitionsRequest(
        base=drop, collectionID=COLL, partitionIDs=[PART2])).code == 0
    cluster.qc.check_once()  # the leader view leaves segment 6 out...
    cluster.qc.check_once()  # ...then the node releases it
    assert 2 not in cluster.query(200)
    assert cluster.state().state == querycoord_pb2.LOADED
    assert sorted(s.id for s in _dist(cluster.nodes[1]).segments if s.sealed) == [5]


def test_restart_reloads_loaded_collections(cluster):
    cluster.flush(5, VCHS[0], [1, 2], 100)
    cluster.insert(VCHS[1], 6, [3], 110)
    cluster.tick(200)
    cluster.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
    cluster.qc.check_once()
    replica_before = cluster.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL)).replicas
    # the whole query side restarts: coordinator and node lose their memory
    cluster.qc.stop()
    cluster.nodes[1].stop()
    cluster.qc = cluster.new_coord()
    cluster.add_node(1)
    # still loaded (persisted), but not served again yet: the proxy must wait
    assert cluster.state().state == querycoord_pb2.LOADING
    assert cluster.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL)).status.code \
        == errors.ServiceUnavailable.code
    cluster.qc.check_once()
    assert cluster.state().state == querycoord_pb2.LOADED
    assert cluster.query(200) == [1, 2, 3]
    replica_after = cluster.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL)).replicas
    assert [r.id for r in replica_after] == [r.id for r in replica_before]


def test_background_checker_and_unknown_collection(tmp_path):
    c = Cluster(tmp_path)
    try:
        c.qc.stop()
        c.qc = QueryCoord(c.kv, datacoord=c.datacoord, rootcoord=c.rootcoord, alloc_id=lambda n: next(c.ids),
                          check_interval=0.05)
        c.qc.start()
        c.qc.add_node(1, LocalClient(c.nodes[1], QN_SERVICE), "a:1")
        bad = c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=999))
        assert bad.code == errors.CollectionNotFound.code
        c.flush(5, VCHS[0], [1], 100)
        c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
        wait_for(lambda: c.state().state == querycoord_pb2.LOADED, message="loaded")
        c.flush(9, VCHS[1], [2], 100)
        wait_for(lambda: any(s.id == 9 and s.sealed for s in _dist(c.nodes[1]).segments), message="new segment")
    finally:
        c.close()


def test_replicas_on_two_nodes_and_node_failure(tmp_path):
    c = Cluster(tmp_path, nodes=2)
    try:
        c.flush(5, VCHS[0], [1], 100)
        c.tick(200)
        bad = c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL, replica_number=3))
        assert bad.code == errors.ResourceGroupNodeNotEnough.code
        assert "resource group node not enough[rg=__default_resource_group][currentNodeNum=2]" \
               "[expectedNodeNum=3]" in bad.reason
        c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL, replica_number=2))
        c.qc.check_once()
        assert c.state().state == querycoord_pb2.LOADED
        leaders = c.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL))
        assert sorted(list(r.node_ids) for r in leaders.replicas) == [[1], [2]]
        assert c.query(200, node_id=1) == [1] and c.query(200, node_id=2) == [1]
        # node 2 goes away: the other replica keeps serving alone
        c.qc.remove_node(2)
        c.nodes[2].stop()
        leaders = c.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL))
        assert leaders.status.code == 0 and [list(r.node_ids) for r in leaders.replicas] == [[1]]
        # and comes back empty: its replica is served again
        c.add_node(2)
        c.qc.check_once()
        assert c.query(200, node_id=2) == [1]
    finally:
        c.close()


def test_a_new_leader_serves_only_once_its_view_has_the_whole_target(tmp_path):
    """The leader dies; the channel goes to a node that never read it and watches from the
    checkpoint.  Until every flushed segment of the channel is in its view (one cannot load
    here: its file is missing), it is no serving leader: reads fail, retriably, and are
    never short."""
    c = Cluster(tmp_path)
    try:
        info = c.flush(5, VCHS[0], [1, 2], 100)
        c.flush(7, VCHS[0], [3], 110)
        c.tick(200)
        c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
        c.qc.check_once()
        assert c.query(200) == [1, 2, 3]
        key = info.binlogs[0].binlogs[0].log_path
        data = c.storage.get(key)
        c.storage.remove(key)
        c.add_node(2)
        c.qc.remove_node(1)
        c.nodes.pop(1).stop()
        c.qc.check_once()
        c.qc.check_once()
        leaders = c.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL))
        assert leaders.status.code == errors.ChannelNotFound.code, leaders
        c.storage.put(key, data)  # the segment loads now
        c.qc.check_once()
        leaders = c.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL))
        assert leaders.status.code == 0 and [list(r.node_ids) for r in leaders.replicas] == [[2]]
        assert c.query(200, node_id=2) == [1, 2, 3]
    finally:
        c.close()


def test_fix_replicas_moves_leaders_off_dead_nodes():
    replicas = chk.assign_replicas(COLL, [1], [1, 2], VCHS)
    assert [(sl.channel_name, sl.node_id) for sl in replicas[0].shard_leaders] == [(VCHS[0], 1), (VCHS[1], 2)]
    fixed = chk.fix_replicas(replicas, VCHS, alive=[1])
    assert list(fixed[0].node_ids) == [1]
    assert [(sl.channel_name, sl.node_id) for sl in fixed[0].shard_leaders] == [(VCHS[0], 1), (VCHS[1], 1)]
    assert chk.fix_replicas(replicas, VCHS, alive=[1, 2]) == []
    # a replica whose members are all gone has no leader until placement gives it a node
    orphan = chk.assign_replicas(COLL, [1, 2], [1, 2], VCHS)
    fixed = chk.fix_replicas(orphan, VCHS, alive=[1, 3])
    assert [(list(r.node_ids), [sl.node_id for sl in r.shard_leaders]) for r in fixed] == [([], [0, 0])]


def test_fix_replicas_prefers_rw_members_and_moves_off_ro_ones_without_a_balancer():
    replica = chk.assign_replicas(COLL, [1], [1, 2], VCHS)[0]
    replica.ro_node_ids.append(1)  # node 1 left the replica's resource group
    assert chk.fix_replicas([replica], VCHS, alive=[1, 2]) == []  # the balancer moves VCHS[0] gently
    moved = chk.fix_replicas([replica], VCHS, alive=[1, 2], move_off_ro=True)
    assert [sl.node_id for sl in moved[0].shard_leaders] == [2, 2] and list(moved[0].ro_node_ids) == [1]
    replica.ro_node_ids.append(2)  # no rw member: the ro ones keep serving, a dead leader is replaced by one
    fixed = chk.fix_replicas([replica], VCHS, alive=[1])
    assert list(fixed[0].node_ids) == [1] and [sl.node_id for sl in fixed[0].shard_leaders] == [1, 1]


def test_index_builds_are_handed_to_the_leader():
    """A served sealed segment whose index builds differ from the target's is loaded again
    (the node swaps its indexes); once they match nothing is asked."""
    info = querycoord_pb2.CollectionLoadInfo(collectionID=1, replica_number=1)
    replica = chk.assign_replicas(1, [7], [5], ["ch"])[0]
    seg = datacoord_pb2.SegmentInfo(id=10, collection_id=1, insert_channel="ch", state=datacoord_pb2.FLUSHED)
    build = datacoord_pb2.IndexFilePathInfo(segmentID=10, fieldID=101, buildID=99)
    target = CollectionTarget(1, b"", {"ch": datacoord_pb2.VchannelInfo(channelName="ch")}, {10: seg},
                                  indexes={10: [build]})
    dist = {5: chk.NodeDist(5, channels={(1, "ch")}, sealed={(1, 10): "ch"}, index_builds={(1, 10): frozenset()})}
    assert chk.check([chk.Loaded(info, [replica], target)], dist) == [chk.LoadSegments(5, 1, (10,), 7)]
    dist[5].index_builds[(1, 10)] = frozenset({99})
    assert chk.check([chk.Loaded(info, [replica], target)], dist) == []


def test_a_coordinator_that_takes_over_waits_for_the_live_nodes_before_its_first_round(tmp_path):
    """A new coordinator (restart, standby taking over) starts before it heard of the live
    query nodes: a round then would take every replica's members for dead.  With
    ``await_nodes`` no round runs until the nodes named live were added; the replicas keep
    their members and leaders throughout."""
    c = Cluster(tmp_path, nodes=2)
    try:
        c.flush(5, VCHS[0], [1], 100)
        c.tick(200)
        c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL, replica_number=2))
        c.qc.check_once()
        before = c.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL)).replicas
        assert sorted(list(r.node_ids) for r in before) == [[1], [2]]

        def members():
            got = c.qc.GetReplicas(querycoord_pb2.GetReplicasRequest(collectionID=COLL)).replicas
            return {r.id: (list(r.node_ids), [(s.channel_name, s.leader_id) for s in r.shards]) for r in got}

        kept = members()
        c.qc.stop()
        c.qc = QueryCoord(c.kv, datacoord=c.datacoord, rootcoord=c.rootcoord, alloc_id=lambda n: next(c.ids),
                          check_interval=0.05, await_nodes=True)
        c.qc.start(run_checker=False)
        c.qc.check_once()  # nodes not heard of yet: no round
        assert members() == kept
        c.qc.add_node(2, LocalClient(c.nodes[2], QN_SERVICE), "127.0.0.1:20002")  # before the live ones are named
        c.qc.check_once()  # which nodes are live is not known yet: no round
        assert members() == kept
        c.qc.expect_nodes([1, 2])
        c.qc.check_once()  # node 1 not heard of yet
        assert members() == kept
        c.qc.add_node(1, LocalClient(c.nodes[1], QN_SERVICE), "127.0.0.1:20001")
        c.qc.check_once()
        assert members() == kept
        after = c.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=COLL))
        assert after.status.code == 0 and sorted(list(r.node_ids) for r in after.replicas) == [[1], [2]]
        assert c.query(200, node_id=1) == [1] and c.query(200, node_id=2) == [1]
    finally:
        c.close()


def test_a_node_awaited_but_never_added_holds_the_rounds_for_the_grace_period_only(tmp_path):
    c = Cluster(tmp_path)
    try:
        c.qc.stop()
        c.qc = QueryCoord(c.kv, datacoord=c.datacoord, rootcoord=c.rootcoord, alloc_id=lambda n: next(c.ids),
                          check_interval=0.05, await_nodes=True, node_grace=2.0)
        c.qc.start()
        c.qc.expect_nodes([1, 7])  # 7 left before it was ever added
        c.qc.add_node(1, LocalClient(c.nodes[1], QN_SERVICE), "127.0.0.1:20001")
        assert c.qc.health()[1]["rounds"] == 0
        wait_for(lambda: c.qc.health()[1]["rounds"] > 0, timeout=10, message="rounds after the grace period")
    finally:
        c.close()


def test_a_node_that_joins_while_a_round_runs_keeps_its_resource_group(tmp_path):
    """Past the grace period every round drops the group members not live; a node that
    joined after the round read the live nodes (its ``node_up`` already done) stays in its
    group: before, it was dropped at once ("did not come back") and never served."""
    c = Cluster(tmp_path)
    try:
        c.qc.stop()
        c.qc = QueryCoord(c.kv, datacoord=c.datacoord, rootcoord=c.rootcoord, alloc_id=lambda n: next(c.ids),
                          check_interval=0.05, node_grace=0.0)
        c.qc.start(run_checker=False)
        c.qc.add_node(1, LocalClient(c.nodes[1], QN_SERVICE), "127.0.0.1:20001")
        second = QueryNode(2, c.mq, c.storage, read_timeout=5.0, peer=c.peer)
        second.start()
        c.nodes[2] = second
        read_live = c.qc._node_ids
        joined = []

        def live_then_a_join() -> list[int]:
            ids = read_live()
            if not joined:  # the round's first read of the live nodes: node 2 joins right after
                joined.append(2)
                c.qc.add_node(2, LocalClient(second, QN_SERVICE), "127.0.0.1:20002")
            return ids

        c.qc._node_ids = live_then_a_join
        c.qc.check_once()
        assert joined
        group = c.qc.DescribeResourceGroup(querycoord_pb2.DescribeResourceGroupRequest(
            name="__default_resource_group")).resource_group
        assert group.num_available_node == 2, group
    finally:
        c.close()
