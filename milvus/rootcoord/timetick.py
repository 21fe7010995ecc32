"""Merged time ticks: the one clock the DML channels' consumers trust (docs/datapath.md).

Every proxy reports, per physical DML channel, the timestamp at or below which it will send
nothing more (its *tick*; ``TickReport``).  The root coordinator keeps the newest report of
each live proxy and sends, on every physical channel in use, a ``TIME_TICK`` envelope at the
merged tick: the smallest tick any live proxy gave for that channel (``merge_ticks``).  A
consumer that has read a merged tick T has read every message with a timestamp <= T, from
every proxy; query and data nodes advance tsafe from those ticks only.

Which proxies count (``TimeTickSync``):
- every proxy with a live session (``add_proxy`` / ``remove_proxy``, driven by discovery),
  and every proxy that reported but whose session is not seen yet (it reports before it
  announces itself; it is dropped if no session shows up within ``unconfirmed_ttl``);
- a proxy that is known but has not reported yet holds every channel back, so a proxy
  counts before it writes (its writes wait until a report of it was accepted);
- a proxy whose session expired (killed, partitioned) stops counting: reads are held back at
  most one session TTL by a dead proxy.  Its later reports are refused (``NodeNotFound``).
- nothing is sent before ``open`` (the proxy set read from discovery), so a restarted root
  coordinator never ticks past a proxy it has not heard of yet.

``report(..., immediate=True)`` (a Strong read or a flush waits on this tick) merges and
sends at once, after asking every other proxy for a fresh tick; concurrent immediate reports
share one round.  Otherwise rounds run every ``interval`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from milvus import errors
from milvus._proto import msgstream_pb2, proxy_pb2, rootcoord_pb2
from milvus.mq import MQ

log = logging.getLogger(__name__)

_NO_CHANNELS: Mapping[str, int] = MappingProxyType({})
# the least time a proxy that reported may take to announce its session (it starts before)
UNCONFIRMED_GRACE = 30.0


# ---- the merge rule (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class TickReport:
    """One proxy's promise: on channel ``c`` nothing more at or below ``at(c)`` will come.
    ``channels`` lists the channels whose tick is older than ``default_ts``."""

    default_ts: int
    channels: Mapping[str, int] = field(default_factory=lambda: _NO_CHANNELS)

    def at(self, channel: str) -> int:
        return self.channels.get(channel, self.default_ts)

    def combine(self, newer: TickReport) -> TickReport:
        """Both promises hold, so the larger tick of each channel does."""
        default = max(self.default_ts, newer.default_ts)
        names = set(self.channels) | set(newer.channels)
        channels = {c: ts for c in names if (ts := max(self.at(c), newer.at(c))) < default}
        return TickReport(default, MappingProxyType(channels) if channels else _NO_CHANNELS)

    @classmethod
    def from_msg(cls, msg: rootcoord_pb2.ChannelTimeTickMsg) -> TickReport:
        if len(msg.channel_names) != len(msg.timestamps):
            raise errors.ParameterInvalid(
                f"time tick with {len(msg.channel_names)} channels and {len(msg.timestamps)} timestamps")
        channels = {c: ts for c, ts in zip(msg.channel_names, msg.timestamps, strict=True)
                    if ts < msg.default_timestamp}
        return cls(msg.default_timestamp, MappingProxyType(channels) if channels else _NO_CHANNELS)


def merge_ticks(reports: Iterable[TickReport | None], channels: Iterable[str],
                fresh: Callable[[], int] | None = None) -> dict[str, int]:
    """The merged tick of each channel: the smallest tick the proxies gave for it.

    ``None`` (a known proxy that has not reported yet) holds every channel back: the answer is
    empty.  Without any proxy nobody can write below a timestamp allocated now: ``fresh()``
    then gives every channel's tick (nothing when ``fresh`` is None)."""
    reports = list(reports)
    names = list(channels)
    if any(r is None for r in reports):
        return {}
    if not reports:
        if fresh is None or not names:
            return {}
        ts = fresh()
        return {c: ts for c in names}
    return {c: min(r.at(c) for r in reports if r is not None) for c in names}


# ---- the root coordinator's side -----------------------------------------------------------


@dataclass
class _Proxy:
    client: Any  # the proxy's internal service, to ask for a fresh tick (None: cannot ask)
    confirmed: bool  # its session is live
    since: float  # when it was first heard of
    report: TickReport | None = None


class TimeTickSync:
    """Keeps the proxies' reports, merges them and sends the merged ticks.  Thread-safe."""

    def __init__(self, mq: MQ, channels: Callable[[], Iterable[str]], alloc_ts: Callable[[], int], *,
                 interval: float = 0.2, unconfirmed_ttl: float = 30.0, ask_timeout: float = 2.0,
                 source_id: int = 0, clock: Callable[[], float] = time.monotonic):
        """``channels()``: the physical channels to tick (those in use); ``alloc_ts()``: a
        fresh timestamp (ticks while no proxy exists)."""
        self._mq = mq
        self._channels = channels
        self._alloc_ts = alloc_ts
        self._interval = interval
        self._unconfirmed_ttl = unconfirmed_ttl
        self._ask_timeout = ask_timeout
        self._source_id = source_id
        self._clock = clock
        self._lock = threading.Lock()  # the proxies, the tickets
        self._proxies: dict[int, _Proxy] = {}
        self._gone: set[int] = set()  # sessions seen to end: their reports are refused
        self._open = False
        self._expect: set[int] = set()
        self._round_lock = threading.Lock()  # one round at a time; guards what follows
        self._sent: dict[str, int] = {}
        self._producers: dict[str, Any] = {}
        self._asked = 0  # immediate round tickets handed out
        self._served = 0  # tickets covered by a finished round
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="rootcoord-timetick", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)
        with self._round_lock:
            producers, self._producers = list(self._producers.values()), {}
        for producer in producers:
            try:
                producer.close()
            except Exception:  # noqa: BLE001 - closing on the way out
                log.warning("closing a time tick producer failed", exc_info=True)

    def open(self, expect: Iterable[int] = ()) -> None:
        """The proxy set is known: ticks may be sent once each proxy in ``expect`` (the live
        sessions discovery listed) was added or removed."""
        with self._lock:
            self._expect = set(expect)
            self._open = True

    # ---- the proxy set ----------------------------------------------------------------------

    def add_proxy(self, server_id: int, client: Any = None) -> None:
        """A proxy's session is live: it counts (and holds the ticks back until it reports)."""
        with self._lock:
            self._gone.discard(server_id)
            entry = self._proxies.get(server_id)
            if entry is None:
                self._proxies[server_id] = _Proxy(client, True, self._clock())
            else:
                entry.confirmed = True
                entry.client = client if client is not None else entry.client
        log.info("time tick: proxy %d joined", server_id)

    def remove_proxy(self, server_id: int) -> None:
        """A proxy's session ended: it no longer holds the ticks back."""
        with self._lock:
            self._gone.add(server_id)
            known = self._proxies.pop(server_id, None) is not None
        if known:
            log.info("time tick: proxy %d left; the ticks no longer wait for it", server_id)

    def proxies(self) -> dict[int, int | None]:
        """Each counted proxy's default tick (None: no report yet)."""
        with self._lock:
            return {sid: (p.report.default_ts if p.report else None) for sid, p in self._proxies.items()}

    def sent(self) -> dict[str, int]:
        """The last merged tick sent on each channel."""
        with self._round_lock:
            return dict(self._sent)

    # ---- reports ------------------------------------------------------------------------------

    def report(self, server_id: int, report: TickReport, immediate: bool = False) -> None:
        """Record a proxy's tick; with ``immediate``, merge and send before returning."""
        with self._lock:
            self._record(server_id, report)
            if immediate:
                self._asked += 1
                ticket = self._asked
        if immediate:
            self._immediate(ticket, exclude=server_id)

    def _record(self, server_id: int, report: TickReport) -> None:
        if server_id in self._gone:
            raise errors.NodeNotFound(f"proxy {server_id} has no live session: its time tick is refused")
        entry = self._proxies.get(server_id)
        if entry is None:
            entry = self._proxies[server_id] = _Proxy(None, False, self._clock())
            log.info("time tick: proxy %d reported before its session was seen", server_id)
        entry.report = report if entry.report is None else entry.report.combine(report)

    def _immediate(self, ticket: int, exclude: int) -> None:
        with self._round_lock:
            with self._lock:
                if self._served >= ticket:
                    return  # a round that began after this report covered it
                covered = self._asked
            self._ask_fresh(exclude)
            self._round()
            with self._lock:
                self._served = max(self._served, covered)

    def _ask_fresh(self, exclude: int) -> None:
        """Ask the other proxies for a fresh tick (a reader waits for one newer than theirs)."""
        with self._lock:
            others = [(sid, p.client) for sid, p in self._proxies.items() if sid != exclude and p.client is not None]
        for server_id, client in others:
            try:
                response = client.GetChannelTimeTick(proxy_pb2.GetChannelTimeTickRequest(),
                                                      timeout=self._ask_timeout)
                errors.check_status(response.status)
                fresh = TickReport.from_msg(response.tick)
            except Exception as exc:  # noqa: BLE001 - its last report stands; it ticks on its own
                log.debug("time tick: proxy %d did not give a fresh tick: %s", server_id, exc)
                continue
            with self._lock:
                try:
                    self._record(server_id, fresh)
                except errors.NodeNotFound:
                    pass  # it left meanwhile

    # ---- rounds -------------------------------------------------------------------------------

    def tick_now(self) -> dict[str, int]:
        """One round now (without asking the proxies); the ticks it sent."""
        with self._round_lock:
            return self._round()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._round_lock:
                    self._round()
            except Exception:  # noqa: BLE001 - the next round retries
                log.exception("time tick round failed")

    def _round(self) -> dict[str, int]:
        """Merge and send (holding ``_round_lock``); the ticks sent."""
        now = self._clock()
        with self._lock:
            self._expect -= self._proxies.keys() | self._gone
            if not self._open or self._expect or self._stop.is_set():
                return {}
            for server_id, entry in list(self._proxies.items()):
                if not entry.confirmed and now - entry.since > self._unconfirmed_ttl:
                    del self._proxies[server_id]
                    self._gone.add(server_id)
                    log.warning("time tick: proxy %d reported but no session of it showed up in %.0f s; "
                                "the ticks no longer wait for it", server_id, self._unconfirmed_ttl)
            reports = [p.report for p in self._proxies.values()]
        merged = merge_ticks(reports, self._channels(), self._alloc_ts)
        sent = {}
        for channel, ts in merged.items():
            if ts <= self._sent.get(channel, 0):
                continue
            try:
                self._send(channel, ts)
            except Exception as exc:  # noqa: BLE001 - this channel is ticked again next round
                log.warning("time tick on %s failed: %s", channel, exc)
                continue
            self._sent[channel] = sent[channel] = ts
        return sent

    def _send(self, channel: str, ts: int) -> None:
        producer = self._producers.get(channel)
        if producer is None:
            producer = self._producers[channel] = self._mq.create_producer(channel)
        envelope = msgstream_pb2.Envelope(kind=msgstream_pb2.TIME_TICK, begin_ts=ts, end_ts=ts,
                                          source_id=self._source_id,
                                          time_tick=msgstream_pb2.TimeTickMsg(source="rootcoord"))
        producer.send(envelope.SerializeToString(), {"vchannel": ""})
