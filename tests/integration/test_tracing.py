"""Tracing: a search through pymilvus makes proxy and query node spans of one trace; the trace
context crosses gRPC as metadata; with tracing off OpenTelemetry is never imported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from pymilvus import DataType, MilvusClient  # noqa: E402

from milvus._proto import internal_pb2, rootcoord_pb2  # noqa: E402
from milvus.cmd.backends import open_kv, open_mq, open_storage  # noqa: E402
from milvus.cmd.standalone import build_cluster  # noqa: E402
from milvus.config import Config  # noqa: E402
from milvus.rpc import GrpcClient, GrpcServer, WrapInterceptor, service_handler  # noqa: E402
from milvus.util import log as milvus_log  # noqa: E402
from milvus.util.tracing import NO_TRACING, open_tracing  # noqa: E402
from tests.integration.cluster import FAST  # noqa: E402

DIM = 4
ROOTCOORD_SERVICE = rootcoord_pb2.DESCRIPTOR.services_by_name["RootCoord"]


def _traced_standalone(data_dir: Path, exporter: InMemorySpanExporter):
    config = Config.load(overrides={"common.dataDir": str(data_dir), **FAST})
    tracing = open_tracing(config, "standalone", span_exporter=exporter)
    kv, mq, storage = open_kv(config), open_mq(config), open_storage(config)
    cluster = build_cluster(config, kv, mq, storage, "127.0.0.1", 0, max_workers=8, tracing=tracing)
    return cluster, tracing, (storage, mq, kv)


def test_a_search_makes_proxy_and_querynode_spans_of_one_trace(tmp_path):
    exporter = InMemorySpanExporter()
    cluster, tracing, resources = _traced_standalone(tmp_path / "data", exporter)
    cluster.start()
    try:
        client = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        try:
            schema = client.create_schema(auto_id=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
            client.create_collection("traced", schema=schema, consistency_level="Strong")
            index = client.prepare_index_params()
            index.add_index("vec", index_type="FLAT", metric_type="L2")
            client.create_index("traced", index)
            client.load_collection("traced")
            exporter.clear()
            client.insert("traced", [{"id": i, "vec": [float(i)] * DIM} for i in range(10)])
            inserted = exporter.get_finished_spans()
            exporter.clear()
            hits = client.search("traced", [[1.0] * DIM], limit=3)
            assert [hit["id"] for hit in hits[0]][0] == 1
        finally:
            client.close()
    finally:
        cluster.stop()
        tracing.stop()
        for resource in resources:
            resource.close()

    insert = [s for s in inserted if s.name == "proxy.Insert"]
    assert len(insert) == 1, [s.name for s in inserted]
    assert [s.name for s in inserted if s.name.startswith("datacoord.")
            and s.context.trace_id == insert[0].context.trace_id], [s.name for s in inserted]

    spans = exporter.get_finished_spans()
    search = [s for s in spans if s.name == "proxy.Search"]
    assert len(search) == 1, [s.name for s in spans]
    trace_id = search[0].context.trace_id
    node_spans = [s for s in spans if s.name.startswith("querynode.") and s.context.trace_id == trace_id]
    assert node_spans, [(s.name, s.context.trace_id) for s in spans]
    by_id = {s.context.span_id: s for s in spans}
    for span in node_spans:  # each node span descends from the proxy's
        parent = span.parent
        while parent is not None and parent.span_id != search[0].context.span_id:
            parent = by_id[parent.span_id].parent
        assert parent is not None, span.name


class _Root:
    """Answers GetComponentStates with the trace id its caller's span carried."""

    def GetComponentStates(self, request):
        return internal_pb2.ComponentStates(state=internal_pb2.ComponentInfo(
            role="rootcoord", state=internal_pb2.HEALTHY, extra={"trace_id": milvus_log.trace_id.get() or ""}))


def test_the_trace_context_crosses_grpc_as_metadata():
    exporter = InMemorySpanExporter()
    config = Config.load(overrides={"trace.exporter": "stdout"})
    server_side = open_tracing(config, "rootcoord", span_exporter=exporter)
    client_side = open_tracing(config, "proxy", span_exporter=exporter)
    server = GrpcServer("127.0.0.1", 0, [service_handler(ROOTCOORD_SERVICE, _Root(), allow_missing=True)],
                        max_workers=2, interceptors=[WrapInterceptor(server_side.server_wrap("rootcoord"))])
    server.start()
    client = GrpcClient.connect(server.address, ROOTCOORD_SERVICE)
    try:
        with client_side.span("proxy.CheckHealth") as span:
            answer = client.GetComponentStates(internal_pb2.GetComponentStatesRequest())
        untraced = client.GetComponentStates(internal_pb2.GetComponentStatesRequest())
    finally:
        client.close()
        server.stop(grace=0)
        server_side.stop()
        client_side.stop()
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert answer.state.extra["trace_id"] == trace_id  # the trace id is in the server's logs
    served = [s for s in exporter.get_finished_spans() if s.name == "rootcoord.GetComponentStates"]
    assert len(served) == 2
    assert served[0].parent.span_id == span.get_span_context().span_id
    assert format(served[1].context.trace_id, "032x") == untraced.state.extra["trace_id"] != trace_id


def test_tracing_off_never_imports_opentelemetry(tmp_path):
    assert open_tracing(Config.load(), "proxy") is NO_TRACING
    code = (
        "import sys\n"
        "from milvus.cmd.cli import main\n"
        "from milvus.cmd.roles import build_process\n"
        "from milvus.config import Config\n"
        f"config = Config.load(overrides={{'common.dataDir': {str(tmp_path)!r}}})\n"
        "build_process('standalone', config)\n"
        "assert not [m for m in sys.modules if m.startswith('opentelemetry')], 'opentelemetry imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2], timeout=60)
