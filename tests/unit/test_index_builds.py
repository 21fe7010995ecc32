"""Index builds without a cluster: the data coordinator's index service scheduling real index
nodes over flushed segments written to local object storage.  Builds finish and upload
their files; a node that restarts loses nothing (the build is issued again, as a new
version); a failure is reported with its reason; a restarted coordinator rebuilds nothing;
dropped indexes' files are collected."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus import errors
from milvus._proto import datacoord_pb2, indexnode_pb2
from milvus.binlog import write_insert_log
from milvus.datacoord.index_meta import IN_PROGRESS
from milvus.datacoord.index_service import IndexService, IndexServiceParams
from milvus.index import load_index
from milvus.indexnode import SERVICE as INDEXNODE_SERVICE
from milvus.indexnode import IndexNode
from milvus.kv.local import LocalKV
from milvus.metastore.index_catalog import IndexCatalog
from milvus.querynode.indexes import load_segment_indexes
from milvus.rpc import LocalClient
from milvus.storage.local import LocalStorage
from tests.readpath import make_batch, make_schema

DIM = 16
Finished, Failed, InProgress = (common_pb2.IndexState.Finished, common_pb2.IndexState.Failed,
                                common_pb2.IndexState.InProgress)


def kv(**pairs: object) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key=k, value=str(v)) for k, v in pairs.items()]


class World:
    def __init__(self, tmp_path, rows=(600, 300)):
        self.kv = LocalKV(str(tmp_path / "meta.sqlite3"), durable=False)
        self.storage = LocalStorage(tmp_path / "objects")
        self.ids = itertools.count(1000)
        self.schema = make_schema(dim=DIM)
        rng = np.random.default_rng(3)
        self.vectors = {}
        self.segments = []
        for sid, n in enumerate(rows, start=1):
            # each segment in two insert logs: the index keeps their row order
            vecs = rng.random((n, DIM), dtype=np.float32)
            self.vectors[sid] = vecs
            half = n // 2
            logs = []
            for part, (lo, hi) in enumerate(((0, half), (half, n))):
                key = f"insert_log/1/2/{sid}/{part}.parquet"
                self.storage.put(key, write_insert_log(make_batch(self.schema, list(range(lo, hi)), 1, vecs[lo:hi])))
                logs.append(datacoord_pb2.Binlog(log_path=key, entries_num=hi - lo, log_id=part + 1))
            self.segments.append(datacoord_pb2.SegmentInfo(
                id=sid, collection_id=1, partition_id=2, insert_channel="ch", num_of_rows=n,
                state=datacoord_pb2.FLUSHED, level=datacoord_pb2.SEGMENT_LEVEL_L1,
                binlogs=[datacoord_pb2.FieldBinlog(field_id=0, binlogs=logs)]))
        self.services: list[IndexService] = []
        self.nodes: list[IndexNode] = []

    def service(self, **params) -> IndexService:
        svc = IndexService(IndexCatalog(self.kv), segments=lambda _c: list(self.segments),
                           alloc_id=self._alloc,
                           alloc_ts=lambda n: int(time.time() * 1000) << 18,
                           params=IndexServiceParams(min_rows=400, **params))
        svc.start(run_loop=False)
        self.services.append(svc)
        return svc

    def _alloc(self, n: int) -> int:
        """The first of ``n`` fresh ids."""
        first = next(self.ids)
        for _ in range(n - 1):
            next(self.ids)
        return first

    def node(self) -> LocalClient:
        node = IndexNode(1, self.storage, workers=1)
        node.start()
        self.nodes.append(node)
        return LocalClient(node, INDEXNODE_SERVICE)

    def close(self):
        for svc in self.services:
            svc.stop()
        for node in self.nodes:
            node.stop()
        self.kv.close()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    w.close()


def create(svc: IndexService, **params: object) -> None:
    svc.create_index(datacoord_pb2.CreateIndexRequest(
        collectionID=1, fieldID=101, field_name="vec", field_type=schema_pb2.FloatVector,
        type_params=kv(dim=DIM), index_params=kv(**params), user_index_params=kv(**params)))


def settle(svc: IndexService, want=(Finished, Failed), timeout: float = 30.0) -> datacoord_pb2.IndexInfo:
    deadline = time.monotonic() + timeout
    while True:
        svc.schedule()
        info = svc.describe(1, "")[0]
        if info.state in want:
            return info
        assert time.monotonic() < deadline, f"index still {common_pb2.IndexState.Name(info.state)}"
        time.sleep(0.02)


def test_builds_finish_and_the_files_search_in_row_order(world):
    svc = world.service()
    svc.add_index_node(1, world.node())
    create(svc, index_type="HNSW", metric_type="L2", M=8, efConstruction=64)
    info = settle(svc)
    assert (info.state, info.total_rows, info.indexed_rows, info.pending_index_rows) == (Finished, 900, 900, 0)
    assert info.index_name == "vec"  # the field's name by default
    infos = svc.index_infos(1, [])
    big = next(i for i in infos if i.segmentID == 1)
    small = next(i for i in infos if i.segmentID == 2)
    assert not small.index_file_keys  # below min_rows: searched exactly, nothing built
    assert all(k.startswith(f"index_files/{big.buildID}/1/") for k in big.index_file_keys)
    index = load_index(lambda name: world.storage.get(f"index_files/{big.buildID}/1/{name}"))
    _, labels = index.search(world.vectors[1][[5, 400]], 1, {}, None)
    assert labels[:, 0].tolist() == [5, 400]


class Stuck:
    """An index node that accepts builds and never finishes them."""

    def __init__(self):
        self.jobs = []

    def CreateJob(self, request):
        self.jobs.append(request)
        return errors.OK

    def QueryJobs(self, request):
        return indexnode_pb2.QueryJobsResponse(status=errors.OK, index_infos=[
            indexnode_pb2.IndexTaskInfo(buildID=b, state=indexnode_pb2.IN_PROGRESS, index_version=1)
            for b in request.buildIDs])

    def DropJobs(self, request):
        return errors.OK


def test_a_restarted_node_gets_the_build_again(world):
    svc = world.service()
    stuck = Stuck()
    svc.add_index_node(1, stuck)
    create(svc, index_type="IVF_FLAT", metric_type="IP", nlist=8)
    assert settle(svc, want=(InProgress,)).state == InProgress
    svc.schedule()
    assert len(stuck.jobs) == 1 and stuck.jobs[0].index_version == 1
    svc.add_index_node(1, world.node())  # same node id, fresh process: it knows no build
    assert settle(svc).state == Finished
    info = next(i for i in svc.index_infos(1, []) if i.segmentID == 1)
    assert info.index_version == 2 and all("/2/" in k for k in info.index_file_keys)


def test_a_failed_build_is_reported_with_its_reason(world):
    svc = world.service()
    svc.add_index_node(1, world.node())
    create(svc, index_type="IVF_PQ", metric_type="L2", nlist=4, m=4, nbits=12)  # 4096 rows needed to train
    info = settle(svc)
    assert info.state == Failed
    assert "needs at least 4096 rows" in info.index_state_fail_reason and "segment 1" in info.index_state_fail_reason


def test_a_restarted_coordinator_rebuilds_nothing_and_gc_collects_dropped_indexes(world):
    svc = world.service()
    svc.add_index_node(1, world.node())
    create(svc, index_type="FLAT", metric_type="L2")
    settle(svc)
    before = {(i.segmentID, i.buildID, i.index_version) for i in svc.index_infos(1, [])}
    svc.stop()

    class Recorder:
        calls: list = []

        def __getattr__(self, name):
            def call(request):
                self.calls.append(name)
                raise AssertionError(f"{name} called after a restart")
            return call

    again = world.service()
    again.add_index_node(1, Recorder())
    again.schedule()
    assert {(i.segmentID, i.buildID, i.index_version) for i in again.index_infos(1, [])} == before
    assert again.describe(1, "vec")[0].state == Finished and not Recorder.calls

    keys = [k for i in again.index_infos(1, []) for k in i.index_file_keys]
    assert keys and all(world.storage.exists(k) for k in keys)
    again.drop_index(datacoord_pb2.DropIndexRequest(collectionID=1, index_name="vec"))
    with pytest.raises(errors.MilvusError, match="index not found"):
        again.describe(1, "vec")
    assert again.collect_garbage(world.storage, time.time(), 3600) == len(keys)
    assert not any(world.storage.exists(k) for k in keys)
    assert not IndexCatalog(world.kv).list_segment_indexes() and not IndexCatalog(world.kv).list_field_indexes()


def test_index_meta_rules(world):
    svc = world.service()
    create(svc, index_type="FLAT", metric_type="L2")
    create(svc, index_type="FLAT", metric_type="L2")  # the same again: fine
    with pytest.raises(errors.MilvusError, match="parameters are inconsistent"):
        create(svc, index_type="FLAT", metric_type="IP")
    with pytest.raises(errors.MilvusError, match="at most one distinct index is allowed per field"):
        svc.create_index(datacoord_pb2.CreateIndexRequest(
            collectionID=1, fieldID=101, index_name="other", field_name="vec", field_type=schema_pb2.FloatVector,
            index_params=kv(index_type="FLAT", metric_type="L2")))
    svc.drop_index(datacoord_pb2.DropIndexRequest(collectionID=1, index_name="missing"))  # no-op


def test_an_index_that_cannot_load_does_not_stop_serving(world, caplog):
    broken = datacoord_pb2.IndexFilePathInfo(segmentID=1, fieldID=101, buildID=5,
                                             index_file_keys=["index_files/5/1/meta.json"])
    small = datacoord_pb2.IndexFilePathInfo(segmentID=1, fieldID=102, buildID=6)  # no files: exact search
    loaded = load_segment_indexes(world.storage, [broken, small], 600, {}, None)
    assert list(loaded) == [102] and loaded[102].index is None  # the segment serves; the checker retries
    assert "index build 5 of segment 1 not loaded" in caplog.text


def test_running_builds_are_polled_often_not_once_per_check_interval(world):
    svc = IndexService(IndexCatalog(world.kv), segments=lambda _c: list(world.segments), alloc_id=world._alloc,
                       alloc_ts=lambda n: int(time.time() * 1000) << 18,
                       params=IndexServiceParams(min_rows=400, check_interval=30.0))
    world.services.append(svc)
    svc.add_index_node(1, world.node())
    svc.start()  # the background loop: woken by create_index, then it must poll on its own
    create(svc, index_type="FLAT", metric_type="L2")
    deadline = time.monotonic() + 20
    while svc.describe(1, "")[0].state != Finished:
        assert time.monotonic() < deadline, "a finished build waited for the next check interval"
        time.sleep(0.05)


def _running_on_node_1(world) -> list[tuple[int, int, int]]:
    """A build in progress on index node 1, then the coordinator stops: (segment, build, version)."""
    svc = world.service()
    svc.add_index_node(1, Stuck())
    create(svc, index_type="IVF_FLAT", metric_type="IP", nlist=8)
    assert settle(svc, want=(InProgress,)).state == InProgress
    running = _in_progress(svc)
    assert running
    svc.stop()
    return running


def _in_progress(svc: IndexService) -> list[tuple[int, int, int]]:
    return sorted((b.segmentID, b.buildID, b.index_version) for b in svc._meta.builds() if b.state == IN_PROGRESS)


def test_a_coordinator_that_takes_over_leaves_the_builds_of_a_live_node_with_it(world):
    """A round before the live index nodes registered took each for gone and issued its builds
    again: a coordinator that takes over waits for the nodes live as it starts."""
    running = _running_on_node_1(world)
    again = world.service()
    again.expect_index_nodes([1])
    again.schedule()  # node 1 not registered yet: its builds stay its own
    assert _in_progress(again) == running
    node = Stuck()
    again.add_index_node(1, node)
    again.schedule()
    assert not node.jobs  # asked about its builds, given none again
    assert _in_progress(again) == running


def test_the_builds_of_an_expected_index_node_that_does_not_come_are_issued_again_after_the_grace(world):
    running = _running_on_node_1(world)
    again = world.service(node_grace=0.0)
    again.expect_index_nodes([1])
    other = Stuck()
    again.add_index_node(2, other)
    again.schedule()
    again.schedule()
    assert sorted(j.buildID for j in other.jobs) == sorted(b for _, b, _ in running)
