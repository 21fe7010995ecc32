"""Tracing exported for real: ``trace.exporter: otlp`` sends the spans of pymilvus calls over
OTLP/gRPC to an in-test collector (``TraceService/Export``), and the trace of an insert or a
delete follows the message queue: proxy -> data node buffer -> data node sync (-> data
coordinator), and proxy -> query node growing segment."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc",
                    reason="opentelemetry-exporter-otlp-proto-grpc not installed: OTLP export was NOT checked")

from pymilvus import DataType, MilvusClient  # noqa: E402

from milvus.cmd.backends import open_kv, open_mq, open_storage  # noqa: E402
from milvus.cmd.standalone import build_cluster  # noqa: E402
from milvus.config import Config  # noqa: E402
from milvus.util.tracing import message_context, open_tracing  # noqa: E402
from tests.integration.cluster import FAST  # noqa: E402
from tests.otlp_collector import OtlpCollector, ReceivedSpan  # noqa: E402

DIM = 4
SPAN_KIND_SERVER, SPAN_KIND_CONSUMER = 2, 5  # opentelemetry.proto.trace.v1.Span.SpanKind


def _descends(span: ReceivedSpan, ancestor: ReceivedSpan, by_id: dict[str, ReceivedSpan]) -> bool:
    parent = span.parent_id
    while parent:
        if parent == ancestor.span_id:
            return True
        parent = by_id[parent].parent_id if parent in by_id else ""
    return False


def _children(spans: list[ReceivedSpan], parent: ReceivedSpan, name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name and s.parent_id == parent.span_id and s.trace_id == parent.trace_id]


@pytest.fixture
def collector():
    with OtlpCollector() as running:
        yield running


def test_pymilvus_calls_reach_an_otlp_collector_and_follow_the_message_queue(tmp_path: Path, collector):
    config = Config.load(overrides={"common.dataDir": str(tmp_path / "data"), **FAST,
                                    "trace.exporter": "otlp", "trace.otlp.endpoint": collector.endpoint})
    tracing = open_tracing(config, "standalone")
    assert tracing.enabled
    kv, mq, storage = open_kv(config), open_mq(config), open_storage(config)
    try:
        cluster = build_cluster(config, kv, mq, storage, "127.0.0.1", 0, max_workers=8, tracing=tracing)
        cluster.start()
        try:
            client = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
            try:
                schema = client.create_schema(auto_id=False)
                schema.add_field("id", DataType.INT64, is_primary=True)
                schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
                client.create_collection("otlp", schema=schema, consistency_level="Strong", num_shards=1)
                index = client.prepare_index_params()
                index.add_index("vec", index_type="FLAT", metric_type="L2")
                client.create_index("otlp", index)
                client.load_collection("otlp")
                client.insert("otlp", [{"id": i, "vec": [float(i)] * DIM} for i in range(10)])
                hits = client.search("otlp", [[1.0] * DIM], limit=3)  # Strong: sees the insert
                assert hits[0][0]["id"] == 1
                client.delete("otlp", ids=[1])
                hits = client.search("otlp", [[1.0] * DIM], limit=3)  # Strong: sees the delete
                assert 1 not in [hit["id"] for hit in hits[0]]
                client.flush("otlp")  # the data node writes the buffered rows and deletes
            finally:
                client.close()
        finally:
            cluster.stop()
    finally:
        tracing.stop()  # flushes the batched spans to the collector
        for resource in (storage, mq, kv):
            resource.close()

    spans = collector.spans()
    assert collector.requests >= 1 and spans
    assert {s.service for s in spans} == {"milvus-standalone"}
    by_id = {s.span_id: s for s in spans}
    names = sorted({s.name for s in spans})

    # the public calls, as server spans
    (insert,) = collector.named("proxy.Insert")
    (delete,) = collector.named("proxy.Delete")
    assert insert.kind == delete.kind == SPAN_KIND_SERVER and not insert.parent_id
    assert [s for s in spans if s.name.startswith("datacoord.") and _descends(s, insert, by_id)], names
    searches = collector.named("proxy.Search")
    assert len(searches) == 2, names
    for search in searches:
        assert [s for s in spans if s.name.startswith("querynode.Search") and _descends(s, search, by_id)], names

    # insert -> data node buffer and query node growing segment, through the message queue
    (buffered,) = _children(spans, insert, "datanode.BufferInsert")
    (applied,) = _children(spans, insert, "querynode.ApplyInsert")
    assert buffered.kind == applied.kind == SPAN_KIND_CONSUMER
    (buffered_delete,) = _children(spans, delete, "datanode.BufferDelete")
    assert _children(spans, delete, "querynode.ApplyDelete")

    # the data node's writes: under the first buffer span of what they write, linked to each
    syncs = collector.named("datanode.Sync")
    insert_sync = [s for s in syncs if s.parent_id == buffered.span_id]
    assert len(insert_sync) == 1, [(s.parent_id, s.links) for s in syncs]
    assert (buffered.trace_id, buffered.span_id) in insert_sync[0].links
    assert [s for s in spans if s.name.startswith("datacoord.") and s.parent_id == insert_sync[0].span_id], names
    assert [s for s in syncs if s.parent_id == buffered_delete.span_id], [(s.parent_id, s.links) for s in syncs]


def test_messages_carry_the_current_span_context_only_when_one_is_current(collector):
    assert message_context() == {}  # no span: nothing is propagated
    config = Config.load(overrides={"trace.exporter": "otlp", "trace.otlp.endpoint": collector.endpoint})
    tracing = open_tracing(config, "proxy")
    try:
        with tracing.span("proxy.Insert") as span:
            carried = message_context()
        assert message_context() == {}
        trace_id = format(span.get_span_context().trace_id, "032x")
        assert carried["traceparent"].split("-")[1] == trace_id
        with tracing.message_span("datanode.BufferInsert", carried):
            pass
    finally:
        tracing.stop()
    (child,) = collector.named("datanode.BufferInsert")
    assert (child.service, child.trace_id, child.parent_id) == (
        "milvus-proxy", trace_id, format(span.get_span_context().span_id, "016x"))
