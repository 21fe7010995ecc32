"""A shard leader delegating to a worker (milvus/querynode/delegator.py): the leader holds the
channel (growing rows, deletes) and two sealed segments, a worker the two others; every read
through the leader answers exactly what one node holding everything answers — search hits
and their ties, one hit per key across nodes, output fields, filters, query limit/offset with
the newest row of a duplicated key, count(*), get by key, time travel, deletes streamed after
the load.  A worker that is gone or lost a segment fails the read retriably, never short.
The leader sends a worker only the deletes it does not hold yet, and all of them again when
the worker lost them (DeletesOutOfSync)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow as pa
import pytest

from milvus import errors
from milvus._proto import datacoord_pb2, querynode_pb2
from milvus.binlog import delta_log_key, insert_log_key, write_delta_log, write_insert_log
from milvus.expr import compile_filter
from milvus.mq.local import LocalMQ
from milvus.querynode import SERVICE as QN_SERVICE
from milvus.querynode import QueryNode
from milvus.querynode.deletes import DeleteBuffer
from milvus.rpc import LocalClient
from milvus.storage.local import LocalStorage
from tests.readpath import (
    DIM,
    delete_envelope,
    ids_list,
    insert_envelope,
    make_batch,
    make_schema,
    placeholder,
    time_tick_envelope,
)

COLL, PART = 1, 10
PCH = "by-dev-rootcoord-dml_0"
VCH = f"{PCH}_{COLL}v0"
LEADER, WORKER, REFERENCE = 1, 2, 3


class Nodes:
    def __init__(self, tmp_path, pk: str):
        self.mq = LocalMQ(tmp_path / "mq", sync=False)
        self.storage = LocalStorage(tmp_path / "storage")
        self.schema = make_schema(pk)
        self.pk = pk
        self.before_call = None  # called with the node id before each call of a node's client
        self.methods: list[str] = []  # the methods called through the nodes' clients
        self.calls: list[tuple[int, int, int, int, int]] = []  # (node, deletes start, end, bytes, code)
        self.nodes: dict[int, QueryNode] = {}
        for node_id in (LEADER, WORKER, REFERENCE):
            node = QueryNode(node_id, self.mq, self.storage, read_timeout=5.0, filter_compiler=compile_filter,
                             peer=self.peer)
            node.start()
            self.nodes[node_id] = node
        self.producer = self.mq.create_producer(PCH)

    def peer(self, node_id, _address):
        if self.before_call is not None:
            self.before_call(node_id)
        if node_id not in self.nodes:
            raise errors.NodeNotFound(f"query node {node_id} is gone")
        return LocalClient(self.nodes[node_id], QN_SERVICE,
                           wrap=lambda method, fn: self._record(node_id, method, fn))

    def _record(self, node_id, method, fn):
        def call(request):
            self.methods.append(method)
            response = fn(request)
            self.calls.append((node_id, request.deletes_start, request.deletes_end, len(request.deletes),
                               response.status.code))
            return response
        return call

    def key(self, i: int):
        return i if self.pk == "int" else f"k{i:05d}"

    def sealed(self, segment, keys, ts, vecs, deletes=None):
        batch = make_batch(self.schema, [self.key(k) for k in keys], ts, vecs, tags=np.asarray(keys) % 5)
        path = insert_log_key(COLL, PART, segment, segment * 10)
        self.storage.put(path, write_insert_log(batch))
        info = datacoord_pb2.SegmentInfo(id=segment, collection_id=COLL, partition_id=PART, insert_channel=VCH,
                                         num_of_rows=batch.num_rows, state=datacoord_pb2.FLUSHED)
        info.binlogs.add(field_id=0).binlogs.add(entries_num=batch.num_rows, log_path=path)
        if deletes is not None:
            dkeys, dts = deletes
            dpath = delta_log_key(COLL, PART, segment, segment * 10 + 1)
            self.storage.put(dpath, write_delta_log(
                np.asarray([self.key(k) for k in dkeys]) if self.pk != "int" else np.asarray(dkeys, np.int64),
                np.asarray(dts, np.uint64)))
            info.deltalogs.add(field_id=0).binlogs.add(log_path=dpath)
        return info

    def load(self, node_id, *infos):
        status = self.nodes[node_id].LoadSegments(querynode_pb2.LoadSegmentsRequest(
            collectionID=COLL, segments=list(infos), schema=self.schema.proto.SerializeToString()))
        assert status.code == 0, status.reason

    def watch(self, node_id, flushed):
        info = datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=VCH, flushedSegmentIds=list(flushed))
        status = self.nodes[node_id].WatchDmChannel(querynode_pb2.QWatchDmChannelRequest(
            vchannel=info, schema=self.schema.proto.SerializeToString()))
        assert status.code == 0, status.reason
        if node_id != LEADER:  # the leader gets its view from the test (``sync``); a node reads alone
            status = self.nodes[node_id].SyncDistribution(querynode_pb2.SyncDistributionRequest(
                collectionID=COLL, channel=VCH))
            assert status.code == 0, status.reason

    def sync(self, view: dict[int, int], infos):
        by_id = {i.id: i for i in infos}
        status = self.nodes[LEADER].SyncDistribution(querynode_pb2.SyncDistributionRequest(
            collectionID=COLL, channel=VCH,
            sealed=[querynode_pb2.SegmentLocation(segmentID=s, partitionID=PART, node_id=n,
                                                  num_rows=by_id[s].num_of_rows, deltalogs=by_id[s].deltalogs)
                    for s, n in sorted(view.items())]))
        assert status.code == 0, status.reason

    def send(self, payload, vchannel=VCH):
        self.producer.send(payload, {"vchannel": vchannel})

    def insert(self, segment, keys, ts, vecs):
        batch = make_batch(self.schema, [self.key(k) for k in keys], ts, vecs, tags=np.asarray(keys) % 5)
        self.send(insert_envelope(VCH, COLL, PART, segment, batch, ts))

    def delete(self, keys, ts):
        self.send(delete_envelope(VCH, COLL, [self.key(k) for k in keys], ts))

    def tick(self, ts):
        self.send(time_tick_envelope(ts), vchannel="")

    def request(self, ts=0, travel=0, **kw):
        return querynode_pb2.ShardRequest(collectionID=COLL, channels=[VCH], guarantee_ts=ts, travel_ts=travel, **kw)

    def close(self):
        for node in self.nodes.values():
            node.stop()
        self.producer.close()
        self.mq.close()


@pytest.fixture(params=["int", "str"])
def nodes(tmp_path, request):
    n = Nodes(tmp_path, request.param)
    yield n
    n.close()


def _same(a, b):
    assert a.status.code == 0, a.status.reason
    assert b.status.code == 0, b.status.reason
    a, b = type(a).FromString(a.SerializeToString()), type(b).FromString(b.SerializeToString())
    a.ClearField("status"), b.ClearField("status")
    assert ids_list(a.ids) == ids_list(b.ids)
    assert a == b


def _setup(n: Nodes):
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((400, DIM)).astype(np.float32)
    vecs[150] = vecs[50]  # a tie across nodes (segment 1 on the leader, segment 3 on the worker)
    vecs[351] = vecs[350]  # a tie inside the worker's segment 4
    dup = vecs[10] + 0.01
    segs = [
        n.sealed(1, range(0, 100), 100, vecs[0:100], deletes=([5], [105])),
        n.sealed(2, range(100, 150), 100, vecs[100:150]),
        # key 10 again (a duplicate insert, newer) on the worker; its own delta log deletes key 260
        n.sealed(3, [*range(150, 300), 10], [*([110] * 150), 120], np.vstack([vecs[150:300], dup]),
                 deletes=([260], [130])),
        n.sealed(4, range(300, 400), 140, vecs[300:400]),
    ]
    n.watch(LEADER, flushed=[1, 2, 3, 4])
    n.watch(REFERENCE, flushed=[1, 2, 3, 4])
    n.load(LEADER, segs[0], segs[1])
    n.load(WORKER, segs[2], segs[3])
    n.load(REFERENCE, *segs)
    n.sync({1: LEADER, 2: LEADER, 3: WORKER, 4: WORKER}, segs)
    n.insert(9, range(500, 540), 200, rng.standard_normal((40, DIM)).astype(np.float32))  # growing rows
    # an older duplicate of key 260, growing on the leader: the worker segment's delta log hides it
    n.insert(9, [260], 90, vecs[260:261])
    n.delete([7, 170, 320, 510], 210)  # after the load: rows of every node
    n.tick(300)
    return vecs, segs


def test_reads_through_the_leader_equal_one_node_holding_everything(nodes):
    n = nodes
    vecs, _ = _setup(n)
    leader, ref = n.nodes[LEADER], n.nodes[REFERENCE]
    dist = leader.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    assert dist.channels[0].serviceable and {v.node_id for v in dist.channels[0].leader_view} == {LEADER, WORKER}
    queries = np.vstack([vecs[50], vecs[350], vecs[10], vecs[170]])
    tag = n.schema.field("tag").field_id
    title = n.schema.field("title").field_id
    for ts, travel in ((300, 0), (0, 205), (0, 115)):
        for topk in (1, 5, 60, 1000):
            search = n.request(ts, travel, placeholder_group=placeholder(queries), topk=topk, nq=len(queries),
                               metric_type="L2", anns_field="vec", output_field_ids=[tag, title])
            _same(leader.Search(search), ref.Search(search))
        search = n.request(ts, travel, placeholder_group=placeholder(queries), topk=20, nq=len(queries),
                           metric_type="IP", anns_field="vec", expr="tag in [1, 3]")
        _same(leader.Search(search), ref.Search(search))
        for limit, offset in ((0, 0), (10, 0), (7, 95), (1000, 3)):
            query = n.request(ts, travel, limit=limit, offset=offset, output_field_ids=[tag])
            _same(leader.Query(query), ref.Query(query))
        _same(leader.Query(n.request(ts, travel, count_only=True)), ref.Query(n.request(ts, travel, count_only=True)))
        _same(leader.Query(n.request(ts, travel, expr="tag == 2", count_only=True)),
              ref.Query(n.request(ts, travel, expr="tag == 2", count_only=True)))
    got = ids_list(leader.Query(n.request(300)).ids)
    for gone in (5, 7, 170, 260, 320, 510):
        assert n.key(gone) not in got
    assert n.key(10) in got and n.key(350) in got and n.key(500) in got
    # key 10 twice: both rows count; key 260 twice: both deleted
    assert leader.Query(n.request(300, count_only=True)).count == 400 + 1 + 40 + 1 - 7


def test_a_gone_worker_or_a_lost_segment_fails_the_read_retriably(nodes):
    n = nodes
    _, segs = _setup(n)
    leader = n.nodes[LEADER]
    # the worker lost segment 4 while the view still names it there: an error, not fewer rows
    assert n.nodes[WORKER].ReleaseSegments(querynode_pb2.ReleaseSegmentsRequest(collectionID=COLL,
                                                                                segmentIDs=[4])).code == 0
    resp = leader.Query(n.request(300, count_only=True))
    assert resp.status.code == errors.ServiceUnavailable.code
    # the view moves it to the leader (loaded there first): reads are whole again
    n.load(LEADER, segs[3])
    n.sync({1: LEADER, 2: LEADER, 3: WORKER, 4: LEADER}, segs)
    assert leader.Query(n.request(300, count_only=True)).count == \
        n.nodes[REFERENCE].Query(n.request(300, count_only=True)).count
    # the worker goes away
    n.nodes.pop(WORKER).stop()
    search = n.request(300, placeholder_group=placeholder(np.zeros((1, DIM), np.float32)), topk=5, nq=1,
                       metric_type="L2", anns_field="vec")
    assert leader.Search(search).status.code == errors.ServiceUnavailable.code
    assert leader.Query(n.request(300)).status.code == errors.ServiceUnavailable.code


def test_a_leader_view_hides_local_copies_and_growing_rows_of_segments_read_elsewhere(nodes):
    n = nodes
    _, segs = _setup(n)
    leader = n.nodes[LEADER]
    # segment 9 grows on the leader; once flushed and served by the worker, the view reads it there
    rows = ids_list(leader.Query(n.request(300)).ids)
    count = leader.Query(n.request(300, count_only=True)).count
    flushed = n.sealed(9, range(500, 540), 200, np.zeros((40, DIM), np.float32))
    n.load(WORKER, flushed)
    n.sync({1: LEADER, 2: LEADER, 3: WORKER, 4: WORKER, 9: WORKER}, [*segs, flushed])
    assert {s.id for s in leader.GetDataDistribution(querynode_pb2.GetDataDistributionRequest()).segments} == {1, 2}
    assert ids_list(leader.Query(n.request(300)).ids) == rows
    assert leader.Query(n.request(300, count_only=True)).count == count
    # a local copy of a segment the view reads on the worker is not read twice
    n.load(LEADER, segs[2])
    assert leader.Query(n.request(300, count_only=True)).count == count


def test_a_read_racing_a_view_switch_is_done_again_on_the_new_view(nodes):
    n = nodes
    _, segs = _setup(n)
    leader, worker = n.nodes[LEADER], n.nodes[WORKER]
    want = n.nodes[REFERENCE].Query(n.request(300, count_only=True)).count
    # segment 4 moved to the leader: loaded there, released on the worker; the view switches
    # just as the read's request to the worker is on its way
    n.load(LEADER, segs[3])
    assert worker.ReleaseSegments(querynode_pb2.ReleaseSegmentsRequest(collectionID=COLL, segmentIDs=[4])).code == 0
    calls = []

    def racing(node_id):
        if not calls:
            n.sync({1: LEADER, 2: LEADER, 3: WORKER, 4: LEADER}, segs)
        calls.append(node_id)

    n.before_call = racing
    assert leader.Query(n.request(300, count_only=True)).count == want
    assert calls == [WORKER, WORKER]  # the first answer was stale: asked again, for segment 3 only


def test_a_compaction_result_loaded_on_the_leader_replaces_sources_read_elsewhere(nodes):
    n = nodes
    vecs, segs = _setup(n)
    leader, ref = n.nodes[LEADER], n.nodes[REFERENCE]
    # the result of compacting segments 3 and 4 (both on the worker) is loaded on the leader
    result = n.sealed(20, range(150, 400), 110, vecs[150:400])
    result.compaction_from.extend([3, 4])
    n.load(LEADER, result)
    n.load(REFERENCE, result)
    _same(leader.Query(n.request(300, count_only=True)), ref.Query(n.request(300, count_only=True)))
    _same(leader.Query(n.request(300)), ref.Query(n.request(300)))
    # a later view still naming the sources elsewhere (the result not in it yet) reads them no more
    n.sync({1: LEADER, 2: LEADER, 3: WORKER, 4: WORKER}, segs)
    _same(leader.Query(n.request(300, count_only=True)), ref.Query(n.request(300, count_only=True)))


def test_a_worker_answers_for_compaction_sources_until_the_view_moved_to_the_result(nodes):
    n = nodes
    vecs, segs = _setup(n)
    leader, ref = n.nodes[LEADER], n.nodes[REFERENCE]
    before = ref.Query(n.request(300, count_only=True))
    # the worker serves the result of compacting its segments 3 and 4; the view still names them
    result = n.sealed(20, range(150, 400), 110, vecs[150:400])
    result.compaction_from.extend([3, 4])
    n.load(WORKER, result)
    _same(leader.Query(n.request(300, count_only=True)), before)
    # the view moves to the result: its sources are read no more
    n.sync({1: LEADER, 2: LEADER, 20: WORKER}, [*segs, result])
    n.load(REFERENCE, result)
    _same(leader.Query(n.request(300, count_only=True)), ref.Query(n.request(300, count_only=True)))
    _same(leader.Query(n.request(300)), ref.Query(n.request(300)))


def test_segment_reads_go_to_the_worker_methods_and_search_and_query_refuse_them(nodes):
    """A leader reads its workers' segments with SearchSegments / QuerySegments (leaf methods,
    served on a pool of their own); the public Search / Query take no segment_ids."""
    n = nodes
    _setup(n)
    leader, worker = n.nodes[LEADER], n.nodes[WORKER]
    search = n.request(300, placeholder_group=placeholder(np.zeros((1, DIM), np.float32)), topk=5, nq=1,
                       metric_type="L2", anns_field="vec")
    assert leader.Search(search).status.code == 0
    assert leader.Query(n.request(300, count_only=True)).status.code == 0
    assert n.methods == ["SearchSegments", "QuerySegments"]
    for method in ("Search", "Query"):
        request = search if method == "Search" else n.request(300, count_only=True)
        request = type(request).FromString(request.SerializeToString())
        request.segment_ids[:] = [3]
        request.travel_ts, request.guarantee_ts = 300, 0
        refused = getattr(worker, method)(request)
        assert refused.status.code == errors.ParameterInvalid.code
        assert f"{method}Segments" in refused.status.reason
        assert getattr(worker, f"{method}Segments")(request).status.code == 0
        request.ClearField("segment_ids")
        assert getattr(worker, f"{method}Segments")(request).status.code == errors.ParameterMissing.code


def _leader_deletes(n: Nodes) -> int:
    return len(n.nodes[LEADER]._collection(COLL).shard(VCH).deletes)


def test_the_leader_sends_a_worker_only_the_deletes_it_does_not_hold(nodes):
    n = nodes
    _setup(n)
    leader, ref = n.nodes[LEADER], n.nodes[REFERENCE]
    _same(leader.Query(n.request(300)), ref.Query(n.request(300)))
    held = _leader_deletes(n)  # the channel's, the delta logs of segment 1 and of segment 3 (on the worker)
    assert held == 6
    assert n.calls[-1][:3] == (WORKER, 0, held) and n.calls[-1][3] > 0
    _same(leader.Query(n.request(300, count_only=True)), ref.Query(n.request(300, count_only=True)))
    assert n.calls[-1] == (WORKER, held, held, 0, 0)  # nothing new: none sent
    # deletes arrive between reads: only those go
    n.delete([12, 171, 321], 310)
    n.tick(400)
    for ts, travel in ((400, 0), (0, 305), (0, 315)):
        _same(leader.Query(n.request(ts, travel, count_only=True)), ref.Query(n.request(ts, travel, count_only=True)))
        _same(leader.Query(n.request(ts, travel)), ref.Query(n.request(ts, travel)))
    assert n.calls[-6][1:3] == (held, held + 3) and n.calls[-6][3] > 0
    assert all(c[1:4] == (held + 3, held + 3, 0) for c in n.calls[-5:])
    got = ids_list(leader.Query(n.request(400)).ids)
    assert n.key(171) not in got and n.key(321) not in got and n.key(12) not in got
    assert n.key(171) in ids_list(leader.Query(n.request(0, 305)).ids)  # time travel: before the delete


def test_a_worker_that_lost_the_deletes_gets_them_all_again(nodes):
    n = nodes
    _, segs = _setup(n)
    leader, ref = n.nodes[LEADER], n.nodes[REFERENCE]
    _same(leader.Query(n.request(300)), ref.Query(n.request(300)))
    held = _leader_deletes(n)
    # the worker restarts (its copy of the leader's deletes is gone) and serves its segments again
    n.nodes.pop(WORKER).stop()
    worker = n.nodes[WORKER] = QueryNode(WORKER, n.mq, n.storage, read_timeout=5.0, filter_compiler=compile_filter,
                                         peer=n.peer)
    worker.start()
    n.load(WORKER, segs[2], segs[3])
    n.calls.clear()
    _same(leader.Query(n.request(300)), ref.Query(n.request(300)))
    assert [c[:3] + (c[4],) for c in n.calls] == [(WORKER, held, held, errors.DeletesOutOfSync.code),
                                                  (WORKER, 0, held, 0)]
    assert n.calls[1][3] > 0
    search = n.request(300, placeholder_group=placeholder(np.zeros((2, DIM), np.float32)), topk=50, nq=2,
                       metric_type="L2", anns_field="vec")
    _same(leader.Search(search), ref.Search(search))
    assert n.calls[-1] == (WORKER, held, held, 0, 0)


def test_a_worker_keeps_a_leaders_deletes_by_position(tmp_path):
    n = Nodes(tmp_path, "int")
    try:
        n.load(WORKER, n.sealed(3, range(0, 10), 100, np.zeros((10, DIM), np.float32)))
        shard = n.nodes[WORKER]._collection(COLL).shard(VCH)
        log = DeleteBuffer()
        log.add(pa.array([1, 2, 3]), np.array([110, 110, 110]))
        snap = log.snapshot()
        pk = pa.int64()
        assert len(shard.receive_deletes("1/ch/a", 0, 0, b"", pk)) == 0
        assert len(shard.receive_deletes("1/ch/a", 0, 3, snap.to_ipc(), pk)) == 3
        assert len(shard.receive_deletes("1/ch/a", 0, 3, snap.to_ipc(), pk)) == 3  # again: nothing added
        log.add(pa.array([4, 5]), np.array([120, 120]))
        later = log.snapshot()
        # a request that overlaps what is held adds the rest; one past it is out of sync
        assert shard.receive_deletes("1/ch/a", 1, 5, later.to_ipc(1), pk).table["pk"].to_pylist() == [1, 2, 3, 4, 5]
        with pytest.raises(errors.DeletesOutOfSync):
            shard.receive_deletes("1/ch/b", 3, 5, later.to_ipc(3), pk)
        with pytest.raises(errors.ParameterInvalid):
            shard.receive_deletes("1/ch/b", 0, 4, later.to_ipc(), pk)
        # a few sources are kept; the least recently used goes first
        for source in ("2/ch/a", "3/ch/a", "4/ch/a", "5/ch/a"):
            shard.receive_deletes(source, 0, 5, later.to_ipc(), pk)
        with pytest.raises(errors.DeletesOutOfSync):
            shard.receive_deletes("1/ch/a", 5, 5, b"", pk)
    finally:
        n.close()


def test_a_read_the_leader_began_before_it_unwatched_a_channel_fails_instead_of_reading_it_short(nodes):
    """The channel moved to another leader: a read that found it watched here, and waits for
    another channel's tsafe while this node unwatches it (its leader view goes, its sealed
    segments stay until released), must not answer the local segments alone."""
    n = nodes
    _setup(n)
    leader = n.nodes[LEADER]
    pch2 = "by-dev-rootcoord-dml_1"
    vch2 = f"{pch2}_{COLL}v1"
    status = leader.WatchDmChannel(querynode_pb2.QWatchDmChannelRequest(
        vchannel=datacoord_pb2.VchannelInfo(collectionID=COLL, channelName=vch2),
        schema=n.schema.proto.SerializeToString()))
    assert status.code == 0, status.reason
    assert leader.SyncDistribution(querynode_pb2.SyncDistributionRequest(collectionID=COLL, channel=vch2)).code == 0
    producer2 = n.mq.create_producer(pch2)
    try:
        n.tick(400)
        state = leader._collection(COLL)
        assert state.shard(VCH).tsafe.wait(400, 5.0)
        answers = []
        request = querynode_pb2.ShardRequest(collectionID=COLL, channels=[VCH, vch2], guarantee_ts=400,
                                             count_only=True)
        reader = threading.Thread(target=lambda: answers.append(leader.Query(request)))
        reader.start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not state.shard(vch2).tsafe._cond._waiters:  # until it waits on vch2
            time.sleep(0.01)
        assert state.shard(vch2).tsafe._cond._waiters, "the read did not get to wait for the second channel"
        assert leader.UnwatchDmChannel(querynode_pb2.QUnwatchDmChannelRequest(
            collectionID=COLL, channel_name=VCH)).code == 0
        producer2.send(time_tick_envelope(400), {"vchannel": ""})
        reader.join(10)
        assert len(answers) == 1
        resp = answers[0]
        assert resp.status.code == errors.ChannelNotFound.code, (resp.status.reason, resp.count)
    finally:
        producer2.close()
