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
* memory protection (``limitWriting.memProtection``): every write is refused while a data
  node's memory in use passes ``dataNodeMemoryHighWaterLevel`` or a query node's passes
  ``queryNodeMemoryHighWaterLevel`` (fractions of the memory available to the node), until
  that node is below its ``...LowWaterLevel`` again (hysteresis per node).  The nodes measure
  themselves (``milvus.util.memory``: the process' resident memory over the cgroup's limit
  or the machine's memory): data nodes report to the data coordinator every
  ``quotaCenterCollectInterval`` (``ReportNodeMemory``), query nodes answer it with the
  distribution the query coordinator asks for every round (``GetDataDistribution``).  The
  proxy asks both coordinators (``GetNodeMemory``) every ``quotaCenterCollectInterval``; a
  report older than ``MEMORY_REPORT_TTL_INTERVALS`` intervals (a dead or stuck node) no longer
  counts, and a node whose session ended is forgotten by its coordinator.  Standalone runs
  the same path: its in-process nodes report the one process' memory, each judged on its own
  (nothing is added up), and the proxy does not measure itself.
* static rates (``dml.insertRate.max`` and ``dml.deleteRate.max``, MB/s, with ``dml.enabled``):
  a token bucket holding one second of the rate; upserts count as inserts.

pymilvus (2.4 and later, 3.x) retries ``RateLimit`` answers itself by default (exponential
backoff up to 3 s, until the call's ``timeout`` or 75 tries); with ``retry_on_rate_limit=False``
the ``MilvusException`` (code 8) reaches the caller at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2, internal_pb2
from milvus.tso import parse_ts

log = logging.getLogger(__name__)

INSERT = "insert"
UPSERT = "upsert"
DELETE = "delete"
DENY_TO_WRITE = "DenyToWrite"  # a milvus.QuotaState name, as CheckHealth reports it
DATANODE = "datanode"
QUERYNODE = "querynode"
_MB = 1024 * 1024
# a node's memory report counts for this many collect intervals
MEMORY_REPORT_TTL_INTERVALS = 10


@dataclass(frozen=True)
class QuotaParams:
    enabled: bool = True
    collect_interval: float = 3.0
    tt_protection: bool = False
    max_time_tick_delay: float = 300.0
    mem_protection: bool = True
    datanode_mem_low_water: float = 0.85
    datanode_mem_high_water: float = 0.95
    querynode_mem_low_water: float = 0.85
    querynode_mem_high_water: float = 0.95
    dml_limits: bool = False
    insert_rate_mb: float = -1.0  # <= 0: no limit
    delete_rate_mb: float = -1.0

    @property
    def memory_levels(self) -> dict[str, tuple[float, float]]:
        """role -> (low, high) water level."""
        return {DATANODE: (self.datanode_mem_low_water, self.datanode_mem_high_water),
                QUERYNODE: (self.querynode_mem_low_water, self.querynode_mem_high_water)}

    @property
    def memory_report_ttl(self) -> float:
        return MEMORY_REPORT_TTL_INTERVALS * self.collect_interval

    @classmethod
    def from_config(cls, config: Any) -> QuotaParams:
        q = "quotaAndLimits."
        w = q + "limitWriting."
        m = w + "memProtection."
        return cls(
            enabled=config[q + "enabled"], collect_interval=config[q + "quotaCenterCollectInterval"],
            tt_protection=config[w + "ttProtection.enabled"],
            max_time_tick_delay=config[w + "ttProtection.maxTimeTickDelay"],
            mem_protection=config[m + "enabled"],
            datanode_mem_low_water=config[m + "dataNodeMemoryLowWaterLevel"],
            datanode_mem_high_water=config[m + "dataNodeMemoryHighWaterLevel"],
            querynode_mem_low_water=config[m + "queryNodeMemoryLowWaterLevel"],
            querynode_mem_high_water=config[m + "queryNodeMemoryHighWaterLevel"],
            dml_limits=config[q + "dml.enabled"], insert_rate_mb=config[q + "dml.insertRate.max"],
            delete_rate_mb=config[q + "dml.deleteRate.max"],
        )


@dataclass(frozen=True)
class NodeMemory:
    """One node's memory report as the proxy sees it: ``age`` seconds old."""

    role: str
    node_id: int
    used: int
    total: int
    age: float = 0.0

    @property
    def fraction(self) -> float:
        return self.used / self.total if self.total > 0 else 0.0


class MemoryGuard:
    """The memory verdict, per node: a node is over once its fraction reaches its role's high
    water level and stays over until it is below the low one.  A report older than ``ttl``,
    of a role without levels, or without a known total does not count (and the node's state
    is forgotten: when it reports again it starts afresh)."""

    def __init__(self, levels: Mapping[str, tuple[float, float]], ttl: float):
        self._levels = dict(levels)
        self._ttl = ttl
        self._over: dict[tuple[str, int], NodeMemory] = {}

    def update(self, reports: Iterable[NodeMemory]) -> None:
        fresh = {(r.role, r.node_id): r for r in reports
                 if r.age <= self._ttl and r.total > 0 and r.role in self._levels}
        over: dict[tuple[str, int], NodeMemory] = {}
        for key, report in sorted(fresh.items()):
            low, high = self._levels[report.role]
            was = key in self._over
            now = report.fraction >= high or (was and report.fraction >= low)
            if now:
                over[key] = report
            if now != was:
                log.warning("%s %d uses %.3f of its memory: writes %s", report.role, report.node_id, report.fraction,
                            "refused" if now else "accepted again")
        for role, node_id in self._over.keys() - fresh.keys():
            log.warning("%s %d no longer reports its memory: its high memory no longer refuses writes", role, node_id)
        self._over = over

    def refusal(self) -> str | None:
        """Why writes are refused now (every node over its level), or None."""
        if not self._over:
            return None
        reasons = []
        for (role, node_id), report in sorted(self._over.items()):
            low, high = self._levels[role]
            reasons.append(f"{role} {node_id} memory usage {report.fraction:.3f} passed the high water level "
                           f"{high:g} (writes accepted again below {low:g})")
        return "; ".join(reasons)


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
    """``datacoord`` and ``querycoord`` are callers (``milvus.proxy.callers.Caller``):
    ``datacoord(method, request)``; a missing one is not asked."""

    def __init__(self, params: QuotaParams, datacoord: Callable[[str, Any], Any] | None = None,
                 querycoord: Callable[[str, Any], Any] | None = None, *,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time):
        self._params = params
        self._datacoord = datacoord
        self._coordinators = [(name, caller) for name, caller in (("datacoord", datacoord), ("querycoord", querycoord))
                              if caller is not None]
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._lagging: dict[int, tuple[float, bool]] = {}  # collection -> (checked at, lagging)
        self._memory_checked = float("-inf")
        # coordinator -> (its nodes' reports, when it answered)
        self._memory_reports: dict[str, tuple[list[internal_pb2.NodeMemory], float]] = {}
        self._memory = MemoryGuard(params.memory_levels, params.memory_report_ttl)
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
        if p.mem_protection and self._coordinators:
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

    def quota_states(self) -> list[tuple[str, str]]:
        """What holds writes back now, as CheckHealth reports it: (``QuotaState`` name, reason)
        pairs, empty when writes are accepted.  Memory is looked at as a write would (asking the
        coordinators at most once per collect interval); a lagging collection counts while its
        last verdict is younger than one collect interval."""
        p = self._params
        if not p.enabled:
            return []
        states = []
        if p.mem_protection and self._coordinators:
            try:
                self._check_memory()
            except errors.RateLimited as exc:
                states.append((DENY_TO_WRITE, exc.message))
        if p.tt_protection:
            now = self._clock()
            with self._lock:
                lagging = sorted(cid for cid, (at, lag) in self._lagging.items()
                                 if lag and now - at < p.collect_interval)
            if lagging:
                states.append((DENY_TO_WRITE, f"quota exceeded[reason=time tick long delay: collections {lagging} "
                                              f"were consumed more than {p.max_time_tick_delay}s behind the newest "
                                              "time tick]"))
        return states

    def _check_memory(self) -> None:
        now = self._clock()
        with self._lock:
            due = now - self._memory_checked >= self._params.collect_interval
            if due:
                self._memory_checked = now  # one caller collects; the others go by the last verdict
        if due:
            answers = {}
            for name, caller in self._coordinators:
                try:
                    answers[name] = (list(caller("GetNodeMemory", internal_pb2.GetNodeMemoryRequest()).nodes),
                                     self._clock())
                except errors.MilvusError as exc:  # its last answer stays, aging
                    log.warning("memory of the %s's nodes unknown: %s", name, exc)
            with self._lock:
                self._memory_reports.update(answers)
                now = self._clock()
                self._memory.update(
                    NodeMemory(r.role, r.node_id, r.used_bytes, r.total_bytes, r.age_ms / 1000 + now - at)
                    for reports, at in self._memory_reports.values() for r in reports)
        with self._lock:
            refusal = self._memory.refusal()
        if refusal is not None:
            raise errors.RateLimited(f"quota exceeded[reason=memory quota exhausted: {refusal}]")

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
