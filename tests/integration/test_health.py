"""CheckHealth through pymilvus' generated stub: every coordinator and the nodes it knows."""

from __future__ import annotations

import grpc
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

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
