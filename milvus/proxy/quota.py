"""Flow control of writes: insert, upsert and delete are refused with ``RateLimited`` (Milvus
code 8, ``ErrorCode.RateLimit``) instead of being accepted when the data path cannot keep up,
and accepted again once it caught up.  Nothing is queued: a refused request wrote nothing.

Three guards, each under Milvus' ``quotaAndLimits.*`` settings (``QuotaParams``):

* time-tick protection (``limitWriting.ttProtection``): a collection's writes are refused
  while the newest time tick a data node consumed on one of its vchannels lags the present
  (the newest time tick: proxies tick every ``proxy.timeTickInterval``) by more than
  ``maxTimeTickDelay`` seconds.  Each data node channel reports its consumed time tick to the
  data coordinator every ``dataNode.checkpoint.updateInterval`` (``ReportTimeTicks``; not the
  checkpoint, which stays behind while rows are buffered); the proxy asks the data
  coordinator (``GetChannelTimeTicks``) and keeps the answer ``quotaCenterCollectInterval``
  seconds.  A paused, stuck or dead data node stops reporting, so its channels' time ticks
  age; a channel never reported on (new, not yet consumed) does not count.
* memory protection (``limitWriting.memProtection``): refused once the memory in use passes
  ``dataNodeMemoryHighWaterLevel`` (a fraction of the memory available), accepted again once
  below ``dataNodeMemoryLowWaterLevel``.  Measured here: this process' resident memory over
  the machine's (or cgroup's) memory; in a one-process deployment that is the data node's.
* static rates (``dml.insertRate.max`` and ``dml.deleteRate.max``, MB/s, with ``dml.enabled``):
  a token bucket holding one second of the rate; upserts count as inserts.

pymilvus (2.4 and later, 3.x) retries ``RateLimit`` answers itself by default (exponential
backoff up to 3 s, until the call's ``timeout`` or 75 tries); with ``retry_on_rate_limit=False``
the ``MilvusException`` (code 8) reaches the caller at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2
from milvus.tso import parse_ts

log = logging.getLogger(__name__)

INSERT = "insert"
UPSERT = "upsert"
DELETE = "delete"
_MB = 1024 * 1024


@dataclass(frozen=True)
class QuotaParams:
    enabled: bool = True
    collect_interval: float = 3.0
    tt_protection: bool = False
    max_time_tick_delay: float = 300.0
    mem_protection: bool = True
    mem_low_water: float = 0.85
    mem_high_water: float = 0.95
    dml_limits: bool = False
    insert_rate_mb: float = -1.0  # <= 0: no limit
    delete_rate_mb: float = -1.0

    @classmethod
    def from_config(cls, config: Any) -> QuotaParams:
        q = "quotaAndLimits."
        w = q + "limitWriting."
        return cls(
            enabled=config[q + "enabled"], collect_interval=config[q + "quotaCenterCollectInterval"],
            tt_protection=config[w + "ttProtection.enabled"],
            max_time_tick_delay=config[w + "ttProtection.maxTimeTickDelay"],
            mem_protection=config[w + "memProtection.enabled"],
            mem_low_water=config[w + "memProtection.dataNodeMemoryLowWaterLevel"],
            mem_high_water=config[w + "memProtection.dataNodeMemoryHighWaterLevel"],
            dml_limits=config[q + "dml.enabled"], insert_rate_mb=config[q + "dml.insertRate.max"],
            delete_rate_mb=config[q + "dml.deleteRate.max"],
        )


def process_memory_fraction() -> float:
    """This process' resident memory over the memory it may use (the cgroup limit when one
    is set, else the machine's)."""
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, IndexError):
        return 0.0
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
            if text.isdigit() and 0 < int(text) < total:
                total = int(text)
                break
        except OSError:
            continue
    return rss / total if total > 0 else 0.0


class _Bucket:
    """Tokens in bytes, refilled at ``rate`` per second, holding at most one second's worth;
    a request is let through while the bucket is not empty (it may go below zero)."""

    def __init__(self, rate: float, now: float):
        self.rate = rate
        self.tokens = rate
        self.at = now

    def take(self, amount: int, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens <= 0:
            return False
        self.tokens -= amount
        return True


class QuotaCenter:
    """``datacoord`` is a caller (``milvus.proxy.callers.Caller``): ``datacoord(method, request)``."""

    def __init__(self, params: QuotaParams, datacoord: Callable[[str, Any], Any] | None = None, *,
                 memory: Callable[[], float] = process_memory_fraction, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time):
        self._params = params
        self._datacoord = datacoord
        self._memory = memory
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._lagging: dict[int, tuple[float, bool]] = {}  # collection -> (checked at, lagging)
        self._memory_checked = float("-inf")
        self._memory_high = False
        now = clock()
        self._buckets = {
            INSERT: _Bucket(params.insert_rate_mb * _MB, now) if params.insert_rate_mb > 0 else None,
            DELETE: _Bucket(params.delete_rate_mb * _MB, now) if params.delete_rate_mb > 0 else None,
        }

    def check(self, kind: str, collection_id: int, created_ts: int = 0, nbytes: Callable[[], int] | None = None
              ) -> None:
        """Raise ``RateLimited`` when a write of ``kind`` to the collection must wait."""
        p = self._params
        if not p.enabled:
            return
        if p.mem_protection:
            self._check_memory()
        if p.tt_protection and self._datacoord is not None:
            self._check_time_tick(collection_id, created_ts)
        if p.dml_limits:
            bucket = self._buckets[DELETE if kind == DELETE else INSERT]
            if bucket is not None:
                with self._lock:
                    allowed = bucket.take(nbytes() if nbytes is not None else 0, self._clock())
                if not allowed:
                    rate = p.delete_rate_mb if kind == DELETE else p.insert_rate_mb
                    raise errors.RateLimited(f"rate limit exceeded[rate={rate}MB/s, request={kind}]")

    def _check_memory(self) -> None:
        now = self._clock()
        with self._lock:
            if now - self._memory_checked >= min(1.0, self._params.collect_interval):
                used = self._memory()
                self._memory_checked = now
                was = self._memory_high
                if used >= self._params.mem_high_water:
                    self._memory_high = True
                elif used < self._params.mem_low_water:
                    self._memory_high = False
                if was != self._memory_high:
                    log.warning("memory in use %.2f: writes %s", used, "refused" if self._memory_high else "accepted")
            high = self._memory_high
        if high:
            raise errors.RateLimited(
                f"quota exceeded[reason=memory quota exhausted: memory in use passed "
                f"{self._params.mem_high_water:g} (accepted again below {self._params.mem_low_water:g})]")

    def _check_time_tick(self, collection_id: int, created_ts: int) -> None:
        p = self._params
        delay_ms = int(p.max_time_tick_delay * 1000)
        wall_ms = int(self._wall() * 1000)
        if created_ts and parse_ts(created_ts)[0] > wall_ms - delay_ms:
            return  # younger than the delay: it cannot lag by more
        now = self._clock()
        with self._lock:
            cached = self._lagging.get(collection_id)
        if cached is None or now - cached[0] >= p.collect_interval:
            request = datacoord_pb2.GetChannelTimeTicksRequest(collectionID=collection_id)
            try:
                ticks = self._datacoord("GetChannelTimeTicks", request).time_ticks
                lagging = any(parse_ts(t.timestamp)[0] < wall_ms - delay_ms for t in ticks)
            except errors.MilvusError as exc:
                log.warning("time tick lag of collection %d unknown: %s", collection_id, exc)
                lagging = cached[1] if cached is not None else False
            if cached is None or cached[1] != lagging:
                log.warning("collection %d: data nodes %s", collection_id,
                            f"lag more than {p.max_time_tick_delay}s: writes refused" if lagging
                            else "caught up: writes accepted")
            cached = (now, lagging)
            with self._lock:
                self._lagging[collection_id] = cached
        if cached[1]:
            raise errors.RateLimited(
                f"quota exceeded[reason=time tick long delay: a channel of collection {collection_id} was consumed "
                f"more than {p.max_time_tick_delay}s behind the newest time tick]")

    def forget(self, collection_id: int) -> None:
        with self._lock:
            self._lagging.pop(collection_id, None)
