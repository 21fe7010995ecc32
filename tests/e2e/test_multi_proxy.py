"""Several proxies at once (issue #6), on a real cluster (``LocalCluster``: etcd, NATS, nanio,
one process per role, two proxies): the root coordinator merges the proxies' time ticks, so

- clients writing through both proxies concurrently see, with a Strong read through the
  *other* proxy right after each acknowledged insert, every row of it (ids), and in the end
  both proxies count and list every acknowledged row of either;
- a flush through one proxy persists the rows the other one acknowledged just before;
- a proxy killed with -9 holds Strong reads back at most about one session TTL (its session
  expires and the root coordinator stops waiting for it), while writes go on."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
import yaml
from pymilvus import DataType, MilvusClient

from milvus.cmd.launcher import ClusterSpec, LocalCluster
from milvus.localsvc import free_port
from tests.e2e.test_cluster import STARTUP, _env

log = logging.getLogger(__name__)

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 8
NAME = "multi_proxy"
TTL = 4.0  # the session lease: how long a killed proxy can hold the ticks back
KEEPALIVE = 0.5
BATCHES = 12  # per writer thread
BATCH = 10
SLACK = 20.0  # a loaded machine: generous, not a performance assertion


def _vec(pk: int) -> list[float]:
    return np.random.default_rng(pk).random(DIM, dtype=np.float32).tolist()


def _rows(ids: list[int]) -> list[dict]:
    return [{"id": i, "vec": _vec(i)} for i in ids]


def _client(port: int) -> MilvusClient:
    return MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=60)


def _ids(c: MilvusClient, expr: str) -> list[int]:
    rows = c.query(NAME, filter=expr, output_fields=["id"], limit=16384, consistency_level="Strong")
    return sorted(r["id"] for r in rows)


def _count(c: MilvusClient) -> int:
    return c.query(NAME, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[LocalCluster]:
    tmp = tmp_path_factory.mktemp("multi_proxy")
    base = tmp / "base.yaml"
    base.write_text(yaml.safe_dump({
        "common": {"session": {"ttl": TTL, "keepaliveInterval": KEEPALIVE}},
        "proxy": {"timeTickInterval": 0.05},
    }))
    spec = ClusterSpec(tmp / "cluster", port=free_port(), proxies=2, querynodes=1, datanodes=1, indexnodes=0,
                       config_file=str(base), startup_timeout=STARTUP)
    cluster = LocalCluster(spec, env=_env())
    cluster.start()
    try:
        c = _client(cluster.proxy_ports[0])
        schema = c.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        c.create_collection(NAME, schema=schema, num_shards=2, consistency_level="Strong")
        c.load_collection(NAME)
        c.close()
        yield cluster
    finally:
        cluster.stop()


def test_writes_through_two_proxies_are_read_strongly_through_each_and_flushed_by_either(cluster):
    ports = cluster.proxy_ports
    assert len(ports) == 2
    acknowledged: set[int] = set()
    violations: list[str] = []
    lock = threading.Lock()

    def writer(proxy: int, thread: int) -> None:
        own, other = _client(ports[proxy]), _client(ports[1 - proxy])
        try:
            for batch in range(BATCHES):
                first = ((proxy * 2 + thread) * BATCHES + batch) * BATCH
                ids = list(range(first, first + BATCH))
                assert own.insert(NAME, _rows(ids))["insert_count"] == BATCH
                with lock:
                    acknowledged.update(ids)
                seen = _ids(other, f"id in {ids}")  # Strong, through the other proxy, right after the ack
                if seen != ids:
                    with lock:
                        violations.append(f"written through proxy {proxy}, read through {1 - proxy}: {seen} != {ids}")
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                violations.append(f"writer {proxy}/{thread} failed: {exc!r}")
        finally:
            own.close()
            other.close()

    threads = [threading.Thread(target=writer, args=(p, t)) for p in (0, 1) for t in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not violations, violations[:5]
    assert len(acknowledged) == 4 * BATCHES * BATCH

    c0, c1 = _client(ports[0]), _client(ports[1])
    try:
        for c in (c0, c1):
            assert _count(c) == len(acknowledged)
            assert _ids(c, "id >= 0") == sorted(acknowledged)
        # the last rows go through proxy 1, the flush through proxy 0: it persists them
        last = list(range(10_000, 10_000 + BATCH))
        assert c1.insert(NAME, _rows(last))["insert_count"] == BATCH
        acknowledged.update(last)
        c0.flush(NAME)
        assert c0.get_collection_stats(NAME)["row_count"] == len(acknowledged)
        assert _count(c0) == len(acknowledged)
    finally:
        c0.close()
        c1.close()


def test_a_killed_proxy_holds_strong_reads_back_at_most_about_one_session_ttl(cluster):
    survivor = _client(cluster.proxy_ports[0])
    victim = [c for c in cluster.children if c.role == "proxy"][1]
    try:
        assert _count(survivor) >= 0  # reads answer before the kill
        os.killpg(victim.pid, signal.SIGKILL)
        victim.proc.wait()
        killed = time.monotonic()
        ids = list(range(20_000, 20_000 + BATCH))
        assert survivor.insert(NAME, _rows(ids))["insert_count"] == BATCH  # writes do not wait on ticks
        wrote = time.monotonic() - killed
        assert _ids(survivor, f"id in {ids}") == ids
        held = time.monotonic() - killed
        log.info("after the kill: insert answered in %.2fs, the Strong read in %.2fs (TTL %.1fs)", wrote, held, TTL)
        # the dead proxy's last tick is older than this read: it waits for its session to expire
        assert held < TTL + SLACK, f"a Strong read waited {held:.1f}s after the kill (TTL {TTL}s)"
        assert held > 1.0, "the dead proxy's live session did not hold the ticks"
        assert wrote < SLACK
        started = time.monotonic()
        assert _count(survivor) >= BATCH
        assert time.monotonic() - started < SLACK / 2  # and later reads no longer wait for it
    finally:
        survivor.close()
