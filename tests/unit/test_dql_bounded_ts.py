"""A Bounded read's guarantee timestamp is gracefulTime behind the oracle's "now", without
asking the oracle on every read: one timestamp a second, the local clock's progress added."""

from __future__ import annotations

from pymilvus.grpc_gen import common_pb2

from milvus.proxy.dql import Dql, DqlParams
from milvus.tso import compose_ts, parse_ts

Level = common_pb2.ConsistencyLevel


class _Oracle:
    def __init__(self, physical_ms: int):
        self.physical = physical_ms
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return compose_ts(self.physical, 5)


def test_bounded_reads_ask_the_oracle_once_a_second():
    oracle, now = _Oracle(1_000_000), [100.0]
    dql = Dql(None, lambda *_: None, None, None, oracle, DqlParams(graceful_time_ms=5000),  # type: ignore[arg-type]
              clock=lambda: now[0])
    assert parse_ts(dql.guarantee_ts(None, Level.Bounded, False, 0)) == (995_000, 0)
    now[0] += 0.25
    oracle.physical += 250
    assert parse_ts(dql.guarantee_ts(None, Level.Bounded, False, 0)) == (995_250, 0)
    assert oracle.calls == 1
    now[0] += 1.0  # stale: asked again (the oracle may have moved on differently)
    oracle.physical += 3000
    assert parse_ts(dql.guarantee_ts(None, Level.Bounded, False, 0)) == (998_250, 0)
    assert oracle.calls == 2


def test_strong_reads_always_ask_the_oracle():
    class _Writer:
        kicks = 0
        past: list = []

        def kick(self) -> None:
            self.kicks += 1

        def kick_past(self, ts: int) -> None:
            self.past.append(ts)

    oracle, writer = _Oracle(2_000_000), _Writer()
    dql = Dql(None, lambda *_: None, None, writer, oracle, clock=lambda: 0.0)  # type: ignore[arg-type]
    for _ in range(3):
        assert dql.guarantee_ts(None, Level.Strong, False, 0) == compose_ts(2_000_000, 5)
    assert oracle.calls == 3 and writer.kicks == 3
    assert dql.guarantee_ts(None, Level.Eventually, False, 0) == 0
    assert dql.guarantee_ts(None, Level.Session, False, 77) == 77
    assert writer.past == [77]  # a Session read asks for a tick past its client's last write
    assert dql.guarantee_ts(None, Level.Session, False, 0) == 0 and writer.past == [77]
