"""Flow control of writes (milvus/proxy/quota.py): time-tick lag, data and query node memory
water levels and static rates refuse writes with RateLimited (code 8) and accept them again."""

from __future__ import annotations

import threading

import pytest

from milvus import errors
from milvus._proto import datacoord_pb2, internal_pb2
from milvus.datanode import DataNode, DataNodeParams
from milvus.mq.local import LocalMQ
from milvus.proxy.quota import (
    DATANODE,
    DELETE,
    INSERT,
    QUERYNODE,
    UPSERT,
    MemoryGuard,
    NodeMemory,
    QuotaCenter,
    QuotaParams,
)
from milvus.querynode import SERVICE as QN_SERVICE
from milvus.querynode import QueryNode
from milvus.rpc import LocalClient
from milvus.rpc.memory_reports import MemoryReports
from milvus.storage.local import LocalStorage
from milvus.tso import compose_ts
from milvus.util.memory import MemoryUsage, process_memory
from tests.conftest import wait_for
from tests.unit.test_datacoord import CH0, CH1, COLL, FakeDataNode, ok, watch
from tests.unit.test_datacoord import Cluster as DataCoordCluster
from tests.unit.test_querycoord import Cluster as QueryCoordCluster


class FakeDataCoord:
    """``GetChannelTimeTicks``: one channel consumed up to ``checkpoint_ms``, one never reported."""

    def __init__(self):
        self.checkpoint_ms = 0
        self.calls = 0

    def __call__(self, method, request):
        assert method == "GetChannelTimeTicks"
        self.calls += 1
        resp = datacoord_pb2.GetChannelTimeTicksResponse(status=errors.OK)
        resp.time_ticks.add(channel_name="v0", timestamp=compose_ts(self.checkpoint_ms, 0))
        return resp


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_rate_limited_is_milvus_code_8():
    exc = errors.RateLimited("x")
    status = errors.to_status(exc)
    assert status.code == 8 and status.error_code == 49  # common_pb2.ErrorCode.RateLimit


def test_time_tick_lag_refuses_writes_until_the_data_node_catches_up():
    clock, dc = Clock(), FakeDataCoord()
    q = QuotaCenter(QuotaParams(tt_protection=True, max_time_tick_delay=5.0, collect_interval=1.0,
                                mem_protection=False), dc, clock=clock, wall=clock)
    old = compose_ts(0, 0)
    dc.checkpoint_ms = 999_000  # 1 s behind
    q.check(INSERT, 1, old)
    dc.checkpoint_ms = 990_000  # 10 s behind: refused, for every kind of write
    clock.now += 1.0
    for kind in (INSERT, UPSERT, DELETE):
        with pytest.raises(errors.RateLimited, match="time tick long delay"):
            q.check(kind, 1, old)
    calls = dc.calls
    # the answer is kept for collect_interval
    dc.checkpoint_ms = 1_001_000
    with pytest.raises(errors.RateLimited):
        q.check(INSERT, 1, old)
    assert dc.calls == calls
    clock.now += 1.0
    q.check(INSERT, 1, old)  # caught up: accepted again
    # a collection younger than the delay is not asked about
    young = compose_ts(int(clock.now * 1000) - 1000, 0)
    dc.checkpoint_ms = 0
    calls = dc.calls
    q.check(INSERT, 3, young)
    assert dc.calls == calls


GB = 1 << 30


def _node(role, node_id, fraction, age=0.0):
    return NodeMemory(role, node_id, int(fraction * 1000) * (GB // 1000), GB, age)


def test_memory_guard_hysteresis_is_per_node_and_per_role():
    guard = MemoryGuard({DATANODE: (0.8, 0.9), QUERYNODE: (0.5, 0.6)}, ttl=10.0)
    guard.update([_node(DATANODE, 1, 0.85), _node(QUERYNODE, 1, 0.55)])
    assert guard.refusal() is None  # between the levels, never over: accepted
    guard.update([_node(DATANODE, 1, 0.95), _node(DATANODE, 2, 0.5), _node(QUERYNODE, 1, 0.55)])
    assert "datanode 1 memory usage 0.950 passed the high water level 0.9" in guard.refusal()
    assert "datanode 2" not in guard.refusal() and "querynode" not in guard.refusal()
    guard.update([_node(DATANODE, 1, 0.85), _node(DATANODE, 2, 0.85), _node(QUERYNODE, 1, 0.65)])
    refusal = guard.refusal()  # node 1 stays over until below the low level; node 2 never got over
    assert "datanode 1 memory usage 0.850" in refusal and "datanode 2" not in refusal
    assert "querynode 1 memory usage 0.650 passed the high water level 0.6 (writes accepted again below 0.5)" \
        in refusal  # the query node's own levels
    guard.update([_node(DATANODE, 1, 0.79), _node(QUERYNODE, 1, 0.55)])
    assert "datanode" not in guard.refusal() and "querynode 1" in guard.refusal()
    guard.update([_node(DATANODE, 1, 0.79), _node(QUERYNODE, 1, 0.49)])
    assert guard.refusal() is None


def test_memory_reports_age_out_and_unknown_ones_do_not_count():
    guard = MemoryGuard({DATANODE: (0.8, 0.9), QUERYNODE: (0.8, 0.9)}, ttl=10.0)
    guard.update([_node(DATANODE, 1, 0.99, age=9.0)])
    assert "datanode 1" in guard.refusal()
    guard.update([_node(DATANODE, 1, 0.99, age=11.0)])  # a dead node's last report
    assert guard.refusal() is None
    guard.update([_node(DATANODE, 1, 0.85, age=1.0)])  # back, between the levels: it starts afresh
    assert guard.refusal() is None
    guard.update([_node(DATANODE, 1, 0.99)])
    assert guard.refusal() is not None
    guard.update([])  # forgotten by its coordinator
    assert guard.refusal() is None
    guard.update([NodeMemory(DATANODE, 2, 10, 0), NodeMemory("indexnode", 3, 99, 100)])  # no total; no levels
    assert guard.refusal() is None


class FakeCoord:
    """``GetNodeMemory``: the reports in ``nodes`` (role, id, fraction, age in s); ``down``
    answers ServiceUnavailable."""

    def __init__(self, role):
        self.role = role
        self.nodes = {}
        self.calls = 0
        self.down = False

    def __call__(self, method, request):
        assert method == "GetNodeMemory"
        self.calls += 1
        if self.down:
            raise errors.ServiceUnavailable("service unavailable: coordinator down")
        resp = internal_pb2.GetNodeMemoryResponse(status=errors.OK)
        for node_id, (fraction, age) in sorted(self.nodes.items()):
            resp.nodes.add(node_id=node_id, role=self.role, used_bytes=int(fraction * GB), total_bytes=GB,
                           age_ms=int(age * 1000))
        return resp


def test_quota_center_refuses_writes_while_a_node_of_either_coordinator_is_over():
    clock, dc, qc = Clock(), FakeCoord(DATANODE), FakeCoord(QUERYNODE)
    params = QuotaParams(datanode_mem_low_water=0.8, datanode_mem_high_water=0.9, querynode_mem_low_water=0.7,
                         querynode_mem_high_water=0.8, collect_interval=1.0)
    q = QuotaCenter(params, dc, qc, clock=clock)
    dc.nodes[7] = (0.5, 0.0)
    qc.nodes[3] = (0.5, 0.0)
    q.check(INSERT, 1)
    qc.nodes[3] = (0.85, 0.0)
    q.check(INSERT, 1)  # the answer is kept for collect_interval
    assert (dc.calls, qc.calls) == (1, 1)
    clock.now += 1.0
    for kind in (INSERT, UPSERT, DELETE):
        with pytest.raises(errors.RateLimited, match=r"memory quota exhausted: querynode 3 memory usage 0\.850"):
            q.check(kind, 1)
    assert (dc.calls, qc.calls) == (2, 2)
    dc.nodes[7] = (0.95, 0.0)
    qc.nodes[3] = (0.75, 0.0)  # between its levels: still over
    clock.now += 1.0
    with pytest.raises(errors.RateLimited) as info:
        q.check(INSERT, 1)
    assert "datanode 7 memory usage 0.950" in str(info.value) and "querynode 3" in str(info.value)
    assert info.value.code == 8
    qc.nodes[3] = (0.6, 0.0)
    dc.nodes[7] = (0.7, 0.0)
    clock.now += 1.0
    q.check(INSERT, 1)  # both below their low levels: accepted again


def test_quota_center_keeps_a_down_coordinators_last_reports_until_they_age_out():
    clock, dc = Clock(), FakeCoord(DATANODE)
    q = QuotaCenter(QuotaParams(collect_interval=1.0), dc, clock=clock)
    dc.nodes[1] = (0.99, 2.0)
    with pytest.raises(errors.RateLimited):
        q.check(INSERT, 1)
    dc.down = True
    clock.now += 7.0  # 9 s old: still counts
    with pytest.raises(errors.RateLimited):
        q.check(INSERT, 1)
    clock.now += 2.0  # 11 s old: a report ages out after 10 collect intervals
    q.check(INSERT, 1)


def test_memory_protection_off_or_no_coordinator_never_asks():
    dc = FakeCoord(DATANODE)
    dc.nodes[1] = (0.99, 0.0)
    QuotaCenter(QuotaParams(mem_protection=False), dc).check(INSERT, 1)
    QuotaCenter(QuotaParams()).check(INSERT, 1)
    assert dc.calls == 0


def test_process_memory_is_measured():
    usage = process_memory()
    assert 0 < usage.used < usage.total and 0.0 < usage.fraction < 1.0
    assert MemoryUsage(0, 0).fraction == 0.0


def test_memory_reports_answer_each_node_newest_with_its_age():
    clock = Clock()
    reports = MemoryReports(clock)
    reports.put(internal_pb2.NodeMemory(node_id=2, role=DATANODE, used_bytes=5, total_bytes=10, age_ms=99))
    clock.now += 1.5
    reports.put(internal_pb2.NodeMemory(node_id=1, role=DATANODE, used_bytes=1, total_bytes=10))
    reports.put(internal_pb2.NodeMemory(node_id=1, role=DATANODE, used_bytes=3, total_bytes=10))
    clock.now += 0.5
    answer = reports.answer()
    assert [(n.node_id, n.used_bytes, n.age_ms) for n in answer.nodes] == [(1, 3, 500), (2, 5, 2000)]
    reports.forget(2)
    assert [n.node_id for n in reports.answer().nodes] == [1]


def test_static_insert_rate():
    clock = Clock()
    q = QuotaCenter(QuotaParams(dml_limits=True, insert_rate_mb=1.0), clock=clock)
    mb = 1024 * 1024
    q.check(INSERT, 1, nbytes=lambda: mb // 2)
    q.check(UPSERT, 1, nbytes=lambda: mb)  # the bucket was not empty: let through, now below zero
    with pytest.raises(errors.RateLimited, match="rate limit exceeded"):
        q.check(INSERT, 1, nbytes=lambda: 10)
    q.check(DELETE, 1)  # deletes have their own (unlimited) rate
    clock.now += 1.0
    q.check(INSERT, 1, nbytes=lambda: 10)  # refilled


def test_disabled_quota_never_refuses():
    q = QuotaCenter(QuotaParams(enabled=False, tt_protection=True), lambda *_: 1 / 0, lambda *_: 1 / 0)
    q.check(INSERT, 1, compose_ts(0, 0))


def test_the_data_coordinator_keeps_the_time_ticks_owners_report(tmp_path):
    cluster = DataCoordCluster(tmp_path)
    try:
        dc = cluster.coord(FakeDataNode())
        watch(dc)

        def report(channel, ts, source=1):
            request = datacoord_pb2.ReportTimeTicksRequest(
                time_ticks=[datacoord_pb2.ChannelTimeTick(channel_name=channel, timestamp=ts)])
            request.base.sourceID = source
            return dc.ReportTimeTicks(request)

        def ticks():
            resp = ok(dc.GetChannelTimeTicks(datacoord_pb2.GetChannelTimeTicksRequest(collectionID=COLL)))
            return {t.channel_name: t.timestamp for t in resp.time_ticks}

        assert ticks() == {}  # never reported: does not count
        ok(report(CH0, 50))
        ok(report(CH0, 40))  # never backwards
        assert ticks() == {CH0: 50}
        assert report(CH1, 60, source=2).code == errors.ChannelNotFound.code  # not the owner
        assert ticks() == {CH0: 50}
    finally:
        cluster.close()


def test_the_data_coordinator_keeps_its_data_nodes_memory_reports(tmp_path):
    cluster = DataCoordCluster(tmp_path)
    try:
        dc = cluster.coord(FakeDataNode())

        def report(node_id, used, source=None):
            request = datacoord_pb2.ReportNodeMemoryRequest(memory=internal_pb2.NodeMemory(
                node_id=node_id, role=DATANODE, used_bytes=used, total_bytes=100))
            request.base.sourceID = node_id if source is None else source
            return dc.ReportNodeMemory(request)

        def reported():
            return {n.node_id: n.used_bytes for n in ok(dc.GetNodeMemory(internal_pb2.GetNodeMemoryRequest())).nodes}

        assert reported() == {}
        ok(report(1, 50))
        ok(report(1, 60))
        ok(report(2, 70))
        assert report(3, 99, source=2).code == errors.ParameterInvalid.code  # not its own
        assert reported() == {1: 60, 2: 70}
        cluster.now += 2.5
        ok(report(2, 80))
        ages = {n.node_id: n.age_ms for n in dc.GetNodeMemory(internal_pb2.GetNodeMemoryRequest()).nodes}
        assert ages == {1: 2500, 2: 0}  # the proxies age them
        dc.remove_data_node(2)  # its session ended
        assert reported() == {1: 60}
    finally:
        cluster.close()


def test_a_data_node_reports_its_memory_while_started(tmp_path):
    class DataCoord:
        def __init__(self):
            self.reports = []

        def ReportNodeMemory(self, request, timeout=None):
            self.reports.append(request)
            return errors.OK

    dc = DataCoord()
    mq = LocalMQ(tmp_path / "mq", sync=False)
    node = DataNode(mq, LocalStorage(tmp_path / "objects"), dc, alloc_id=lambda n: 1, node_id=5,
                    params=DataNodeParams(memory_report_interval=0.02), memory=lambda: MemoryUsage(3, 10))
    try:
        node.start()
        wait_for(lambda: len(dc.reports) >= 2, timeout=10, message="two memory reports")
    finally:
        node.stop()
        mq.close()
    request = dc.reports[0]
    assert request.base.sourceID == 5
    assert (request.memory.node_id, request.memory.role, request.memory.used_bytes, request.memory.total_bytes) == (
        5, DATANODE, 3, 10)
    assert not [t for t in threading.enumerate() if t.name == "datanode-5-memory"]  # stopped with the node


def test_the_query_coordinator_keeps_the_memory_its_nodes_answer_with_their_distribution(tmp_path):
    cluster = QueryCoordCluster(tmp_path, nodes=0)
    try:
        node = QueryNode(7, cluster.mq, cluster.storage, memory=lambda: MemoryUsage(4, 10))
        node.start()
        cluster.nodes[7] = node
        cluster.qc.add_node(7, LocalClient(node, QN_SERVICE), "127.0.0.1:20007")

        def reported():
            answer = cluster.qc.GetNodeMemory(internal_pb2.GetNodeMemoryRequest())
            assert answer.status.code == 0
            return [(n.node_id, n.role, n.used_bytes, n.total_bytes) for n in answer.nodes]

        assert reported() == []
        cluster.qc.check_once()
        assert reported() == [(7, QUERYNODE, 4, 10)]
        cluster.qc.remove_node(7)  # its session ended
        assert reported() == []
    finally:
        cluster.close()


def test_quota_states_name_what_holds_writes_back():
    clock, dc = Clock(), FakeCoord(DATANODE)
    q = QuotaCenter(QuotaParams(collect_interval=1.0), dc, clock=clock)
    dc.nodes[7] = (0.5, 0.0)
    assert q.quota_states() == []
    dc.nodes[7] = (0.97, 0.0)
    clock.now += 1.0
    states = q.quota_states()
    assert [name for name, _ in states] == ["DenyToWrite"]
    assert "memory quota exhausted" in states[0][1] and "datanode 7 memory usage 0.970" in states[0][1]
    with pytest.raises(errors.RateLimited):  # what a write meets at the same moment
        q.check(INSERT, 1)
    dc.nodes[7] = (0.5, 0.0)
    clock.now += 1.0
    assert q.quota_states() == []
    assert QuotaCenter(QuotaParams(enabled=False), dc, clock=clock).quota_states() == []


def test_quota_states_name_a_lagging_collection_while_its_verdict_is_fresh():
    clock, dc = Clock(), FakeDataCoord()
    q = QuotaCenter(QuotaParams(tt_protection=True, max_time_tick_delay=5.0, collect_interval=1.0,
                                mem_protection=False), dc, clock=clock, wall=clock)
    dc.checkpoint_ms = 990_000  # 10 s behind
    with pytest.raises(errors.RateLimited):
        q.check(INSERT, 4, compose_ts(0, 0))
    states = q.quota_states()
    assert [name for name, _ in states] == ["DenyToWrite"] and "collections [4]" in states[0][1]
    clock.now += 1.0  # the verdict is as old as a collect interval: the next write looks again
    assert q.quota_states() == []
