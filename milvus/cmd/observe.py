"""What the composition root hangs on each role to observe it: the metric hooks of its
RPCs and background work, and the collectors reading its state at scrape time.

Roles never see the registry: they get plain callbacks (``on_sync``, ``on_build``) or are
read through what they already offer (``health()``, ``GetDataDistribution``, counters).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from milvus._proto import querynode_pb2
from milvus.metrics import MetricsRegistry
from milvus.metrics.families import FAIL, SUCCESS
from milvus.metrics.hooks import PublicServiceMetrics, Wrap, rpc_wrap
from milvus.rpc import WrapInterceptor
from milvus.tso import parse_ts

log = logging.getLogger(__name__)


def internal_wrap(metrics: MetricsRegistry, role: str) -> Wrap:
    """The ``wrap`` recording the internal service calls of ``role``."""
    return rpc_wrap(metrics.milvus, role)


def internal_interceptor(metrics: MetricsRegistry, role: str) -> WrapInterceptor:
    return WrapInterceptor(internal_wrap(metrics, role))


def public_metrics(metrics: MetricsRegistry, node_id: int | str) -> PublicServiceMetrics:
    return PublicServiceMetrics(metrics.milvus, node_id)


def on_sync(metrics: MetricsRegistry) -> Callable[[bool, float, int], None]:
    """The data node's sync observer: flush count, latency and rows."""
    m = metrics.milvus

    def observe(ok: bool, seconds: float, rows: int) -> None:
        m.datanode_flush_count.labels(SUCCESS if ok else FAIL).inc()
        if ok:
            m.datanode_flush_latency.observe(seconds * 1000.0)
            m.datanode_flushed_rows.inc(rows)

    return observe


def on_build(metrics: MetricsRegistry) -> Callable[[bool, float], None]:
    """The index node's build observer: builds by status and their duration."""
    m = metrics.milvus

    def observe(ok: bool, seconds: float) -> None:
        m.indexnode_task_count.labels(SUCCESS if ok else FAIL).inc()
        if ok:
            m.indexnode_build_latency.observe(seconds * 1000.0)

    return observe


class RoleStateCollector(Collector):
    """Reads one role's state at scrape time; a failing read leaves its families out."""

    def __init__(self, role: str, logic: Any, node_id: int | str = ""):
        self._role = role
        self._logic = logic
        self._node = str(node_id)
        self._read = _READERS.get(role)

    def describe(self) -> list:
        return []  # families vary with what the role holds: never checked at registration

    def collect(self) -> Iterator:
        if self._read is None:
            return
        try:
            families = list(self._read(self._logic, self._node))
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail on one role
            log.debug("reading %s state for metrics failed: %r", self._role, exc)
            return
        yield from families


def _proxy(proxy: Any, node: str) -> Iterator:
    cache = getattr(proxy, "proxy", proxy).cache
    family = CounterMetricFamily("milvus_proxy_cache_hit_count", "Collection meta cache lookups by outcome.",
                                 labels=("node_id", "cache_state"))
    family.add_metric((node, "hit"), cache.hits)
    family.add_metric((node, "miss"), cache.misses)
    yield family


def _rootcoord(rootcoord: Any, _node: str) -> Iterator:
    _ok, detail = rootcoord.health()
    if "collections" in detail:
        yield GaugeMetricFamily("milvus_rootcoord_collection_num", "Collections in the cluster.",
                                value=detail["collections"])


def _datacoord(datacoord: Any, _node: str) -> Iterator:
    family = GaugeMetricFamily("milvus_datacoord_segment_num", "Segments known to the data coordinator by state.",
                               labels=("segment_state",))
    for state, count in sorted(datacoord.segment_state_counts().items()):
        family.add_metric((state,), count)
    yield family


def _querynode(querynode: Any, node: str) -> Iterator:
    dist = querynode.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    now_ms = time.time() * 1000.0
    lag = GaugeMetricFamily("milvus_querynode_consume_tt_lag_ms",
                            "Milliseconds the channel's tsafe lags the wall clock.", labels=("node_id", "channel_name"))
    for channel in dist.channels:
        if channel.tsafe:
            lag.add_metric((node, channel.channel_name), max(0.0, now_ms - parse_ts(channel.tsafe)[0]))
    segments = GaugeMetricFamily("milvus_querynode_segment_num", "Segments loaded on the query node by kind.",
                                 labels=("node_id", "segment_state"))
    sealed = sum(1 for s in dist.segments if s.sealed)
    segments.add_metric((node, "Sealed"), sealed)
    segments.add_metric((node, "Growing"), len(dist.segments) - sealed)
    rows = GaugeMetricFamily("milvus_querynode_entity_num", "Rows in the segments loaded on the query node.",
                             labels=("node_id",))
    rows.add_metric((node,), sum(s.num_rows for s in dist.segments))
    deletes = GaugeMetricFamily("milvus_querynode_delete_buffer_row_num",
                                "Deletes the channel's delete log holds on the query node.",
                                labels=("node_id", "channel_name"))
    for channel in dist.channels:
        deletes.add_metric((node, channel.channel_name), channel.delete_rows)
    yield from (lag, segments, rows, deletes)


def _indexnode(indexnode: Any, node: str) -> Iterator:
    _ok, detail = indexnode.health()
    family = GaugeMetricFamily("milvus_indexnode_index_task_num", "Index builds by state (queued / running).",
                               labels=("node_id", "state"))
    family.add_metric((node, "queued"), detail.get("queued", 0))
    family.add_metric((node, "running"), detail.get("running", 0))
    yield family


_READERS: dict[str, Callable[[Any, str], Iterator]] = {
    "proxy": _proxy,
    "rootcoord": _rootcoord,
    "datacoord": _datacoord,
    "querynode": _querynode,
    "indexnode": _indexnode,
}


def observe_role(metrics: MetricsRegistry, role: str, logic: Any, node_id: int | str = "") -> RoleStateCollector:
    """Register the collector of ``role``'s state; unregister it (``unobserve``) on stop."""
    collector = RoleStateCollector(role, logic, node_id)
    metrics.register(collector)
    return collector


def unobserve(metrics: MetricsRegistry, collector: RoleStateCollector) -> None:
    try:
        metrics.unregister(collector)
    except KeyError:
        pass
