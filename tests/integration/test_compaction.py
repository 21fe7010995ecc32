"""Compaction end to end through the real pymilvus client, every role in this process:
several small flushed segments plus deletes → ``compact()`` → completed; exact count and id
set, fewer segments, deleted rows gone from the files (not only masked), the index rebuilt
on the result; searches and queries running while the result is handed off never see a
gap or a duplicate; a restart serves the same data; automatic compaction merges on its own."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from pymilvus import Collection, MilvusClient, connections

from milvus._proto import datacoord_pb2, querynode_pb2
from milvus.binlog import read_insert_log
from milvus.cmd.backends import open_storage
from tests.conftest import wait_for
from tests.integration.cluster import running_cluster

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 8
ROWS_PER_SEGMENT = 300
SEGMENTS = 4
OVERRIDES = {
    "dataCoord.enableAutoCompaction": False,
    "indexCoord.segment.minSegmentNumRowsToEnableIndex": 100,
}
RNG = np.random.default_rng(5)
VECS = RNG.random((SEGMENTS * ROWS_PER_SEGMENT, DIM), dtype=np.float32)


def make_segments(client: MilvusClient, name: str) -> int:
    """``SEGMENTS`` flushed segments of ``ROWS_PER_SEGMENT`` rows; returns the collection id."""
    client.create_collection(name, dimension=DIM, metric_type="L2", consistency_level="Strong", num_shards=1)
    for k in range(SEGMENTS):
        ids = range(k * ROWS_PER_SEGMENT, (k + 1) * ROWS_PER_SEGMENT)
        client.insert(name, [{"id": i, "vector": VECS[i].tolist()} for i in ids])
        client.flush(name)
    return client.describe_collection(name)["collection_id"]


def sealed_served(cluster, collection_id: int) -> dict[int, int]:
    dist = cluster.querynode.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    return {s.id: s.num_rows for s in dist.segments if s.sealed and s.collectionID == collection_id}


def persistent_l1(cluster, collection_id: int) -> list[datacoord_pb2.SegmentInfo]:
    resp = cluster.datacoord.GetRecoveryInfo(datacoord_pb2.GetRecoveryInfoRequest(collectionID=collection_id))
    return [s for s in resp.segments if s.level != datacoord_pb2.SEGMENT_LEVEL_L0 and s.state == datacoord_pb2.FLUSHED]


def compacted_into_one(cluster, client: MilvusClient, name: str) -> datacoord_pb2.SegmentInfo:
    """Compact the collection's flushed segments (two or more) into one and wait until the
    query node serves it in their place; that segment."""
    coll_id = client.describe_collection(name)["collection_id"]
    assert len(persistent_l1(cluster, coll_id)) >= 2
    compaction = client.compact(name)
    wait_for(lambda: client.get_compaction_state(compaction) == "Completed", timeout=60,
             message="compaction completed")
    after = persistent_l1(cluster, coll_id)
    assert len(after) == 1
    wait_for(lambda: set(sealed_served(cluster, coll_id)) == {after[0].id}, timeout=60,
             message="the compacted segment served")
    return after[0]


def all_ids(client: MilvusClient, name: str) -> list[int]:
    return sorted(r["id"] for r in client.query(name, filter="id >= 0", output_fields=["id"], limit=16384))


def count(client: MilvusClient, name: str) -> int:
    return client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("compaction") / "data", OVERRIDES) as cl:
        yield cl


@pytest.fixture
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    c.close()


def test_compact_merges_purges_deletes_and_rebuilds_the_index(cluster, client):
    name = "merge"
    coll_id = make_segments(client, name)
    deleted = {i for i in range(SEGMENTS * ROWS_PER_SEGMENT) if i % 7 == 0}
    client.delete(name, filter="id % 7 == 0")
    client.flush(name)  # the deletes become an L0 segment
    expected = sorted(set(range(SEGMENTS * ROWS_PER_SEGMENT)) - deleted)
    before = persistent_l1(cluster, coll_id)
    assert len(before) == SEGMENTS
    assert len([s for s in client.list_persistent_segments(name) if s.num_rows]) == SEGMENTS + 1  # + the L0
    wait_for(lambda: len(sealed_served(cluster, coll_id)) >= SEGMENTS, timeout=60, message="segments served")
    assert all_ids(client, name) == expected

    # a TTL the rows are far from: compaction expires nothing
    client.alter_collection_properties(name, {"collection.ttl.seconds": 3600})
    connections.connect("merge", uri=f"http://127.0.0.1:{cluster.port}")
    try:
        coll = Collection(name, using="merge")
        coll.compact()  # the ORM way
        assert coll.get_compaction_state().state.name in ("Executing", "Completed")
        coll.wait_for_compaction_completed(timeout=60)
        assert coll.get_compaction_state().state.name == "Completed"
        plans = coll.get_compaction_plans()
    finally:
        connections.disconnect("merge")

    after = persistent_l1(cluster, coll_id)
    assert len(after) == 1
    result = after[0]
    assert set(result.compaction_from) == {s.id for s in before}
    assert result.num_of_rows == len(expected)
    merged = [p for p in plans.plans if p.target == result.id]
    assert len(merged) == 1 and set(merged[0].sources) == {s.id for s in before}
    # deleted rows are gone from the files, not only masked
    storage = open_storage(cluster.config)
    try:
        rows = []
        for group in result.binlogs:
            for b in group.binlogs:
                rows += read_insert_log(storage.get(b.log_path), columns=["id"]).column("id").to_pylist()
    finally:
        storage.close()
    assert sorted(rows) == expected
    # L0 deletes folded in: no L0 segment left
    recovery = cluster.datacoord.GetRecoveryInfo(datacoord_pb2.GetRecoveryInfoRequest(collectionID=coll_id))
    assert not [s for s in recovery.segments if s.level == datacoord_pb2.SEGMENT_LEVEL_L0]

    # the query node serves the result only; the index is built on it
    wait_for(lambda: sealed_served(cluster, coll_id) == {result.id: len(expected)}, timeout=60,
             message="the result served instead of its sources")
    assert [s.segment_id for s in client.list_persistent_segments(name)] == [result.id]

    def indexed():
        info = client.describe_index(name, "vector")
        return info if info.get("indexed_rows") == info.get("total_rows") == len(expected) else None
    wait_for(indexed, timeout=60, message="the index built on the compacted segment")
    states = cluster.datacoord.GetSegmentIndexState(datacoord_pb2.GetSegmentIndexStateRequest(
        collectionID=coll_id, segmentIDs=[result.id]))
    assert [s.state for s in states.states] == [3]  # Finished
    assert all_ids(client, name) == expected
    assert count(client, name) == len(expected)
    hits = client.search(name, [VECS[1].tolist()], limit=3)
    assert hits[0][0]["id"] == 1
    client.drop_collection(name)


def test_searches_see_no_gap_and_no_duplicate_while_compaction_hands_off(cluster, client):
    name = "handoff"
    coll_id = make_segments(client, name)
    client.delete(name, filter="id in [0, 1, 2, 3, 4]")
    client.flush(name)
    total = SEGMENTS * ROWS_PER_SEGMENT - 5
    wait_for(lambda: len(sealed_served(cluster, coll_id)) >= SEGMENTS, timeout=60, message="segments served")
    stop = threading.Event()
    failures: list[str] = []
    rounds = [0]

    def search_loop() -> None:
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        try:
            while not stop.is_set():
                got = c.query(name, filter="id >= 0", output_fields=["id"], limit=16384)
                ids = [r["id"] for r in got]
                if len(ids) != total or len(set(ids)) != total:
                    failures.append(f"query: {len(ids)} rows, {len(set(ids))} distinct")
                n = c.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
                if n != total:
                    failures.append(f"count {n}")
                hits = c.search(name, VECS[10:13].tolist(), limit=20)
                for q, row in enumerate(hits):
                    hit_ids = [h["id"] for h in row]
                    if len(hit_ids) != 20 or len(set(hit_ids)) != 20 or hit_ids[0] != 10 + q:
                        failures.append(f"search {q}: {hit_ids}")
                rounds[0] += 1
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(repr(exc))
        finally:
            c.close()

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        wait_for(lambda: rounds[0] >= 2 or failures, timeout=30, message="reads before compaction")
        compaction_id = client.compact(name)
        wait_for(lambda: client.get_compaction_state(compaction_id) == "Completed", timeout=60,
                 message="compaction completed")
        result = persistent_l1(cluster, coll_id)
        assert len(result) == 1
        wait_for(lambda: set(sealed_served(cluster, coll_id)) == {result[0].id}, timeout=60,
                 message="hand-off to the compacted segment")
        done = rounds[0]
        wait_for(lambda: rounds[0] >= done + 3 or failures, timeout=30, message="reads after the hand-off")
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[:5]
    client.drop_collection(name)


def test_a_restart_after_compaction_serves_the_same_data(tmp_path):
    data = tmp_path / "data"
    name = "restart"
    with running_cluster(data, OVERRIDES) as cl:
        c = MilvusClient(uri=f"http://127.0.0.1:{cl.port}")
        coll_id = make_segments(c, name)
        c.delete(name, ids=list(range(0, 1200, 3)))
        c.flush(name)
        compaction_id = c.compact(name)
        wait_for(lambda: c.get_compaction_state(compaction_id) == "Completed", timeout=60,
                 message="compaction completed")
        result = persistent_l1(cl, coll_id)
        assert len(result) == 1
        wait_for(lambda: set(sealed_served(cl, coll_id)) == {result[0].id}, timeout=60, message="result served")
        before = all_ids(c, name)
        c.close()
    assert before == [i for i in range(1200) if i % 3]
    with running_cluster(data, OVERRIDES) as cl:
        c = MilvusClient(uri=f"http://127.0.0.1:{cl.port}")
        c.load_collection(name)
        wait_for(lambda: set(sealed_served(cl, coll_id)) == {result[0].id}, timeout=60, message="served again")
        assert all_ids(c, name) == before
        assert count(c, name) == len(before)
        c.close()


def test_automatic_compaction_merges_small_segments(tmp_path):
    overrides = {**OVERRIDES, "dataCoord.enableAutoCompaction": True, "dataCoord.compaction.global.interval": 0.5,
                 "dataCoord.compaction.min.segment": 2}
    with running_cluster(tmp_path / "data", overrides) as cl:
        c = MilvusClient(uri=f"http://127.0.0.1:{cl.port}")
        coll_id = make_segments(c, "auto")
        wait_for(lambda: len(persistent_l1(cl, coll_id)) == 1, timeout=60, message="automatic merge")
        result = persistent_l1(cl, coll_id)[0]
        assert result.num_of_rows == SEGMENTS * ROWS_PER_SEGMENT
        wait_for(lambda: set(sealed_served(cl, coll_id)) == {result.id}, timeout=60, message="result served")
        assert count(c, "auto") == SEGMENTS * ROWS_PER_SEGMENT
        c.close()
