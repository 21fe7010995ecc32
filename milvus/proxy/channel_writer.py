"""Ordered writes to the physical DML channels and the proxy's time ticks (docs/datapath.md).

``write`` takes every pchannel lock a request needs (in name order), allocates one
timestamp T, builds the request's envelopes for T and sends them; so timestamps on one
pchannel never go backwards.  A background thread sends a ``TIME_TICK`` on every active
pchannel each ``interval`` seconds, and at once when ``kick`` asks (a Strong read or a flush
waiting for tsafe).  A pchannel becomes active the first time a request names it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack

from milvus._proto import msgstream_pb2
from milvus.mq import MQ

log = logging.getLogger(__name__)

# (vchannel, envelope) pairs for one pchannel, built once the timestamp is known
Build = Callable[[int], dict[str, list[tuple[str, msgstream_pb2.Envelope]]]]


class ChannelWriter:
    def __init__(self, mq: MQ, alloc_ts: Callable[[], int], *, interval: float = 0.2, source_id: int = 0):
        self._mq = mq
        self._alloc_ts = alloc_ts
        self._interval = interval
        self._source_id = source_id
        self._lock = threading.Lock()  # guards the two dicts
        self._producers: dict[str, object] = {}
        self._channel_locks: dict[str, threading.Lock] = {}
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
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
        for pchannel in pchannels:
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
        # a DML envelope only proves tsafe T-1 (an upsert's delete and insert share T): tick
        # soon so that reads at T need not wait a whole interval
        self.kick()
        return ts

    # ---- time ticks -----------------------------------------------------------------

    def kick(self) -> None:
        """Tick now (asynchronously): a reader waits for tsafe to pass a fresh timestamp."""
        self._kick.set()

    def tick(self) -> None:
        with self._lock:
            names = sorted(self._producers)
        for name in names:
            producer, lock = self._channel(name)
            with lock:
                ts = self._alloc_ts()
                envelope = msgstream_pb2.Envelope(kind=msgstream_pb2.TIME_TICK, begin_ts=ts, end_ts=ts,
                                                  source_id=self._source_id,
                                                  time_tick=msgstream_pb2.TimeTickMsg(source="proxy"))
                producer.send(envelope.SerializeToString(), {"vchannel": ""})

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(self._interval)
            self._kick.clear()
            if self._stop.is_set():
                return
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - a failed tick is retried next round
                log.exception("time tick failed")
