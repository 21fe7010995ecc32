"""The QueryNode service on the embedded MQ and object storage: watch, load, hand-off, reads."""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from milvus import errors
from milvus._proto import datacoord_pb2, internal_pb2, querynode_pb2
from milvus.binlog import delta_log_key, insert_log_key, write_delta_log, write_insert_log
from milvus.mq.local import LocalMQ
from milvus.querynode import QueryNode
from milvus.schema import arrow_to_ids
from milvus.storage.local import LocalStorage
from tests.conftest import wait_for
from tests.readpath import (
    DIM,
    delete_envelope,
    ids_list,
    insert_envelope,
    make_batch,
    make_schema,
    placeholder,
    read_arrow,
    time_tick_envelope,
)

COLL, PART, PART2 = 1, 10, 11
PCH = "by-dev-rootcoord-dml_0"
VCH = f"{PCH}_{COLL}v0"


class Env:
    def __init__(self, tmp_path, schema=None, filter_compiler=None):
        self.mq = LocalMQ(tmp_path / "mq", sync=False)
        self.storage = LocalStorage(tmp_path / "storage")
        self.schema = schema or make_schema()
        self.node = QueryNode(7, self.mq, self.storage, read_timeout=5.0, filter_compiler=filter_compiler)
        self.node.start()
        self.producer = self.mq.create_producer(PCH)
        self.ids: list = []

    def send(self, payload: bytes, vchannel: str = VCH):
        mid = self.producer.send(payload, {"vchannel": vchannel})
        self.ids.append(mid)
        return mid

    def insert(self, segment, pks, ts, vecs=None, partition=PART, **kw):
        vecs = np.zeros((len(pks), DIM), np.float32) if vecs is None else vecs
        batch = make_batch(self.schema, pks, ts, vecs, **kw)
        return self.send(insert_envelope(VCH, COLL, partition, segment, batch, ts))

    def delete(self, pks, ts, partition=-1):
        return self.send(delete_envelope(VCH, COLL, pks, ts, partition))

    def tick(self, ts):
        return self.send(time_tick_envelope(ts), vchannel="")

    def watch(self, seek: internal_pb2.MsgPosition | None = None, flushed=(), partitions=()):
        info = datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=VCH, flushedSegmentIds=list(flushed))
        if seek is not None:
            info.seek_position.CopyFrom(seek)
        status = self.node.WatchDmChannel(querynode_pb2.QWatchDmChannelRequest(
            vchannel=info, schema=self.schema.proto.SerializeToString(), partitionIDs=list(partitions)))
        assert status.code == 0, status.reason
        # a first leader view (every segment here local): the channel is serviceable
        status = self.node.SyncDistribution(querynode_pb2.SyncDistributionRequest(collectionID=COLL, channel=VCH))
        assert status.code == 0, status.reason

    def query(self, ts=0, travel=0, **kw):
        req = querynode_pb2.ShardRequest(collectionID=COLL, channels=[VCH], guarantee_ts=ts, travel_ts=travel, **kw)
        return self.node.Query(req)

    def search(self, vectors, topk=10, ts=0, travel=0, metric="L2", **kw):
        req = querynode_pb2.ShardRequest(collectionID=COLL, channels=[VCH], guarantee_ts=ts, travel_ts=travel,
                                         placeholder_group=placeholder(vectors), topk=topk, nq=len(vectors),
                                         metric_type=metric, anns_field="vec", **kw)
        return self.node.Search(req)

    def sealed_info(self, segment, batch, deltas=None, partition=PART, log_id=1):
        key = insert_log_key(COLL, partition, segment, log_id)
        self.storage.put(key, write_insert_log(batch))
        info = datacoord_pb2.SegmentInfo(id=segment, collection_id=COLL, partition_id=partition, insert_channel=VCH,
                                         num_of_rows=batch.num_rows, state=datacoord_pb2.FLUSHED)
        info.binlogs.add(field_id=0).binlogs.add(entries_num=batch.num_rows, log_path=key, log_id=log_id)
        if deltas is not None:
            dkey = delta_log_key(COLL, partition, segment, log_id + 1)
            self.storage.put(dkey, write_delta_log(*deltas))
            info.deltalogs.add(field_id=0).binlogs.add(log_path=dkey)
        return info

    def load(self, *infos):
        status = self.node.LoadSegments(querynode_pb2.LoadSegmentsRequest(
            collectionID=COLL, segments=list(infos), schema=self.schema.proto.SerializeToString()))
        assert status.code == 0, status.reason

    def close(self):
        self.node.stop()
        self.producer.close()
        self.mq.close()


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.close()


def _ids(resp):
    assert resp.status.code == 0, resp.status.reason
    return ids_list(resp.ids)


def test_growing_rows_deletes_and_time_travel(env):
    env.watch()
    env.insert(1, [1, 2, 3], 100)
    env.insert(1, [4, 5], 200)
    env.delete([2], 300)
    env.insert(1, [2], 400)  # re-insert after the delete
    env.tick(500)
    assert _ids(env.query(ts=500)) == [1, 2, 3, 4, 5]
    assert _ids(env.query(travel=100)) == [1, 2, 3]
    assert _ids(env.query(travel=250)) == [1, 2, 3, 4, 5]
    assert _ids(env.query(travel=300)) == [1, 3, 4, 5]
    assert env.query(travel=350, count_only=True).count == 4
    resp = env.query(ts=500, output_field_ids=[env.schema.field("tag").field_id], limit=2, offset=1)
    assert _ids(resp) == [2, 3]
    table = read_arrow(resp.arrow_fields)
    assert table.column_names == ["tag"] and table["tag"].to_pylist() == [0, 2]
    assert resp.read_ts == 500


def test_reads_wait_for_tsafe(env):
    env.watch()
    env.insert(1, [1], 100)
    env.tick(150)
    result = {}

    def read():
        result["resp"] = env.query(ts=1000)

    t = threading.Thread(target=read)
    t.start()
    wait_for(lambda: env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest()).channels[0].tsafe
             == 150, message="tsafe 150")
    assert t.is_alive()
    env.insert(1, [2], 900)
    env.tick(1000)
    t.join(5)
    assert _ids(result["resp"]) == [1, 2]


def test_tsafe_timeout_is_an_error(tmp_path):
    e = Env(tmp_path)
    e.node._read_timeout = 0.05
    try:
        e.watch()
        e.tick(10)
        resp = e.query(ts=10**12)
        assert resp.status.code == errors.ServiceUnavailable.code
        assert "tsafe" in resp.status.reason
    finally:
        e.close()


def test_search_growing_with_outputs_and_upsert(env):
    env.watch()
    x = np.eye(DIM, dtype=np.float32)
    env.insert(1, list(range(DIM)), 100, x, tags=list(range(100, 100 + DIM)))
    # upsert pk 0 at 200: delete + insert at the same timestamp, new vector far away
    env.delete([0], 200)
    env.insert(1, [0], 200, np.full((1, DIM), 9, np.float32), tags=[999])
    env.tick(300)
    resp = env.search(x[:2], topk=2, ts=300, output_field_ids=[env.schema.field("tag").field_id])
    assert resp.status.code == 0, resp.status.reason
    assert list(resp.topks) == [2, 2]
    ids = ids_list(resp.ids)
    assert ids[2] == 1  # query 1's best is row 1
    assert ids[0] != 0  # the upserted row 0 moved away
    tags = read_arrow(resp.arrow_fields)["tag"].to_pylist()
    assert tags == [100 + i for i in ids]
    old = env.search(x[:1], topk=1, travel=150)
    assert ids_list(old.ids) == [0] and old.scores[0] == 0.0
    assert resp.metric_type == "L2" and resp.read_ts == 300


def test_sealed_segments_with_delta_logs_and_excluded_replay(env):
    schema = env.schema
    b1 = make_batch(schema, [1, 2, 3], 100, np.zeros((3, DIM)))
    # the channel still carries segment 5's rows (checkpoint older than the flush)
    first = env.insert(5, [1, 2, 3], 100)
    env.insert(6, [10, 11], 150)
    env.tick(200)
    info = env.sealed_info(5, b1, deltas=(np.array([3]), [180]))
    env.load(info)
    env.watch(seek=internal_pb2.MsgPosition(channel_name=PCH, msg_id=b"", timestamp=50), flushed=[5])
    wait_for(lambda: _ids(env.query(ts=200)) == [1, 2, 10, 11], message="rows")
    assert _ids(env.query(travel=170)) == [1, 2, 3, 10, 11]
    dist = env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    segs = {(s.id, s.sealed) for s in dist.segments}
    assert segs == {(5, True), (6, False)}
    assert first is not None


def test_watch_from_checkpoint_skips_older_messages(env):
    env.insert(1, [1], 100)
    checkpoint = env.insert(1, [2], 110)
    env.insert(1, [3], 120)
    env.tick(130)
    env.watch(seek=internal_pb2.MsgPosition(channel_name=PCH, msg_id=checkpoint.to_bytes(), timestamp=110))
    assert _ids(env.query(ts=130)) == [3]


def test_l0_deletes_apply_to_every_partition(env):
    schema = env.schema
    env.load(env.sealed_info(5, make_batch(schema, [1, 2], 100, np.zeros((2, DIM))), partition=PART),
             env.sealed_info(6, make_batch(schema, [3, 4], 100, np.zeros((2, DIM))), partition=PART2))
    l0 = datacoord_pb2.SegmentInfo(id=9, collection_id=COLL, partition_id=-1, insert_channel=VCH,
                                   state=datacoord_pb2.FLUSHED)
    dkey = delta_log_key(COLL, -1, 9, 1)
    env.storage.put(dkey, write_delta_log(np.array([2, 3]), [150, 150]))
    l0.deltalogs.add().binlogs.add(log_path=dkey)
    env.load(l0)
    env.watch()
    env.tick(200)
    assert _ids(env.query(ts=200)) == [1, 4]
    assert _ids(env.query(ts=200, partitionIDs=[PART2])) == [4]


def test_partitions_and_get_by_primary_keys(env):
    env.watch(partitions=[PART])
    env.insert(1, [1, 2], 100, partition=PART)
    env.insert(2, [3, 4], 100, partition=PART2)
    env.tick(200)
    assert _ids(env.query(ts=200)) == [1, 2]
    resp = env.query(ts=200, partitionIDs=[PART2])
    assert resp.status.code == errors.PartitionNotLoaded.code
    env.node.LoadPartitions(querynode_pb2.QLoadPartitionsRequest(collectionID=COLL, partitionIDs=[PART2]))
    assert _ids(env.query(ts=200)) == [1, 2, 3, 4]
    assert _ids(env.query(ts=200, partitionIDs=[PART2])) == [3, 4]
    assert _ids(env.query(ts=200, primary_keys=arrow_to_ids([4, 1, 99]))) == [1, 4]
    env.node.ReleasePartitions(querynode_pb2.QReleasePartitionsRequest(collectionID=COLL, partitionIDs=[PART]))
    assert _ids(env.query(ts=200)) == [3, 4]


def test_filter_compiler_plugs_in(tmp_path):
    def compiler(schema, expr, template_values):
        field, op, value = expr.split()
        assert op == ">="
        return lambda table: pc.greater_equal(table[field], int(value))

    e = Env(tmp_path, filter_compiler=compiler)
    try:
        e.watch()
        e.insert(1, [1, 2, 3, 4], 100, tags=[5, 6, 7, 8])
        e.tick(100)
        assert _ids(e.query(ts=100, expr="tag >= 7")) == [3, 4]
        resp = e.search(np.zeros((1, DIM)), topk=10, ts=100, expr="tag >= 6")
        assert sorted(ids_list(resp.ids)) == [2, 3, 4]
        assert e.query(ts=100, expr="tag >= x").status.code == errors.ParameterInvalid.code
    finally:
        e.close()


def test_no_compiler_refuses_filters_and_unknown_collection(env):
    env.watch()
    env.tick(10)
    assert env.query(ts=10, expr="tag > 1").status.code == errors.ParameterInvalid.code
    resp = env.node.Query(querynode_pb2.ShardRequest(collectionID=999, channels=[VCH]))
    assert resp.status.code == errors.CollectionNotLoaded.code
    resp = env.node.Search(querynode_pb2.ShardRequest(collectionID=COLL, channels=["nope"], topk=1,
                                                       placeholder_group=placeholder(np.zeros((1, DIM))),
                                                       metric_type="L2"))
    assert resp.status.code == errors.ChannelNotFound.code


def test_hand_off_has_no_gap_and_no_duplicates_under_concurrent_reads(env):
    env.watch()
    rng = np.random.default_rng(0)
    n = 400
    x = rng.standard_normal((n, DIM)).astype(np.float32)
    pks = list(range(n))
    for start in range(0, n, 50):
        env.insert(3, pks[start:start + 50], 100, x[start:start + 50])
    env.tick(200)
    wait_for(lambda: env.query(ts=200, count_only=True).count == n, message="growing rows")
    stop = threading.Event()
    failures: list[str] = []
    reads = [0]

    def reader():
        while not stop.is_set():
            resp = env.query(ts=200, count_only=True)
            if resp.count != n:
                failures.append(f"count {resp.count}")
            ids = ids_list(env.query(ts=200).ids)
            if ids != pks:
                failures.append(f"query saw {len(ids)} rows, {len(set(ids))} distinct")
            s = env.search(x[:1], topk=n, ts=200)
            got = ids_list(s.ids)
            if len(got) != n or len(set(got)) != n:
                failures.append(f"search saw {len(got)} hits, {len(set(got))} distinct")
            reads[0] += 1

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    wait_for(lambda: reads[0] >= 4, message="reads before hand-off")
    env.load(env.sealed_info(3, make_batch(env.schema, pks, 100, x)))
    before = reads[0]
    wait_for(lambda: reads[0] >= before + 6, message="reads after hand-off")
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    dist = env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    assert [(s.id, s.sealed) for s in dist.segments] == [(3, True)]
    # a late insert for the handed-off segment is ignored (the sealed copy holds its rows)
    env.insert(3, [n + 1], 250)
    env.tick(300)
    assert env.query(ts=300, count_only=True).count == n


def test_release_and_unwatch(env):
    env.watch()
    env.load(env.sealed_info(5, make_batch(env.schema, [1], 100, np.zeros((1, DIM)))))
    env.tick(100)
    assert _ids(env.query(ts=100)) == [1]
    env.node.ReleaseSegments(querynode_pb2.ReleaseSegmentsRequest(collectionID=COLL, segmentIDs=[5]))
    assert _ids(env.query(ts=100)) == []
    env.node.UnwatchDmChannel(querynode_pb2.QUnwatchDmChannelRequest(collectionID=COLL, channel_name=VCH))
    assert env.query(ts=100).status.code == errors.CollectionNotLoaded.code
    assert not env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest()).channels


def test_string_primary_keys_end_to_end(tmp_path):
    e = Env(tmp_path, schema=make_schema("str"))
    try:
        e.watch()
        e.insert(1, ["b", "a", "c"], 100)
        e.delete(["a"], 150)
        e.tick(200)
        assert _ids(e.query(ts=200)) == ["b", "c"]
        assert _ids(e.query(travel=120)) == ["a", "b", "c"]
        table = pa.Table.from_batches([make_batch(e.schema, ["z"], 100, np.ones((1, DIM)))])
        assert table.num_rows == 1
    finally:
        e.close()


def test_unflushed_segment_binlogs_load_and_replay_skips_persisted_rows(env):
    m1 = env.insert(5, [1, 2], 100)
    env.insert(5, [3], 110)
    env.insert(6, [4], 120)
    env.tick(130)
    info = env.sealed_info(5, make_batch(env.schema, [1, 2], 100, np.zeros((2, DIM))))
    info.state = datacoord_pb2.GROWING
    info.dml_position.CopyFrom(internal_pb2.MsgPosition(channel_name=VCH, msg_id=m1.to_bytes(), timestamp=100))
    vinfo = datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=VCH, unflushedSegmentIds=[5])
    status = env.node.WatchDmChannel(querynode_pb2.QWatchDmChannelRequest(
        vchannel=vinfo, schema=env.schema.proto.SerializeToString(), unflushed_segments=[info]))
    assert status.code == 0, status.reason
    assert env.node.SyncDistribution(querynode_pb2.SyncDistributionRequest(collectionID=COLL, channel=VCH)).code == 0
    assert _ids(env.query(ts=130)) == [1, 2, 3, 4]
    assert env.query(ts=130, count_only=True).count == 4


def test_only_time_ticks_move_tsafe(env):
    """Several proxies write one pchannel, so a DML envelope at T proves nothing about another
    proxy's older write still in flight: only a (merged) time tick moves tsafe.  An upsert's
    delete and insert at the same T are then both applied before a read at T may run."""
    env.watch()
    env.insert(1, [0], 100)
    env.tick(150)

    def tsafe():
        return env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest()).channels[0].tsafe

    wait_for(lambda: tsafe() == 150, message="tsafe 150")
    env.delete([0], 200)
    env.insert(1, [0], 200, np.ones((1, DIM), np.float32))
    env.insert(1, [5], 300)  # a later DML envelope does not move tsafe either
    env.tick(199)  # consumed after the three envelopes above: tsafe is the tick, not their 200/300
    wait_for(lambda: tsafe() == 199, message="tsafe 199")
    assert _ids(env.query(ts=199)) == [0]
    env.tick(200)
    wait_for(lambda: tsafe() == 200, message="tsafe 200")
    assert _ids(env.query(ts=200)) == [0]
    assert env.query(ts=200, count_only=True).count == 1


def test_a_stopped_node_refuses_requests(tmp_path):
    e = Env(tmp_path)
    e.watch()
    e.node.stop()
    status = e.node.WatchDmChannel(querynode_pb2.QWatchDmChannelRequest(
        vchannel=datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=VCH),
        schema=e.schema.proto.SerializeToString()))
    assert status.code == errors.ServiceNotReady.code
    assert e.query().status.code == errors.ServiceNotReady.code
    e.close()


def test_a_watched_channel_answers_no_read_before_its_first_leader_view(env):
    """Between the watch and the first leader view, the segments here alone could be a short
    answer (a proxy that still routes here from leaders it knew before): the read is refused
    with a retriable ChannelNotFound, and answered once the view is synced."""
    info = datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=VCH)
    status = env.node.WatchDmChannel(querynode_pb2.QWatchDmChannelRequest(
        vchannel=info, schema=env.schema.proto.SerializeToString()))
    assert status.code == 0, status.reason
    env.insert(1, [1, 2], 100)
    env.tick(110)
    for resp in (env.query(ts=110), env.search(np.zeros((1, DIM), np.float32), ts=110)):
        assert resp.status.code == errors.ChannelNotFound.code, resp.status.reason
        assert "leader view is not synced" in resp.status.reason
    dist = env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    assert not dist.channels[0].serviceable
    assert env.node.SyncDistribution(querynode_pb2.SyncDistributionRequest(collectionID=COLL, channel=VCH)).code == 0
    assert _ids(env.query(ts=110)) == [1, 2]
