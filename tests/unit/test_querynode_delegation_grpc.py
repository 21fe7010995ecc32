"""Two query nodes over real gRPC, each the shard leader of one channel and a worker for the
other's: a leader's Search / Query holds a worker of its server while it waits on the other
node's segment reads.  Under concurrent load with small worker pools, every worker of both
servers can be held by such calls; the segment reads (SearchSegments / QuerySegments) run on
each server's leaf pool, so they are still served and every call answers.  With one pool per
server they queued behind the leader calls holding it, and no call answered before the
leaders' reads timed out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
import pytest

from milvus import errors
from milvus._proto import datacoord_pb2, querynode_pb2
from milvus.binlog import insert_log_key, write_insert_log
from milvus.expr import compile_filter
from milvus.mq.local import LocalMQ
from milvus.querynode import SERVICE as QN_SERVICE
from milvus.querynode import WORKER_METHODS, QueryNode
from milvus.rpc import GrpcClient, GrpcServer, service_handler
from milvus.storage.local import LocalStorage
from tests.readpath import DIM, make_batch, make_schema, placeholder, time_tick_envelope

COLL, PART = 1, 10
PCH = "by-dev-rootcoord-dml_0"
NODE_A, NODE_B = 1, 2
CHANNEL = {NODE_A: f"{PCH}_{COLL}v0", NODE_B: f"{PCH}_{COLL}v1"}  # the channel each node leads
ROWS = 200  # per segment
WORKERS = 2  # per pool: far fewer than the calls in flight
CALLS = 64
DEADLINE = 30.0  # every call answered within it (a leader's wait on a worker times out after READ_TIMEOUT)
READ_TIMEOUT = 5.0


class TwoNodes:
    """Node A holds segment 1 of its own channel and segment 3 of B's; node B holds segment 2
    of A's channel and segment 4 of its own: each leader reads half of its channel on the other."""

    def __init__(self, tmp_path):
        self.mq = LocalMQ(tmp_path / "mq", sync=False)
        self.storage = LocalStorage(tmp_path / "storage")
        self.schema = make_schema("int")
        self.clients: dict[int, GrpcClient] = {}
        self.nodes: dict[int, QueryNode] = {}
        self.servers: dict[int, GrpcServer] = {}
        for node_id in (NODE_A, NODE_B):
            node = QueryNode(node_id, self.mq, self.storage, read_timeout=READ_TIMEOUT,
                             filter_compiler=compile_filter, peer=self.peer)
            node.start()
            self.nodes[node_id] = node
            server = GrpcServer("127.0.0.1", 0, [service_handler(QN_SERVICE, node)], max_workers=WORKERS,
                                name=f"querynode-{node_id}", leaf_methods=WORKER_METHODS, leaf_workers=WORKERS)
            server.start()
            self.servers[node_id] = server
            self.clients[node_id] = GrpcClient.connect(server.address, QN_SERVICE, timeout=DEADLINE)
        self.producer = self.mq.create_producer(PCH)
        rng = np.random.default_rng(11)
        self.vectors = rng.standard_normal((4 * ROWS, DIM)).astype(np.float32)
        segments = {seg: self.sealed(seg, CHANNEL[NODE_A if seg <= 2 else NODE_B]) for seg in (1, 2, 3, 4)}
        where = {1: NODE_A, 2: NODE_B, 3: NODE_A, 4: NODE_B}
        for leader in (NODE_A, NODE_B):
            self.call(leader, "WatchDmChannel", querynode_pb2.QWatchDmChannelRequest(
                vchannel=datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=CHANNEL[leader],
                                                    flushedSegmentIds=[1, 2, 3, 4]),
                schema=self.schema.proto.SerializeToString()))
        for node_id in (NODE_A, NODE_B):
            self.call(node_id, "LoadSegments", querynode_pb2.LoadSegmentsRequest(
                collectionID=COLL, schema=self.schema.proto.SerializeToString(),
                segments=[info for seg, info in segments.items() if where[seg] == node_id]))
        for leader in (NODE_A, NODE_B):
            mine = [seg for seg, info in segments.items() if info.insert_channel == CHANNEL[leader]]
            self.call(leader, "SyncDistribution", querynode_pb2.SyncDistributionRequest(
                collectionID=COLL, channel=CHANNEL[leader],
                sealed=[querynode_pb2.SegmentLocation(segmentID=seg, partitionID=PART, node_id=where[seg],
                                                      address=self.servers[where[seg]].address, num_rows=ROWS)
                        for seg in mine]))
        self.producer.send(time_tick_envelope(300), {"vchannel": ""})

    def peer(self, node_id, _address):
        return self.clients[node_id]

    def call(self, node_id, method, request):
        status = getattr(self.clients[node_id], method)(request)
        assert status.code == 0, status.reason

    def sealed(self, segment, channel):
        keys = range((segment - 1) * ROWS, segment * ROWS)
        batch = make_batch(self.schema, list(keys), 100, self.vectors[keys.start:keys.stop])
        path = insert_log_key(COLL, PART, segment, segment * 10)
        self.storage.put(path, write_insert_log(batch))
        info = datacoord_pb2.SegmentInfo(id=segment, collection_id=COLL, partition_id=PART, insert_channel=channel,
                                         num_of_rows=ROWS, state=datacoord_pb2.FLUSHED)
        info.binlogs.add(field_id=0).binlogs.add(entries_num=ROWS, log_path=path)
        return info

    def search(self, leader, query):
        return querynode_pb2.ShardRequest(collectionID=COLL, channels=[CHANNEL[leader]], guarantee_ts=300,
                                          placeholder_group=placeholder(query[None, :]), topk=3, nq=1,
                                          metric_type="L2", anns_field="vec")

    def count(self, leader):
        return querynode_pb2.ShardRequest(collectionID=COLL, channels=[CHANNEL[leader]], guarantee_ts=300,
                                          count_only=True)

    def close(self):
        for client in self.clients.values():
            client.close()
        for server in self.servers.values():
            server.stop(0)
        for node in self.nodes.values():
            node.stop()
        self.producer.close()
        self.mq.close()


@pytest.fixture
def two_nodes(tmp_path):
    nodes = TwoNodes(tmp_path)
    yield nodes
    nodes.close()


def test_two_leaders_reading_each_others_segments_under_load_all_answer(two_nodes):
    n = two_nodes
    # each leader's reads cover both of its segments, one on the other node
    assert n.clients[NODE_A].Query(n.count(NODE_A)).count == 2 * ROWS
    assert n.clients[NODE_B].Query(n.count(NODE_B)).count == 2 * ROWS

    def one(i):
        leader = (NODE_A, NODE_B)[i % 2]
        client = n.clients[leader]
        if i % 4 < 2:
            # a row held by the other node: its own vector is its best hit
            row = ROWS + i if leader == NODE_A else 2 * ROWS + i
            resp = client.Search(n.search(leader, n.vectors[row]), timeout=DEADLINE)
            assert resp.status.code == 0, resp.status.reason
            return resp.ids.int_id.data[0] == row
        resp = client.Query(n.count(leader), timeout=DEADLINE)
        assert resp.status.code == 0, resp.status.reason
        return resp.count == 2 * ROWS

    callers = ThreadPoolExecutor(CALLS)
    try:
        futures = [callers.submit(one, i) for i in range(CALLS)]
        done, pending = wait(futures, timeout=DEADLINE)
        assert not pending, f"{len(pending)} of {CALLS} calls did not answer within {DEADLINE}s"
        # a leader whose wait on the other node timed out answers an error: none did
        assert all(f.result() for f in done)
    finally:
        callers.shutdown(wait=True)


def test_search_and_query_with_segment_ids_are_refused_over_grpc(two_nodes):
    n = two_nodes
    request = n.search(NODE_A, n.vectors[0])
    request.segment_ids[:] = [1]
    request.travel_ts, request.guarantee_ts = 300, 0
    refused = n.clients[NODE_A].Search(request)
    assert refused.status.code == errors.ParameterInvalid.code and "SearchSegments" in refused.status.reason
    assert n.clients[NODE_A].SearchSegments(request).ids.int_id.data[0] == 0
    request = n.count(NODE_B)
    request.segment_ids[:] = [2]
    request.channels[:] = [CHANNEL[NODE_A]]
    request.travel_ts, request.guarantee_ts = 300, 0
    refused = n.clients[NODE_B].Query(request)
    assert refused.status.code == errors.ParameterInvalid.code and "QuerySegments" in refused.status.reason
    assert n.clients[NODE_B].QuerySegments(request).count == ROWS
