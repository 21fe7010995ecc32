"""MetricsRegistry and MetricsServer: /metrics exposition and /healthz on a port-0 server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client import REGISTRY, Counter, generate_latest

from milvus.metrics import MetricsRegistry, MetricsServer


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5.0) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers.get("Content-Type", ""), err.read().decode()


@pytest.fixture
def registry() -> MetricsRegistry:
    return MetricsRegistry("querynode", "9.9.9")


def test_registry_has_build_info_and_process_metrics(registry):
    assert registry.get_sample_value("milvus_build_info", {"version": "9.9.9", "role": "querynode"}) == 1.0
    assert registry.get_sample_value("process_resident_memory_bytes") > 0
    exposition = generate_latest(registry).decode()
    assert "python_info{" in exposition
    assert "python_gc_objects_collected_total" in exposition


def test_registries_are_private(registry):
    other = MetricsRegistry("proxy", "9.9.9")
    assert REGISTRY.get_sample_value("milvus_build_info", {"version": "9.9.9", "role": "querynode"}) is None
    assert other.get_sample_value("milvus_build_info", {"version": "9.9.9", "role": "querynode"}) is None


def test_serves_metrics_and_health_on_port_0(registry):
    requests = Counter("milvus_test_requests", "test counter", registry=registry)
    requests.inc(3)
    server = MetricsServer(registry, "127.0.0.1", 0, lambda: (True, {"role": "querynode"}))
    server.start()
    try:
        assert server.port != 0
        base = f"http://127.0.0.1:{server.port}"

        status, content_type, body = _get(base + "/metrics")
        assert status == 200
        assert content_type.startswith("text/plain")
        assert 'milvus_build_info{role="querynode",version="9.9.9"} 1.0' in body
        assert "milvus_test_requests_total 3.0" in body
        assert "process_resident_memory_bytes" in body

        status, content_type, body = _get(base + "/healthz")
        assert status == 200
        assert content_type == "application/json"
        assert json.loads(body) == {"status": "healthy", "role": "querynode"}

        status, _, _ = _get(base + "/nothing-here")
        assert status == 404
        assert server.health() == (True, {"address": f"127.0.0.1:{server.port}"})
    finally:
        server.stop()
    assert not server.health()[0]


def test_health_503_with_reasons():
    state = {"ok": False}

    def health() -> tuple[bool, dict]:
        if state["ok"]:
            return True, {}
        return False, {"reasons": ["kv is unhealthy"]}

    with MetricsServer(MetricsRegistry("proxy", "1"), "127.0.0.1", 0, health) as server:
        url = f"http://127.0.0.1:{server.port}/healthz"
        status, _, body = _get(url)
        assert status == 503
        assert json.loads(body) == {"status": "unhealthy", "reasons": ["kv is unhealthy"]}
        state["ok"] = True
        assert _get(url)[0] == 200


def test_health_check_that_raises_is_503():
    def health() -> tuple[bool, dict]:
        raise RuntimeError("cannot tell")

    with MetricsServer(MetricsRegistry("proxy", "1"), "127.0.0.1", 0, health) as server:
        status, _, body = _get(f"http://127.0.0.1:{server.port}/healthz")
    assert status == 503
    answer = json.loads(body)
    assert answer["status"] == "unhealthy"
    assert "cannot tell" in answer["reasons"][0]


def test_stop_releases_the_port_and_is_idempotent(registry):
    server = MetricsServer(registry, "127.0.0.1", 0, lambda: (True, {}))
    server.start()
    port = server.port
    server.stop()
    server.stop()
    with pytest.raises(OSError):
        _get(f"http://127.0.0.1:{port}/metrics")
    # the same port can be bound again
    again = MetricsServer(registry, "127.0.0.1", port, lambda: (True, {}))
    again.start()
    try:
        assert again.port == port
    finally:
        again.stop()
