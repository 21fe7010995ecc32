"""Load balancing and flow control (issue #6), through the real pymilvus client.

* A cluster (one process per role) with one query node: a collection in several sealed
  segments is loaded, a second query node joins and gets channels (both serve rows), then
  the first is stopped with SIGTERM and its channels move before it exits; a reader searches
  all the time and no search fails, comes back empty or short.
* In one process (cheaper): a data node joins and channels move to it while rows stream in,
  with zero rows lost or doubled; and writes are refused with RateLimit (code 8) while the
  data node lags behind the time ticks, and accepted again once it caught up, with no refused
  row ever appearing and every accepted one present; and refused past the memory high water
  level of the data node (in one process) and of each node process (one process per role).
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pymilvus import DataType, MilvusClient, MilvusException

from milvus._proto import datanode_pb2, internal_pb2, rootcoord_pb2
from milvus.cmd.backends import open_kv, open_mq, open_storage
from milvus.cmd.launcher import ClusterSpec, LocalCluster, RoleChild
from milvus.cmd.standalone import DATA_NODE_ID, Cluster, build_cluster
from milvus.config import Config
from milvus.datacoord import SERVICE as DATACOORD_SERVICE
from milvus.datanode import SERVICE as DATANODE_SERVICE
from milvus.datanode import DataNode, DataNodeParams
from milvus.localsvc import free_port
from milvus.rpc import LocalClient
from tests.conftest import wait_for
from tests.e2e.test_cluster import STARTUP, _env
from tests.integration.cluster import FAST

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 8
NAME = "balance"


def _vec(pk: int) -> list[float]:
    return np.random.default_rng(pk).random(DIM, dtype=np.float32).tolist()


def _schema(c: MilvusClient):
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    return schema


def _all_ids(c: MilvusClient) -> list[int]:
    rows = c.query(NAME, filter="id >= 0", output_fields=["id"], limit=16384, consistency_level="Strong")
    return [r["id"] for r in rows]


# ---- query nodes joining and leaving (one process per role) --------------------------------


@dataclass
class Reads:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _reader(port: int, ids: list[int], reads: Reads, stop: threading.Event) -> None:
    """Searches for a known row and counts all rows, all the time; any failure, empty or
    short answer is recorded."""
    c = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=30)
    rng = np.random.default_rng(5)
    try:
        while not stop.is_set():
            target = int(ids[int(rng.integers(len(ids)))])
            try:
                hits = c.search(NAME, [_vec(target)], limit=5, search_params={"metric_type": "L2"},
                                consistency_level="Strong", retry_times=0, timeout=30)[0]
                count = c.query(NAME, filter="", output_fields=["count(*)"], consistency_level="Strong",
                                retry_times=0, timeout=30)[0]["count(*)"]
            except Exception as exc:  # noqa: BLE001 - recorded: no search may fail
                with reads.lock:
                    reads.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            with reads.lock:
                if len(hits) != 5 or hits[0]["id"] != target:
                    reads.failures.append(f"search for {target}: {[h['id'] for h in hits]}")
                elif count != len(ids):
                    reads.failures.append(f"count {count} != {len(ids)}")
                else:
                    reads.ok += 1
    finally:
        c.close()


@contextmanager
def one_querynode_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A cluster of one process per role with one query node (and no index node)."""
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({
        "common": {"session": {"ttl": 3.0, "keepaliveInterval": 0.5}},
        "proxy": {"timeTickInterval": 0.05},
        "queryNode": {"gracefulStopTimeout": 25.0},
        "dataNode": {"checkpoint": {"updateInterval": 0.5}},
    }))
    spec = ClusterSpec(tmp_path / "cluster", port=free_port(), querynodes=1, datanodes=1, indexnodes=0,
                       config_file=str(base), startup_timeout=STARTUP, stop_timeout=90.0)
    cluster = LocalCluster(spec, env=_env())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def one_querynode(tmp_path) -> Iterator[LocalCluster]:
    with one_querynode_cluster(tmp_path) as cluster:
        yield cluster


def _channels(child: RoleChild) -> int:
    """How many channels a query node watches (its health report); -1 when it is down."""
    if not child.healthy():
        return -1
    return int(child.health["components"]["querynode"]["channels"])


def test_query_nodes_join_and_leave_under_reads_without_a_failed_or_short_search(one_querynode):
    cluster = one_querynode
    port = cluster.proxy_ports[0]
    c = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=60)
    reads, stop = Reads(), threading.Event()
    reader: threading.Thread | None = None
    try:
        c.create_collection(NAME, schema=_schema(c), num_shards=4, consistency_level="Strong")
        ids: list[int] = []
        for batch in range(4):  # several sealed segments per channel
            rows = list(range(batch * 100, batch * 100 + 100))
            c.insert(NAME, [{"id": i, "vec": _vec(i)} for i in rows])
            c.flush(NAME)
            ids += rows
        c.load_collection(NAME)
        assert c.query(NAME, filter="", output_fields=["count(*)"])[0]["count(*)"] == len(ids)

        reader = threading.Thread(target=_reader, args=(port, ids, reads, stop), name="reader")
        reader.start()
        wait_for(lambda: reads.ok >= 3 or reads.failures, timeout=60, message="reads before scale-out")

        # scale-out: a second query node joins and gets channels (with their sealed segments)
        first = next(ch for ch in cluster.children if ch.role == "querynode")
        second = cluster._child("querynode", 2, 2)
        cluster.spawn(second)
        cluster.children.append(second)
        wait_for(second.healthy, timeout=STARTUP, interval=0.2, message="the second query node")
        # balanced: 2 of the 4 channels (with their sealed segments) each, the moves finished
        wait_for(lambda: _channels(second) == 2 and _channels(first) == 2, timeout=120, interval=0.5,
                 message="channels spread over both query nodes")
        mark = reads.ok
        wait_for(lambda: reads.ok >= mark + 3 or reads.failures, timeout=60, message="reads after scale-out")

        # scale-in: SIGTERM the first node; its channels move, then it exits by itself
        began = time.monotonic()
        first.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: first.proc.poll() is not None, timeout=90, interval=0.2, message="the first node exits")
        assert first.proc.returncode == 0, first.log_tail()
        assert "stops with data still served" not in first.log_tail(100_000)  # drained, not timed out
        drained_s = time.monotonic() - began
        assert _channels(second) == 4
        mark = reads.ok
        wait_for(lambda: reads.ok >= mark + 3 or reads.failures, timeout=60, message="reads after scale-in")
        cluster.children.remove(first)
    finally:
        stop.set()
        if reader is not None:
            reader.join(timeout=120)
        c.close()
    print(f"\nbalance: {reads.ok} complete reads, graceful scale-in took {drained_s:.1f}s")
    assert not reads.failures, reads.failures[:5]
    assert reads.ok > 0


def _nodes_of_segments(c: MilvusClient, name: str = NAME) -> dict[int, list[int]] | None:
    """Segment -> the query nodes serving it; None when the listing failed."""
    try:
        return {s.segment_id: sorted(s.node_ids) for s in c.list_loaded_segments(name)}
    except MilvusException:
        return None


def spread(c: MilvusClient, segments: int, nodes: int, name: str = NAME) -> bool:
    """Every segment on exactly one node (no move in flight), over ``nodes`` nodes."""
    found = _nodes_of_segments(c, name)
    if not found or len(found) != segments or any(len(n) != 1 for n in found.values()):
        return False
    return len({n[0] for n in found.values()}) == nodes


def test_sealed_segments_of_one_shard_spread_and_move_under_reads_without_a_failed_or_short_search(
        one_querynode):
    """One shard, so one leader: a joining node gets sealed segments (read through the leader),
    then the leader is stopped with SIGTERM: channel and segments move to the other node."""
    cluster = one_querynode
    port = cluster.proxy_ports[0]
    c = MilvusClient(uri=f"http://127.0.0.1:{port}", timeout=60)
    reads, stop = Reads(), threading.Event()
    reader: threading.Thread | None = None
    try:
        c.create_collection(NAME, schema=_schema(c), num_shards=1, consistency_level="Strong")
        ids: list[int] = []
        for batch in range(6):  # six sealed segments of one channel
            rows = list(range(batch * 100, batch * 100 + 100))
            c.insert(NAME, [{"id": i, "vec": _vec(i)} for i in rows])
            c.flush(NAME)
            ids += rows
        c.load_collection(NAME)
        segments = len(wait_for(lambda: _nodes_of_segments(c), timeout=60, message="segments listed"))
        assert segments >= 6
        reader = threading.Thread(target=_reader, args=(port, ids, reads, stop), name="reader")
        reader.start()
        wait_for(lambda: reads.ok >= 3 or reads.failures, timeout=60, message="reads before scale-out")

        # scale-out: the new node gets about half of the sealed rows; the leader stays
        first = next(ch for ch in cluster.children if ch.role == "querynode")
        second = cluster._child("querynode", 2, 2)
        cluster.spawn(second)
        cluster.children.append(second)
        wait_for(second.healthy, timeout=STARTUP, interval=0.2, message="the second query node")
        wait_for(lambda: spread(c, segments, 2), timeout=120, interval=0.5,
                 message="sealed segments spread over both query nodes")
        assert _channels(first) == 1 and _channels(second) == 0
        mark = reads.ok
        wait_for(lambda: reads.ok >= mark + 3 or reads.failures, timeout=60, message="reads after scale-out")

        # scale-in of the leader: its channel and segments move to the second node, then it exits
        first.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: first.proc.poll() is not None, timeout=90, interval=0.2, message="the first node exits")
        assert first.proc.returncode == 0, first.log_tail()
        assert "stops with data still served" not in first.log_tail(100_000)  # drained, not timed out
        assert _channels(second) == 1
        wait_for(lambda: spread(c, segments, 1), timeout=60, interval=0.5, message="every segment on node 2")
        mark = reads.ok
        wait_for(lambda: reads.ok >= mark + 3 or reads.failures, timeout=60, message="reads after scale-in")
        cluster.children.remove(first)
    finally:
        stop.set()
        if reader is not None:
            reader.join(timeout=120)
        c.close()
    print(f"\nsegment balance: {reads.ok} complete reads")
    assert not reads.failures, reads.failures[:5]
    assert reads.ok > 0


# ---- data nodes and flow control (one process) -------------------------------------------


@dataclass
class Stack:
    cluster: Cluster
    mq: Any
    storage: Any

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.cluster.port}"

    def alloc_id(self, count: int) -> int:
        return self.cluster.rootcoord.AllocID(rootcoord_pb2.AllocIDRequest(count=count)).ID

    def channels_by_node(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        with self.cluster.datacoord._lock:
            for watch in self.cluster.datacoord._channels.all():
                out.setdefault(watch.node_id, []).append(watch.vchannel)
        return out


@contextmanager
def _stack(data_dir: Path, overrides: dict[str, Any] | None = None) -> Iterator[Stack]:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = Config.load(overrides={"common.dataDir": str(data_dir), **FAST, **(overrides or {})})
    kv, mq, storage = open_kv(config), open_mq(config), open_storage(config)
    cluster = build_cluster(config, kv, mq, storage, "127.0.0.1", 0, max_workers=8)
    try:
        cluster.start()
        yield Stack(cluster, mq, storage)
    finally:
        cluster.stop()
        storage.close()
        mq.close()
        kv.close()


def _writer(uri: str, acked: set[int], stop: threading.Event, start: int, errors: list[str]) -> None:
    c = MilvusClient(uri=uri, timeout=30)
    next_id = start
    try:
        while not stop.is_set():
            ids = list(range(next_id, next_id + 20))
            next_id += 20
            try:
                c.insert(NAME, [{"id": i, "vec": _vec(i)} for i in ids], retry_times=0, timeout=30)
            except Exception as exc:  # noqa: BLE001 - recorded: no insert may fail here
                errors.append(repr(exc))
                return
            acked.update(ids)
    finally:
        c.close()


def test_a_joining_data_node_takes_channels_with_no_row_lost_or_doubled(tmp_path):
    with _stack(tmp_path / "d") as stack:
        c = MilvusClient(uri=stack.uri, timeout=60)
        second: DataNode | None = None
        stop, acked, errors = threading.Event(), set(), []
        writer = threading.Thread(target=_writer, args=(stack.uri, acked, stop, 10_000, errors))
        try:
            c.create_collection(NAME, schema=_schema(c), num_shards=4, consistency_level="Strong")
            c.insert(NAME, [{"id": i, "vec": _vec(i)} for i in range(500)])
            acked.update(range(500))
            c.flush(NAME)
            assert set(stack.channels_by_node()) == {DATA_NODE_ID}
            writer.start()
            wait_for(lambda: len(acked) >= 700, timeout=60, message="rows streaming in")

            config = stack.cluster.config
            second = DataNode(stack.mq, stack.storage, LocalClient(stack.cluster.datacoord, DATACOORD_SERVICE),
                              alloc_id=stack.alloc_id, node_id=2, params=DataNodeParams.from_config(config))
            second.start()
            stack.cluster.datacoord.add_data_node(2, LocalClient(second, DATANODE_SERVICE))
            by_node = stack.channels_by_node()
            assert sorted(len(v) for v in by_node.values()) == [2, 2], by_node
            wait_for(lambda: len(second.channels) == 2, timeout=30, message="the new node watches its channels")
            assert len(stack.cluster.datanode.channels) == 2  # the old one let them go

            mark = len(acked)
            wait_for(lambda: len(acked) >= mark + 300 or errors, timeout=60, message="rows after the move")
            stop.set()
            writer.join(timeout=60)
            assert not errors, errors
            c.flush(NAME, timeout=120)
            c.load_collection(NAME)
            got = _all_ids(c)
            assert len(got) == len(set(got))  # nothing doubled
            assert set(got) == acked  # nothing lost
            assert c.get_collection_stats(NAME)["row_count"] == len(acked)  # persisted once each
        finally:
            stop.set()
            if writer.is_alive():
                writer.join(timeout=60)
            if second is not None:
                stack.cluster.datacoord.remove_data_node(2)
                second.stop()
            c.close()


def test_writes_are_refused_while_the_data_node_lags_and_accepted_once_it_caught_up(tmp_path):
    overrides = {
        "quotaAndLimits.limitWriting.ttProtection.enabled": True,
        "quotaAndLimits.limitWriting.ttProtection.maxTimeTickDelay": 2.0,
        "quotaAndLimits.quotaCenterCollectInterval": 0.2,
    }
    with _stack(tmp_path / "q", overrides) as stack:
        c = MilvusClient(uri=stack.uri, timeout=60)
        try:
            c.create_collection(NAME, schema=_schema(c), num_shards=2, consistency_level="Strong")
            accepted: set[int] = set()
            refused: set[int] = set()

            def insert(ids: list[int], timeout: float = 30, **kw) -> None:
                c.insert(NAME, [{"id": i, "vec": _vec(i)} for i in ids], timeout=timeout, **kw)
                accepted.update(ids)

            insert(list(range(100)))
            # an idle collection older than the delay: its data node reports the time ticks it consumed
            created = time.monotonic()
            wait_for(lambda: time.monotonic() - created > 3.0, timeout=10, message="the collection aging")
            insert(list(range(100, 200)))

            # pause the data node: its channels stop being consumed (nobody else owns them)
            dc, dn = stack.cluster.datacoord, stack.cluster.datanode
            channels = stack.channels_by_node()[DATA_NODE_ID]
            dc.remove_data_node(DATA_NODE_ID)
            for channel in channels:
                dn.UnwatchDmChannel(datanode_pb2.UnwatchDmChannelRequest(channel_name=channel))
            next_id = 1000

            def refused_now() -> bool:
                nonlocal next_id
                ids = list(range(next_id, next_id + 10))
                next_id += 10
                try:
                    insert(ids, retry_on_rate_limit=False, timeout=10)
                    return False
                except MilvusException as exc:
                    assert exc.code == 8, exc  # RateLimit, as pymilvus reads it
                    refused.update(ids)
                    return True

            wait_for(refused_now, timeout=30, interval=0.2, message="writes refused while the data node lags")
            # pymilvus' default: it retries RateLimit itself until the call's timeout
            began = time.monotonic()
            with pytest.raises(MilvusException) as info:
                insert([5000, 5001], timeout=2)
            refused.update([5000, 5001])
            assert info.value.code == 8 and time.monotonic() - began >= 1.5
            with pytest.raises(MilvusException) as info:
                c.delete(NAME, ids=[1], retry_on_rate_limit=False, timeout=10)
            assert info.value.code == 8

            # an insert pymilvus keeps retrying while the data node lags...
            blocked: list[object] = []

            def blocked_insert() -> None:
                try:
                    insert([6000, 6001], timeout=90)
                    blocked.append("ok")
                except Exception as exc:  # noqa: BLE001 - asserted below
                    blocked.append(exc)

            retrying = threading.Thread(target=blocked_insert)
            retrying.start()
            mark = time.monotonic()
            wait_for(lambda: time.monotonic() - mark > 1.0 or blocked, timeout=10, message="a retrying insert")
            assert not blocked  # still refused, still retrying

            # resume: the data node watches again from the checkpoint and catches up
            dc.add_data_node(DATA_NODE_ID, LocalClient(dn, DATANODE_SERVICE))
            retrying.join(timeout=120)
            assert blocked == ["ok"]  # ...goes through once it caught up
            wait_for(lambda: not refused_now(), timeout=60, interval=0.3, message="writes accepted again")

            c.flush(NAME, timeout=120)
            c.load_collection(NAME)
            got = _all_ids(c)
            assert len(got) == len(set(got))
            assert set(got) == accepted
            assert not (set(got) & refused)
        finally:
            c.close()


def test_writes_are_refused_past_the_memory_high_water_level(tmp_path):
    overrides = {"quotaAndLimits.limitWriting.memProtection.dataNodeMemoryHighWaterLevel": 1e-6,
                 "quotaAndLimits.limitWriting.memProtection.dataNodeMemoryLowWaterLevel": 1e-7}
    with _stack(tmp_path / "m", overrides) as stack:
        c = MilvusClient(uri=stack.uri, timeout=60)
        try:
            c.create_collection(NAME, schema=_schema(c), num_shards=1, consistency_level="Strong")
            # the data node reports the process' memory to the data coordinator once started
            request = internal_pb2.GetNodeMemoryRequest()
            wait_for(lambda: stack.cluster.datacoord.GetNodeMemory(request).nodes, timeout=10,
                     message="the data node's memory report")
            with pytest.raises(MilvusException) as info:
                c.insert(NAME, [{"id": 1, "vec": _vec(1)}], retry_on_rate_limit=False, timeout=10)
            assert info.value.code == 8 and f"datanode {DATA_NODE_ID} memory usage" in info.value.message
            c.load_collection(NAME)
            assert c.query(NAME, filter="", output_fields=["count(*)"])[0]["count(*)"] == 0  # nothing written
        finally:
            c.close()


def test_a_cluster_refuses_writes_for_the_memory_of_its_data_and_query_node_processes(tmp_path):
    """One process per role: each node process reports its own memory to its coordinator over
    gRPC and the proxy process refuses writes naming it (levels set below any process' use)."""
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"quotaAndLimits": {
        "quotaCenterCollectInterval": 0.5,
        "limitWriting": {"memProtection": {
            "dataNodeMemoryHighWaterLevel": 1e-6, "dataNodeMemoryLowWaterLevel": 1e-7,
            "queryNodeMemoryHighWaterLevel": 1e-6, "queryNodeMemoryLowWaterLevel": 1e-7}}}}))
    spec = ClusterSpec(tmp_path / "cluster", port=free_port(), querynodes=1, datanodes=1, indexnodes=0,
                       config_file=str(base), startup_timeout=STARTUP)
    cluster = LocalCluster(spec, env=_env())
    cluster.start()
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.proxy_ports[0]}", timeout=60)
    try:
        c.create_collection(NAME, schema=_schema(c), num_shards=1, consistency_level="Strong")

        def refusal() -> str:
            try:
                c.insert(NAME, [{"id": 1, "vec": _vec(1)}], retry_on_rate_limit=False, timeout=10)
            except MilvusException as exc:
                assert exc.code == 8, exc
                return exc.message
            pytest.fail("a write was accepted past the memory high water levels")

        wanted = [re.compile(r"datanode \d+ memory usage 0\.\d{3} passed the high water level 1e-06"),
                  re.compile(r"querynode \d+ memory usage 0\.\d{3} passed the high water level 1e-06")]
        wait_for(lambda: (message := refusal()) and all(w.search(message) for w in wanted), timeout=30, interval=0.3,
                 message="both node processes' memory refusing writes")
        assert c.get_collection_stats(NAME)["row_count"] == 0
    finally:
        c.close()
        assert cluster.stop()
