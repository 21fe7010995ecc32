"""The write path in one process: a proxy-like publisher, DataCoord and DataNode on the
embedded meta store, message queue and object storage; flush, read the binlogs back, then
crash (stop without flushing) and check that replay from the checkpoint restores the rest
exactly once.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus import datacoord, datanode
from milvus._proto import datacoord_pb2, msgstream_pb2
from milvus.binlog import read_delta_log, read_insert_log
from milvus.kv.local import LocalKV
from milvus.kv.prefixed import PrefixedKV
from milvus.mq.local import LocalMQ
from milvus.rpc import LocalClient
from milvus.schema import CollectionSchemaModel, arrow_to_ids, batch_to_ipc
from milvus.storage.local import LocalStorage
from milvus.tso import IDAllocator, TimestampOracle
from milvus.util.hashing import shard_of
from tests.conftest import wait_for

COLL = 42
PCHANNELS = ["by-dev-rootcoord-dml_0", "by-dev-rootcoord-dml_1"]
VCHANNELS = [f"{p}_{COLL}v{i}" for i, p in enumerate(PCHANNELS)]
SCHEMA = schema_pb2.CollectionSchema(name="docs", fields=[
    schema_pb2.FieldSchema(fieldID=100, name="pk", data_type=schema_pb2.Int64, is_primary_key=True),
    schema_pb2.FieldSchema(fieldID=101, name="vec", data_type=schema_pb2.FloatVector,
                           type_params=[common_pb2.KeyValuePair(key="dim", value="4")]),
])
MODEL = CollectionSchemaModel(SCHEMA)


def ok(response):
    status = response if isinstance(response, common_pb2.Status) else response.status
    assert status.code == 0, status.reason
    return response


class Publisher:
    """Writes the way docs/datapath.md says the proxy does: segment assignment, one timestamp
    per request under the pchannel locks, one envelope per (vchannel, segment), time ticks."""

    def __init__(self, mq, dc, tso: TimestampOracle, ids: IDAllocator):
        self._dc = dc
        self._tso = tso
        self._ids = ids
        self._producers = {p: mq.create_producer(p) for p in PCHANNELS}
        self._locks = {p: threading.Lock() for p in PCHANNELS}
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, daemon=True)
        self._ticker.start()

    def _tick_loop(self):
        while not self._stop.wait(0.02):
            self.tick()

    def tick(self):
        for pchannel in PCHANNELS:
            with self._locks[pchannel]:
                ts = self._tso.alloc(1)
                env = msgstream_pb2.Envelope(kind=msgstream_pb2.TIME_TICK, begin_ts=ts, end_ts=ts,
                                             time_tick=msgstream_pb2.TimeTickMsg(source="publisher"))
                self._producers[pchannel].send(env.SerializeToString(), {"vchannel": ""})

    def insert(self, pks: list[int], partition: int) -> int:
        keys = np.asarray(pks, dtype=np.int64)
        shards = shard_of(keys, len(VCHANNELS))
        ts = 0
        for shard, vchannel in enumerate(VCHANNELS):
            part = keys[shards == shard]
            if len(part) == 0:
                continue
            pchannel = PCHANNELS[shard]
            while True:
                assignment = ok(self._dc.AssignSegmentID(datacoord_pb2.AssignSegmentIDRequest(segmentIDRequests=[
                    datacoord_pb2.SegmentIDRequest(count=len(part), channel_name=vchannel, collectionID=COLL,
                                                   partitionID=partition)]))).segIDAssignments[0]
                start, _ = self._ids.alloc(len(part))
                with self._locks[pchannel]:
                    ts = self._tso.alloc(1)
                    if ts >= assignment.expire_time:
                        continue  # the assignment expired: ask again
                    batch = self._rows(part, np.arange(start, start + len(part)), ts)
                    env = msgstream_pb2.Envelope(
                        kind=msgstream_pb2.INSERT, begin_ts=ts, end_ts=ts, insert=msgstream_pb2.InsertMsg(
                            vchannel=vchannel, collection_id=COLL, partition_id=partition,
                            segment_id=assignment.segID, num_rows=len(part), arrow_batch=batch_to_ipc(batch)))
                    self._producers[pchannel].send(env.SerializeToString(), {"vchannel": vchannel})
                break
        self.tick()
        return ts

    def delete(self, pks: list[int]) -> list[tuple[int, int]]:
        keys = np.asarray(pks, dtype=np.int64)
        shards = shard_of(keys, len(VCHANNELS))
        out = []
        for shard, vchannel in enumerate(VCHANNELS):
            part = keys[shards == shard]
            if len(part) == 0:
                continue
            pchannel = PCHANNELS[shard]
            with self._locks[pchannel]:
                ts = self._tso.alloc(1)
                env = msgstream_pb2.Envelope(kind=msgstream_pb2.DELETE, begin_ts=ts, end_ts=ts,
                                             delete=msgstream_pb2.DeleteMsg(
                                                 vchannel=vchannel, collection_id=COLL, partition_id=-1,
                                                 primary_keys=arrow_to_ids(part), timestamps=[ts] * len(part),
                                                 num_rows=len(part)))
                self._producers[pchannel].send(env.SerializeToString(), {"vchannel": vchannel})
            out += [(int(pk), ts) for pk in part]
        self.tick()
        return out

    @staticmethod
    def _rows(pks: np.ndarray, row_ids: np.ndarray, ts: int) -> pa.RecordBatch:
        n = len(pks)
        vec = pa.FixedSizeListArray.from_arrays(pa.array(np.repeat(pks, 4).astype(np.float32)), 4)
        columns = [pa.array(row_ids, pa.int64()), pa.array(np.full(n, ts, dtype=np.uint64)), pa.array(pks), vec]
        return pa.RecordBatch.from_arrays(columns, schema=MODEL.arrow_schema)

    def close(self):
        self._stop.set()
        self._ticker.join()
        for producer in self._producers.values():
            producer.close()


class Standalone:
    """Meta store, MQ, storage, TSO/IDs, DataCoord and DataNode on one data directory."""

    def __init__(self, root: Path, gc_drop_tolerance: float = 3600.0):
        self.kv_root = LocalKV(str(root / "meta.db"), durable=False)
        self.kv = PrefixedKV(self.kv_root, "by-dev/meta/")
        self.mq = LocalMQ(root / "mq", sync=False)
        self.storage = LocalStorage(root / "objects")
        self.tso = TimestampOracle(self.kv)
        self.ids = IDAllocator(self.kv, batch=100)

        def alloc_id(n: int) -> int:
            return self.ids.alloc(n)[0]

        self.dc = datacoord.DataCoord(self.kv, alloc_id=alloc_id, alloc_ts=self.tso.alloc, storage=self.storage,
                                      params=datacoord.DataCoordParams(
                                          segment_max_rows=10_000, assignment_expiration_ms=100,
                                          tick_interval=0.05, flush_retry_interval=0.5,
                                          gc_drop_tolerance=gc_drop_tolerance))
        self.dc_client = LocalClient(self.dc, datacoord.SERVICE)
        self.dn = datanode.DataNode(self.mq, self.storage, self.dc_client, alloc_id=alloc_id, node_id=1,
                                    params=datanode.DataNodeParams(max_buffer_rows=50, poll_timeout=0.02,
                                                                   retry_backoff=0.05, checkpoint_interval=0.2))
        self.dn.start()
        self.dc.add_data_node(1, LocalClient(self.dn, datanode.SERVICE))
        self.dc.start()
        self.publisher = Publisher(self.mq, self.dc_client, self.tso, self.ids)

    def crash(self):
        """Stop everything without flushing anything (what survives a kill -9 stays)."""
        self.publisher.close()
        self.dn.stop()
        self.dc.stop()
        self.mq.close()
        self.kv_root.close()

    def flush_and_wait(self):
        response = ok(self.dc_client.Flush(datacoord_pb2.FlushRequest(collectionID=COLL)))
        request = datacoord_pb2.GetFlushStateRequest(collectionID=COLL, segmentIDs=response.segmentIDs,
                                                     flush_ts=response.flush_ts)
        wait_for(lambda: ok(self.dc_client.GetFlushState(request)).flushed, timeout=20, message="flush state")

    def segments(self) -> list[datacoord_pb2.SegmentInfo]:
        return list(ok(self.dc_client.GetRecoveryInfo(
            datacoord_pb2.GetRecoveryInfoRequest(collectionID=COLL))).segments)

    def stored_rows(self) -> tuple[collections.Counter, collections.Counter]:
        """(pk -> times stored, row id -> times stored) over every insert log of the collection."""
        pks, row_ids = collections.Counter(), collections.Counter()
        for segment in self.segments():
            for group in segment.binlogs:
                for log in group.binlogs:
                    table = read_insert_log(self.storage.get(log.log_path))
                    pks.update(table.column("pk").to_pylist())
                    row_ids.update(table.column("_row_id").to_pylist())
        return pks, row_ids

    def stored_deletes(self) -> collections.Counter:
        deletes = collections.Counter()
        for segment in self.segments():
            for group in segment.deltalogs:
                for log in group.binlogs:
                    keys, tss = read_delta_log(self.storage.get(log.log_path))
                    deletes.update(zip(keys.to_pylist(), tss.tolist(), strict=True))
        return deletes


@pytest.fixture
def root(tmp_path):
    return tmp_path


def test_flush_then_crash_and_replay(root):
    node = Standalone(root)
    try:
        ok(node.dc_client.WatchChannels(datacoord_pb2.WatchChannelsRequest(
            collectionID=COLL, channelNames=VCHANNELS, schema=SCHEMA.SerializeToString())))
        inserted: list[int] = []
        deleted: list[tuple[int, int]] = []
        for start in range(0, 300, 100):
            batch = list(range(start, start + 100))
            node.publisher.insert(batch, partition=1)
            inserted += batch
        deleted += node.publisher.delete([5, 150, 299])

        node.flush_and_wait()
        pks, row_ids = node.stored_rows()
        assert pks == collections.Counter(inserted)
        assert max(row_ids.values()) == 1 and sum(row_ids.values()) == len(inserted)
        assert node.stored_deletes() == collections.Counter(deleted)
        stats = ok(node.dc_client.GetCollectionStatistics(
            datacoord_pb2.GetCollectionStatisticsRequest(collectionID=COLL)))
        assert stats.row_count == len(inserted)
        assert all(s.state == datacoord_pb2.FLUSHED for s in node.segments())

        # unflushed writes: a few rows in partition 2 hold the checkpoint back while partition
        # 1 passes the buffer size, so part of what replay re-reads is already persisted
        node.publisher.insert(list(range(1000, 1010)), partition=2)
        inserted += list(range(1000, 1010))
        before = {s.id for s in node.segments()}
        for start in range(2000, 2240, 30):
            batch = list(range(start, start + 30))
            node.publisher.insert(batch, partition=1)
            inserted += batch
        deleted += node.publisher.delete([1001, 2005, 7])
        wait_for(lambda: any(s.id not in before and s.binlogs for s in node.segments()), timeout=20,
                 message="a size-triggered sync of a new segment")
    finally:
        node.crash()

    node = Standalone(root)  # same directories: recovery re-watches from the checkpoints
    try:
        node.flush_and_wait()
        pks, row_ids = node.stored_rows()
        assert pks == collections.Counter(inserted)
        assert max(row_ids.values()) == 1 and sum(row_ids.values()) == len(inserted)
        assert node.stored_deletes() == collections.Counter(deleted)
        stats = ok(node.dc_client.GetCollectionStatistics(
            datacoord_pb2.GetCollectionStatisticsRequest(collectionID=COLL)))
        assert stats.row_count == len(inserted)
    finally:
        node.crash()


def test_drop_collection_stops_the_channels_and_gc_clears_storage(root):
    node = Standalone(root, gc_drop_tolerance=0.0)
    try:
        ok(node.dc_client.WatchChannels(datacoord_pb2.WatchChannelsRequest(
            collectionID=COLL, channelNames=VCHANNELS, schema=SCHEMA.SerializeToString())))
        node.publisher.insert(list(range(100)), partition=1)
        node.flush_and_wait()
        assert list(node.storage.list("insert_log/"))
        ok(node.dc_client.DropCollection(datacoord_pb2.DropCollectionRequest(collectionID=COLL)))
        assert node.dn.channels == []
        assert node.dc.collect_garbage() > 0
        assert list(node.storage.list("")) == []
    finally:
        node.crash()
