"""Ordered writes to the physical DML channels, and this proxy's time tick (docs/datapath.md).

``write`` takes every pchannel lock a request needs (in name order), allocates one
timestamp T, builds the request's envelopes for T and sends them; so this proxy's timestamps
on one pchannel never go backwards.

Time ticks.  The proxy sends no ``TIME_TICK`` itself: several proxies write the same
pchannels, and one proxy's tick says nothing about another's writes.  Instead it reports its
tick to the root coordinator, which merges the ticks of every live proxy and sends the
merged one on each pchannel (``milvus.rootcoord.timetick``).  A tick (``fresh_tick``) is a
timestamp R allocated first, then a barrier on each active pchannel's lock: a write that got
its timestamp before R holds that lock until its envelopes are durable, and any later write
gets a timestamp above R.  So "nothing more at or below R" holds on every pchannel whose
barrier passed, and on every pchannel not active yet; a pchannel whose barrier did not pass
within ``interval`` (a long write in flight) keeps its previous tick.

A background thread reports every ``interval`` seconds, and at once when ``kick`` asks (a
Strong read or a flush waiting for tsafe; a Session read waiting for its client's last write,
``kick_past``, when no tick past that write was reported yet): then the report is *immediate*
and the root coordinator merges and sends before answering.  A write asks for no tick of its
own: serial single-row inserts each set off a whole tick round (report, merge, a tick message
per pchannel, consumed by every node), about a tenth of their cost, whether or not anything
read them.  No write is sent before the root coordinator
accepted a report of this proxy (so it counts this proxy before it can miss a write of it);
a refused report (``NodeNotFound``: the proxy's session expired) stops the writes until a
report is accepted again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack

from milvus import errors
from milvus._proto import msgstream_pb2, rootcoord_pb2
from milvus.mq import MQ

log = logging.getLogger(__name__)

# (vchannel, envelope) pairs for one pchannel, built once the timestamp is known
Build = Callable[[int], dict[str, list[tuple[str, msgstream_pb2.Envelope]]]]
# sends a tick to the root coordinator (UpdateChannelTimeTick); raises when refused
Report = Callable[[rootcoord_pb2.ChannelTimeTickMsg], None]


class ChannelWriter:
    def __init__(self, mq: MQ, alloc_ts: Callable[[], int], report: Report, *, interval: float = 0.2,
                 source_id: int = 0, accept_timeout: float = 30.0):
        """``accept_timeout``: how long a write waits for the root coordinator to accept this
        proxy's tick before it fails with ServiceNotReady."""
        self._mq = mq
        self._alloc_ts = alloc_ts
        self._report = report
        self._interval = interval
        self._source_id = source_id
        self._accept_timeout = accept_timeout
        self._lock = threading.Lock()  # guards the two dicts
        self._producers: dict[str, object] = {}
        self._channel_locks: dict[str, threading.Lock] = {}
        self._tick_lock = threading.Lock()  # one tick at a time; guards the two below
        self._promised: dict[str, int] = {}  # per pchannel, the newest tick given for it
        self._promised_default = 0  # ... for the pchannels not in ``_promised``
        self._reported = 0  # the newest tick the root coordinator accepted from this proxy
        self._accepted = threading.Event()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._kick.set()  # report at once: writes wait for the first accepted report
        self._thread = threading.Thread(target=self._loop, name="proxy-timetick", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
        with self._lock:
            producers, self._producers = list(self._producers.values()), {}
        for producer in producers:
            producer.close()

    # ---- writes ---------------------------------------------------------------------

    def activate(self, pchannels: Iterable[str]) -> None:
        producers = self._producers  # read without the lock: a pchannel once there stays until stop()
        for pchannel in pchannels:
            if pchannel not in producers:
                self._channel(pchannel)

    def _channel(self, pchannel: str) -> tuple[object, threading.Lock]:
        with self._lock:
            producer = self._producers.get(pchannel)
            if producer is None:
                producer = self._producers[pchannel] = self._mq.create_producer(pchannel)
                self._channel_locks[pchannel] = threading.Lock()
            return producer, self._channel_locks[pchannel]

    def write(self, pchannels: Iterable[str], build: Build) -> int:
        """Send what ``build(T)`` returns (per pchannel) under the pchannels' locks; returns T
        once every send is durable."""
        if not self._accepted.is_set() and not self._accepted.wait(self._accept_timeout):
            raise errors.ServiceNotReady("the root coordinator has not accepted this proxy's time tick yet")
        names = sorted(set(pchannels))
        channels = {name: self._channel(name) for name in names}
        with ExitStack() as stack:
            for name in names:
                stack.enter_context(channels[name][1])
            ts = self._alloc_ts()
            for pchannel, messages in build(ts).items():
                producer = channels[pchannel][0]
                for vchannel, envelope in messages:
                    envelope.source_id = self._source_id
                    producer.send(envelope.SerializeToString(), {"vchannel": vchannel})
        # no tick asked for here: a read that must see this write asks for one (``kick_past``)
        return ts

    # ---- time ticks -----------------------------------------------------------------

    def kick(self) -> None:
        """Report an immediate tick now (asynchronously): a reader waits for tsafe to pass a
        fresh timestamp."""
        self._kick.set()

    def kick_past(self, ts: int) -> None:
        """``kick`` unless a tick at or above ``ts`` was reported already: a Session read waits
        for its client's last write (``ts``)."""
        if ts > self._reported:
            self._kick.set()

    @property
    def accepted(self) -> bool:
        return self._accepted.is_set()

    def fresh_tick(self) -> rootcoord_pb2.ChannelTimeTickMsg:
        """This proxy's tick now: nothing more at or below it will be sent (see the module doc)."""
        with self._tick_lock:
            ts = self._alloc_ts()
            with self._lock:
                channels = sorted(self._channel_locks.items())
            behind: dict[str, int] = {}
            for name, lock in channels:
                if lock.acquire(timeout=self._interval):
                    lock.release()
                else:  # a long write in flight: its previous promise still holds
                    behind[name] = self._promised.get(name, self._promised_default)
            self._promised = behind
            self._promised_default = ts
            msg = rootcoord_pb2.ChannelTimeTickMsg(default_timestamp=ts, channel_names=list(behind),
                                                   timestamps=list(behind.values()))
            msg.base.sourceID = self._source_id
            return msg

    def tick(self, immediate: bool = False) -> None:
        """Report a fresh tick to the root coordinator."""
        msg = self.fresh_tick()
        msg.immediate = immediate
        try:
            self._report(msg)
        except errors.NodeNotFound:
            if self._accepted.is_set():
                log.error("the root coordinator refused this proxy's time tick (its session expired?): "
                          "writes are refused until it accepts one")
            self._accepted.clear()
            raise
        self._reported = max(self._reported, msg.default_timestamp)
        self._accepted.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            immediate = self._kick.wait(self._interval)
            self._kick.clear()
            if self._stop.is_set():
                return
            try:
                self.tick(immediate=immediate)
            except Exception as exc:  # noqa: BLE001 - a failed tick is retried next round
                log.warning("time tick report failed: %s", exc)
