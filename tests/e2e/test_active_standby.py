"""Active-standby coordinators in a cluster (``milvus cluster up --standby``): each coordinator
runs twice; one instance is active (serves, registered), the other a standby (its gRPC server
answers STANDBY / ServiceNotReady, it is not registered).  Killing the active one with -9, the
standby takes over once the lease expires, recovering the state from the meta store: DDL,
inserts, flushes, loads and searches go on, the TSO stays monotonic, and the killed instance,
restarted, waits as the new standby."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import numpy as np
import pytest
import yaml
from pymilvus import DataType, MilvusClient

from milvus._proto import internal_pb2, rootcoord_pb2
from milvus.cmd.launcher import ClusterSpec, LocalCluster, RoleChild
from milvus.localsvc import free_port
from milvus.rootcoord import SERVICE as ROOTCOORD_SERVICE
from milvus.rpc import GrpcClient
from milvus.rpc.health import PROBE_TIMEOUT
from tests.conftest import wait_for
from tests.e2e.test_cluster import STARTUP, _env

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
TTL = 3.0
TAKEOVER_DEADLINE = 90.0  # generous: a loaded 2-core machine; not a performance assertion


def state_of(child: RoleChild) -> str | None:
    """``active`` / ``standby`` from the child's /healthz (None when it does not answer)."""
    if not child.alive() or not child.healthy():
        return None
    return child.health.get("components", {}).get(child.role, {}).get("active_standby")


def instances(cluster: LocalCluster, role: str) -> list[RoleChild]:
    return [c for c in cluster.children if c.role == role]


def active_and_standby(cluster: LocalCluster, role: str) -> tuple[RoleChild, RoleChild]:
    def both() -> tuple[RoleChild, RoleChild] | None:
        states = {state_of(c): c for c in instances(cluster, role)}
        if "active" in states and "standby" in states:
            return states["active"], states["standby"]
        return None

    return wait_for(both, timeout=TAKEOVER_DEADLINE, interval=0.2, message=f"an active and a standby {role}")


@pytest.fixture(scope="module")
def standby_cluster(tmp_path_factory) -> Iterator[LocalCluster]:
    tmp = tmp_path_factory.mktemp("standby")
    base = tmp / "base.yaml"
    base.write_text(yaml.safe_dump({
        "common": {"session": {"ttl": TTL, "keepaliveInterval": 0.5}},
        "proxy": {"timeTickInterval": 0.05},
        "dataCoord": {"segment": {"flushRetryInterval": 1.0}},
    }))
    spec = ClusterSpec(tmp / "cluster", port=free_port(), indexnodes=0, config_file=str(base),
                       startup_timeout=STARTUP, standby=True)
    cluster = LocalCluster(spec, env=_env())
    cluster.start()
    try:
        yield cluster
    finally:
        assert cluster.stop()


def _schema(c: MilvusClient):
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    return schema


def _vec(i: int) -> list[float]:
    return np.random.default_rng(i).random(DIM, dtype=np.float32).tolist()


def test_standby_instances_start_once_every_active_coordinator_serves(tmp_path):
    """The launcher's plan (nothing started): ``--standby`` adds a second instance of each
    coordinator in a tier of its own, after the first ones."""
    spec = ClusterSpec(tmp_path, standby=True, indexnodes=0)
    tiers = LocalCluster(spec, env={})._tiers()
    assert [[c.name for c in tier] for tier in tiers] == [
        ["rootcoord"], ["datacoord"], ["querycoord"], ["rootcoord-2", "datacoord-2", "querycoord-2"],
        ["datanode-1", "querynode-1"], ["proxy-1"],
    ]
    assert tiers[3][0].command[1:5] == ["-m", "milvus", "run", "rootcoord"]


def test_each_coordinator_runs_one_active_and_one_standby(standby_cluster):
    for role in ("rootcoord", "datacoord", "querycoord"):
        active, standby = active_and_standby(standby_cluster, role)
        assert active.name == role and standby.name == f"{role}-2"  # the first one started won
    # a standby answers over gRPC: STANDBY, and refuses work with a retryable ServiceNotReady
    _, standby = active_and_standby(standby_cluster, "rootcoord")
    port = standby.health["components"]["rootcoord"]["ports"][0]
    client = GrpcClient.connect(f"127.0.0.1:{port}", ROOTCOORD_SERVICE, timeout=PROBE_TIMEOUT)
    try:
        states = client.GetComponentStates(internal_pb2.GetComponentStatesRequest())
        assert states.state.state == internal_pb2.STANDBY and states.status.code == 0
        answer = client.AllocTimestamp(rootcoord_pb2.AllocTimestampRequest(count=1))
        assert answer.status.code == 1 and "standby" in answer.status.reason  # ServiceNotReady
    finally:
        client.close()


def _alloc_ts(rootcoord: RoleChild) -> int:
    """A timestamp from ``rootcoord``'s TSO, asked directly."""
    assert rootcoord.healthy()
    port = rootcoord.health["components"]["rootcoord"]["ports"][0]
    client = GrpcClient.connect(f"127.0.0.1:{port}", ROOTCOORD_SERVICE, timeout=PROBE_TIMEOUT)
    try:
        answer = client.AllocTimestamp(rootcoord_pb2.AllocTimestampRequest(count=1))
        assert answer.status.code == 0, answer.status
        return answer.timestamp
    finally:
        client.close()


def _kill(child: RoleChild) -> float:
    killed_at = time.monotonic()
    os.killpg(child.pid, signal.SIGKILL)
    child.proc.wait()
    return killed_at


def test_killing_each_active_coordinator_lets_the_standby_take_over(standby_cluster):
    cluster = standby_cluster
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.proxy_ports[0]}", timeout=60)
    try:
        c.create_collection("before", schema=_schema(c), consistency_level="Strong", num_shards=1)
        c.insert("before", [{"id": i, "vec": _vec(i)} for i in range(100)])
        c.flush("before")
        c.load_collection("before")
        rows = 100
        timings = {}
        for n, role in enumerate(("rootcoord", "datacoord", "querycoord")):
            active, standby = active_and_standby(cluster, role)
            before_ts = _alloc_ts(active) if role == "rootcoord" else 0
            killed_at = _kill(active)
            # the cluster keeps working through the standby: write (timestamps from the TSO),
            # flush (datacoord), DDL (rootcoord), load and search (querycoord)
            new_ids = list(range(1000 * (n + 1), 1000 * (n + 1) + 10))
            c.insert("before", [{"id": i, "vec": _vec(i)} for i in new_ids], timeout=TAKEOVER_DEADLINE)
            rows += len(new_ids)
            name = f"after_{role}"
            c.create_collection(name, schema=_schema(c), consistency_level="Strong", num_shards=1,
                                timeout=TAKEOVER_DEADLINE)
            c.insert(name, [{"id": 1, "vec": _vec(1)}])
            c.flush(name, timeout=TAKEOVER_DEADLINE)
            c.load_collection(name, timeout=TAKEOVER_DEADLINE)
            hits = c.search(name, [_vec(1)], limit=1, search_params={"metric_type": "L2"})
            assert hits[0][0]["id"] == 1
            hits = c.search("before", [_vec(new_ids[0])], limit=1, search_params={"metric_type": "L2"},
                            consistency_level="Strong")
            assert hits[0][0]["id"] == new_ids[0]
            assert c.query("before", filter="", output_fields=["count(*)"],
                           consistency_level="Strong")[0]["count(*)"] == rows
            wait_for(lambda s=standby: state_of(s) == "active", timeout=TAKEOVER_DEADLINE, interval=0.2,
                     message=f"{standby.name} to be active")
            timings[role] = time.monotonic() - killed_at
            if role == "rootcoord":
                assert _alloc_ts(standby) > before_ts  # the TSO stays monotonic across the take-over
            # the killed instance, restarted, is the standby now
            cluster.spawn(active)
            wait_for(lambda a=active: state_of(a) == "standby", timeout=STARTUP, interval=0.2,
                     message=f"the restarted {active.name} to wait as standby")
        print("\nactive-standby take-over (kill -9 of the active; seconds until DDL/DML/flush/load/search "
              "all answered again):", {role: round(s, 2) for role, s in timings.items()})
    finally:
        c.close()


def test_a_stopped_active_hands_over_at_once_and_a_stopped_standby_exits_cleanly(standby_cluster):
    """SIGTERM: the active one resigns (deletes the key: the standby need not wait for the
    lease), a standby stops campaigning; both exit 0.  Restarted, each waits as standby."""
    cluster = standby_cluster
    active, standby = active_and_standby(cluster, "querycoord")
    os.killpg(standby.pid, signal.SIGTERM)
    assert standby.proc.wait(timeout=60) == 0, standby.log_tail()
    assert state_of(active) == "active"
    cluster.spawn(standby)
    wait_for(lambda: state_of(standby) == "standby", timeout=STARTUP, interval=0.2, message="the standby back")

    stopped_at = time.monotonic()
    os.killpg(active.pid, signal.SIGTERM)
    assert active.proc.wait(timeout=60) == 0, active.log_tail()
    wait_for(lambda: state_of(standby) == "active", timeout=TAKEOVER_DEADLINE, interval=0.1,
             message=f"{standby.name} to take over")
    print(f"\nquerycoord handed over on SIGTERM after {time.monotonic() - stopped_at:.2f}s")
    assert "resigned the active role" in active.log_tail(20000)
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.proxy_ports[0]}", timeout=60)
    try:
        c.create_collection("handover", schema=_schema(c), consistency_level="Strong", num_shards=1)
        c.insert("handover", [{"id": 3, "vec": _vec(3)}])
        c.flush("handover")
        c.load_collection("handover", timeout=TAKEOVER_DEADLINE)
        assert c.search("handover", [_vec(3)], limit=1, search_params={"metric_type": "L2"})[0][0]["id"] == 3
    finally:
        c.close()
    cluster.spawn(active)
    wait_for(lambda: state_of(active) == "standby", timeout=STARTUP, interval=0.2, message="the new standby")
