"""``milvus run standalone`` as a subprocess, driven by the real pymilvus MilvusClient: the
write and read path end to end, and durability across kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pymilvus import Collection, DataType, MilvusClient, MilvusException, connections

from milvus.localsvc import free_port
from tests.conftest import wait_for

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
DIM = 8


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    log_path: Path
    metrics_port: int = 0

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _healthy(metrics_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def standalone(data_dir: Path, log_name: str = "standalone.log") -> Iterator[Server]:
    port, metrics_port = free_port(), free_port()
    log_path = data_dir.parent / log_name
    env = {**os.environ, "PYTHONPATH": str(REPO), "MILVUS_PROXY_TIMETICKINTERVAL": "0.05"}
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "milvus", "run", "standalone", "--port", str(port),
             "--metrics-port", str(metrics_port), "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    try:
        wait_for(lambda: proc.poll() is not None or _healthy(metrics_port), timeout=60, message="standalone ready")
        assert proc.poll() is None, log_path.read_text()
        yield Server(proc, port, log_path, metrics_port)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def client(server: Server) -> Iterator[MilvusClient]:
    c = MilvusClient(uri=server.uri)
    try:
        yield c
    finally:
        c.close()


def _create(c: MilvusClient, name: str, consistency: str = "Strong") -> None:
    schema = c.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.INT64)
    schema.add_field("title", DataType.VARCHAR, max_length=16)
    c.create_collection(name, schema=schema, consistency_level=consistency)


def _rows(ids, vecs) -> list[dict]:
    return [{"id": int(i), "vec": vecs[k].tolist(), "tag": int(i) % 3, "title": f"t{i}", "extra": int(i) * 2}
            for k, i in enumerate(ids)]


def _brute_force(vecs: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    d = ((vecs - q) ** 2).sum(axis=1)
    order = np.lexsort((ids, d))
    return ids[order[:k]].tolist()


def test_write_and_read_path_through_pymilvus(tmp_path):
    rng = np.random.default_rng(7)
    vecs = rng.random((300, DIM), dtype=np.float32)
    ids = np.arange(300, dtype=np.int64)
    with standalone(tmp_path / "data") as server, client(server) as c:
        _create(c, "docs")
        c.create_partition("docs", "p1")
        assert c.insert("docs", _rows(ids[:200], vecs[:200]))["insert_count"] == 200
        c.flush("docs")
        c.insert("docs", _rows(ids[200:], vecs[200:]), partition_name="p1")  # stays growing
        with pytest.raises(MilvusException):
            c.search("docs", [vecs[0].tolist()], limit=3)  # not loaded
        c.load_collection("docs")
        assert str(c.get_load_state("docs")["state"]) == "Loaded"

        # search: L2, nq=2, exact order, offset, output fields incl. vectors and dynamic keys
        queries = vecs[[3, 250]]
        hits = c.search("docs", queries.tolist(), limit=5, search_params={"metric_type": "L2"},
                        output_fields=["tag", "vec", "extra"])
        for q, result in zip(queries, hits, strict=True):
            assert [h["id"] for h in result] == _brute_force(vecs, ids, q, 5)
            assert all(h["entity"]["tag"] == h["id"] % 3 and h["entity"]["extra"] == h["id"] * 2 for h in result)
            assert np.allclose(result[0]["entity"]["vec"], vecs[result[0]["id"]])
        paged = c.search("docs", [queries[0].tolist()], limit=3, offset=2, search_params={"metric_type": "L2"})
        assert [h["id"] for h in paged[0]] == _brute_force(vecs, ids, queries[0], 5)[2:5]
        in_p1 = c.search("docs", [queries[0].tolist()], limit=4, partition_names=["p1"],
                         search_params={"metric_type": "L2"})
        assert [h["id"] for h in in_p1[0]] == _brute_force(vecs[200:], ids[200:], queries[0], 4)
        filtered = c.search("docs", [queries[0].tolist()], limit=4, filter="tag == 1",
                            search_params={"metric_type": "L2"})
        keep = ids % 3 == 1
        assert [h["id"] for h in filtered[0]] == _brute_force(vecs[keep], ids[keep], queries[0], 4)

        # query / get / count
        assert c.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 300
        rows = c.query("docs", filter="id in [5, 250, 999]", output_fields=["title", "extra"])
        assert sorted((r["id"], r["title"], r["extra"]) for r in rows) == [(5, "t5", 10), (250, "t250", 500)]
        page = c.query("docs", filter="tag == 2", output_fields=["id"], limit=3, offset=1)
        assert [r["id"] for r in page] == [5, 8, 11]
        got = c.get("docs", ids=[7])
        assert got[0]["title"] == "t7" and np.allclose(got[0]["vec"], vecs[7])

        # delete by ids and by filter, upsert
        c.delete("docs", ids=[1, 2, 250])
        c.delete("docs", filter="tag == 0 and id < 30")
        gone = {1, 2, 250} | {i for i in range(30) if i % 3 == 0}
        left = sorted(set(range(300)) - gone)
        assert sorted(r["id"] for r in c.query("docs", filter="id >= 0", output_fields=["id"])) == left
        c.upsert("docs", [{"id": 4, "vec": [0.0] * DIM, "tag": 9, "title": "new", "extra": 0}])
        assert c.get("docs", ids=[4])[0]["title"] == "new"
        assert c.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == len(left)
        assert c.search("docs", [[0.0] * DIM], limit=1, search_params={"metric_type": "L2"})[0][0]["id"] == 4

        # errors keep the server serving
        with pytest.raises(MilvusException):
            c.insert("docs", [{"id": 1000, "vec": [0.0] * (DIM + 1), "tag": 1, "title": "x"}])
        with pytest.raises(MilvusException):
            c.insert("docs", [{"id": 1000, "vec": [0.0] * DIM, "tag": 1, "title": "x" * 40}])
        with pytest.raises(MilvusException):
            c.search("nope", [[0.0] * DIM], limit=1)
        assert c.get_collection_stats("docs")["row_count"] >= 200
        c.release_collection("docs")
        assert str(c.get_load_state("docs")["state"]) == "NotLoad"


def test_time_travel_sees_the_past(tmp_path):
    with standalone(tmp_path / "data") as server, client(server) as c:
        _create(c, "tt")
        c.load_collection("tt")
        connections.connect(alias="orm", uri=server.uri)
        try:
            ts = Collection("tt", using="orm").insert(_rows([1, 2], np.zeros((2, DIM), np.float32))).timestamp
        finally:
            connections.disconnect("orm")
        before_delete = c.query("tt", filter="", output_fields=["count(*)"])[0]["count(*)"]
        assert before_delete == 2
        c.delete("tt", ids=[1])
        c.insert("tt", _rows([3], np.ones((1, DIM), np.float32)))
        past = c.query("tt", filter="id >= 0", output_fields=["id"], filter_params={"travel_timestamp": ts})
        assert sorted(r["id"] for r in past) == [1, 2]
        hits = c.search("tt", [[0.0] * DIM], limit=10, search_params={"metric_type": "L2",
                                                                        "params": {"travel_timestamp": ts}})
        assert sorted(h["id"] for h in hits[0]) == [1, 2]
        with pytest.raises(MilvusException, match="retention"):
            c.query("tt", filter="id >= 0", filter_params={"travel_timestamp": 1 << 18})


def test_kill_9_keeps_every_acknowledged_insert_and_delete(tmp_path):
    data_dir = tmp_path / "data"
    inserted: set[int] = set()
    deleted: set[int] = set()
    in_flight: dict[str, set[int]] = {"insert": set(), "delete": set()}
    with standalone(data_dir, "first.log") as server:
        with client(server) as c:
            _create(c, "durable", consistency="Bounded")
        stop = threading.Event()
        failure: list[BaseException] = []

        def writer() -> None:
            rng = np.random.default_rng(1)
            next_id = 0
            try:
                with client(server) as w:
                    while not stop.is_set():
                        batch = list(range(next_id, next_id + 50))
                        next_id += 50
                        in_flight["insert"] = set(batch)
                        w.insert("durable", _rows(batch, rng.random((50, DIM), dtype=np.float32)))
                        inserted.update(batch)
                        in_flight["insert"] = set()
                        victims = batch[::7]
                        in_flight["delete"] = set(victims)
                        w.delete("durable", ids=victims)
                        deleted.update(victims)
                        in_flight["delete"] = set()
            except MilvusException:
                pass  # the server died mid-call: that op was not acknowledged
            except BaseException as exc:  # noqa: BLE001
                failure.append(exc)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            wait_for(lambda: len(inserted) >= 1000 or failure, timeout=60, message="1000 acknowledged inserts")
            server.proc.kill()  # kill -9 while the writer is mid-stream
            server.proc.wait()
        finally:
            stop.set()
            thread.join(timeout=60)
        assert not failure, failure
    with standalone(data_dir, "second.log") as server, client(server) as c:
        assert "durable" in c.list_collections()
        assert {f["name"] for f in c.describe_collection("durable")["fields"]} >= {"id", "vec", "tag", "title"}
        c.load_collection("durable")
        got = {r["id"] for r in c.query("durable", filter="id >= 0", output_fields=["id"],
                                        consistency_level="Strong")}
        # every acknowledged op is reflected; only the one op cut by the kill may go either way
        assert inserted - deleted - in_flight["delete"] <= got
        assert not got & deleted
        assert got <= inserted | in_flight["insert"]
        count = c.query("durable", filter="", output_fields=["count(*)"], consistency_level="Strong")
        assert count[0]["count(*)"] == len(got)
        hits = c.search("durable", [[0.5] * DIM], limit=5, search_params={"metric_type": "L2"},
                        consistency_level="Strong")
        assert len(hits[0]) == 5 and all(h["id"] in got for h in hits[0])
