"""The data coordinator on a real embedded meta store, with data nodes faked."""

from __future__ import annotations

import itertools

import pytest
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus._proto import datacoord_pb2, datanode_pb2, internal_pb2
from milvus.datacoord import DataCoord, DataCoordParams
from milvus.kv.local import LocalKV
from milvus.metastore.datacoord_catalog import (
    DataCoordCatalog,
    checkpoint_key,
    dropped_collection_key,
    dropped_partition_key,
    segment_key,
)
from milvus.storage.local import LocalStorage
from milvus.tso import TimestampOracle, parse_ts

COLL = 7
CH0 = "by-dev-rootcoord-dml_0_7v0"
CH1 = "by-dev-rootcoord-dml_1_7v1"
SCHEMA = schema_pb2.CollectionSchema(name="c", fields=[
    schema_pb2.FieldSchema(fieldID=100, name="pk", data_type=schema_pb2.Int64, is_primary_key=True),
]).SerializeToString()


class FakeDataNode:
    """Records what the coordinator asks; ``fail`` makes every call answer an error."""

    def __init__(self):
        self.watched: list[datanode_pb2.WatchDmChannelRequest] = []
        self.flushes: list[datanode_pb2.FlushSegmentsRequest] = []
        self.unwatched: list[datanode_pb2.UnwatchDmChannelRequest] = []
        self.fail = False

    def _answer(self):
        return common_pb2.Status(code=2, reason="down") if self.fail else common_pb2.Status()

    def WatchDmChannel(self, request):
        self.watched.append(request)
        return self._answer()

    def FlushSegments(self, request):
        self.flushes.append(request)
        return self._answer()

    def UnwatchDmChannel(self, request):
        self.unwatched.append(request)
        return self._answer()

    def GetComponentStates(self, request):
        return internal_pb2.ComponentStates()


class Cluster:
    """A meta store, clocks and id allocation shared by the coordinators a test builds."""

    def __init__(self, tmp_path):
        self.kv = LocalKV(str(tmp_path / "meta.db"), durable=False)
        self.tso = TimestampOracle(self.kv)
        self._ids = itertools.count(1000)
        self.id_calls = 0
        self.now = 0.0
        self.storage = LocalStorage(tmp_path / "objects")
        self.coords: list[DataCoord] = []

    def alloc_id(self, n: int) -> int:
        self.id_calls += 1
        first = next(self._ids)
        for _ in range(n - 1):
            next(self._ids)
        return first

    def coord(self, node: FakeDataNode | None = None, describe_schema=None, **params) -> DataCoord:
        settings = {"segment_max_rows": 100, "seal_proportion": 1.0, "assignment_expiration_ms": 50}
        settings.update(params)
        dc = DataCoord(self.kv, alloc_id=self.alloc_id, alloc_ts=self.tso.alloc, params=DataCoordParams(**settings),
                       storage=self.storage, node_id=99, clock=lambda: self.now, describe_schema=describe_schema)
        if node is not None:
            dc.add_data_node(1, node)
        dc.start(run_ticker=False)
        self.coords.append(dc)
        return dc

    def close(self):
        for dc in self.coords:
            dc.stop()
        self.kv.close()


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.close()


def watch(dc: DataCoord, channels=(CH0, CH1), collection=COLL):
    ok(dc.WatchChannels(datacoord_pb2.WatchChannelsRequest(collectionID=collection, channelNames=list(channels),
                                                           schema=SCHEMA)))


def ok(response):
    status = response if isinstance(response, common_pb2.Status) else response.status
    assert status.code == 0, status.reason
    return response


def assign(dc: DataCoord, count: int, channel: str = CH0, partition: int = 1, collection: int = COLL):
    response = ok(dc.AssignSegmentID(datacoord_pb2.AssignSegmentIDRequest(segmentIDRequests=[
        datacoord_pb2.SegmentIDRequest(count=count, channel_name=channel, collectionID=collection,
                                       partitionID=partition)])))
    return response.segIDAssignments[0]


def binlog(log_id: int, rows: int, path: str = "") -> datacoord_pb2.FieldBinlog:
    return datacoord_pb2.FieldBinlog(field_id=0, binlogs=[datacoord_pb2.Binlog(
        entries_num=rows, log_id=log_id, log_path=path or f"insert_log/{COLL}/1/x/{log_id}.parquet")])


def position(channel: str, ts: int, msg_id: bytes = b"id") -> internal_pb2.MsgPosition:
    return internal_pb2.MsgPosition(channel_name=channel, msg_id=msg_id, timestamp=ts)


def save(dc, segment_id, *, rows=0, log_id=0, flushed=False, checkpoint=None, channel=CH0, source=1, **extra):
    request = datacoord_pb2.SaveBinlogPathsRequest(segmentID=segment_id, flushed=flushed, channel=channel, **extra)
    request.base.sourceID = source
    if rows:
        request.field2BinlogPaths.append(binlog(log_id, rows))
    if checkpoint is not None:
        request.checkpoint.CopyFrom(checkpoint)
    return dc.SaveBinlogPaths(request)


def segment(dc, segment_id) -> datacoord_pb2.SegmentInfo:
    infos = ok(dc.GetSegmentInfo(datacoord_pb2.GetSegmentInfoRequest(segmentIDs=[segment_id],
                                                                     includeUnHealthy=True))).infos
    assert len(infos) == 1
    return infos[0]


# ---- allocation and sealing ---------------------------------------------------------------


def test_one_growing_segment_per_channel_and_partition(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node)
    watch(dc)
    a = assign(dc, 10)
    assert a.segID == assign(dc, 20).segID
    assert assign(dc, 5, partition=2).segID != a.segID
    assert assign(dc, 5, channel=CH1).segID != a.segID
    assert a.expire_time > 0 and a.count == 10
    info = segment(dc, a.segID)
    assert info.state == datacoord_pb2.GROWING and info.insert_channel == CH0 and info.partition_id == 1
    assert node.flushes == []
    for _ in range(20):
        assert assign(dc, 1).segID == a.segID
    assert cluster.id_calls == 1  # segment ids are fetched in batches, not per request


def test_full_segment_is_sealed_and_flush_requested_after_its_assignments_expire(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node)
    watch(dc)
    first = assign(dc, 60)
    second = assign(dc, 60)  # does not fit: the first is sealed, a new one opens
    assert second.segID != first.segID
    assert segment(dc, first.segID).state == datacoord_pb2.SEALED
    (flush,) = node.flushes
    assert list(flush.segmentIDs) == [first.segID] and flush.channel_name == CH0
    assert flush.flush_ts >= first.expire_time  # the data node waits until no row can still come
    # a request bigger than a segment gets a segment of its own
    big = assign(dc, 500)
    assert big.segID not in (first.segID, second.segID)


def test_seal_proportion_seals_once_reached(cluster):
    dc = cluster.coord(FakeDataNode(), seal_proportion=0.5)
    watch(dc)
    a = assign(dc, 50)
    assert segment(dc, a.segID).state == datacoord_pb2.SEALED
    assert assign(dc, 1).segID != a.segID


def test_assignment_refuses_unknown_channels_and_bad_counts(cluster):
    dc = cluster.coord(FakeDataNode())
    watch(dc)
    request = datacoord_pb2.AssignSegmentIDRequest(segmentIDRequests=[
        datacoord_pb2.SegmentIDRequest(count=1, channel_name="nope_1v0", collectionID=COLL, partitionID=1)])
    assert dc.AssignSegmentID(request).status.code == 500  # ChannelNotFound
    request.segmentIDRequests[0].channel_name = CH0
    request.segmentIDRequests[0].count = 0
    assert dc.AssignSegmentID(request).status.code == 1100


def test_segments_older_than_max_life_are_sealed_by_the_ticker(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node, segment_max_life=5.0)
    watch(dc)
    a = assign(dc, 1)
    dc.tick()
    assert segment(dc, a.segID).state == datacoord_pb2.GROWING
    cluster.now += 6
    dc.tick()
    assert segment(dc, a.segID).state == datacoord_pb2.SEALED
    assert [list(f.segmentIDs) for f in node.flushes] == [[a.segID]]


# ---- flush --------------------------------------------------------------------------------


def test_flush_seals_and_flush_state_follows_binlogs_and_checkpoints(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node)
    watch(dc)
    a = assign(dc, 10)
    response = ok(dc.Flush(datacoord_pb2.FlushRequest(collectionID=COLL)))
    assert list(response.segmentIDs) == [a.segID] and response.flush_ts >= a.expire_time
    # every channel hears the flush, the one without segments too
    assert sorted(f.channel_name for f in node.flushes) == [CH0, CH1]
    assert all(f.flush_ts == response.flush_ts for f in node.flushes)

    def state():
        return ok(dc.GetFlushState(datacoord_pb2.GetFlushStateRequest(
            collectionID=COLL, segmentIDs=[a.segID], flush_ts=response.flush_ts))).flushed

    assert not state()
    ok(save(dc, a.segID, rows=10, log_id=1, flushed=True, checkpoint=position(CH0, response.flush_ts + 1)))
    assert not state()  # CH1's checkpoint is still behind
    ok(dc.UpdateChannelCheckpoint(datacoord_pb2.UpdateChannelCheckpointRequest(
        channel_checkpoints=[position(CH1, response.flush_ts)])))
    assert state()
    info = segment(dc, a.segID)
    assert info.state == datacoord_pb2.FLUSHED and info.num_of_rows == 10
    again = ok(dc.Flush(datacoord_pb2.FlushRequest(collectionID=COLL)))
    assert list(again.segmentIDs) == [] and list(again.flushSegmentIDs) == [a.segID]


def test_unsent_flushes_are_retried(cluster):
    node = FakeDataNode()
    node.fail = True
    dc = cluster.coord(node, flush_retry_interval=3.0)
    watch(dc)
    a = assign(dc, 1)
    ok(dc.Flush(datacoord_pb2.FlushRequest(collectionID=COLL)))
    sent = len(node.flushes)
    dc.tick()
    assert len(node.flushes) == sent  # not yet: retried after the interval
    cluster.now += 3
    node.fail = False
    dc.tick()
    assert [list(f.segmentIDs) for f in node.flushes[sent:]] == [[a.segID]]


# ---- SaveBinlogPaths and checkpoints ------------------------------------------------------


def test_save_binlog_paths_is_idempotent_and_keeps_checkpoints_monotonic(cluster):
    dc = cluster.coord(FakeDataNode())
    watch(dc)
    a = assign(dc, 30)
    ok(save(dc, a.segID, rows=10, log_id=1, checkpoint=position(CH0, 100, b"a")))
    ok(save(dc, a.segID, rows=10, log_id=1, checkpoint=position(CH0, 100, b"a")))  # a retry
    ok(save(dc, a.segID, rows=20, log_id=2, checkpoint=position(CH0, 50, b"old")))  # older checkpoint
    info = segment(dc, a.segID)
    assert info.num_of_rows == 30 and [b.log_id for b in info.binlogs[0].binlogs] == [1, 2]
    assert info.state == datacoord_pb2.GROWING
    (vchannel,) = [c for c in ok(dc.GetRecoveryInfo(
        datacoord_pb2.GetRecoveryInfoRequest(collectionID=COLL))).channels if c.channelName == CH0]
    assert vchannel.seek_position.timestamp == 100 and vchannel.seek_position.msg_id == b"a"
    assert list(vchannel.unflushedSegmentIds) == [a.segID]


def test_segment_and_checkpoint_are_written_in_one_transaction(cluster):
    dc = cluster.coord(FakeDataNode())
    watch(dc)
    a = assign(dc, 5)
    before = cluster.kv.revision()
    ok(save(dc, a.segID, rows=5, log_id=1, checkpoint=position(CH0, 10)))
    assert cluster.kv.revision() == before + 1
    seg_kv = cluster.kv.get(segment_key(COLL, 1, a.segID))
    cp_kv = cluster.kv.get(checkpoint_key(CH0))
    assert seg_kv.mod_revision == cp_kv.mod_revision == before + 1


def test_l0_segments_are_created_by_their_first_save(cluster):
    dc = cluster.coord(FakeDataNode())
    watch(dc)
    request = datacoord_pb2.SaveBinlogPathsRequest(
        segmentID=555, collectionID=COLL, partitionID=-1, channel=CH0, flushed=True,
        level=datacoord_pb2.SEGMENT_LEVEL_L0, deltalogs=[binlog(9, 4, "delta_log/7/-1/555/9.parquet")],
        segment_position=position(CH0, 20))
    ok(dc.SaveBinlogPaths(request))
    info = segment(dc, 555)
    assert info.level == datacoord_pb2.SEGMENT_LEVEL_L0 and info.state == datacoord_pb2.FLUSHED
    assert info.num_of_rows == 4 and info.dml_position.timestamp == 20
    # an unknown L1 segment is an error
    assert save(dc, 556, rows=1, log_id=3).code == 600
    stats = ok(dc.GetCollectionStatistics(datacoord_pb2.GetCollectionStatisticsRequest(collectionID=COLL)))
    assert stats.row_count == 0  # deletes are not rows


def test_a_node_that_lost_the_channel_cannot_record(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node)
    watch(dc)
    a = assign(dc, 5)
    assert save(dc, a.segID, rows=5, log_id=1, source=2).code == 500
    ok(save(dc, a.segID, rows=5, log_id=1, source=1))


# ---- channels -----------------------------------------------------------------------------


def test_channels_wait_for_a_node_and_move_when_it_leaves(cluster):
    dc = cluster.coord()
    watch(dc)
    first, second = FakeDataNode(), FakeDataNode()
    dc.add_data_node(1, first)
    assert sorted(w.vchannel.channelName for w in first.watched) == [CH0, CH1]
    assert all(w.schema == SCHEMA for w in first.watched)
    dc.add_data_node(2, second)
    # rebalanced: one channel moves (the old owner unwatches it first, the new one replays it)
    assert [w.vchannel.channelName for w in second.watched] == [CH1]
    assert [(u.channel_name, u.drop) for u in first.unwatched] == [(CH1, True)]
    assert save(dc, assign(dc, 5, channel=CH1).segID, rows=5, log_id=1, source=1, channel=CH1).code == 500
    dc.remove_data_node(1)
    assert sorted(w.vchannel.channelName for w in second.watched) == [CH0, CH1]


def test_watch_requires_a_schema_and_is_idempotent(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node)
    assert dc.WatchChannels(datacoord_pb2.WatchChannelsRequest(collectionID=COLL, channelNames=[CH0])).code == 1101
    watch(dc)
    watch(dc)
    assert len(node.watched) == 2


def test_recovery_restores_meta_and_re_asks_the_nodes(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node)
    watch(dc)
    a = assign(dc, 10)
    b = assign(dc, 10, channel=CH1)
    ok(save(dc, a.segID, rows=4, log_id=1, checkpoint=position(CH0, 100, b"cp"),
            segment_position=position(CH0, 150, b"seg")))
    flush = ok(dc.Flush(datacoord_pb2.FlushRequest(collectionID=COLL)))
    dc.stop()

    node2 = FakeDataNode()
    dc2 = cluster.coord(node2)
    by_channel = {w.vchannel.channelName: w for w in node2.watched}
    assert sorted(by_channel) == [CH0, CH1]
    w0 = by_channel[CH0]
    assert w0.vchannel.seek_position.msg_id == b"cp" and w0.vchannel.seek_position.timestamp == 100
    assert [s.id for s in w0.segments] == [a.segID] and w0.segments[0].dml_position.msg_id == b"seg"
    assert not w0.segments[0].binlogs  # positions only
    assert sorted(w0.vchannel.unflushedSegmentIds) == [a.segID]
    # sealed, unflushed segments are asked again, with a flush_ts past any older assignment
    asked = {sid: f.flush_ts for f in node2.flushes for sid in f.segmentIDs}
    assert set(asked) == {a.segID, b.segID}
    assert all(ts >= flush.flush_ts for ts in asked.values())
    assert segment(dc2, a.segID).num_of_rows == 4
    # allocation goes on in new segments
    assert assign(dc2, 1).segID not in (a.segID, b.segID)


def test_a_data_node_registered_after_a_restart_is_asked_to_watch_its_channels(cluster):
    """As a standalone starts: the coordinator recovers first, then its data node (the same
    node id as before) registers, and must be told the channels it owned."""
    dc = cluster.coord(FakeDataNode())
    watch(dc)
    ok(save(dc, assign(dc, 10).segID, rows=4, log_id=1, checkpoint=position(CH0, 100, b"cp")))
    dc.stop()

    dc2 = cluster.coord()  # no data node at start
    node = FakeDataNode()
    dc2.add_data_node(1, node)
    by_channel = {w.vchannel.channelName: w for w in node.watched}
    assert sorted(by_channel) == [CH0, CH1]
    assert by_channel[CH0].vchannel.seek_position.msg_id == b"cp"

    dc2.add_data_node(1, node)  # registering again asks again (the node keeps a watch it has)
    assert len(node.watched) == 4


def test_recovery_info_filters_partitions_but_keeps_l0_of_every_partition(cluster):
    dc = cluster.coord(FakeDataNode())
    watch(dc)
    p1, p2 = assign(dc, 1, partition=1), assign(dc, 1, partition=2)
    ok(dc.SaveBinlogPaths(datacoord_pb2.SaveBinlogPathsRequest(
        segmentID=900, collectionID=COLL, partitionID=-1, channel=CH0, flushed=True,
        level=datacoord_pb2.SEGMENT_LEVEL_L0, deltalogs=[binlog(9, 1)])))
    info = ok(dc.GetRecoveryInfo(datacoord_pb2.GetRecoveryInfoRequest(collectionID=COLL, partitionIDs=[2])))
    assert sorted(s.id for s in info.segments) == sorted([p2.segID, 900])
    ch0 = next(c for c in info.channels if c.channelName == CH0)
    assert list(ch0.flushedSegmentIds) == [900] and list(ch0.unflushedSegmentIds) == [p2.segID]
    assert p1.segID not in ch0.unflushedSegmentIds


# ---- drops and garbage collection ---------------------------------------------------------


def test_drop_collection_unwatches_and_gc_removes_files(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node, gc_drop_tolerance=0.0, gc_missing_tolerance=0.0)
    watch(dc)
    a = assign(dc, 3)
    path = f"insert_log/{COLL}/1/{a.segID}/1.parquet"
    cluster.storage.put(path, b"rows")
    cluster.storage.put(f"stats_log/{COLL}/1/{a.segID}/1.json", b"stats")  # never recorded: an orphan
    request = datacoord_pb2.SaveBinlogPathsRequest(segmentID=a.segID, channel=CH0, flushed=True)
    request.field2BinlogPaths.append(binlog(1, 3, path))
    ok(dc.SaveBinlogPaths(request))

    ok(dc.DropCollection(datacoord_pb2.DropCollectionRequest(collectionID=COLL)))
    assert sorted((u.channel_name, u.drop) for u in node.unwatched) == [(CH0, True), (CH1, True)]
    assert segment(dc, a.segID).state == datacoord_pb2.DROPPED
    assert parse_ts(segment(dc, a.segID).dropped_at)[0] > 0
    assert ok(dc.GetRecoveryInfo(datacoord_pb2.GetRecoveryInfoRequest(collectionID=COLL))).channels == []
    # late syncs of a dropped collection are ignored, not errors; an assignment is refused:
    # the collection is not found (it was ChannelNotFound, 500, before the drop was remembered)
    ok(save(dc, a.segID, rows=1, log_id=5))
    assert dc.AssignSegmentID(datacoord_pb2.AssignSegmentIDRequest(segmentIDRequests=[
        datacoord_pb2.SegmentIDRequest(count=1, channel_name=CH0, collectionID=COLL, partitionID=1)
    ])).status.code == 100

    assert dc.collect_garbage() == 2
    assert list(cluster.storage.list("")) == []
    assert dc.GetSegmentInfo(datacoord_pb2.GetSegmentInfoRequest(segmentIDs=[a.segID],
                                                                 includeUnHealthy=True)).infos == []
    catalog = DataCoordCatalog(cluster.kv)
    assert catalog.list_segments() == [] and catalog.list_watches() == [] and catalog.list_checkpoints() == {}


def _straggler_calls(dc: DataCoord) -> tuple[common_pb2.Status, common_pb2.Status]:
    """What a proxy or data node that missed the drop asks: watch the channels, assign rows."""
    watched = dc.WatchChannels(datacoord_pb2.WatchChannelsRequest(collectionID=COLL, channelNames=[CH0, CH1],
                                                                  schema=SCHEMA))
    assigned = dc.AssignSegmentID(datacoord_pb2.AssignSegmentIDRequest(segmentIDRequests=[
        datacoord_pb2.SegmentIDRequest(count=1, channel_name=CH0, collectionID=COLL, partitionID=1)])).status
    return watched, assigned


def test_a_dropped_collection_is_not_brought_back_by_a_straggler_even_after_a_restart(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node)
    watch(dc)
    assign(dc, 3)
    ok(dc.DropCollection(datacoord_pb2.DropCollectionRequest(collectionID=COLL)))
    assert [kv.key for kv in cluster.kv.range(dropped_collection_key(COLL))] == [dropped_collection_key(COLL)]
    watches = len(node.watched)
    for status in _straggler_calls(dc):
        assert status.code == 100 and status.error_code == common_pb2.CollectionNotExists
        assert status.reason.startswith(f"collection not found[collection={COLL}]")
    catalog = DataCoordCatalog(cluster.kv)
    assert catalog.list_watches() == [] and len(node.watched) == watches  # nothing watched again
    assert ok(dc.GetRecoveryInfo(datacoord_pb2.GetRecoveryInfoRequest(collectionID=COLL))).channels == []
    segments = len(catalog.list_segments())

    dc.stop()
    dc = cluster.coord(node)  # a restarted data coordinator remembers the drop
    assert [s.code for s in _straggler_calls(dc)] == [100, 100]
    assert catalog.list_watches() == [] and len(catalog.list_segments()) == segments
    ok(dc.DropCollection(datacoord_pb2.DropCollectionRequest(collectionID=COLL)))  # dropping again is fine
    # another collection is untouched
    watch(dc, ["by-dev-rootcoord-dml_0_8v0"], collection=8)
    assert assign(dc, 2, channel="by-dev-rootcoord-dml_0_8v0", collection=8).count == 2


def test_a_dropped_partition_gets_no_new_segment_even_after_a_restart(cluster):
    node = FakeDataNode()
    dc = cluster.coord(node)
    watch(dc)
    kept = assign(dc, 3, partition=1)
    assign(dc, 3, partition=2)
    ok(dc.DropPartition(datacoord_pb2.DropPartitionRequest(collectionID=COLL, partitionID=2)))
    assert [kv.key for kv in cluster.kv.range(dropped_partition_key(COLL, 2))] == [dropped_partition_key(COLL, 2)]
    segments = len(DataCoordCatalog(cluster.kv).list_segments())

    def straggler(dc):  # a proxy that has not heard of the drop inserts into the partition
        return dc.AssignSegmentID(datacoord_pb2.AssignSegmentIDRequest(segmentIDRequests=[
            datacoord_pb2.SegmentIDRequest(count=1, channel_name=CH1, collectionID=COLL, partitionID=2)])).status

    for restarted in (False, True):
        if restarted:
            dc.stop()
            dc = cluster.coord(node)  # the drop is remembered
        status = straggler(dc)
        assert status.code == 200 and status.reason.startswith("partition not found[partition=2]")
        assert len(DataCoordCatalog(cluster.kv).list_segments()) == segments  # nothing opened
        assert assign(dc, 1, partition=1).segID == kept.segID  # the other partition is untouched
    ok(dc.DropPartition(datacoord_pb2.DropPartitionRequest(collectionID=COLL, partitionID=2)))  # again: fine


def test_gc_keeps_recent_drops_and_referenced_files(cluster):
    dc = cluster.coord(FakeDataNode())  # default tolerances: hours
    watch(dc)
    a = assign(dc, 3)
    cluster.storage.put(f"insert_log/{COLL}/1/{a.segID}/1.parquet", b"rows")
    ok(dc.DropPartition(datacoord_pb2.DropPartitionRequest(collectionID=COLL, partitionID=1)))
    assert segment(dc, a.segID).state == datacoord_pb2.DROPPED
    assert dc.collect_garbage() == 0
    assert len(list(cluster.storage.list(""))) == 1


def test_refuses_calls_before_start(cluster):
    dc = DataCoord(cluster.kv, alloc_id=cluster.alloc_id, alloc_ts=cluster.tso.alloc)
    assert dc.Flush(datacoord_pb2.FlushRequest(collectionID=COLL)).status.code == 1
    states = dc.GetComponentStates(internal_pb2.GetComponentStatesRequest())
    assert states.state.state == internal_pb2.INITIALIZING


def test_a_coordinator_that_takes_over_leaves_each_live_nodes_channels_with_it(cluster):
    """A restarted (or standby) coordinator learns of the live data nodes one by one: the
    channels of a node not registered yet are not orphans, so nothing moves and moves back."""
    dc = cluster.coord()
    watch(dc)
    first, second = FakeDataNode(), FakeDataNode()
    dc.add_data_node(1, first)
    dc.add_data_node(2, second)
    owners = {w.vchannel: w.node_id for w in dc._channels.all()}
    assert sorted(owners.values()) == [1, 2]
    dc.stop()

    dc2 = cluster.coord()
    dc2.expect_data_nodes([1, 2])
    first2, second2 = FakeDataNode(), FakeDataNode()
    dc2.add_data_node(1, first2)
    assert {w.vchannel.channelName for w in first2.watched} == {ch for ch, n in owners.items() if n == 1}
    assert not first2.unwatched
    dc2.add_data_node(2, second2)
    assert {w.vchannel.channelName for w in second2.watched} == {ch for ch, n in owners.items() if n == 2}
    assert not first2.unwatched and not second2.unwatched
    assert {w.vchannel: w.node_id for w in dc2._channels.all()} == owners


def _taken_over_with_node_1_back(cluster, **params) -> tuple[DataCoord, FakeDataNode]:
    """Channels on data nodes 1 and 2, the coordinator restarted expecting both; node 1 is back."""
    dc = cluster.coord()
    watch(dc)
    dc.add_data_node(1, FakeDataNode())
    dc.add_data_node(2, FakeDataNode())
    dc.stop()
    dc2 = cluster.coord(**params)
    dc2.expect_data_nodes([1, 2])
    node = FakeDataNode()
    dc2.add_data_node(1, node)
    return dc2, node


def test_an_expected_data_node_that_never_registers_gives_up_its_channels_after_the_grace(cluster):
    dc2, node = _taken_over_with_node_1_back(cluster, node_grace=5.0)
    assert len(node.watched) == 1  # its own channel only: node 2's waits for node 2
    cluster.now += 4.0
    dc2.tick()
    assert len(node.watched) == 1
    cluster.now += 2.0
    dc2.tick()  # node 2 did not come: its channel moves to node 1
    assert sorted(w.vchannel.channelName for w in node.watched) == [CH0, CH1]
    assert {w.node_id for w in dc2._channels.all()} == {1}


def test_an_expected_data_node_whose_session_ends_gives_up_its_channels_at_once(cluster):
    dc2, node = _taken_over_with_node_1_back(cluster)
    assert len(node.watched) == 1
    dc2.remove_data_node(2)
    assert sorted(w.vchannel.channelName for w in node.watched) == [CH0, CH1]
