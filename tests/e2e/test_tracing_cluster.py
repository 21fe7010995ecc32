"""Tracing in cluster mode: every role process (``milvus cluster`` children, on etcd, NATS
JetStream and nanio) exports its spans over OTLP/gRPC to an in-test collector under its own
service name, and one pymilvus insert or search is one trace across processes: over gRPC
(proxy -> query node) and over the message queue (proxy -> data node, proxy -> query node)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc",
                    reason="opentelemetry-exporter-otlp-proto-grpc not installed: OTLP export was NOT checked")

from pymilvus import DataType, MilvusClient  # noqa: E402

from milvus.cmd.launcher import ClusterSpec, LocalCluster  # noqa: E402
from milvus.localsvc import free_port  # noqa: E402
from tests.otlp_collector import OtlpCollector, ReceivedSpan  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
STARTUP = 180.0  # 8 processes on a couple of shared cores
DIM = 4


@pytest.fixture
def collector() -> Iterator[OtlpCollector]:
    with OtlpCollector() as running:
        yield running


@pytest.fixture
def traced_cluster(tmp_path, collector) -> Iterator[LocalCluster]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILVUS_")}
    env.update(PYTHONPATH=str(REPO), MILVUS_PROXY_TIMETICKINTERVAL="0.05",
               MILVUS_TRACE_EXPORTER="otlp", MILVUS_TRACE_OTLP_ENDPOINT=collector.endpoint)
    spec = ClusterSpec(tmp_path / "cluster", port=free_port(), indexnodes=0, startup_timeout=STARTUP)
    cluster = LocalCluster(spec, env=env)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, sorted({s.name for s in spans}))
    return found[0]


def test_each_role_exports_its_spans_and_a_request_is_one_trace_across_processes(traced_cluster, collector):
    client = MilvusClient(uri=f"http://127.0.0.1:{traced_cluster.proxy_ports[0]}")
    try:
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        client.create_collection("traced", schema=schema, consistency_level="Strong", num_shards=1)
        index = client.prepare_index_params()
        index.add_index("vec", index_type="FLAT", metric_type="L2")
        client.create_index("traced", index)
        client.load_collection("traced")
        client.insert("traced", [{"id": i, "vec": [float(i)] * DIM} for i in range(20)])
        hits = client.search("traced", [[2.0] * DIM], limit=3)
        assert hits[0][0]["id"] == 2
    finally:
        client.close()
    assert traced_cluster.stop()  # SIGTERM: each role flushes its batched spans on the way out

    spans = collector.spans()
    services = {s.service for s in spans}
    assert {"milvus-proxy", "milvus-rootcoord", "milvus-datacoord", "milvus-querycoord",
            "milvus-datanode", "milvus-querynode"} <= services, services

    insert = _one(spans, "proxy.Insert")
    assert insert.service == "milvus-proxy"
    # through the message queue, in other processes
    (buffered,) = [s for s in spans if s.name == "datanode.BufferInsert" and s.parent_id == insert.span_id]
    (applied,) = [s for s in spans if s.name == "querynode.ApplyInsert" and s.parent_id == insert.span_id]
    assert (buffered.service, applied.service) == ("milvus-datanode", "milvus-querynode")
    assert buffered.trace_id == applied.trace_id == insert.trace_id
    # over gRPC: the data coordinator assigns the insert's segment
    assert [s for s in spans if s.name == "datacoord.AssignSegmentID" and s.trace_id == insert.trace_id
            and s.service == "milvus-datacoord"]

    search = _one(spans, "proxy.Search")
    node_spans = [s for s in spans if s.service == "milvus-querynode" and s.trace_id == search.trace_id]
    assert node_spans, sorted({(s.service, s.name) for s in spans})
    by_id = {s.span_id: s for s in spans}
    for span in node_spans:  # each descends from the proxy's span, across the process boundary
        parent = span.parent_id
        while parent and parent != search.span_id:
            parent = by_id[parent].parent_id if parent in by_id else ""
        assert parent == search.span_id, span
