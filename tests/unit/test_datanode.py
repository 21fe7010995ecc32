"""The data node: the channel buffer state machine alone, then the node on a real local MQ."""

from __future__ import annotations

import dataclasses
import itertools
import threading

import numpy as np
import pyarrow as pa
import pytest
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus._proto import datacoord_pb2, datanode_pb2, internal_pb2, msgstream_pb2
from milvus.binlog import PKStats, read_delta_log, read_insert_log
from milvus.datanode import DataNode, DataNodeParams
from milvus.datanode import channel as channel_module
from milvus.datanode.buffer import ChannelBuffer, Position, SyncPolicy
from milvus.datanode.channel import _ack_handle, pchannel_of
from milvus.mq.base import Message
from milvus.mq.local import LocalMessageID, LocalMQ
from milvus.schema import CollectionSchemaModel, arrow_to_ids, batch_to_ipc
from milvus.storage.local import LocalStorage
from tests.conftest import wait_for

COLL, PART = 7, 1
PCH = "by-dev-rootcoord-dml_0"
VCH = f"{PCH}_{COLL}v0"
OTHER = f"{PCH}_8v0"
SCHEMA = schema_pb2.CollectionSchema(name="c", fields=[
    schema_pb2.FieldSchema(fieldID=100, name="pk", data_type=schema_pb2.Int64, is_primary_key=True),
    schema_pb2.FieldSchema(fieldID=101, name="vec", data_type=schema_pb2.FloatVector,
                           type_params=[common_pb2.KeyValuePair(key="dim", value="2")]),
])
MODEL = CollectionSchemaModel(SCHEMA)


def rows(pks, ts: int) -> pa.RecordBatch:
    n = len(pks)
    vec = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(2 * n, dtype=np.float32)), 2)
    columns = [pa.array(pks, pa.int64()), pa.array([ts] * n, pa.uint64()), pa.array(pks, pa.int64()), vec]
    return pa.RecordBatch.from_arrays(columns, schema=MODEL.arrow_schema)


def insert(segment: int, pks, ts: int, vchannel: str = VCH, partition: int = PART) -> msgstream_pb2.Envelope:
    return msgstream_pb2.Envelope(kind=msgstream_pb2.INSERT, begin_ts=ts, end_ts=ts, insert=msgstream_pb2.InsertMsg(
        vchannel=vchannel, collection_id=COLL, partition_id=partition, segment_id=segment, num_rows=len(pks),
        arrow_batch=batch_to_ipc(rows(pks, ts))))


def delete(pks, ts: int, vchannel: str = VCH, partition: int = -1) -> msgstream_pb2.Envelope:
    return msgstream_pb2.Envelope(kind=msgstream_pb2.DELETE, begin_ts=ts, end_ts=ts, delete=msgstream_pb2.DeleteMsg(
        vchannel=vchannel, collection_id=COLL, partition_id=partition, primary_keys=arrow_to_ids(pks),
        timestamps=[ts] * len(pks), num_rows=len(pks)))


def tick(ts: int) -> msgstream_pb2.Envelope:
    return msgstream_pb2.Envelope(kind=msgstream_pb2.TIME_TICK, begin_ts=ts, end_ts=ts,
                                  time_tick=msgstream_pb2.TimeTickMsg(source="test"))


# ---- the buffer state machine ---------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


LOOSE = SyncPolicy(max_rows=1000, max_bytes=1 << 30, max_age=100.0)
START = Position(None, 0)


def new_buffer(clock=None, policy=LOOSE, **kw) -> ChannelBuffer:
    return ChannelBuffer(VCH, START, policy, clock or Clock(), **kw)


def feed(buf: ChannelBuffer, *envelopes, first: int = 1):
    for seq, env in enumerate(envelopes, start=first):
        buf.consume(LocalMessageID(seq), env)


def test_checkpoint_is_the_message_before_the_oldest_buffer():
    buf = new_buffer()
    assert buf.checkpoint() == Position(None, 0)
    feed(buf, tick(5), insert(11, [1, 2], 10), None, delete([1], 20), tick(30))
    assert buf.tsafe == 30
    assert buf.checkpoint() == Position(LocalMessageID(1), 10)  # replay after the tick, rows >= ts 10
    assert buf.checkpoint(excluding=[("insert", 11)]) == Position(LocalMessageID(3), 20)
    assert buf.checkpoint(excluding=[("insert", 11), ("delete", -1)]) == Position(LocalMessageID(5), 30)


def test_other_vchannels_and_dropped_segments_are_ignored():
    buf = new_buffer(dropped_segments=[12])
    feed(buf, insert(11, [1], 10, vchannel=OTHER), insert(12, [2], 11), insert(11, [3], 12), tick(13))
    assert buf.buffered_rows == 1 and buf.tsafe == 13
    assert buf.plan().tasks == []  # nothing due yet


def test_replay_skips_what_segments_and_l0_segments_already_hold():
    buf = new_buffer(segment_positions={11: LocalMessageID(2)}, delete_positions={-1: LocalMessageID(3)})
    feed(buf, insert(11, [1], 10), insert(11, [2], 11), delete([1], 12), insert(11, [3], 13), delete([2], 14))
    assert buf.buffered_rows == 1 and buf.buffered_deletes == 1


def test_policy_writes_full_or_old_buffers():
    clock = Clock()
    buf = new_buffer(clock, SyncPolicy(max_rows=3, max_bytes=1 << 30, max_age=10.0))
    feed(buf, insert(11, [1, 2], 10), insert(12, [5], 11))
    assert buf.plan().tasks == []
    feed(buf, insert(11, [3], 12), first=3)
    (task,) = buf.plan().tasks
    assert task.segment_id == 11 and task.rows == 3 and not task.flushed
    assert task.table.column("pk").to_pylist() == [1, 2, 3]
    assert task.end == Position(LocalMessageID(3), 12) and task.start == Position(LocalMessageID(1), 10)
    buf.done(task)
    clock.now = 10.0
    (task,) = buf.plan().tasks
    assert task.segment_id == 12


def test_flush_waits_for_tsafe_and_covers_everything_older():
    buf = new_buffer()
    feed(buf, insert(11, [1], 10), insert(12, [2], 11), delete([9], 12), tick(15))
    buf.request_flush(20, [11, 13])
    assert buf.plan().tasks == []
    feed(buf, insert(14, [3], 25), tick(25), first=5)  # data after flush_ts stays buffered
    plan = buf.plan()
    assert plan.flush_upto == 20
    kinds = {(t.kind, t.segment_id, t.flushed) for t in plan.tasks}
    assert kinds == {("insert", 11, True), ("insert", 12, False), ("delete", 0, True), ("insert", 13, True)}
    for task in plan.tasks:
        buf.done(task)
    buf.finish_flush(plan.flush_upto)
    assert buf.plan().tasks == []
    assert buf.checkpoint() == Position(LocalMessageID(4), 25)  # only segment 14 remains


# ---- the node on a local message queue ------------------------------------------------------------


class FakeDataCoord:
    """Records SaveBinlogPaths / checkpoints; ``failures`` makes the next calls fail."""

    def __init__(self):
        self.saves: list[datacoord_pb2.SaveBinlogPathsRequest] = []
        self.checkpoints: list[internal_pb2.MsgPosition] = []
        self.failures = 0
        self.lock = threading.Lock()

    def SaveBinlogPaths(self, request):
        with self.lock:
            if self.failures:
                self.failures -= 1
                return common_pb2.Status(code=2, reason="unavailable")
            self.saves.append(request)
            if request.HasField("checkpoint"):
                self.checkpoints.append(request.checkpoint)
        return common_pb2.Status()

    def UpdateChannelCheckpoint(self, request):
        with self.lock:
            self.checkpoints.extend(request.channel_checkpoints)
        return common_pb2.Status()

    def latest(self) -> internal_pb2.MsgPosition | None:
        with self.lock:
            return self.checkpoints[-1] if self.checkpoints else None

    def flushed(self) -> set[int]:
        with self.lock:
            return {s.segmentID for s in self.saves if s.flushed}


class Env:
    def __init__(self, tmp_path):
        self.mq = LocalMQ(tmp_path / "mq", sync=False)
        self.storage = LocalStorage(tmp_path / "objects")
        self.producer = self.mq.create_producer(PCH)
        self.dc = FakeDataCoord()
        self._ids = itertools.count(1)
        self.nodes: list[DataNode] = []

    def alloc_id(self, n: int) -> int:
        first = next(self._ids)
        for _ in range(n - 1):
            next(self._ids)
        return first

    def node(self, **params) -> DataNode:
        settings = {"poll_timeout": 0.02, "retry_backoff": 0.05}
        settings.update(params)
        dn = DataNode(self.mq, self.storage, self.dc, alloc_id=self.alloc_id, node_id=1,
                      params=DataNodeParams(**settings))
        dn.start()
        self.nodes.append(dn)
        return dn

    def send(self, env: msgstream_pb2.Envelope, vchannel: str | None = None):
        if vchannel is None:
            vchannel = "" if env.kind == msgstream_pb2.TIME_TICK else VCH
        return self.producer.send(env.SerializeToString(), {"vchannel": vchannel})

    def close(self):
        for dn in self.nodes:
            dn.stop()
        self.mq.close()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.close()


def watch(dn: DataNode, seek: internal_pb2.MsgPosition | None = None, segments=()):
    info = datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=VCH)
    if seek is not None:
        info.seek_position.CopyFrom(seek)
    status = dn.WatchDmChannel(datanode_pb2.WatchDmChannelRequest(
        vchannel=info, schema=SCHEMA.SerializeToString(), segments=list(segments)))
    assert status.code == 0, status.reason


def flush(dn: DataNode, ts: int, segments):
    status = dn.FlushSegments(datanode_pb2.FlushSegmentsRequest(
        collectionID=COLL, channel_name=VCH, segmentIDs=list(segments), flush_ts=ts))
    assert status.code == 0, status.reason


def test_pchannel_of():
    assert pchannel_of(VCH) == PCH
    with pytest.raises(ValueError):
        pchannel_of("plain")


def test_flush_writes_binlogs_stats_and_l0_deltas(env):
    dn = env.node()
    watch(dn)
    env.send(insert(11, [1, 2, 3], 10))
    env.send(insert(99, [7], 11, vchannel=OTHER), OTHER)
    env.send(delete([2], 12))
    flush(dn, 20, [11])
    env.send(tick(20))
    wait_for(lambda: 11 in env.dc.flushed() and (env.dc.latest() and env.dc.latest().timestamp >= 20),
             message="segment 11 flushed")
    by_segment = {s.segmentID: s for s in env.dc.saves}
    seg = by_segment[11]
    assert seg.level == datacoord_pb2.SEGMENT_LEVEL_L1 and seg.channel == VCH and seg.base.sourceID == 1
    (group,) = seg.field2BinlogPaths
    (log,) = group.binlogs
    table = read_insert_log(env.storage.get(log.log_path))
    assert table.column("pk").to_pylist() == [1, 2, 3] and table.column_names[:2] == ["_row_id", "_ts"]
    assert log.entries_num == 3 and log.timestamp_from == log.timestamp_to == 10
    stats = PKStats.from_bytes(env.storage.get(seg.field2StatslogPaths[0].binlogs[0].log_path))
    assert (stats.min, stats.max) == (1, 3) and stats.might_contain([1, 2, 3]).all()
    (l0,) = [s for s in env.dc.saves if s.level == datacoord_pb2.SEGMENT_LEVEL_L0]
    pks, tss = read_delta_log(env.storage.get(l0.deltalogs[0].binlogs[0].log_path))
    assert pks.to_pylist() == [2] and tss.tolist() == [12] and l0.partitionID == -1 and l0.flushed
    assert 99 not in by_segment


def test_sync_failures_are_retried_without_losing_rows(env):
    env.dc.failures = 2
    dn = env.node(max_buffer_rows=2)
    watch(dn)
    env.send(insert(11, [1, 2], 10))
    env.send(tick(11))
    wait_for(lambda: env.dc.saves, message="a save after the failures")
    (save,) = env.dc.saves
    assert save.field2BinlogPaths[0].binlogs[0].entries_num == 2 and not save.flushed
    assert save.segment_position.timestamp == 10
    # the first binlog is written and recorded: the checkpoint moves past its message
    assert save.checkpoint.msg_id == LocalMessageID(1).to_bytes()


def test_watch_replays_from_the_checkpoint_skipping_persisted_rows(env):
    ids = [env.send(e) for e in (insert(11, [1], 10), insert(12, [2], 11), insert(11, [3], 12), tick(13))]
    dn = env.node()
    # a previous node persisted segment 11 up to its second message (ids[2]); checkpoint after ids[0]
    seek = internal_pb2.MsgPosition(channel_name=VCH, msg_id=ids[0].to_bytes(), timestamp=11)
    persisted = datacoord_pb2.SegmentInfo(id=11, insert_channel=VCH, dml_position=internal_pb2.MsgPosition(
        channel_name=VCH, msg_id=ids[2].to_bytes(), timestamp=12))
    watch(dn, seek, [persisted])
    flush(dn, 13, [11, 12])
    wait_for(lambda: env.dc.flushed() == {11, 12}, message="both segments flushed")
    rows_by_segment = {s.segmentID: sum(b.entries_num for g in s.field2BinlogPaths for b in g.binlogs)
                       for s in env.dc.saves}
    assert rows_by_segment == {11: 0, 12: 1}


def test_stop_writes_nothing_and_watch_is_idempotent(env):
    dn = env.node()
    watch(dn)
    watch(dn)
    assert dn.channels == [VCH]
    env.send(insert(11, [1], 10))
    env.send(tick(11))
    wait_for(lambda: env.dc.latest() is None and dn.health()[0], message="running")
    dn.stop()
    assert env.dc.saves == []
    assert dn.FlushSegments(datanode_pb2.FlushSegmentsRequest(channel_name=VCH)).code == 1  # not serving


def test_flush_of_an_unwatched_channel_and_missing_schema_are_errors(env):
    dn = env.node()
    assert dn.FlushSegments(datanode_pb2.FlushSegmentsRequest(channel_name=VCH)).code == 500
    request = datanode_pb2.WatchDmChannelRequest(vchannel=datacoord_pb2.VchannelInfo(channelName=VCH))
    assert dn.WatchDmChannel(request).code == 1101


def test_unwatch_with_drop_forgets_the_subscription(env):
    dn = env.node()
    watch(dn)
    status = dn.UnwatchDmChannel(datanode_pb2.UnwatchDmChannelRequest(channel_name=VCH, drop=True))
    assert status.code == 0 and dn.channels == []


class RecordingConsumer:
    """A consumer that records what it is asked to acknowledge."""

    def __init__(self, inner):
        self.inner = inner
        self.channel, self.subscription = inner.channel, inner.subscription
        self.acked: list = []

    def receive(self, timeout=None):
        return self.inner.receive(timeout)

    def ack(self, message):
        self.acked.append(message)
        self.inner.ack(message)

    def seek(self, position):
        self.inner.seek(position)

    def close(self):
        self.inner.close()


def test_acknowledgements_name_the_message_without_keeping_its_payload(env, monkeypatch):
    consumers: list[RecordingConsumer] = []
    subscribe = env.mq.subscribe

    def recording(*args, **kw):
        consumers.append(RecordingConsumer(subscribe(*args, **kw)))
        return consumers[-1]

    monkeypatch.setattr(env.mq, "subscribe", recording)
    dn = env.node(max_buffer_rows=2)
    watch(dn)
    first = env.send(insert(11, [1, 2], 10))
    wait_for(lambda: consumers and consumers[0].acked, message="an acknowledgement after the sync")
    (acked,) = consumers[0].acked
    assert type(acked) is Message and acked.id == first and acked.channel == PCH
    assert acked.properties == {"vchannel": VCH} and acked.payload == b""


def test_an_ack_handle_keeps_a_backends_own_fields():
    @dataclasses.dataclass(frozen=True)
    class BackendMessage(Message):
        ack_subject: str = ""

    message = BackendMessage(PCH, b"rows", LocalMessageID(3), {"vchannel": VCH}, ack_subject="inbox.3")
    handle = _ack_handle(message)
    assert type(handle) is BackendMessage and handle.ack_subject == "inbox.3" and handle.payload == b""
    assert (handle.channel, handle.id, handle.properties) == (PCH, LocalMessageID(3), {"vchannel": VCH})
    assert message.payload == b"rows"


@pytest.mark.parametrize("threshold, releases", [(1, True), (1 << 40, False)])
def test_memory_is_given_back_after_large_writes_only(env, monkeypatch, threshold, releases):
    calls = []
    monkeypatch.setattr(channel_module, "RELEASE_AFTER_BYTES", threshold)
    monkeypatch.setattr(channel_module, "release_free_memory", lambda: calls.append(len(env.dc.saves)))
    dn = env.node(max_buffer_rows=2)
    watch(dn)
    env.send(insert(11, [1, 2], 10))
    env.send(insert(11, [3], 11))
    flush(dn, 20, [11])
    env.send(tick(20))
    wait_for(lambda: 11 in env.dc.flushed(), message="segment 11 flushed")
    dn.stop()
    # after the write of the full buffer and after the flush's; never before a write
    assert calls == ([1, 2] if releases else [])
