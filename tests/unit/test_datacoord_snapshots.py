"""The data coordinator's book of snapshots, pins and restore jobs (milvus/datacoord/snapshots.py),
on a real meta store: names unique per collection, what the GC and compaction must keep, pins
outliving a drop until they end, restore jobs' rules, and a restart."""

from __future__ import annotations

import pytest

from milvus import errors
from milvus._proto import datacoord_pb2
from milvus.datacoord.snapshots import SnapshotBook
from milvus.grpc_gen import milvus_pb2
from milvus.kv.local import LocalKV
from milvus.metastore.snapshot_catalog import SnapshotCatalog
from tests.unit.test_compaction import flushed_segment
from tests.unit.test_datacoord import COLL, Cluster, ok, watch


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FORGOTTEN: list[str] = []


@pytest.fixture
def env(tmp_path):
    kv = LocalKV(str(tmp_path / "meta.db"), durable=False)
    clock = Clock()
    FORGOTTEN.clear()
    book = SnapshotBook(SnapshotCatalog(kv), clock, forget=lambda s: FORGOTTEN.append(s.manifest))
    book.recover()
    yield kv, clock, book
    kv.close()


def snapshot(snapshot_id: int, name: str, collection_id: int = 1, segments=(10, 11), db: str = "default"):
    return datacoord_pb2.Snapshot(id=snapshot_id, name=name, collection_id=collection_id, db_name=db,
                                  segment_ids=segments, manifest=f"m{snapshot_id}")


def test_names_are_unique_per_collection_and_listed_by_collection_or_database(env):
    _, _, book = env
    book.create(snapshot(1, "a"), 0)
    book.create(snapshot(2, "a", collection_id=2, segments=(20,), db="other"), 0)
    with pytest.raises(errors.MilvusError, match="already exists"):
        book.create(snapshot(3, "a"), 0)
    assert [s.id for s in book.list(collection_id=1)] == [1]
    assert [s.id for s in book.list(db_name="other")] == [2]
    assert [s.id for s in book.list()] == [1, 2]
    assert book.get(2, "a").id == 2
    with pytest.raises(errors.MilvusError, match="snapshot b not found"):
        book.get(1, "b")
    assert book.protected_segments() == {10, 11, 20}
    book.drop(1, "a")
    assert book.protected_segments() == {20} and FORGOTTEN == ["m1"]
    book.create(snapshot(4, "a"), 0)  # the name is free again


def test_compaction_protection_ends(env):
    _, clock, book = env
    book.create(snapshot(1, "a"), 60)
    book.create(snapshot(2, "b", segments=(12,)), 0)
    assert book.compaction_protected() == {10, 11}
    clock.now += 61
    assert book.compaction_protected() == set()
    with pytest.raises(errors.MilvusError, match="negative"):
        book.create(snapshot(3, "c"), -1)


def test_a_pin_keeps_a_dropped_snapshot_until_released_or_expired(env):
    kv, clock, book = env
    book.create(snapshot(1, "a"), 0)
    book.create(snapshot(2, "b", segments=(12,)), 0)
    first = book.pin(1, "a", 0, pin_id=100)  # the default time to live
    book.pin(1, "b", 30, pin_id=101)
    book.drop(1, "a")
    book.drop_collection(1)
    assert book.list() == [] and book.protected_segments() == {10, 11, 12} and FORGOTTEN == []
    with pytest.raises(errors.MilvusError, match="not found"):
        book.pin(1, "a", 10, pin_id=102)  # a dropped snapshot is not pinned again
    clock.now += 31  # the pin of b expires
    assert book.protected_segments() == {10, 11} and FORGOTTEN == ["m2"]
    again = SnapshotBook(SnapshotCatalog(kv), clock)  # a restart keeps the dropped-but-pinned one
    again.recover()
    assert again.protected_segments() == {10, 11}
    again.unpin(first)
    assert again.protected_segments() == set()
    with pytest.raises(errors.MilvusError, match="pin 100 not found"):
        again.unpin(first)


def test_restore_jobs_final_stay_final_and_running_ones_fail_on_restart(env):
    kv, clock, book = env
    running = datacoord_pb2.RestoreJob(id=7, snapshot_name="a", db_name="default", collection_name="t",
                                       state=milvus_pb2.RestoreSnapshotExecuting)
    done = datacoord_pb2.RestoreJob(id=8, snapshot_name="a", db_name="default", collection_name="u",
                                    state=milvus_pb2.RestoreSnapshotCompleted)
    book.save_job(running)
    book.save_job(done)
    with pytest.raises(errors.MilvusError, match="already RestoreSnapshotCompleted"):
        book.save_job(done)
    assert [j.id for j in book.jobs(collection_name="t")] == [7]
    with pytest.raises(errors.MilvusError, match="restore job 9 not found"):
        book.jobs(job_id=9)
    again = SnapshotBook(SnapshotCatalog(kv), clock)
    again.recover()
    (job,) = again.jobs(job_id=7)
    assert job.state == milvus_pb2.RestoreSnapshotFailed and "restart" in job.reason
    clock.now += 100
    again.expire(retention=50, stall_timeout=1000)
    assert again.jobs() == []


def test_a_dropped_partition_s_files_stay_while_a_snapshot_names_them(tmp_path):
    cluster = Cluster(tmp_path)
    dc = cluster.coord(gc_drop_tolerance=0.0)
    watch(dc)
    flushed_segment(cluster, dc, 1, [1, 2, 3], [10, 10, 10], cluster.storage)
    dc.stop()
    dc = cluster.coord(gc_drop_tolerance=0.0)
    files = sorted(info.key for info in cluster.storage.list("insert_log/"))
    assert files
    ok(dc.CreateSnapshot(datacoord_pb2.CreateSnapshotRequest(snapshot=datacoord_pb2.Snapshot(
        name="s", collection_id=COLL, db_name="default"))))
    (snap,) = ok(dc.DescribeSnapshot(datacoord_pb2.SnapshotRequest(collection_id=COLL, name="s"))).snapshots
    assert list(snap.segment_ids) == [1] and cluster.storage.exists(snap.manifest)
    ok(dc.DropPartition(datacoord_pb2.DropPartitionRequest(collectionID=COLL, partitionID=1)))
    dc.collect_garbage()
    assert sorted(info.key for info in cluster.storage.list("insert_log/")) == files
    ok(dc.DropSnapshot(datacoord_pb2.SnapshotRequest(collection_id=COLL, name="s")))
    assert not cluster.storage.exists(snap.manifest)
    dc.collect_garbage()
    assert list(cluster.storage.list("insert_log/")) == []
    cluster.close()
