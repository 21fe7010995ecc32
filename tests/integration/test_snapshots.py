"""Snapshots (Milvus 3.0's ``create_snapshot`` ... ``restore_snapshot``) through the real
pymilvus client, every role in this process: a snapshot sees the flushed rows and deletes of
its moment, not what comes after; a restore makes a new collection with the same schema,
partitions, indexes, primary keys (auto ids too) and dynamic fields; the snapshot's files
outlive a compaction and the GC while the snapshot or a pin names them, and go when neither
does; compaction protection; refusals."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from milvus._proto import datacoord_pb2
from milvus.binlog.format import log_paths
from tests.conftest import wait_for
from tests.integration.cluster import running_stack
from tests.integration.test_compaction import persistent_l1

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
RNG = np.random.default_rng(11)
OVERRIDES = {
    "dataCoord.enableAutoCompaction": False,
    "dataCoord.gc.dropTolerance": 0.0,  # a dropped segment's files go at the next GC pass
    "indexCoord.segment.minSegmentNumRowsToEnableIndex": 10,
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("snapshots") / "data", OVERRIDES) as st:
        yield st


@pytest.fixture
def client(stack):
    with stack.client() as c:
        yield c


def make_source(client: MilvusClient, name: str) -> None:
    schema = MilvusClient.create_schema(auto_id=True, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.VARCHAR, max_length=16)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
    index.add_index("tag", index_type="INVERTED", index_name="tag_idx")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong", num_shards=1)
    client.create_partition(name, "p1")


def rows(n: int, tag: str, extra: bool = False) -> list[dict]:
    out = [{"vector": RNG.random(DIM).tolist(), "tag": tag} for _ in range(n)]
    if extra:
        for i, row in enumerate(out):
            row["extra"] = i
    return out


def everything(client: MilvusClient, name: str, partitions=None) -> dict[int, tuple]:
    got = client.query(name, filter="id >= 0", output_fields=["tag", "extra"], partition_names=partitions,
                       consistency_level="Strong", limit=16384)
    return {r["id"]: (r["tag"], r.get("extra")) for r in got}


def restored(client: MilvusClient, snapshot: str, source: str, target: str) -> None:
    job = client.restore_snapshot(snapshot, source_collection_name=source, target_collection_name=target)
    wait_for(lambda: client.get_restore_snapshot_state(job).state in ("RestoreSnapshotCompleted",
                                                                      "RestoreSnapshotFailed"),
             timeout=60, message="the restore finished")
    info = client.get_restore_snapshot_state(job)
    assert info.state == "RestoreSnapshotCompleted", info.reason
    assert info.progress == 100 and info.collection_name == target and info.snapshot_name == snapshot
    assert [j.job_id for j in client.list_restore_snapshot_jobs(collection_name=target)] == [job]


def refused(call, fragment: str) -> None:
    with pytest.raises(MilvusException) as err:
        call()
    assert fragment in err.value.message, err.value.message


def snapshot_files(stack, client: MilvusClient, name: str, snapshot: str) -> list[str]:
    """The insert and delta log paths the snapshot names (its manifest, in object storage)."""
    manifest = datacoord_pb2.SnapshotManifest.FromString(
        stack.storage.get(client.describe_snapshot(snapshot, name).s3_location))
    return [p for s in manifest.segments for p in [*log_paths(s.binlogs), *log_paths(s.deltalogs)]]


def test_a_restore_sees_the_snapshot_s_moment_and_its_files_outlive_compaction(stack, client):
    make_source(client, "src")
    client.insert("src", rows(60, "a"))
    client.insert("src", rows(40, "b", extra=True), partition_name="p1")
    client.flush("src")
    client.insert("src", rows(30, "c"))
    client.flush("src")
    ids = sorted(everything(client, "src"))
    client.delete("src", ids=ids[:10])
    client.flush("src")  # an L0 segment
    expected = everything(client, "src")
    in_p1 = everything(client, "src", ["p1"])
    assert len(expected) == 120 and len(in_p1) == 40 and all(v[1] is not None for v in in_p1.values())

    client.create_snapshot("s1", "src", description="before the changes")
    assert client.list_snapshots(collection_name="src") == ["s1"]
    assert "s1" in client.list_snapshots()
    info = client.describe_snapshot("s1", "src")
    assert (info.name, info.description, info.collection_name) == ("s1", "before the changes", "src")
    assert sorted(info.partition_names) == ["_default", "p1"] and info.create_ts > 0
    refused(lambda: client.create_snapshot("s1", "src"), "already exists")

    # what follows the snapshot is not in it: more rows (flushed and not), more deletes, a compaction
    client.insert("src", rows(25, "d"))
    client.delete("src", ids=ids[10:20])
    client.flush("src")
    client.insert("src", rows(5, "e"))
    compaction = client.compact("src")
    wait_for(lambda: client.get_compaction_state(compaction) == "Completed", timeout=60, message="compaction")
    coll_id = client.describe_collection("src")["collection_id"]
    assert len(persistent_l1(stack.cluster, coll_id)) == 2  # the sources were dropped
    files = snapshot_files(stack, client, "src", "s1")
    stack.cluster.datacoord.collect_garbage()
    assert all(stack.storage.exists(p) for p in files)  # the snapshot keeps them

    restored(client, "s1", "src", "dst")
    described = client.describe_collection("dst")
    assert [f["name"] for f in described["fields"]] == ["id", "vector", "tag"]
    assert described["auto_id"] and described["enable_dynamic_field"]
    assert sorted(client.list_partitions("dst")) == ["_default", "p1"]
    assert sorted(client.list_indexes("dst")) == ["tag_idx", "vector"]
    client.load_collection("dst")
    assert everything(client, "dst") == expected  # the same keys, values and dynamic keys
    assert everything(client, "dst", ["p1"]) == in_p1
    hits = client.search("dst", [RNG.random(DIM).tolist()], limit=5, consistency_level="Strong")[0]
    assert len(hits) == 5 and all(h["id"] in expected for h in hits)

    refused(lambda: client.restore_snapshot("s1", "src", "dst"), "already exists")
    refused(lambda: client.restore_snapshot("nope", "src", "dst2"), "snapshot nope not found")
    refused(lambda: client.describe_snapshot("nope", "src"), "snapshot nope not found")

    manifest = client.describe_snapshot("s1", "src").s3_location
    assert manifest.startswith("snapshots/") and stack.storage.exists(manifest)
    client.drop_snapshot("s1", "src")
    assert client.list_snapshots(collection_name="src") == [] and not stack.storage.exists(manifest)
    refused(lambda: client.drop_snapshot("s1", "src"), "snapshot s1 not found")
    stack.cluster.datacoord.collect_garbage()
    dropped = [p for p in files if not stack.storage.exists(p)]
    assert dropped  # the compaction's sources, no longer named by anything, went
    assert everything(client, "dst") == expected  # the restored collection has its own files
    client.drop_collection("dst")


def test_a_pin_keeps_a_dropped_snapshot_s_files_until_released(stack, client):
    make_source(client, "pinned")
    client.insert("pinned", rows(30, "a"))
    client.flush("pinned")
    client.insert("pinned", rows(30, "b"))
    client.flush("pinned")
    client.create_snapshot("s", "pinned")
    files = snapshot_files(stack, client, "pinned", "s")
    pin = client.pin_snapshot_data("s", "pinned", ttl_seconds=600)
    compaction = client.compact("pinned")
    wait_for(lambda: client.get_compaction_state(compaction) == "Completed", timeout=60, message="compaction")
    client.drop_snapshot("s", "pinned")
    assert client.list_snapshots(collection_name="pinned") == []
    stack.cluster.datacoord.collect_garbage()
    assert all(stack.storage.exists(p) for p in files)  # the pin holds them
    client.unpin_snapshot_data(pin)
    refused(lambda: client.unpin_snapshot_data(pin), "not found")
    stack.cluster.datacoord.collect_garbage()
    assert not any(stack.storage.exists(p) for p in files)
    client.drop_collection("pinned")


def test_compaction_protection_and_a_dropped_collection_s_snapshots(stack, client):
    make_source(client, "protected")
    for tag in ("a", "b"):
        client.insert("protected", rows(20, tag))
        client.flush("protected")
    coll_id = client.describe_collection("protected")["collection_id"]
    before = {s.id for s in persistent_l1(stack.cluster, coll_id)}
    client.create_snapshot("guard", "protected", compaction_protection_seconds=3600)
    client.compact("protected")  # nothing to plan: both segments are protected
    assert {s.id for s in persistent_l1(stack.cluster, coll_id)} == before
    refused(lambda: client.create_snapshot("neg", "protected", compaction_protection_seconds=-1), "negative")
    refused(lambda: client.create_snapshot("x", "no_such_collection"), "collection not found")

    client.drop_collection("protected")  # its data goes (in the background): its snapshots with it
    wait_for(lambda: "guard" not in client.list_snapshots(), timeout=30, message="the snapshot dropped")


def test_partition_keys_functions_and_another_database(stack, client):
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=16)
    schema.add_field("group", DataType.INT64, is_partition_key=True)
    schema.add_field("text", DataType.VARCHAR, max_length=128, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("score", DataType.FLOAT, nullable=True)
    schema.add_function(Function("bm25", FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("docs", schema=schema, index_params=index, num_partitions=4,
                             consistency_level="Strong")
    words = ["apple", "banana", "cherry", "durian"]
    client.insert("docs", [{"id": f"k{i}", "group": i % 3, "text": f"{words[i % 4]} pie number {i}",
                            "score": None if i % 5 == 0 else float(i)} for i in range(40)])
    client.flush("docs")
    client.delete("docs", ids=["k1", "k2"])
    client.flush("docs")
    client.create_snapshot("v1", "docs")
    client.create_database("elsewhere")
    refused(lambda: client.restore_snapshot("v1", "docs", "copy", target_db_name="missing"), "database not found")

    job = client.restore_snapshot("v1", source_collection_name="docs", target_collection_name="copy",
                                  target_db_name="elsewhere")
    wait_for(lambda: client.get_restore_snapshot_state(job).state == "RestoreSnapshotCompleted", timeout=60,
             message="the restore completed")
    other = MilvusClient(uri=stack.uri, db_name="elsewhere")
    try:
        assert other.describe_collection("copy")["num_partitions"] == 4
        other.load_collection("copy")
        got = other.query("copy", filter="", output_fields=["id", "group", "score"], consistency_level="Strong",
                          limit=100)
        assert {r["id"]: (r["group"], r["score"]) for r in got} == {
            f"k{i}": (i % 3, None if i % 5 == 0 else float(i)) for i in range(40) if i not in (1, 2)}
        hits = other.search("copy", ["cherry"], anns_field="sparse", limit=20, output_fields=["text"],
                            consistency_level="Strong")[0]
        assert sorted(h["id"] for h in hits) == sorted(f"k{i}" for i in range(40) if i % 4 == 2 and i != 2)
        other.drop_collection("copy")
    finally:
        other.close()
    client.drop_database("elsewhere")
    client.drop_collection("docs")
