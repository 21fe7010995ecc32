"""Merged time ticks (docs/datapath.md "Time ticks"): the merge rule, the root coordinator's
proxy set (sessions, reports, expiry) and the proxy's tick, with an in-memory broker.  The
last test runs two proxies' writers concurrently against one merger and checks the property
the consumers rely on: after a tick at T on a channel, no message at or below T follows."""

from __future__ import annotations

import itertools
import random
import threading
import time

import pytest

from milvus import errors
from milvus._proto import msgstream_pb2, proxy_pb2, rootcoord_pb2
from milvus.proxy.channel_writer import ChannelWriter
from milvus.rootcoord.timetick import TickReport, TimeTickSync, merge_ticks
from tests.conftest import wait_for

A, B, C = "dml_0", "dml_1", "dml_2"


# ---- an in-memory broker and clock ------------------------------------------------------------


class _Producer:
    def __init__(self, mq: MemoryMQ, channel: str):
        self._mq, self._channel = mq, channel

    def send(self, payload: bytes, properties=None) -> int:
        with self._mq.lock:
            log = self._mq.channels.setdefault(self._channel, [])
            log.append(msgstream_pb2.Envelope.FromString(payload))
            return len(log)

    def close(self) -> None:
        pass


class MemoryMQ:
    """What the writer and the merger use of an MQ: producers appending to one list a channel."""

    def __init__(self):
        self.lock = threading.Lock()
        self.channels: dict[str, list[msgstream_pb2.Envelope]] = {}

    def create_producer(self, channel: str) -> _Producer:
        return _Producer(self, channel)

    def ticks(self, channel: str) -> list[int]:
        with self.lock:
            return [e.end_ts for e in self.channels.get(channel, []) if e.kind == msgstream_pb2.TIME_TICK]

    def log(self, channel: str) -> list[msgstream_pb2.Envelope]:
        with self.lock:
            return list(self.channels.get(channel, []))


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _tso():
    counter = itertools.count(1000)
    lock = threading.Lock()

    def alloc() -> int:
        with lock:
            return next(counter)

    return alloc


def _report(default: int, **channels: int) -> TickReport:
    return TickReport(default, {{"a": A, "b": B, "c": C}[k]: v for k, v in channels.items()})


# ---- the merge rule ---------------------------------------------------------------------------


def test_merged_tick_is_the_smallest_tick_any_proxy_gave_per_channel():
    reports = [_report(100, a=40), _report(90, b=85), _report(120)]
    assert merge_ticks(reports, [A, B, C]) == {A: 40, B: 85, C: 90}


def test_a_proxy_without_a_report_holds_every_channel_back():
    assert merge_ticks([_report(100), None], [A, B]) == {}


def test_without_proxies_a_fresh_timestamp_is_safe_and_without_one_nothing_is_sent():
    assert merge_ticks([], [A, B], lambda: 7) == {A: 7, B: 7}
    assert merge_ticks([], [A, B]) == {}
    assert merge_ticks([], [], lambda: 7) == {}


def test_reports_combine_to_the_larger_promise_per_channel():
    old = _report(100, a=50, b=60)
    new = _report(110, b=55, c=70)  # out-of-order arrival of a channel's older tick
    combined = old.combine(new)
    assert (combined.at(A), combined.at(B), combined.at(C), combined.default_ts) == (110, 60, 100, 110)
    assert combined.combine(_report(0)) == combined  # never backwards


def test_report_from_message_drops_channels_at_or_above_the_default():
    msg = rootcoord_pb2.ChannelTimeTickMsg(default_timestamp=100, channel_names=[A, B], timestamps=[40, 100])
    assert TickReport.from_msg(msg) == TickReport(100, {A: 40})
    with pytest.raises(errors.ParameterInvalid):
        TickReport.from_msg(rootcoord_pb2.ChannelTimeTickMsg(default_timestamp=1, channel_names=[A]))


# ---- the root coordinator's proxy set ---------------------------------------------------------


def _sync(mq: MemoryMQ, channels=(A, B), clock=None, **kw) -> TimeTickSync:
    return TimeTickSync(mq, lambda: list(channels), _tso(), interval=0.01, clock=clock or Clock(), **kw)


def test_nothing_is_sent_before_open_nor_while_a_known_proxy_has_not_reported():
    mq = MemoryMQ()
    sync = _sync(mq)
    sync.add_proxy(1)
    sync.add_proxy(2)
    sync.report(1, _report(100))
    assert sync.tick_now() == {}  # not open
    sync.open()
    assert sync.tick_now() == {}  # proxy 2 holds the ticks back
    sync.report(2, _report(80, b=70))
    assert sync.tick_now() == {A: 80, B: 70}
    assert sync.tick_now() == {}  # nothing new
    sync.report(2, _report(90))
    assert sync.tick_now() == {A: 90, B: 90}
    assert mq.ticks(A) == [80, 90] and mq.ticks(B) == [70, 90]


def test_open_waits_for_the_sessions_discovery_listed():
    mq = MemoryMQ()
    sync = _sync(mq)
    sync.report(1, _report(100))
    sync.open(expect=[1, 2, 3])
    assert sync.tick_now() == {}  # 2 and 3 not told yet
    sync.add_proxy(2)
    sync.remove_proxy(3)
    assert sync.tick_now() == {}  # 2 has not reported
    sync.report(2, _report(100))
    assert sync.tick_now() == {A: 100, B: 100}


def test_a_proxy_whose_session_ended_stops_holding_the_ticks_and_is_refused():
    mq = MemoryMQ()
    sync = _sync(mq)
    sync.add_proxy(1)
    sync.add_proxy(2)
    sync.open()
    sync.report(1, _report(200))
    sync.report(2, _report(100))
    assert sync.tick_now() == {A: 100, B: 100}
    sync.remove_proxy(2)  # killed: its lease expired
    assert sync.tick_now() == {A: 200, B: 200}
    with pytest.raises(errors.NodeNotFound):
        sync.report(2, _report(300))
    sync.add_proxy(2)  # a session of it is live again: it counts again, from its next report
    assert sync.tick_now() == {}
    sync.report(2, _report(300))
    assert sync.tick_now() == {}  # 200 already sent
    sync.report(1, _report(400))
    assert sync.tick_now() == {A: 300, B: 300}


def test_a_proxy_that_reported_but_never_showed_a_session_is_dropped_after_the_grace():
    mq, clock = MemoryMQ(), Clock()
    sync = _sync(mq, clock=clock, unconfirmed_ttl=30.0)
    sync.add_proxy(1)
    sync.open()
    sync.report(1, _report(500))
    sync.report(9, _report(100))  # reported before its session was seen
    assert sync.tick_now() == {A: 100, B: 100}
    clock.now = 20.0
    sync.report(9, _report(150))
    sync.add_proxy(9)  # its session showed up: confirmed, it stays
    clock.now = 100.0
    sync.report(1, _report(600))
    assert sync.tick_now() == {A: 150, B: 150}
    sync.report(8, _report(160))  # another one that never announces itself
    clock.now = 131.0
    sync.report(9, _report(700))
    assert sync.tick_now() == {A: 600, B: 600}
    assert set(sync.proxies()) == {1, 9}
    with pytest.raises(errors.NodeNotFound):
        sync.report(8, _report(800))


class _AskedProxy:
    """A proxy's internal service as the merger calls it for a fresh tick."""

    def __init__(self, ts: int | None):
        self.ts = ts
        self.asked = 0

    def GetChannelTimeTick(self, request, timeout=None):
        self.asked += 1
        if self.ts is None:
            raise ConnectionError("down")
        tick = rootcoord_pb2.ChannelTimeTickMsg(default_timestamp=self.ts)
        return proxy_pb2.GetChannelTimeTickResponse(status=errors.OK, tick=tick)


def test_an_immediate_report_asks_the_other_proxies_and_sends_at_once():
    mq = MemoryMQ()
    sync = _sync(mq)
    fresh, down = _AskedProxy(900), _AskedProxy(None)
    sync.add_proxy(1)
    sync.add_proxy(2, fresh)
    sync.add_proxy(3, down)
    sync.open()
    sync.report(2, _report(100))
    sync.report(3, _report(500))
    sync.report(1, _report(1000), immediate=True)
    assert fresh.asked == 1 and down.asked == 1
    assert mq.ticks(A) == [500] and mq.ticks(B) == [500]  # 2 gave 900; 3 (down) still holds at 500
    sync.remove_proxy(3)
    sync.report(1, _report(1100), immediate=True)
    assert mq.ticks(A)[-1] == 900
    assert sync.proxies() == {1: 1100, 2: 900}


def test_the_merger_thread_ticks_on_its_own_and_stops():
    mq = MemoryMQ()
    sync = _sync(mq)
    sync.add_proxy(1)
    sync.open()
    sync.start()
    try:
        sync.report(1, _report(100))
        wait_for(lambda: mq.ticks(A) == [100], message="a tick from the merger's thread")
        sync.report(1, _report(200))
        wait_for(lambda: mq.ticks(B) == [100, 200], message="the next tick")
    finally:
        sync.stop()


# ---- the proxy's side -------------------------------------------------------------------------


def _insert(ts: int) -> msgstream_pb2.Envelope:
    return msgstream_pb2.Envelope(kind=msgstream_pb2.INSERT, begin_ts=ts, end_ts=ts)


def test_a_channel_with_a_write_in_flight_keeps_its_previous_tick():
    mq = MemoryMQ()
    writer = ChannelWriter(mq, _tso(), lambda msg: None, interval=0.05)
    writer.activate([A, B])
    first = writer.fresh_tick()
    assert first.default_timestamp > 0 and not first.channel_names
    entered, release = threading.Event(), threading.Event()

    def build(ts: int):
        entered.set()
        release.wait(10)
        return {A: [("v", _insert(ts))]}

    writer._accepted.set()
    thread = threading.Thread(target=writer.write, args=([A], build))
    thread.start()
    try:
        entered.wait(10)
        second = writer.fresh_tick()  # A's barrier cannot pass: the write holds it
        assert list(second.channel_names) == [A] and list(second.timestamps) == [first.default_timestamp]
        assert second.default_timestamp > first.default_timestamp
    finally:
        release.set()
        thread.join()
    written = mq.log(A)[0].end_ts
    third = writer.fresh_tick()
    assert not third.channel_names and third.default_timestamp > written


def test_writes_wait_for_an_accepted_tick_and_stop_when_refused():
    mq = MemoryMQ()
    refuse = threading.Event()
    refuse.set()

    def report(msg):
        if refuse.is_set():
            raise errors.NodeNotFound("no session")

    writer = ChannelWriter(mq, _tso(), report, interval=0.02, accept_timeout=0.2)
    writer.start()
    try:
        with pytest.raises(errors.ServiceNotReady):
            writer.write([A], lambda ts: {A: [("v", _insert(ts))]})
        refuse.clear()
        wait_for(lambda: writer.accepted, message="an accepted tick")
        assert writer.write([A], lambda ts: {A: [("v", _insert(ts))]}) > 0
        refuse.set()
        wait_for(lambda: not writer.accepted, message="a refused tick")
        with pytest.raises(errors.ServiceNotReady):
            writer.write([A], lambda ts: {A: [("v", _insert(ts))]})
    finally:
        writer.stop()
    assert len(mq.log(A)) == 1


def test_a_write_asks_for_no_tick_and_a_session_read_past_the_reported_tick_does():
    reports = []
    writer = ChannelWriter(MemoryMQ(), _tso(), reports.append, interval=3600)  # no periodic tick in the test
    writer.tick()  # the first report: writes are accepted from here on
    assert reports and not reports[0].immediate
    ts = writer.write([A], lambda t: {A: [("v", _insert(t))]})
    assert ts > reports[0].default_timestamp
    assert not writer._kick.is_set()  # noqa: SLF001 - the write set off no tick round
    writer.kick_past(reports[0].default_timestamp)  # a read of what a reported tick covers: no tick
    assert not writer._kick.is_set()  # noqa: SLF001
    writer.kick_past(ts)  # a Session read of the write: an immediate tick, once the loop runs
    assert writer._kick.is_set()  # noqa: SLF001
    writer.start()
    try:
        wait_for(lambda: any(r.immediate and r.default_timestamp >= ts for r in reports),
                 message="an immediate tick past the write")
    finally:
        writer.stop()


class _LocalProxy:
    def __init__(self, writer: ChannelWriter):
        self._writer = writer

    def GetChannelTimeTick(self, request, timeout=None):
        return proxy_pb2.GetChannelTimeTickResponse(status=errors.OK, tick=self._writer.fresh_tick())


def test_two_proxies_writing_concurrently_never_write_below_a_sent_tick():
    """The consumers' rule: once a merged tick T was read on a channel, every later message of
    that channel is above T; and every acknowledged write is covered by a later tick."""
    mq = MemoryMQ()
    alloc = _tso()
    channels = [A, B, C]
    sync = TimeTickSync(mq, lambda: channels, alloc, interval=0.005)

    def reporter(msg):
        sync.report(msg.base.sourceID, TickReport.from_msg(msg), msg.immediate)

    writers = {sid: ChannelWriter(mq, alloc, reporter, interval=0.005, source_id=sid) for sid in (1, 2)}
    for sid, writer in writers.items():
        sync.add_proxy(sid, _LocalProxy(writer))
    sync.open()
    sync.start()
    for writer in writers.values():
        writer.start()
    stop = threading.Event()
    acknowledged: list[int] = []
    lock = threading.Lock()

    def client(writer: ChannelWriter, seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            names = rng.sample(channels, rng.randint(1, 2))

            def build(ts: int, names=names):
                time.sleep(rng.random() * 0.003)  # a slow send keeps the channel busy
                return {n: [("v", _insert(ts))] for n in names}

            ts = writer.write(names, build)
            with lock:
                acknowledged.append(ts)

    threads = [threading.Thread(target=client, args=(writers[1 + k % 2], k)) for k in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    last = max(acknowledged)
    try:
        wait_for(lambda: all(mq.ticks(c) and mq.ticks(c)[-1] >= last for c in channels),
                 message="ticks covering every acknowledged write")
    finally:
        for writer in writers.values():
            writer.stop()
        sync.stop()
    assert len(acknowledged) > 50
    for channel in channels:
        seen_tick = 0
        ticks = 0
        for envelope in mq.log(channel):
            if envelope.kind == msgstream_pb2.TIME_TICK:
                assert envelope.end_ts > seen_tick
                seen_tick = envelope.end_ts
                ticks += 1
            else:
                assert envelope.end_ts > seen_tick, f"{channel}: a write at {envelope.end_ts} after tick {seen_tick}"
        assert ticks > 5
