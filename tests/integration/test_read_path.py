"""The read path in one process: RootCoord (DDL, TSO, ids), DataCoord + DataNode (write path),
QueryCoord + QueryNode (read path) on the embedded meta store, message queue and object
storage.  A publisher writes the way the proxy does (docs/datapath.md); reads go to the shard
leaders QueryCoord names.  Checked against a Python model of MVCC: searches and queries at
several timestamps, flush -> hand-off with readers running, deletes on sealed rows, release,
and a restart of every role on the same data directory.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from milvus import datacoord, datanode, errors, querynode, rootcoord
from milvus._proto import datacoord_pb2, msgstream_pb2, querycoord_pb2, querynode_pb2, rootcoord_pb2
from milvus.expr import compile_filter
from milvus.kv.local import LocalKV
from milvus.kv.prefixed import PrefixedKV
from milvus.metastore.rootcoord_catalog import RootCoordCatalog
from milvus.mq.local import LocalMQ
from milvus.querycoord import QueryCoord
from milvus.rpc import LocalClient
from milvus.schema import CollectionSchemaModel, arrow_to_ids, batch_to_ipc
from milvus.storage.local import LocalStorage
from milvus.tso import IDAllocator, TimestampOracle
from milvus.util.hashing import shard_of
from tests.conftest import wait_for
from tests.readpath import DIM, ids_list, make_batch, make_schema, placeholder, read_arrow

SHARDS = 2


def ok(response):
    status = response if isinstance(response, common_pb2.Status) else response.status
    assert status.code == 0, status.reason
    return response


class Model:
    """What every read must see: inserts (pk, vec, tag, ts) and deletes (pk, ts), by the MVCC rule."""

    def __init__(self):
        self.rows: list[tuple[int, np.ndarray, int, int]] = []
        self.deletes: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def visible(self, ts: int) -> dict[int, tuple[np.ndarray, int]]:
        with self.lock:
            rows, deletes = list(self.rows), list(self.deletes)
        out = {}
        for pk, vec, tag, rts in rows:
            if rts <= ts and not any(dpk == pk and rts < d <= ts for dpk, d in deletes):
                out[pk] = (vec, tag)
        return out


class Stack:
    def __init__(self, root: Path, query_nodes: int = 1):
        self.store = LocalKV(str(root / "meta.sqlite3"), durable=False)
        self.kv = PrefixedKV(self.store, "by-dev/meta/")
        self.mq = LocalMQ(root / "mq", sync=False)
        self.storage = LocalStorage(root / "objects")
        self.rc = rootcoord.RootCoord(RootCoordCatalog(self.kv), TimestampOracle(self.kv),
                                      IDAllocator(self.kv, batch=1000),
                                      rootcoord.RootCoordParams(dml_channel_num=SHARDS, max_shards=SHARDS))
        self.rc.start()
        self.rc_client = LocalClient(self.rc, rootcoord.SERVICE)
        self.dc = datacoord.DataCoord(self.kv, alloc_id=self.alloc_id, alloc_ts=self.alloc_ts, storage=self.storage,
                                      params=datacoord.DataCoordParams(assignment_expiration_ms=100, tick_interval=0.05,
                                                                       flush_retry_interval=0.5))
        self.dc_client = LocalClient(self.dc, datacoord.SERVICE)
        self.dn = datanode.DataNode(self.mq, self.storage, self.dc_client, alloc_id=self.alloc_id, node_id=1,
                                    params=datanode.DataNodeParams(poll_timeout=0.02, retry_backoff=0.05,
                                                                   checkpoint_interval=0.1))
        self.dn.start()
        self.dc.add_data_node(1, LocalClient(self.dn, datanode.SERVICE))
        self.dc.start()
        self.qc = QueryCoord(self.kv, datacoord=self.dc_client, rootcoord=self.rc_client, alloc_id=self.alloc_id,
                             check_interval=0.05)
        self.qc.start()
        self.nodes: dict[int, querynode.QueryNode] = {}
        for node_id in range(1, query_nodes + 1):
            self.add_query_node(node_id)
        self.qn = self.nodes[1]
        self.publisher: Publisher | None = None

    def peer(self, node_id: int, _address: str):
        """A query node's client of another (a shard leader reading its workers' segments)."""
        node = self.nodes.get(node_id)
        if node is None:
            raise errors.NodeNotFound(f"query node {node_id} is gone")
        return LocalClient(node, querynode.SERVICE)

    def add_query_node(self, node_id: int) -> querynode.QueryNode:
        node = querynode.QueryNode(node_id, self.mq, self.storage, read_timeout=10.0, peer=self.peer,
                                   filter_compiler=compile_filter)
        node.start()
        self.nodes[node_id] = node
        self.qc.add_node(node_id, LocalClient(node, querynode.SERVICE), "in-process")
        return node

    def kill_query_node(self, node_id: int) -> None:
        """The node dies: its session expires (the coordinator forgets it) and it serves nothing."""
        node = self.nodes.pop(node_id)
        self.qc.remove_node(node_id)
        node.stop()

    def alloc_id(self, n: int) -> int:
        return ok(self.rc_client.AllocID(rootcoord_pb2.AllocIDRequest(count=n))).ID

    def alloc_ts(self, n: int = 1) -> int:
        return ok(self.rc_client.AllocTimestamp(rootcoord_pb2.AllocTimestampRequest(count=n))).timestamp

    def describe(self, name: str = "docs") -> rootcoord_pb2.CollectionInfo:
        return ok(self.rc_client.DescribeCollectionInternal(
            rootcoord_pb2.DescribeCollectionInternalRequest(collection_name=name))).collection

    def start_publisher(self, info: rootcoord_pb2.CollectionInfo) -> Publisher:
        self.publisher = Publisher(self, info)
        return self.publisher

    def stop(self):
        if self.publisher is not None:
            self.publisher.close()
        self.qc.stop()
        for node in self.nodes.values():
            node.stop()
        self.dn.stop()
        self.dc.stop()
        self.rc.stop()
        self.mq.close()
        self.store.close()

    # ---- reads, as the proxy does them ---------------------------------------------------

    def _leaders(self, collection_id: int) -> dict[int, list[str]]:
        resp = ok(self.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=collection_id)))
        by_node: dict[int, list[str]] = {}
        for leader in resp.replicas[0].shard_leaders:
            by_node.setdefault(leader.node_id, []).append(leader.channel_name)
        return by_node

    def query(self, collection_id: int, guarantee_ts: int = 0, travel_ts: int = 0, **kw) -> list[int]:
        out: list[int] = []
        for node_id, channels in self._leaders(collection_id).items():
            resp = ok(self.nodes[node_id].Query(querynode_pb2.ShardRequest(
                collectionID=collection_id, channels=channels, guarantee_ts=guarantee_ts, travel_ts=travel_ts, **kw)))
            out += ids_list(resp.ids)
        return sorted(out)

    def count(self, collection_id: int, guarantee_ts: int = 0, travel_ts: int = 0) -> int:
        total = 0
        for node_id, channels in self._leaders(collection_id).items():
            total += ok(self.nodes[node_id].Query(querynode_pb2.ShardRequest(
                collectionID=collection_id, channels=channels, guarantee_ts=guarantee_ts, travel_ts=travel_ts,
                count_only=True))).count
        return total

    def search(self, collection_id: int, vectors: np.ndarray, topk: int, guarantee_ts: int = 0, travel_ts: int = 0,
               output_field_ids=()):
        (node_id, channels), = self._leaders(collection_id).items()  # one node leads every shard here
        return ok(self.nodes[node_id].Search(querynode_pb2.ShardRequest(
            collectionID=collection_id, channels=channels, guarantee_ts=guarantee_ts, travel_ts=travel_ts,
            placeholder_group=placeholder(vectors), topk=topk, nq=len(vectors), metric_type="L2",
            anns_field="vec", output_field_ids=list(output_field_ids))))


class Publisher:
    """Writes like the proxy (docs/datapath.md): segment assignment, one timestamp per request
    under the pchannel lock, one envelope per (vchannel, segment), time ticks every 20 ms."""

    def __init__(self, stack: Stack, info: rootcoord_pb2.CollectionInfo):
        self.stack = stack
        self.info = info
        self.schema = CollectionSchemaModel(schema_pb2.CollectionSchema.FromString(info.schema))
        self.vchannels = list(info.virtual_channels)
        self.pchannels = list(info.physical_channels)
        self.producers = {p: stack.mq.create_producer(p) for p in set(self.pchannels)}
        self.locks = {p: threading.Lock() for p in set(self.pchannels)}
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop_event.wait(0.02):
            self.tick()

    def tick(self):
        for pchannel, producer in self.producers.items():
            with self.locks[pchannel]:
                ts = self.stack.alloc_ts()
                env = msgstream_pb2.Envelope(kind=msgstream_pb2.TIME_TICK, begin_ts=ts, end_ts=ts,
                                             time_tick=msgstream_pb2.TimeTickMsg(source="test"))
                producer.send(env.SerializeToString(), {"vchannel": ""})

    def insert(self, pks: np.ndarray, vecs: np.ndarray, model: Model, partition: int) -> int:
        shards = shard_of(pks, len(self.vchannels))
        ts = 0
        for shard, vchannel in enumerate(self.vchannels):
            sel = shards == shard
            if not sel.any():
                continue
            pchannel = self.pchannels[shard]
            while True:
                assignment = ok(self.stack.dc_client.AssignSegmentID(datacoord_pb2.AssignSegmentIDRequest(
                    segmentIDRequests=[datacoord_pb2.SegmentIDRequest(
                        count=int(sel.sum()), channel_name=vchannel, collectionID=self.info.id,
                        partitionID=partition)]))).segIDAssignments[0]
                first = self.stack.alloc_id(int(sel.sum()))
                with self.locks[pchannel]:
                    ts = self.stack.alloc_ts()
                    if ts >= assignment.expire_time:
                        continue
                    batch = make_batch(self.schema, pks[sel].tolist(), ts, vecs[sel], tags=pks[sel] % 7,
                                       row_ids=range(first, first + int(sel.sum())))
                    env = msgstream_pb2.Envelope(kind=msgstream_pb2.INSERT, begin_ts=ts, end_ts=ts,
                                                 insert=msgstream_pb2.InsertMsg(
                                                     vchannel=vchannel, collection_id=self.info.id,
                                                     partition_id=partition, segment_id=assignment.segID,
                                                     num_rows=batch.num_rows, arrow_batch=batch_to_ipc(batch)))
                    self.producers[pchannel].send(env.SerializeToString(), {"vchannel": vchannel})
                    with model.lock:
                        model.rows += [(int(p), v, int(p) % 7, ts) for p, v in zip(pks[sel], vecs[sel], strict=True)]
                break
        return ts

    def delete(self, pks: np.ndarray, model: Model) -> int:
        shards = shard_of(pks, len(self.vchannels))
        ts = 0
        for shard, vchannel in enumerate(self.vchannels):
            part = pks[shards == shard]
            if not len(part):
                continue
            pchannel = self.pchannels[shard]
            with self.locks[pchannel]:
                ts = self.stack.alloc_ts()
                env = msgstream_pb2.Envelope(kind=msgstream_pb2.DELETE, begin_ts=ts, end_ts=ts,
                                             delete=msgstream_pb2.DeleteMsg(
                                                 vchannel=vchannel, collection_id=self.info.id, partition_id=-1,
                                                 primary_keys=arrow_to_ids(part), timestamps=[ts] * len(part),
                                                 num_rows=len(part)))
                self.producers[pchannel].send(env.SerializeToString(), {"vchannel": vchannel})
                with model.lock:
                    model.deletes += [(int(p), ts) for p in part]
        return ts

    def close(self):
        self.stop_event.set()
        self.thread.join()
        for producer in self.producers.values():
            producer.close()


def _create_collection(stack: Stack, shards: int = SHARDS) -> rootcoord_pb2.CollectionInfo:
    schema = make_schema(name="docs").proto
    ok(stack.rc_client.CreateCollection(milvus_pb2.CreateCollectionRequest(
        collection_name="docs", schema=schema.SerializeToString(), shards_num=shards)))
    info = stack.describe()
    ok(stack.dc_client.WatchChannels(datacoord_pb2.WatchChannelsRequest(
        collectionID=info.id, channelNames=list(info.virtual_channels), schema=info.schema)))
    return info


def _flush(stack: Stack, collection_id: int) -> list[int]:
    resp = ok(stack.dc_client.Flush(datacoord_pb2.FlushRequest(collectionID=collection_id)))
    request = datacoord_pb2.GetFlushStateRequest(collectionID=collection_id, segmentIDs=resp.segmentIDs,
                                                 flush_ts=resp.flush_ts)
    wait_for(lambda: ok(stack.dc_client.GetFlushState(request)).flushed, timeout=20, message="flush")
    return list(resp.segmentIDs)


def _served_sealed(stack: Stack) -> set[int]:
    dist = stack.qn.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    return {s.id for s in dist.segments if s.sealed}


def _growing(stack: Stack) -> set[int]:
    dist = stack.qn.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    return {s.id for s in dist.segments if not s.sealed}


def _check_search(stack: Stack, cid: int, model: Model, ts: int, queries: np.ndarray, topk: int, travel: bool = False):
    visible = model.visible(ts)
    pks = np.array(sorted(visible))
    x = np.stack([visible[p][0] for p in pks]).astype(np.float64)
    resp = stack.search(cid, queries, topk, guarantee_ts=0 if travel else ts, travel_ts=ts if travel else 0,
                        output_field_ids=[stack.publisher.schema.field("tag").field_id])
    got, scores = ids_list(resp.ids), np.asarray(resp.scores)
    tags = read_arrow(resp.arrow_fields)["tag"].to_pylist()
    pos = 0
    for i, q in enumerate(queries):
        d = ((x - q) ** 2).sum(axis=1)
        order = np.lexsort((pks, d))[:topk]
        k = resp.topks[i]
        assert got[pos:pos + k] == pks[order].tolist()
        np.testing.assert_allclose(scores[pos:pos + k], d[order], rtol=1e-4, atol=1e-3)
        assert tags[pos:pos + k] == [visible[p][1] for p in pks[order]]
        pos += k


@pytest.fixture
def root(tmp_path):
    return tmp_path


def test_read_path_end_to_end(root):
    rng = np.random.default_rng(11)
    model = Model()
    stack = Stack(root)
    try:
        info = _create_collection(stack)
        cid = info.id
        partition = info.partitions[0].id if info.partitions else ok(stack.rc_client.ShowPartitions(
            milvus_pb2.ShowPartitionsRequest(collection_name="docs"))).partitionIDs[0]
        pub = stack.start_publisher(info)

        vecs = rng.standard_normal((300, DIM)).astype(np.float32)
        ts_a = pub.insert(np.arange(0, 200, dtype=np.int64), vecs[:200], model, partition)
        ts_b = pub.insert(np.arange(200, 300, dtype=np.int64), vecs[200:], model, partition)
        ts_d = pub.delete(np.array([3, 150, 250], dtype=np.int64), model)
        # upsert of pk 10: delete + insert at the same timestamp is two envelopes; model it as the proxy would
        ts_u = pub.delete(np.array([10], dtype=np.int64), model)
        pub.insert(np.array([10], dtype=np.int64), np.full((1, DIM), 5, np.float32), model, partition)

        ok(stack.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=cid)))
        wait_for(lambda: stack.qc.GetLoadState(querycoord_pb2.GetLoadStateRequest(collectionID=cid)).state
                 == querycoord_pb2.LOADED, timeout=20, message="loaded")

        now = stack.alloc_ts()
        assert stack.query(cid, guarantee_ts=now) == sorted(model.visible(now))
        for t in (ts_a, ts_b, ts_d, ts_u):
            assert stack.query(cid, travel_ts=t) == sorted(model.visible(t)), t
        assert stack.count(cid, travel_ts=ts_a) == 200
        queries = rng.standard_normal((3, DIM)).astype(np.float32)
        _check_search(stack, cid, model, now, queries, 10)
        _check_search(stack, cid, model, ts_a, queries, 10, travel=True)
        assert not _served_sealed(stack)

        # flush -> the query node hands off growing to sealed while readers keep reading
        fixed = stack.alloc_ts()
        want = sorted(model.visible(fixed))
        stop = threading.Event()
        failures: list[str] = []
        reads = [0]

        def reader():
            while not stop.is_set():
                got = stack.query(cid, guarantee_ts=fixed, travel_ts=fixed)
                n = stack.count(cid, travel_ts=fixed)
                if got != want or n != len(want):
                    failures.append(f"{len(got)} rows / count {n}, want {len(want)}")
                reads[0] += 1

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            flushed = _flush(stack, cid)
            segments = ok(stack.dc_client.GetRecoveryInfo(datacoord_pb2.GetRecoveryInfoRequest(collectionID=cid)))
            target = {s.id for s in segments.segments if s.state == datacoord_pb2.FLUSHED}
            assert set(flushed) <= target
            wait_for(lambda: target <= _served_sealed(stack), timeout=20, message="hand-off")
            assert not (_growing(stack) & target)
            done = reads[0]
            wait_for(lambda: reads[0] >= done + 3, message="reads after hand-off")
        finally:
            stop.set()
            thread.join()
        assert failures == []

        # deletes of sealed rows and new growing rows after the flush
        ts_d2 = pub.delete(np.array([0, 1, 299], dtype=np.int64), model)
        more = rng.standard_normal((50, DIM)).astype(np.float32)
        pub.insert(np.arange(1000, 1050, dtype=np.int64), more, model, partition)
        now = stack.alloc_ts()
        assert stack.query(cid, guarantee_ts=now) == sorted(model.visible(now))
        assert stack.query(cid, travel_ts=ts_d2 - 1) == sorted(model.visible(ts_d2 - 1))
        _check_search(stack, cid, model, now, queries, 20)
        _check_search(stack, cid, model, ts_b, queries, 5, travel=True)
        final = now
    finally:
        stack.stop()

    # every role restarts on the same data directory: the collection is loaded again by itself
    stack = Stack(root)
    try:
        stack.start_publisher(stack.describe())
        wait_for(lambda: stack.qc.GetLoadState(querycoord_pb2.GetLoadStateRequest(collectionID=cid)).state
                 == querycoord_pb2.LOADED, timeout=20, message="loaded after restart")
        wait_for(lambda: stack.qn.GetDataDistribution(querynode_pb2.GetDataDistributionRequest()).channels,
                 timeout=20, message="channels watched after restart")
        now = stack.alloc_ts()
        wait_for(lambda: stack.query(cid, guarantee_ts=now) == sorted(model.visible(final)), timeout=20,
                 message="every acknowledged write after restart")
        assert stack.query(cid, travel_ts=ts_d) == sorted(model.visible(ts_d))
        _check_search(stack, cid, model, final, queries, 10, travel=True)

        ok(stack.qc.ReleaseCollection(querycoord_pb2.ReleaseCollectionRequest(collectionID=cid)))
        assert stack.qc.GetLoadState(querycoord_pb2.GetLoadStateRequest(collectionID=cid)).state \
            == querycoord_pb2.LOAD_STATUS_NONE
        resp = stack.qn.Query(querynode_pb2.ShardRequest(collectionID=cid, channels=list(info.virtual_channels)))
        assert resp.status.code != 0
    finally:
        stack.stop()
