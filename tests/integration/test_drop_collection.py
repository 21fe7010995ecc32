"""Dropping a collection through pymilvus releases everything it had, every role in this
process: the data node stops consuming its channels, the query node stops serving it, GC
removes its files, and a new collection of the same name sees only its own data."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from milvus._proto import querynode_pb2
from tests.conftest import wait_for
from tests.integration.cluster import running_stack

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 8


def _create(c: MilvusClient, name: str) -> None:
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    c.create_collection(name, schema=schema, consistency_level="Strong")


def _fill(c: MilvusClient, name: str, ids: range) -> None:
    rng = np.random.default_rng(ids.start)
    c.insert(name, [{"id": i, "vec": rng.random(DIM).tolist()} for i in ids])
    c.flush(name)
    params = c.prepare_index_params()
    params.add_index("vec", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
    c.create_index(name, params)
    c.load_collection(name)


def _served_collections(cluster) -> set[int]:
    dist = cluster.querynode.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    return {ch.collectionID for ch in dist.channels} | {s.collectionID for s in dist.segments}


def test_drop_collection_releases_its_channels_memory_and_files(tmp_path):
    overrides = {"dataCoord.gc.dropTolerance": 0.0, "dataCoord.gc.missingTolerance": 0.0,
                 "indexCoord.segment.minSegmentNumRowsToEnableIndex": 10}
    with running_stack(tmp_path / "data", overrides) as stack:
        cluster, storage = stack.cluster, stack.storage
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        try:
            _create(c, "docs")
            cid = c.describe_collection("docs")["collection_id"]
            _fill(c, "docs", range(100))
            wait_for(lambda: list(storage.list("index_files/")), timeout=60, message="the index built")
            assert list(storage.list(f"insert_log/{cid}/"))
            assert any(f"_{cid}v" in ch for ch in cluster.datanode.channels)
            assert cid in _served_collections(cluster)

            c.drop_collection("docs")
            assert not c.has_collection("docs")
            wait_for(lambda: not any(f"_{cid}v" in ch for ch in cluster.datanode.channels),
                     message="the data node unwatched the dropped collection's channels")
            wait_for(lambda: cid not in _served_collections(cluster),
                     message="the query node released the dropped collection")
            assert cluster.rootcoord.finish_drops()
            assert cluster.datacoord.collect_garbage() > 0
            assert list(storage.list("")) == []

            # the name is free again, and the new collection sees only its own rows
            _create(c, "docs")
            assert c.describe_collection("docs")["collection_id"] != cid
            _fill(c, "docs", range(1000, 1005))
            rows = c.query("docs", filter="id >= 0", output_fields=["id"])
            assert sorted(r["id"] for r in rows) == list(range(1000, 1005))
        finally:
            c.close()


def test_drop_partition_has_its_segments_dropped_and_collected(tmp_path):
    overrides = {"dataCoord.gc.dropTolerance": 0.0, "dataCoord.gc.missingTolerance": 0.0}
    with running_stack(tmp_path / "data", overrides) as stack:
        cluster, storage = stack.cluster, stack.storage
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        try:
            _create(c, "docs")
            c.create_partition("docs", "p")
            cid = c.describe_collection("docs")["collection_id"]
            rng = np.random.default_rng(5)
            c.insert("docs", [{"id": i, "vec": rng.random(DIM).tolist()} for i in range(10)])
            c.insert("docs", [{"id": i, "vec": rng.random(DIM).tolist()} for i in range(10, 30)], partition_name="p")
            c.flush("docs")

            def partition_dirs() -> set[str]:
                return {obj.key.split("/")[2] for obj in storage.list(f"insert_log/{cid}/")}

            assert len(partition_dirs()) == 2
            # loaded, as a whole or alone: refused as Milvus refuses it, nothing dropped
            params = c.prepare_index_params()
            params.add_index("vec", index_type="FLAT", metric_type="L2")
            c.create_index("docs", params)
            for load in (lambda: c.load_collection("docs"), lambda: c.load_partitions("docs", ["p"])):
                load()
                with pytest.raises(MilvusException, match="partition cannot be dropped, partition is loaded"):
                    c.drop_partition("docs", "p")
                assert sorted(c.list_partitions("docs")) == ["_default", "p"]
                with pytest.raises(MilvusException, match="default partition cannot be deleted"):
                    c.drop_partition("docs", "_default")
                c.release_collection("docs")
            c.drop_partition("docs", "missing")  # a partition that does not exist: a no-op, as before
            c.drop_partition("docs", "p")
            assert c.list_partitions("docs") == ["_default"]
            assert cluster.rootcoord.finish_drops()
            assert cluster.datacoord.collect_garbage() > 0
            assert len(partition_dirs()) == 1
            c.load_collection("docs")
            assert c.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 10
        finally:
            c.close()


@contextmanager
def _invalidations_lost(cluster, monkeypatch):
    """The proxy's meta cache misses the invalidations sent meanwhile (a proxy that missed a drop)."""
    with monkeypatch.context() as m:
        m.setattr(cluster.proxy.cache, "invalidate", lambda *a, **k: None)
        yield


def test_an_insert_through_a_proxy_that_missed_the_drop_gets_collection_not_found(tmp_path, monkeypatch):
    with running_stack(tmp_path / "data") as stack:
        cluster = stack.cluster
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        try:
            _create(c, "docs")
            cid = c.describe_collection("docs")["collection_id"]
            c.insert("docs", [{"id": 1, "vec": [0.0] * DIM}])  # cached here, its channels watched
            with _invalidations_lost(cluster, monkeypatch):
                c.drop_collection("docs")
            for _ in range(2):  # the stale entry answers once, then the name is asked again
                with pytest.raises(MilvusException) as raised:
                    c.insert("docs", [{"id": 2, "vec": [0.0] * DIM}])
                assert raised.value.code == 100 and "collection not found" in raised.value.message
            assert not c.has_collection("docs")
            assert not any(f"_{cid}v" in ch for ch in cluster.datanode.channels)
        finally:
            c.close()


def test_an_insert_into_a_dropped_partition_through_a_proxy_that_missed_the_drop_is_refused(tmp_path, monkeypatch):
    with running_stack(tmp_path / "data") as stack:
        cluster = stack.cluster
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        try:
            _create(c, "docs")
            c.create_partition("docs", "p")
            c.insert("docs", [{"id": 1, "vec": [0.0] * DIM}], partition_name="p")  # cached, watched
            with _invalidations_lost(cluster, monkeypatch):
                c.drop_partition("docs", "p")
            with pytest.raises(MilvusException) as raised:  # the stale entry: the data coordinator refuses
                c.insert("docs", [{"id": 2, "vec": [0.0] * DIM}], partition_name="p")
            assert raised.value.code == 200 and "partition not found" in raised.value.message
            with pytest.raises(MilvusException, match="partition not found"):  # asked again: gone
                c.insert("docs", [{"id": 3, "vec": [0.0] * DIM}], partition_name="p")
            c.insert("docs", [{"id": 4, "vec": [0.0] * DIM}])  # the collection itself still takes rows
            c.flush("docs")
            params = c.prepare_index_params()
            params.add_index("vec", index_type="FLAT", metric_type="L2")
            c.create_index("docs", params)
            c.load_collection("docs")
            rows = c.query("docs", filter="id >= 0", output_fields=["id"], consistency_level="Strong")
            assert sorted(r["id"] for r in rows) == [4]
        finally:
            c.close()
