"""Flow control of writes (milvus/proxy/quota.py): time-tick lag, memory water levels and
static rates refuse writes with RateLimited (code 8) and accept them again."""

from __future__ import annotations

import pytest

from milvus import errors
from milvus._proto import datacoord_pb2
from milvus.proxy.quota import DELETE, INSERT, UPSERT, QuotaCenter, QuotaParams, process_memory_fraction
from milvus.tso import compose_ts


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
    q = QuotaCenter(QuotaParams(tt_protection=True, max_time_tick_delay=5.0, collect_interval=1.0), dc,
                    clock=clock, wall=clock, memory=lambda: 0.0)
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


def test_memory_water_levels_with_hysteresis():
    clock = Clock()
    used = [0.5]
    q = QuotaCenter(QuotaParams(mem_low_water=0.8, mem_high_water=0.9), clock=clock, memory=lambda: used[0])
    q.check(INSERT, 1)
    used[0] = 0.95
    clock.now += 2
    with pytest.raises(errors.RateLimited, match="memory"):
        q.check(INSERT, 1)
    used[0] = 0.85  # between the levels: still refused
    clock.now += 2
    with pytest.raises(errors.RateLimited):
        q.check(DELETE, 1)
    used[0] = 0.7
    clock.now += 2
    q.check(INSERT, 1)
    assert 0.0 < process_memory_fraction() < 1.0


def test_static_insert_rate():
    clock = Clock()
    q = QuotaCenter(QuotaParams(dml_limits=True, insert_rate_mb=1.0, mem_protection=False), clock=clock)
    mb = 1024 * 1024
    q.check(INSERT, 1, nbytes=lambda: mb // 2)
    q.check(UPSERT, 1, nbytes=lambda: mb)  # the bucket was not empty: let through, now below zero
    with pytest.raises(errors.RateLimited, match="rate limit exceeded"):
        q.check(INSERT, 1, nbytes=lambda: 10)
    q.check(DELETE, 1)  # deletes have their own (unlimited) rate
    clock.now += 1.0
    q.check(INSERT, 1, nbytes=lambda: 10)  # refilled


def test_disabled_quota_never_refuses():
    q = QuotaCenter(QuotaParams(enabled=False, tt_protection=True), lambda *_: 1 / 0, memory=lambda: 1.0)
    q.check(INSERT, 1, compose_ts(0, 0))


def test_the_data_coordinator_keeps_the_time_ticks_owners_report(tmp_path):
    from tests.unit.test_datacoord import CH0, CH1, COLL, Cluster, FakeDataNode, ok, watch

    cluster = Cluster(tmp_path)
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
