"""CheckHealth and GetMetrics' system_info through pymilvus' generated stub: every
coordinator and the nodes it knows."""

from __future__ import annotations

import json

import grpc
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

from tests.conftest import wait_for
from tests.integration.cluster import running_cluster


def _check_health(port: int) -> milvus_pb2.CheckHealthResponse:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return milvus_pb2_grpc.MilvusServiceStub(channel).CheckHealth(milvus_pb2.CheckHealthRequest(), timeout=10)


def test_check_health_names_the_unhealthy_roles_and_why(tmp_path):
    with running_cluster(tmp_path / "data") as cluster:
        healthy = _check_health(cluster.port)
        assert healthy.status.code == 0
        assert healthy.isHealthy and list(healthy.reasons) == []
        assert list(healthy.quota_states) == []

        cluster.querycoord.stop()  # a coordinator that does not serve
        try:
            sick = _check_health(cluster.port)
        finally:
            cluster.querycoord.start()
        assert not sick.isHealthy
        assert any(r.startswith("role querycoord[nodeID: 0] is unhealthy, reason: state is INITIALIZING")
                   for r in sick.reasons), sick.reasons


def test_check_health_reports_a_failing_node_through_its_coordinator(tmp_path):
    with running_cluster(tmp_path / "data") as cluster:
        cluster.indexnode.stop()
        sick = _check_health(cluster.port)
        assert not sick.isHealthy
        assert [r for r in sick.reasons if r.startswith("role indexnode[nodeID: 1] is unhealthy")], sick.reasons
        assert not [r for r in sick.reasons if "datacoord" in r]


def _metrics(port: int, request: str) -> milvus_pb2.GetMetricsResponse:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return milvus_pb2_grpc.MilvusServiceStub(channel).GetMetrics(milvus_pb2.GetMetricsRequest(request=request),
                                                                    timeout=10)


def _nodes(port: int) -> dict[str, dict]:
    answer = _metrics(port, json.dumps({"metric_type": "system_info"}))
    assert answer.status.code == 0, answer.status
    return {n["infos"]["name"]: n for n in json.loads(answer.response)["nodes_info"]}


def test_system_info_lists_every_role_with_its_state_and_memory(tmp_path):
    with running_cluster(tmp_path / "data") as cluster:
        answer = _metrics(cluster.port, json.dumps({"metric_type": "system_info"}))
        assert answer.component_name == "proxy0"  # the one proxy of this process
        info = json.loads(answer.response)
        nodes = {n["infos"]["name"]: n for n in info["nodes_info"]}
        assert {"proxy0", "rootcoord0", "datacoord0", "querycoord0", "querynode1", "datanode1",
                "indexnode1"} <= set(nodes), sorted(nodes)
        assert not [name for name, n in nodes.items() if n["infos"]["has_error"]]
        for name, node in nodes.items():  # what Milvus' test tools read of each node
            assert node["infos"]["system_info"]["build_version"] and node["infos"]["system_info"]["deploy_mode"]
            assert node["infos"]["type"] == name.rstrip("0123456789")
        assert nodes["proxy0"]["infos"]["hardware_infos"]["cpu_core_count"] >= 1
        assert {c["target_type"] for c in nodes["querycoord0"]["connected"]} == {"querynode"}
        assert {c["target_name"] for c in info["connections"]["connected_components"]} == {
            "rootcoord0", "datacoord0", "querycoord0"}
        # the memory the nodes report to their coordinators
        wait_for(lambda: _nodes(cluster.port)["querynode1"]["infos"]["hardware_infos"].get("memory_usage", 0) > 0,
                 timeout=30, message="the query node's memory report")

        cluster.indexnode.stop()  # a failing node: reported, with why
        sick = _nodes(cluster.port)["indexnode1"]["infos"]
        assert sick["has_error"] and sick["error_reason"].startswith("role indexnode[nodeID: 1] is unhealthy")


def test_other_metric_types_and_bad_requests_are_refused(tmp_path):
    with running_cluster(tmp_path / "data") as cluster:
        for request, words in [(json.dumps({"metric_type": "system_logs"}), "unsupported metric type"),
                               ("not json", "failed to parse metric type"),
                               (json.dumps({"other": 1}), "failed to parse metric type")]:
            answer = _metrics(cluster.port, request)
            assert answer.status.code == 1100 and words in answer.status.reason, answer.status
