"""The metric families every role reports, named as Milvus names them (``pkg/metrics``).

Built once per process on its ``MetricsRegistry`` (never on prometheus_client's global
registry).  These are the families recorded as events happen; the gauges of a role's state (segments
by state, tsafe lag, cache hits, queued builds) are read at scrape time by the composition
root's collectors.  Labels are bounded: RPC method names come from the service descriptors,
states and operation types from small fixed sets.  Latencies are in milliseconds, as Milvus
reports them.  prometheus_client exposes a counter ``x`` as ``x_total``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# milliseconds: 1 ms .. ~1 min
LATENCY_MS_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000)
NQ_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)

SUCCESS = "success"
FAIL = "fail"


class MilvusMetrics:
    """The families; role-independent, so one standalone process reports them all."""

    def __init__(self, registry: CollectorRegistry):
        r = registry
        # ---- proxy: the public MilvusService ----------------------------------------------
        self.proxy_req_count = Counter(
            "milvus_proxy_req_count", "MilvusService calls by method and status.",
            ("node_id", "function_name", "status"), registry=r)
        self.proxy_req_latency = Histogram(
            "milvus_proxy_req_latency", "MilvusService call latency (ms) by method.",
            ("node_id", "function_name"), buckets=LATENCY_MS_BUCKETS, registry=r)
        self.proxy_insert_vectors = Counter(
            "milvus_proxy_insert_vectors_count", "Rows inserted or upserted through the proxy.",
            ("node_id",), registry=r)
        self.proxy_delete_vectors = Counter(
            "milvus_proxy_delete_vectors_count", "Rows deleted through the proxy.", ("node_id",), registry=r)
        self.proxy_search_vectors = Counter(
            "milvus_proxy_search_vectors_count", "Query vectors (nq) searched through the proxy.",
            ("node_id",), registry=r)
        self.proxy_sq_latency = Histogram(
            "milvus_proxy_sq_latency", "Search / query latency at the proxy (ms).",
            ("node_id", "query_type"), buckets=LATENCY_MS_BUCKETS, registry=r)
        # ---- internal services (every role) ------------------------------------------------
        self.rpc_req_count = Counter(
            "milvus_internal_rpc_req_count", "Internal service calls by role, method and status.",
            ("role", "function_name", "status"), registry=r)
        self.rpc_req_latency = Histogram(
            "milvus_internal_rpc_req_latency", "Internal service call latency (ms) by role and method.",
            ("role", "function_name"), buckets=LATENCY_MS_BUCKETS, registry=r)
        # ---- query node -------------------------------------------------------------------
        self.querynode_sq_count = Counter(
            "milvus_querynode_sq_req_count", "Shard searches / queries served by status.",
            ("query_type", "status"), registry=r)
        self.querynode_sq_latency = Histogram(
            "milvus_querynode_sq_req_latency", "Shard search / query latency at the query node (ms).",
            ("query_type",), buckets=LATENCY_MS_BUCKETS, registry=r)
        self.querynode_search_nq = Histogram(
            "milvus_querynode_search_nq", "Query vectors per shard search.", buckets=NQ_BUCKETS, registry=r)
        # ---- data coordinator / data node ---------------------------------------------------
        self.datanode_flush_count = Counter(
            "milvus_datanode_flush_buffer_op_count", "Buffer syncs (flushes) to object storage by status.",
            ("status",), registry=r)
        self.datanode_flush_latency = Histogram(
            "milvus_datanode_save_latency", "Duration of one buffer sync to object storage (ms).",
            buckets=LATENCY_MS_BUCKETS, registry=r)
        self.datanode_flushed_rows = Counter(
            "milvus_datanode_flushed_data_rows", "Rows (inserts and deletes) written by buffer syncs.", registry=r)
        # ---- index node -------------------------------------------------------------------
        self.indexnode_build_latency = Histogram(
            "milvus_indexnode_build_index_latency", "Duration of one index build (ms).",
            buckets=LATENCY_MS_BUCKETS, registry=r)
        self.indexnode_task_count = Counter(
            "milvus_indexnode_index_task_count", "Index builds finished by status.", ("status",), registry=r)
        # ---- message queue and object storage (every role) -----------------------------------
        self.msgstream_op_count = Counter(
            "milvus_msgstream_op_count", "Message queue operations by type (produce / consume) and status.",
            ("message_op_type", "status"), registry=r)
        self.msgstream_bytes = Counter(
            "milvus_msgstream_op_bytes", "Message payload bytes by operation type (produce / consume).",
            ("message_op_type",), registry=r)
        self.msgstream_latency = Histogram(
            "milvus_msgstream_request_latency", "Message queue produce latency (ms).",
            ("message_op_type",), buckets=LATENCY_MS_BUCKETS, registry=r)
        self.storage_op_count = Counter(
            "milvus_storage_op_count", "Object storage operations by type and status.",
            ("persistent_data_op_type", "status"), registry=r)
        self.storage_bytes = Counter(
            "milvus_storage_kv_size", "Object storage bytes read / written by operation type.",
            ("persistent_data_op_type",), registry=r)
        self.storage_latency = Histogram(
            "milvus_storage_request_latency", "Object storage operation latency (ms) by type.",
            ("persistent_data_op_type",), buckets=LATENCY_MS_BUCKETS, registry=r)
