"""Segment-level distribution in one process: three query nodes in one replica of a
one-shard collection.  The query coordinator spreads the sealed segments over all three by
rows; the shard leader reads its own and asks the others for theirs (with its deletes), and
every search, query (limit/offset) and count equals the MVCC model's answer.  Deletes after
the load hide rows of worker-held segments; a worker that dies makes reads fail retriably
(never short) until its segments are loaded elsewhere, then reads are exact again."""

from __future__ import annotations

import threading

import numpy as np

from milvus import errors
from milvus._proto import datacoord_pb2, querycoord_pb2, querynode_pb2
from tests.conftest import wait_for
from tests.integration.test_read_path import Model, Stack, _check_search, _create_collection, _flush, ok
from tests.readpath import DIM, ids_list

RETRIABLE = {errors.ServiceUnavailable.code, errors.ChannelNotFound.code, errors.CollectionNotLoaded.code,
             errors.NodeNotFound.code}


def _sealed_by_node(stack: Stack) -> dict[int, set[int]]:
    out = {}
    for node_id, node in stack.nodes.items():
        dist = node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
        out[node_id] = {s.id for s in dist.segments if s.sealed}
    return out


def _leader(stack: Stack, cid: int) -> tuple[int, list[str]]:
    resp = ok(stack.qc.GetShardLeaders(querycoord_pb2.GetShardLeadersRequest(collectionID=cid)))
    (replica,) = resp.replicas
    (leader,) = replica.shard_leaders
    return leader.node_id, [leader.channel_name]


def _try_query(stack: Stack, cid: int, ts: int) -> tuple[list[int], int] | None:
    """The rows and count(*) at ``ts`` through the leader; None when it answered a retriable error."""
    try:
        node_id, channels = _leader(stack, cid)
    except AssertionError:
        return None
    node = stack.nodes.get(node_id)
    if node is None:
        return None
    rows = node.Query(querynode_pb2.ShardRequest(collectionID=cid, channels=channels, travel_ts=ts))
    counted = node.Query(querynode_pb2.ShardRequest(collectionID=cid, channels=channels, travel_ts=ts,
                                                    count_only=True))
    for resp in (rows, counted):
        if resp.status.code in RETRIABLE:
            return None
        assert resp.status.code == 0, resp.status.reason
    return ids_list(rows.ids), counted.count


def test_sealed_segments_spread_over_the_replica_and_reads_are_exact(tmp_path):
    rng = np.random.default_rng(5)
    model = Model()
    stack = Stack(tmp_path, query_nodes=3)
    try:
        info = _create_collection(stack, shards=1)
        cid = info.id
        partition = info.partitions[0].id if info.partitions else 0
        pub = stack.start_publisher(info)
        vecs = rng.standard_normal((600, DIM)).astype(np.float32)
        for k in range(6):  # six sealed segments of different sizes
            lo, hi = k * 100, k * 100 + 40 + 12 * k
            pub.insert(np.arange(lo, hi, dtype=np.int64), vecs[lo:hi], model, partition)
            _flush(stack, cid)
        pub.delete(np.array([1, 101, 202], dtype=np.int64), model)  # before the load
        pub.insert(np.arange(900, 930, dtype=np.int64), rng.standard_normal((30, DIM)).astype(np.float32), model,
                   partition)  # growing rows, served by the leader

        ok(stack.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=cid)))
        wait_for(lambda: stack.qc.GetLoadState(querycoord_pb2.GetLoadStateRequest(collectionID=cid)).state
                 == querycoord_pb2.LOADED, timeout=30, message="loaded")
        flushed = set().union(*_sealed_by_node(stack).values())
        assert len(flushed) >= 6
        # the sealed segments are spread: every member serves some, none twice
        wait_for(lambda: all(_sealed_by_node(stack).values()), timeout=20, message="segments on every node")
        by_node = _sealed_by_node(stack)
        assert sum(len(s) for s in by_node.values()) == len(set().union(*by_node.values()))
        leader, channels = _leader(stack, cid)
        view = stack.nodes[leader].GetDataDistribution(querynode_pb2.GetDataDistributionRequest()).channels[0]
        assert view.serviceable and {v.node_id for v in view.leader_view} == {1, 2, 3}

        now = stack.alloc_ts()
        want = sorted(model.visible(now))
        assert stack.query(cid, guarantee_ts=now) == want
        assert stack.count(cid, guarantee_ts=now) == len(want)
        assert stack.query(cid, guarantee_ts=now, limit=7, offset=5) == want[5:12]
        assert stack.query(cid, guarantee_ts=now, expr="tag == 3") == [p for p in want if p % 7 == 3]
        queries = rng.standard_normal((4, DIM)).astype(np.float32)
        _check_search(stack, cid, model, now, queries, 10)
        _check_search(stack, cid, model, now, queries, 200)

        # deletes after the load hide rows of every segment, those other nodes hold included
        workers = {n: segs for n, segs in _sealed_by_node(stack).items() if n != leader}
        victims = [k * 100 + 2 for k in range(6)] + [905]
        ts_del = pub.delete(np.array(victims, dtype=np.int64), model)
        now = stack.alloc_ts()
        want = sorted(model.visible(now))
        assert not set(victims) & set(want)
        assert stack.query(cid, guarantee_ts=now) == want
        assert stack.count(cid, guarantee_ts=now) == len(want)
        _check_search(stack, cid, model, now, queries, 50)
        assert stack.query(cid, travel_ts=ts_del - 1) == sorted(model.visible(ts_del - 1))  # time travel

        # a worker dies: reads fail retriably or are exact, never short; its segments load elsewhere
        worker = max(workers, key=lambda n: len(workers[n]))
        lost = workers[worker]
        stack.kill_query_node(worker)
        outcomes = {"failed": 0, "exact": 0}

        def recovered() -> bool:
            got = _try_query(stack, cid, now)
            if got is None:
                outcomes["failed"] += 1
                return False
            rows, counted = got
            assert rows == want and counted == len(want), "a short or wrong read while a worker was gone"
            outcomes["exact"] += 1
            return lost <= set().union(*_sealed_by_node(stack).values())

        wait_for(recovered, timeout=30, message="the dead worker's segments served elsewhere")
        assert outcomes["exact"] >= 1
        assert stack.query(cid, guarantee_ts=stack.alloc_ts()) == sorted(model.visible(stack.alloc_ts()))
        _check_search(stack, cid, model, now, queries, 30)
    finally:
        stack.stop()


def test_compaction_across_nodes_hands_off_with_no_gap_and_no_duplicate(tmp_path):
    """Segments on three nodes are compacted into one: the leader view reads the result (its
    sources hidden in the same step) before any source copy is released."""
    rng = np.random.default_rng(9)
    model = Model()
    stack = Stack(tmp_path, query_nodes=3)
    try:
        info = _create_collection(stack, shards=1)
        cid = info.id
        partition = info.partitions[0].id if info.partitions else 0
        pub = stack.start_publisher(info)
        for k in range(4):
            keys = np.arange(k * 100, k * 100 + 60, dtype=np.int64)
            pub.insert(keys, rng.standard_normal((60, DIM)).astype(np.float32), model, partition)
            _flush(stack, cid)
        pub.delete(np.array([3, 105], dtype=np.int64), model)
        ok(stack.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=cid)))
        wait_for(lambda: stack.qc.GetLoadState(querycoord_pb2.GetLoadStateRequest(collectionID=cid)).state
                 == querycoord_pb2.LOADED, timeout=30, message="loaded")
        wait_for(lambda: sum(bool(s) for s in _sealed_by_node(stack).values()) >= 3, timeout=20,
                 message="segments on three nodes")
        before = set().union(*_sealed_by_node(stack).values())
        fixed = stack.alloc_ts()
        want = sorted(model.visible(fixed))
        bad: list[str] = []
        reads = [0]

        def check() -> None:
            got = _try_query(stack, cid, fixed)
            if got is None:
                bad.append("a read failed")
            elif got[0] != want or got[1] != len(want):
                bad.append(f"{len(got[0])} rows / count {got[1]}, want {len(want)}")
            reads[0] += 1

        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                check()

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            wait_for(lambda: reads[0] >= 3, timeout=20, message="reads before the compaction")
            resp = ok(stack.dc_client.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=cid)))

            def compacted() -> bool:
                state = ok(stack.dc_client.GetCompactionState(
                    datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
                served = set().union(*_sealed_by_node(stack).values())
                return state.completed > 0 and state.executing == 0 and served and not served & before

            wait_for(compacted, timeout=60, message="the compacted segment served, its sources released")
            done = reads[0]
            wait_for(lambda: reads[0] >= done + 3, timeout=20, message="reads after the hand-off")
        finally:
            stop.set()
            thread.join()
        assert not bad, bad[:5]
        now = stack.alloc_ts()
        assert stack.count(cid, guarantee_ts=now) == len(model.visible(now))
    finally:
        stack.stop()


def six_sealed_segments(stack: Stack, model: Model, rng: np.random.Generator) -> int:
    """A one-shard collection with six flushed segments of 50 rows (keys k*100 .. k*100+49),
    loaded; its id."""
    info = _create_collection(stack, shards=1)
    partition = info.partitions[0].id if info.partitions else 0
    pub = stack.start_publisher(info)
    for k in range(6):
        keys = np.arange(k * 100, k * 100 + 50, dtype=np.int64)
        pub.insert(keys, rng.standard_normal((50, DIM)).astype(np.float32), model, partition)
        _flush(stack, info.id)
    ok(stack.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=info.id)))
    return info.id


def test_segments_move_to_a_joining_node_and_off_a_draining_one_with_every_read_exact(tmp_path):
    rng = np.random.default_rng(13)
    model = Model()
    stack = Stack(tmp_path, query_nodes=2)
    try:
        cid = six_sealed_segments(stack, model, rng)
        wait_for(lambda: stack.qc.GetLoadState(querycoord_pb2.GetLoadStateRequest(collectionID=cid)).state
                 == querycoord_pb2.LOADED, timeout=30, message="loaded")
        segments = len(set().union(*_sealed_by_node(stack).values()))
        fixed = stack.alloc_ts()
        want = sorted(model.visible(fixed))
        bad: list[str] = []
        reads = [0]
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                got = _try_query(stack, cid, fixed)
                if got is None:
                    bad.append("a read failed")
                elif got[0] != want or got[1] != len(want):
                    bad.append(f"{len(got[0])} rows / count {got[1]}, want {len(want)}")
                reads[0] += 1

        def spread(nodes: set[int]) -> bool:
            by_node = _sealed_by_node(stack)
            placed = [s for segs in by_node.values() for s in segs]
            return len(placed) == segments and {n for n, segs in by_node.items() if segs} == nodes

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            wait_for(lambda: spread({1, 2}), timeout=20, message="segments on both nodes")
            stack.add_query_node(3)  # scale-out: node 3 joins the replica and takes segments
            wait_for(lambda: spread({1, 2, 3}), timeout=30, message="segments on three nodes")
            mark = reads[0]
            wait_for(lambda: reads[0] >= mark + 3, timeout=20, message="reads after scale-out")
            drained: list[bool] = []  # scale-in: node 2 drains; its segments go to nodes 1 and 3
            drain = threading.Thread(target=lambda: drained.append(stack.nodes[2].drain(timeout=30.0)))
            drain.start()
            drain.join(timeout=60)
            assert drained == [True]
            assert spread({1, 3})
            mark = reads[0]
            wait_for(lambda: reads[0] >= mark + 3, timeout=20, message="reads after scale-in")
        finally:
            stop.set()
            thread.join()
        assert not bad, bad[:5]
    finally:
        stack.stop()
