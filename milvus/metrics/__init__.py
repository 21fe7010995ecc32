"""Prometheus metrics of one process and the HTTP server exposing them with a health check."""

from milvus.metrics.registry import MetricsRegistry
from milvus.metrics.server import MetricsServer

__all__ = ["MetricsRegistry", "MetricsServer"]
