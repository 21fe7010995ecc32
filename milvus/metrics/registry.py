"""The Prometheus registry of one process, with the metrics every role exposes."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, GCCollector, PlatformCollector, ProcessCollector

from milvus.metrics.families import MilvusMetrics


class MetricsRegistry(CollectorRegistry):
    """A private registry (never prometheus_client's global one) built by the composition root.

    Holds the process collectors (memory, CPU, open files, GC, Python version) and
    ``milvus_build_info{version, role}``, and the Milvus families (``.milvus``) the hooks
    of every role record into.
    """

    def __init__(self, role: str, version: str):
        super().__init__(auto_describe=True)
        self.role = role
        ProcessCollector(registry=self)
        PlatformCollector(registry=self)
        GCCollector(registry=self)
        self.build_info = Gauge(
            "milvus_build_info",
            "Build and role of this process (always 1).",
            labelnames=("version", "role"),
            registry=self,
        )
        self.build_info.labels(version=version, role=role).set(1)
        self.milvus = MilvusMetrics(self)
