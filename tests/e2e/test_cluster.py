"""Cluster mode: ``milvus cluster up`` (etcd, NATS JetStream, nanio and one process per role)
driven by the real pymilvus MilvusClient (DDL, insert, flush, index, load, search, query,
delete); SIGTERM leaves no process behind; a smoke run of the same on pulsar-lite.  And a data node
killed with -9 while rows stream in: once restarted, the flush completes and every
acknowledged row is persisted."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import numpy as np
import pytest
import yaml
from pymilvus import DataType, MilvusClient
from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

from milvus.cmd.launcher import ClusterSpec, LocalCluster
from milvus.localsvc import free_port
from tests.conftest import wait_for

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
DIM = 8
STARTUP = 180.0  # 10 processes on a couple of shared cores


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILVUS_")}
    env.update(PYTHONPATH=str(REPO), MILVUS_PROXY_TIMETICKINTERVAL="0.05")
    return env


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    """True while ``pid`` is a running (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.add(int(entry))
    return found


def _health(child: dict) -> dict:
    """A role process' ``/healthz`` detail of its role (an unhealthy one answers 503 with it too)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{child['metrics_port']}/healthz", timeout=5) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read())
    return body["components"][child["role"]]


def _schema(c: MilvusClient):
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.INT64)
    return schema


def _create(c: MilvusClient, name: str) -> None:
    c.create_collection(name, schema=_schema(c), consistency_level="Strong", num_shards=2)


def _rows(ids: np.ndarray, vecs: np.ndarray) -> list[dict]:
    return [{"id": int(i), "vec": vecs[k].tolist(), "tag": int(i) % 3} for k, i in enumerate(ids)]


def _nearest(vecs: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    d = ((vecs - q) ** 2).sum(axis=1)
    return ids[np.lexsort((ids, d))[:k]].tolist()


@contextmanager
def launcher(tmp_path: Path, mq: str = "nats") -> Iterator[tuple[subprocess.Popen, int, Path]]:
    port = free_port()
    data_dir = tmp_path / "cluster"
    log_path = tmp_path / "launcher.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "milvus", "cluster", "up", "--data-dir", str(data_dir), "--port", str(port),
             "--querynodes", "1", "--datanodes", "1", "--indexnodes", "1", "--proxies", "1", "--mq", mq],
            env=_env(), cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def ready() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"the launcher exited with {proc.returncode}:\n{log_path.read_text()}")
            return "milvus cluster ready" in log_path.read_text() and _port_open(port)

        wait_for(ready, timeout=STARTUP, interval=0.2, message="the cluster to be ready")
        yield proc, port, data_dir
    finally:
        if proc.poll() is None:
            proc.kill()  # the children get SIGTERM as their parent dies
            proc.wait()


def test_cluster_serves_pymilvus_and_stops_without_leaks(tmp_path):
    rng = np.random.default_rng(3)
    vecs = rng.random((500, DIM), dtype=np.float32)
    ids = np.arange(500, dtype=np.int64)
    with launcher(tmp_path) as (proc, port, data_dir):
        state = json.loads((data_dir / "cluster.json").read_text())
        assert state["proxy_ports"] == [port]
        roles = sorted(child["role"] for child in state["children"])
        assert roles == ["datacoord", "datanode", "indexnode", "proxy", "querycoord", "querynode", "rootcoord"]
        config = yaml.safe_load((data_dir / "cluster.yaml").read_text())
        assert config["mq"]["type"] == "nats" and config["metastore"]["type"] == "etcd"
        assert config["common"]["storageType"] == "minio"
        pids = {child["pid"] for child in state["children"]} | {s["pid"] for s in state["services"]}
        assert pids <= _children_of(proc.pid)

        c = MilvusClient(uri=f"http://127.0.0.1:{port}")
        try:
            assert c.get_server_version()
            _create(c, "docs")
            assert c.insert("docs", _rows(ids[:300], vecs[:300]))["insert_count"] == 300
            c.flush("docs")  # sealed segments written to S3 by the data node process
            assert c.get_collection_stats("docs")["row_count"] == 300
            c.load_collection("docs")
            assert str(c.get_load_state("docs")["state"]) == "Loaded"
            # rows after the load reach the query node through the broker (growing data)
            assert c.insert("docs", _rows(ids[300:], vecs[300:]))["insert_count"] == 200

            for q in vecs[[7, 420]]:
                hits = c.search("docs", [q.tolist()], limit=5, search_params={"metric_type": "L2"},
                                output_fields=["tag"])
                assert [h["id"] for h in hits[0]] == _nearest(vecs, ids, q, 5)
                assert all(h["entity"]["tag"] == h["id"] % 3 for h in hits[0])
            filtered = c.search("docs", [vecs[7].tolist()], limit=4, filter="tag == 1",
                                search_params={"metric_type": "L2"})
            keep = ids % 3 == 1
            assert [h["id"] for h in filtered[0]] == _nearest(vecs[keep], ids[keep], vecs[7], 4)

            rows = c.query("docs", filter="id in [5, 450, 9999]", output_fields=["tag"])
            assert sorted((r["id"], r["tag"]) for r in rows) == [(5, 2), (450, 0)]
            assert c.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 500

            c.delete("docs", ids=[7, 450])
            c.delete("docs", filter="id < 5")
            assert c.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 493
            hits = c.search("docs", [vecs[7].tolist()], limit=1, search_params={"metric_type": "L2"})
            assert hits[0][0]["id"] != 7
            assert c.query("docs", filter="id in [0, 7, 450]", output_fields=["id"]) == []

            # a field added while loaded reaches every process: old rows read its default,
            # new rows (growing, then flushed by the data node process) their value
            c.add_collection_field("docs", "note", DataType.VARCHAR, max_length=8, nullable=True,
                                   default_value="old")
            c.insert("docs", [{**_rows(ids[:1] + 1000, vecs[:1])[0], "note": "new"}])
            assert c.query("docs", filter='note == "new"', output_fields=["note"]) == [{"id": 1000, "note": "new"}]
            c.flush("docs")
            rows = c.query("docs", filter="id in [6, 300, 1000]", output_fields=["note"])
            assert sorted((r["id"], r["note"]) for r in rows) == [(6, "old"), (300, "old"), (1000, "new")]
            # and dropped again: rows written since lack it, and flush with the ones that have it
            c.drop_collection_field("docs", field_name="note")
            c.insert("docs", _rows(ids[:1] + 1001, vecs[:1]))
            c.flush("docs")
            rows = c.query("docs", filter="id in [6, 1000, 1001]", output_fields=["*"])
            assert sorted(r["id"] for r in rows) == [6, 1000, 1001] and not [r for r in rows if "note" in r]

            # every process in the system_info metric (Milvus' GetMetrics), none failing
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                answer = milvus_pb2_grpc.MilvusServiceStub(channel).GetMetrics(
                    milvus_pb2.GetMetricsRequest(request='{"metric_type": "system_info"}'), timeout=10)
            nodes = json.loads(answer.response)["nodes_info"]
            assert sorted({n["infos"]["type"] for n in nodes}) == roles
            assert not [n for n in nodes if n["infos"]["has_error"]]

            # a snapshot booked by the data coordinator process, restored by the proxy process
            # from the S3 server's files into a new collection
            expected = {r["id"] for r in c.query("docs", filter="id >= 0", output_fields=["id"], limit=1000)}
            c.create_snapshot("snap", "docs")
            job = c.restore_snapshot("snap", source_collection_name="docs", target_collection_name="docs_copy")
            wait_for(lambda: c.get_restore_snapshot_state(job).state == "RestoreSnapshotCompleted", timeout=60,
                     interval=0.2, message="the restore")
            c.load_collection("docs_copy")
            copied = c.query("docs_copy", filter="id >= 0", output_fields=["id"], limit=1000)
            assert {r["id"] for r in copied} == expected
            c.drop_snapshot("snap", "docs")
            c.drop_collection("docs_copy")

            c.release_collection("docs")
            c.drop_collection("docs")
            assert not c.has_collection("docs")

            # an index built by the index node process, then searched on the query node
            many = rng.random((1200, DIM), dtype=np.float32)
            many_ids = np.arange(1200, dtype=np.int64)
            c.create_collection("indexed", schema=_schema(c), num_shards=1, consistency_level="Strong")
            c.insert("indexed", _rows(many_ids, many))
            c.flush("indexed")
            index = c.prepare_index_params()
            index.add_index("vec", index_type="FLAT", metric_type="L2")
            c.create_index("indexed", index)
            wait_for(lambda: c.describe_index("indexed", "vec")["indexed_rows"] == 1200, timeout=60,
                     interval=0.2, message="the index build")
            c.load_collection("indexed")
            hits = c.search("indexed", [many[11].tolist()], limit=5, search_params={"metric_type": "L2"})
            assert [h["id"] for h in hits[0]] == _nearest(many, many_ids, many[11], 5)

            # dropping a loaded collection: the root coordinator has the query coordinator release
            # it and the data coordinator stop its channels on the data node
            indexed_id = c.describe_collection("indexed")["collection_id"]
            role = {child["role"]: child for child in state["children"]}

            def data_node_watches() -> bool:
                return any(f"_{indexed_id}v" in ch for ch in _health(role["datanode"])["channels"])

            assert data_node_watches() and _health(role["querynode"])["collections"] >= 1
            c.drop_collection("indexed")
            wait_for(lambda: not data_node_watches(), timeout=60, interval=0.2,
                     message="the data node to stop consuming the dropped collection")
            wait_for(lambda: _health(role["querynode"])["collections"] == 0, timeout=60, interval=0.2,
                     message="the query node to release the dropped collection")
        finally:
            c.close()

        launched = _children_of(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0
        wait_for(lambda: not any(_alive(pid) for pid in pids | launched), timeout=10,
                 message="every child of the launcher to exit")
        log = (tmp_path / "launcher.log").read_text()
        assert "cluster stopped" in log and "killed" not in log


def test_cluster_on_the_pulsar_protocol_broker_smoke(tmp_path):
    """The same processes on pulsar-lite (a Pulsar-protocol broker) instead of NATS: a small
    write/flush/index/load/search round (pulsar-lite loses messages once hundreds are queued
    for a consumer, shared/notes/infra.md, so this stays small)."""
    rng = np.random.default_rng(5)
    vecs = rng.random((120, DIM), dtype=np.float32)
    ids = np.arange(120, dtype=np.int64)
    with launcher(tmp_path, mq="pulsar") as (proc, port, data_dir):
        config = yaml.safe_load((data_dir / "cluster.yaml").read_text())
        assert config["mq"]["type"] == "pulsar" and config["pulsar"]["address"].startswith("pulsar://127.0.0.1:")
        c = MilvusClient(uri=f"http://127.0.0.1:{port}")
        try:
            c.create_collection("smoke", schema=_schema(c), num_shards=1, consistency_level="Strong")
            assert c.insert("smoke", _rows(ids[:80], vecs[:80]))["insert_count"] == 80
            c.flush("smoke")
            assert c.get_collection_stats("smoke")["row_count"] == 80
            index = c.prepare_index_params()
            index.add_index("vec", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 64})
            c.create_index("smoke", index)
            wait_for(lambda: c.describe_index("smoke", "vec")["indexed_rows"] == 80, timeout=60, interval=0.2,
                     message="the index build")
            c.load_collection("smoke")
            assert c.insert("smoke", _rows(ids[80:], vecs[80:]))["insert_count"] == 40  # growing, via the broker
            assert c.query("smoke", filter="", output_fields=["count(*)"])[0]["count(*)"] == 120
            hits = c.search("smoke", [vecs[100].tolist()], limit=3, search_params={"metric_type": "L2"})
            assert [h["id"] for h in hits[0]] == _nearest(vecs, ids, vecs[100], 3)
            c.delete("smoke", ids=[100])
            assert c.query("smoke", filter="id in [99, 100]", output_fields=["id"]) == [{"id": 99}]
        finally:
            c.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0


@pytest.fixture
def cluster(tmp_path) -> Iterator[LocalCluster]:
    """A cluster run from this process (so a test can kill and restart its roles), with short
    session leases so that a dead node is noticed within seconds."""
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({
        "common": {"session": {"ttl": 3.0, "keepaliveInterval": 0.5}},
        "proxy": {"timeTickInterval": 0.05},
        "dataCoord": {"segment": {"flushRetryInterval": 1.0}},
    }))
    spec = ClusterSpec(tmp_path / "cluster", port=free_port(), indexnodes=0, config_file=str(base),
                       startup_timeout=STARTUP)
    cluster = LocalCluster(spec, env=_env())
    cluster.start()
    try:
        yield cluster
    finally:
        assert cluster.stop()


def test_data_node_killed_while_inserting_is_restarted_and_persists_every_row(cluster):
    port = cluster.proxy_ports[0]
    datanode = next(child for child in cluster.children if child.role == "datanode")
    rng = np.random.default_rng(5)
    acknowledged: list[int] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    c = MilvusClient(uri=f"http://127.0.0.1:{port}")
    try:
        _create(c, "stream")

        def writer() -> None:
            batch, next_id = 50, 0
            try:
                while not stop.is_set():
                    ids = np.arange(next_id, next_id + batch, dtype=np.int64)
                    c.insert("stream", _rows(ids, rng.random((batch, DIM), dtype=np.float32)))
                    acknowledged.extend(ids.tolist())
                    next_id += batch
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)

        thread = threading.Thread(target=writer, name="writer")
        thread.start()
        try:
            wait_for(lambda: len(acknowledged) >= 500 or failures, timeout=60, message="rows before the kill")
            first_pid = datanode.pid
            os.killpg(first_pid, signal.SIGKILL)
            datanode.proc.wait()
            wait_for(lambda: len(acknowledged) >= 1500 or failures, timeout=60,
                     message="inserts to go on without a data node")
            cluster.spawn(datanode)  # a new process, a new session: the channels move to it
            wait_for(lambda: datanode.alive() and datanode.healthy() or not datanode.alive(), timeout=STARTUP,
                     message="the restarted data node")
            assert datanode.alive(), datanode.log_tail()
            wait_for(lambda: len(acknowledged) >= 2000 or failures, timeout=60, message="rows after the restart")
        finally:
            stop.set()
            thread.join(timeout=60)
        assert not failures, failures
        assert datanode.pid != first_pid

        c.flush("stream", timeout=120)
        total = len(acknowledged)
        assert c.get_collection_stats("stream")["row_count"] == total  # every acknowledged row persisted
        c.load_collection("stream")
        assert c.query("stream", filter="", output_fields=["count(*)"])[0]["count(*)"] == total
        got = c.query("stream", filter=f"id in {[0, total // 2, total - 1]}", output_fields=["id"])
        assert sorted(r["id"] for r in got) == [0, total // 2, total - 1]
    finally:
        c.close()
