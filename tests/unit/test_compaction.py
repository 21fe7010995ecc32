"""Compaction: the planner (segments in, plans out), the data node's compactor on real files,
and the data coordinator's commit (one transaction, abandoned or failed plans commit nothing)."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pyarrow as pa
import pytest
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus._proto import datacoord_pb2, datanode_pb2, internal_pb2, querynode_pb2
from milvus.binlog import delta_log_key, read_insert_log, write_delta_log
from milvus.datacoord.compaction import CompactionParams, Group, plan_channel
from milvus.datanode.compactor import Compactor
from milvus.datanode.sync import insert_log_files
from milvus.schema import CollectionSchemaModel
from milvus.storage.local import LocalStorage
from tests.conftest import wait_for
from tests.unit.test_datacoord import CH0, COLL, Cluster, FakeDataNode, ok, segment, watch
from tests.unit.test_datacoord import SCHEMA as WATCHED_SCHEMA

FLUSHED, GROWING, DROPPED = datacoord_pb2.FLUSHED, datacoord_pb2.GROWING, datacoord_pb2.DROPPED
L0, L1 = datacoord_pb2.SEGMENT_LEVEL_L0, datacoord_pb2.SEGMENT_LEVEL_L1
PARAMS = CompactionParams(max_rows=1000, small_proportion=0.5, min_segments=3, l0_min_num=2)
SCHEMA = schema_pb2.CollectionSchema(name="c", fields=[
    schema_pb2.FieldSchema(fieldID=100, name="pk", data_type=schema_pb2.Int64, is_primary_key=True),
    schema_pb2.FieldSchema(fieldID=101, name="v", data_type=schema_pb2.Float),
])
MODEL = CollectionSchemaModel(SCHEMA)


def seg(sid: int, rows: int = 10, *, state=FLUSHED, level=L1, partition: int = 1, start_ts: int | None = None,
        delete_ts: int = 0, own_deletes: int = 0) -> datacoord_pb2.SegmentInfo:
    info = datacoord_pb2.SegmentInfo(id=sid, collection_id=COLL, partition_id=partition, insert_channel=CH0,
                                     num_of_rows=rows, state=state, level=level, max_row_num=1000)
    if start_ts is not None:
        info.start_position.CopyFrom(internal_pb2.MsgPosition(channel_name=CH0, timestamp=start_ts))
    if delete_ts:
        info.deltalogs.append(datacoord_pb2.FieldBinlog(binlogs=[datacoord_pb2.Binlog(
            entries_num=rows, timestamp_to=delete_ts)]))
    if own_deletes:
        info.deltalogs.append(datacoord_pb2.FieldBinlog(binlogs=[datacoord_pb2.Binlog(entries_num=own_deletes)]))
    return info


# ---- planner --------------------------------------------------------------------------------

def test_manual_merges_small_segments_per_partition_and_leaves_large_ones():
    segments = [seg(1), seg(2), seg(3, rows=600), seg(4, partition=2), seg(5, partition=2), seg(6, partition=3)]
    plan = plan_channel(segments, checkpoint_ts=100, params=PARAMS, manual=True)
    assert plan is not None and plan.channel == CH0 and plan.collection_id == COLL
    assert plan.groups == (Group((1, 2), 1), Group((4, 5), 2))
    assert plan.drop_l0 == ()


def test_automatic_merge_needs_min_segments():
    assert plan_channel([seg(1), seg(2)], 100, PARAMS, manual=False) is None
    plan = plan_channel([seg(1), seg(2), seg(3)], 100, PARAMS, manual=False)
    assert plan.groups == (Group((1, 2, 3), 1),)


def test_groups_never_exceed_max_rows():
    segments = [seg(i, rows=400) for i in range(1, 6)]
    plan = plan_channel(segments, 100, PARAMS, manual=True)
    for group in plan.groups:
        assert sum(400 for _ in group.sources) <= PARAMS.max_rows
    assert [len(g.sources) for g in plan.groups] == [2, 2]  # the fifth has no partner


def test_l0_is_folded_only_when_older_than_every_unflushed_row():
    l0 = seg(9, level=L0, partition=-1, delete_ts=50)
    big = seg(3, rows=900)
    # checkpoint not past the deletes yet: applied while merging, not dropped
    plan = plan_channel([seg(1), seg(2), big, l0], checkpoint_ts=40, params=PARAMS, manual=True)
    assert plan.drop_l0 == () and plan.deletes_from == (9,)
    assert plan.groups == (Group((1, 2), 1),)
    # a growing segment started before the deletes: its rows may be hit, keep the L0
    growing = seg(4, state=GROWING, start_ts=45)
    assert plan_channel([seg(1), seg(2), big, l0, growing], 100, PARAMS, manual=True).drop_l0 == ()
    # otherwise folded: every flushed segment is covered (rewritten only when hit)
    growing = seg(4, state=GROWING, start_ts=60)
    plan = plan_channel([seg(1), seg(2), big, l0, growing], 100, PARAMS, manual=True)
    assert plan.drop_l0 == (9,)
    assert plan.groups == (Group((1, 2), 1), Group((3,), 1, skip_if_unchanged=True))


def test_automatic_folding_waits_for_enough_l0_segments():
    one = [seg(3, rows=900), seg(9, level=L0, partition=-1, delete_ts=50)]
    assert plan_channel(one, 100, PARAMS, manual=False) is None
    two = [*one, seg(10, level=L0, partition=-1, delete_ts=60)]
    plan = plan_channel(two, 100, PARAMS, manual=False)
    assert plan.drop_l0 == (9, 10) and plan.groups == (Group((3,), 1, skip_if_unchanged=True),)


def test_heavily_deleted_segment_is_rewritten_alone():
    plan = plan_channel([seg(3, rows=900, own_deletes=300)], 100, PARAMS, manual=False)
    assert plan.groups == (Group((3,), 1),)


def test_a_channel_with_a_running_plan_gets_none():
    assert plan_channel([seg(1), seg(2), seg(3)], 100, PARAMS, manual=True, busy={3}) is None
    assert plan_channel([seg(1)], 100, PARAMS, manual=True) is None
    assert plan_channel([], 100, PARAMS, manual=True) is None


# ---- the data node's compactor ------------------------------------------------------------------

def rows_table(pks: list[int], ts: list[int]) -> pa.Table:
    return pa.Table.from_arrays([
        pa.array(pks, pa.int64()), pa.array(ts, pa.uint64()), pa.array(pks, pa.int64()),
        pa.array([float(p) for p in pks], pa.float32())], schema=MODEL.arrow_schema)


def write_segment(storage, sid: int, pks: list[int], ts: list[int], partition: int = 1
                  ) -> datanode_pb2.CompactionSegmentBinlogs:
    insert, _ = insert_log_files(storage, rows_table(pks, ts), "pk", COLL, partition, sid, sid * 10)
    return datanode_pb2.CompactionSegmentBinlogs(segmentID=sid, collectionID=COLL, partitionID=partition, level=L1,
                                                 insert_logs=[insert])


def write_l0(storage, sid: int, pks: list[int], ts: list[int], partition: int = -1
             ) -> datanode_pb2.CompactionSegmentBinlogs:
    key = delta_log_key(COLL, partition, sid, sid * 10)
    storage.put(key, write_delta_log(np.array(pks, dtype=np.int64), np.array(ts, dtype=np.uint64)))
    return datanode_pb2.CompactionSegmentBinlogs(
        segmentID=sid, collectionID=COLL, partitionID=partition, level=L0,
        deltalogs=[datacoord_pb2.FieldBinlog(binlogs=[datacoord_pb2.Binlog(log_path=key, entries_num=len(pks))])])


def result_rows(storage, result: datanode_pb2.CompactionResultSegment) -> list[tuple[int, int]]:
    out = []
    for group in result.insert_logs:
        for b in group.binlogs:
            table = read_insert_log(storage.get(b.log_path))
            out += list(zip(table.column("pk").to_pylist(), table.column("_ts").to_pylist(), strict=True))
    return sorted(out)


@pytest.fixture
def storage(tmp_path):
    return LocalStorage(tmp_path / "objects")


def test_compactor_merges_and_applies_deletes_by_mvcc(storage):
    ids = itertools.count(5000)
    a = write_segment(storage, 1, [1, 2, 3], [10, 10, 10])
    b = write_segment(storage, 2, [4, 5, 6], [20, 20, 20])
    other = write_segment(storage, 3, [7, 8], [10, 10], partition=2)
    # pk 1 deleted at 15 (after its insert) goes; pk 4 "deleted" at 15, before its insert at 20,
    # stays; pk 5 deleted at 90 > plan ts stays; pk 2 goes by a second L0 segment
    l0 = write_l0(storage, 9, [1, 4, 5], [15, 15, 90])
    l0p1 = write_l0(storage, 10, [2], [30], partition=1)
    plan = datanode_pb2.CompactionPlan(
        planID=1, channel=CH0, collectionID=COLL, timestamp=50, schema=SCHEMA.SerializeToString(),
        segments=[a, b, other, l0, l0p1],
        groups=[datanode_pb2.CompactionGroup(sourceIDs=[1, 2], resultID=100, partitionID=1),
                datanode_pb2.CompactionGroup(sourceIDs=[3], resultID=101, partitionID=2, skip_if_unchanged=True)])
    result = Compactor(storage, lambda n: next(ids)).run(plan)
    assert result.state == datanode_pb2.COMPACTION_COMPLETED
    merged, untouched = result.segments
    assert merged.segmentID == 100 and list(merged.compactionFrom) == [1, 2] and merged.num_of_rows == 4
    assert result_rows(storage, merged) == [(3, 10), (4, 20), (5, 20), (6, 20)]
    assert merged.insert_logs[0].binlogs[0].log_path.startswith(f"insert_log/{COLL}/1/100/")
    assert merged.statslogs[0].binlogs[0].log_path.startswith(f"stats_log/{COLL}/1/100/")
    assert untouched.unchanged and not untouched.insert_logs


def test_compactor_expires_rows_and_reports_empty_results(storage):
    a = write_segment(storage, 1, [1, 2], [10, 30])
    plan = datanode_pb2.CompactionPlan(
        planID=2, channel=CH0, collectionID=COLL, timestamp=50, schema=SCHEMA.SerializeToString(), segments=[a],
        expire_ts=20, groups=[datanode_pb2.CompactionGroup(sourceIDs=[1], resultID=100, partitionID=1)])
    result = Compactor(storage, lambda n: 7).run(plan)
    assert result_rows(storage, result.segments[0]) == [(2, 30)]
    plan.expire_ts = 40
    plan.groups[0].resultID = 101
    result = Compactor(storage, lambda n: 8).run(plan)
    assert result.segments[0].num_of_rows == 0 and not result.segments[0].insert_logs


# ---- the data coordinator: plan, run on a data node, commit -----------------------------------

class CompactingDataNode(FakeDataNode):
    """A fake data node that runs plans with the real compactor when ``finish()`` is called."""

    def __init__(self, storage):
        super().__init__()
        self.compactor = Compactor(storage, self._alloc)
        self._ids = itertools.count(90_000)
        self.plans: list[datanode_pb2.CompactionPlan] = []
        self.results: dict[int, datanode_pb2.CompactionPlanResult] = {}
        self.forget = False

    def _alloc(self, n):
        return next(self._ids)

    def Compaction(self, request):
        self.plans.append(request)
        self.results[request.planID] = datanode_pb2.CompactionPlanResult(
            planID=request.planID, state=datanode_pb2.COMPACTION_EXECUTING)
        return self._answer()

    def finish(self):
        for plan in self.plans:
            self.results[plan.planID] = self.compactor.run(plan)

    def GetCompactionResults(self, request):
        results = [] if self.forget else [self.results[p] for p in request.planIDs if p in self.results]
        return datanode_pb2.GetCompactionResultsResponse(status=common_pb2.Status(), results=results)


def flushed_segment(cluster, dc, sid, pks, ts, storage):
    """Record a flushed L1 segment whose rows are really in ``storage``."""
    insert, stats = insert_log_files(storage, rows_table(pks, ts), "pk", COLL, 1, sid, sid * 10)
    dc._segments._catalog.save_segments([datacoord_pb2.SegmentInfo(
        id=sid, collection_id=COLL, partition_id=1, insert_channel=CH0, num_of_rows=len(pks), state=FLUSHED,
        level=L1, max_row_num=100, binlogs=[insert], statslogs=[stats])])


@pytest.fixture
def compacting(tmp_path):
    cluster = Cluster(tmp_path)
    node = CompactingDataNode(cluster.storage)
    dc = cluster.coord(node, compaction=CompactionParams(enable_auto=False, timeout=30.0))
    watch(dc, channels=[CH0])
    dc.stop()
    dc = cluster.coord(node, compaction=CompactionParams(enable_auto=False, timeout=30.0))
    yield cluster, node, dc
    cluster.close()


def restart_with_segments(cluster, node, dc, segments):
    for sid, pks, ts in segments:
        flushed_segment(cluster, dc, sid, pks, ts, cluster.storage)
    dc.stop()
    return cluster.coord(node, compaction=CompactionParams(enable_auto=False, timeout=30.0))


def test_commit_creates_the_result_and_drops_the_sources_in_one_transaction(compacting):
    cluster, node, dc = compacting
    dc = restart_with_segments(cluster, node, dc, [(1, [1, 2, 3], [10, 10, 10]), (2, [4, 5], [10, 10])])
    resp = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    assert resp.compactionPlanCount == 1
    state = ok(dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
    assert state.state == common_pb2.Executing and state.executing == 1
    node.finish()
    state = ok(dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
    assert state.state == common_pb2.Completed and state.completed == 1
    (plan,) = [p for p in state.plans if p.targets]
    result = segment(dc, plan.targets[0])
    assert result.state == FLUSHED and sorted(result.compaction_from) == [1, 2] and result.num_of_rows == 5
    assert segment(dc, 1).state == DROPPED and segment(dc, 2).state == DROPPED and segment(dc, 1).dropped_at
    # a restart sees the same meta
    dc.stop()
    dc = cluster.coord(node, compaction=CompactionParams(enable_auto=False))
    assert segment(dc, result.id).state == FLUSHED and segment(dc, 1).state == DROPPED
    unknown = ok(dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
    assert unknown.state == 0  # compaction ids do not survive a restart


def test_plans_carry_the_schema_the_root_coordinator_has_now(compacting):
    cluster, node, dc = compacting
    now = schema_pb2.CollectionSchema(name="c", fields=SCHEMA.fields[:2]).SerializeToString()  # a field dropped
    described = []

    def describe(collection_id):
        described.append(collection_id)
        return now

    dc = restart_with_segments(cluster, node, dc, [(1, [1, 2], [10, 10]), (2, [3], [10])])
    dc.stop()
    dc = cluster.coord(node, describe_schema=describe, compaction=CompactionParams(enable_auto=False, timeout=30.0))
    ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    (plan,) = node.plans
    assert described == [COLL] and plan.schema == now and plan.schema_current

    def unreachable(_collection_id):
        raise ConnectionError("root coordinator unreachable")

    dc.stop()
    node.plans.clear()
    dc = cluster.coord(node, describe_schema=unreachable, compaction=CompactionParams(enable_auto=False, timeout=30.0))
    ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    (plan,) = node.plans  # the channel's watch schema, which may predate the rows: extra columns stay
    assert plan.schema == WATCHED_SCHEMA and not plan.schema_current


def test_a_plan_whose_sources_were_dropped_meanwhile_is_abandoned(compacting):
    cluster, node, dc = compacting
    dc = restart_with_segments(cluster, node, dc, [(1, [1], [10]), (2, [2], [10])])
    resp = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    ok(dc.DropPartition(datacoord_pb2.DropPartitionRequest(collectionID=COLL, partitionID=1)))
    node.finish()
    state = ok(dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
    assert state.state == common_pb2.Completed and state.failed == 1
    assert "changed meanwhile" in state.plans[0].fail_reason
    flushed = ok(dc.GetRecoveryInfo(datacoord_pb2.GetRecoveryInfoRequest(collectionID=COLL))).segments
    assert list(flushed) == []  # no result appeared


def test_a_data_node_that_forgot_or_left_fails_the_plan_and_commits_nothing(compacting):
    cluster, node, dc = compacting
    dc = restart_with_segments(cluster, node, dc, [(1, [1], [10]), (2, [2], [10])])
    resp = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    node.forget = True  # the node restarted mid-task
    dc.compactions.poll()
    state = ok(dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
    assert state.failed == 1 and segment(dc, 1).state == FLUSHED and segment(dc, 2).state == FLUSHED
    # the segments are free again: a new plan runs; its node leaves before it finishes
    node.forget = False
    resp = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    assert resp.compactionPlanCount == 1
    dc.remove_data_node(1)
    node.finish()
    wait_for(lambda: dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(
        compactionID=resp.compactionID)).failed == 1, message="plan failed")
    assert segment(dc, 1).state == FLUSHED and segment(dc, 2).state == FLUSHED


def test_a_plan_running_past_the_timeout_fails(compacting):
    cluster, node, dc = compacting
    dc = restart_with_segments(cluster, node, dc, [(1, [1], [10]), (2, [2], [10])])
    resp = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    cluster.now += 31
    dc.compactions.poll()
    state = ok(dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
    assert state.failed == 1 and "timed out" in state.plans[0].fail_reason
    node.finish()
    dc.compactions.poll()
    assert segment(dc, 1).state == FLUSHED


def test_finished_compactions_are_forgotten_after_an_hour(compacting):
    cluster, node, dc = compacting
    dc = restart_with_segments(cluster, node, dc, [(1, [1], [10]), (2, [2], [10])])
    resp = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    empty = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL)))
    assert empty.compactionPlanCount == 0  # the segments are busy: nothing to plan
    node.finish()
    dc.compactions.tick()

    def state(compaction_id):
        return dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=compaction_id)).state
    assert state(resp.compactionID) == common_pb2.Completed and state(empty.compactionID) == common_pb2.Completed
    cluster.now += 3601
    dc.compactions.tick()
    assert state(resp.compactionID) == 0 and state(empty.compactionID) == 0


# ---- the query node: a result swaps out its sources in one step ---------------------------------

@pytest.fixture
def qenv(tmp_path):
    from tests.unit.test_querynode_node import Env
    e = Env(tmp_path)
    yield e
    e.close()


def test_query_node_swaps_sources_for_the_result_without_gap_or_duplicate(qenv):
    from tests.readpath import DIM as QDIM
    from tests.readpath import ids_list, make_batch
    env = qenv
    env.watch()
    n = 300
    x = np.random.default_rng(1).standard_normal((n, QDIM)).astype(np.float32)
    pks = list(range(n))
    env.load(env.sealed_info(1, make_batch(env.schema, pks[:150], 100, x[:150]), log_id=1),
             env.sealed_info(2, make_batch(env.schema, pks[150:], 100, x[150:]), log_id=3))
    env.tick(200)
    stop = threading.Event()
    failures: list[str] = []
    reads = [0]

    def reader():
        while not stop.is_set():
            ids = ids_list(env.query(ts=200).ids)
            if ids != pks:
                failures.append(f"query saw {len(ids)} rows, {len(set(ids))} distinct")
            got = ids_list(env.search(x[:1], topk=n, ts=200).ids)
            if len(got) != n or len(set(got)) != n:
                failures.append(f"search saw {len(got)} hits, {len(set(got))} distinct")
            reads[0] += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        wait_for(lambda: reads[0] >= 3, message="reads before the swap")
        result = env.sealed_info(3, make_batch(env.schema, pks, 100, x), log_id=5)
        result.compaction_from.extend([1, 2])
        env.load(result)
        before = reads[0]
        wait_for(lambda: reads[0] >= before + 3, message="reads after the swap")
    finally:
        stop.set()
        thread.join()
    assert failures == []
    # the sources are no longer read here, but stay held (answered to a leader whose view still
    # names them) until the coordinator releases them
    dist = env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    assert sorted((s.id, s.sealed) for s in dist.segments) == [(1, True), (2, True), (3, True)]
    assert env.query(ts=200, count_only=True).count == n
    from tests.unit.test_querynode_node import COLL
    env.node.ReleaseSegments(querynode_pb2.ReleaseSegmentsRequest(collectionID=COLL, segmentIDs=[1, 2]))
    dist = env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    assert [(s.id, s.sealed) for s in dist.segments] == [(3, True)]
    # a stale request to load a source again is ignored: its rows are in the result
    env.load(env.sealed_info(1, make_batch(env.schema, pks[:150], 100, x[:150]), log_id=7))
    dist = env.node.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    assert [s.id for s in dist.segments] == [3]
    assert env.query(ts=200, count_only=True).count == n


def test_ttl_rewrites_segments_holding_expired_rows():
    old = seg(3, rows=900)
    old.binlogs.append(datacoord_pb2.FieldBinlog(binlogs=[datacoord_pb2.Binlog(timestamp_from=10, timestamp_to=90)]))
    fresh = seg(4, rows=900)
    fresh.binlogs.append(datacoord_pb2.FieldBinlog(binlogs=[datacoord_pb2.Binlog(timestamp_from=60)]))
    assert plan_channel([old, fresh], 100, PARAMS, manual=True) is None
    plan = plan_channel([old, fresh], 100, PARAMS, manual=True, expire_ts=50)
    assert plan.expire_ts == 50 and plan.groups == (Group((3,), 1, skip_if_unchanged=True),)


def test_manual_compaction_expires_rows_older_than_the_ttl(compacting):
    cluster, node, dc = compacting
    fresh = cluster.tso.alloc(1)
    dc = restart_with_segments(cluster, node, dc, [(1, [1, 2], [10, 10]), (2, [3], [fresh])])
    resp = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL, ttl_seconds=3600)))
    assert node.plans[-1].expire_ts > 10
    node.finish()
    state = ok(dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
    (plan,) = [p for p in state.plans if p.targets]
    result = segment(dc, plan.targets[0])
    assert result.num_of_rows == 1 and sorted(result.compaction_from) == [1, 2]
    assert result_rows(cluster.storage, datanode_pb2.CompactionResultSegment(insert_logs=result.binlogs)) == [(3, fresh)]


def test_a_truncated_collection_s_rows_are_compacted_away_and_no_longer_counted(compacting):
    cluster, node, dc = compacting
    fresh = cluster.tso.alloc(1)
    dc = restart_with_segments(cluster, node, dc, [(1, [1, 2], [10, 10]), (2, [3, 4], [20, fresh])])
    stats = ok(dc.GetCollectionStatistics(datacoord_pb2.GetCollectionStatisticsRequest(
        collectionID=COLL, truncated_ts=20)))
    assert stats.row_count == 2  # segment 1's rows are all at or before 20; segment 2 has a newer one
    resp = ok(dc.ManualCompaction(datacoord_pb2.ManualCompactionRequest(collectionID=COLL, expire_ts=21)))
    assert node.plans[-1].expire_ts == 21
    node.finish()
    state = ok(dc.GetCompactionState(datacoord_pb2.GetCompactionStateRequest(compactionID=resp.compactionID)))
    (plan,) = [p for p in state.plans if p.targets]
    result = segment(dc, plan.targets[0])
    assert result_rows(cluster.storage, datanode_pb2.CompactionResultSegment(insert_logs=result.binlogs)) == [(4, fresh)]
