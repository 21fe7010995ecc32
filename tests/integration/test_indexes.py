"""Indexes end to end through the real pymilvus client, every role in this process: quick
setup (AUTOINDEX), create/describe/list/drop for every vector index type, recall@10 floors
against exact ground truth on a clustered set, index errors as Milvus words them, the
hand-off from growing to sealed to indexed while searches run, and a restart that keeps
the indexes without rebuilding them."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from pymilvus import (
    Collection,
    CollectionSchema,
    DataType,
    FieldSchema,
    MilvusClient,
    MilvusException,
    connections,
    utility,
)

from milvus._proto import querynode_pb2
from tests.conftest import wait_for
from tests.integration.cluster import running_cluster

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM, N, NQ, K = 32, 3000, 20, 10
MIN_ROWS = 500  # segments below this are searched exactly (indexCoord...minSegmentNumRowsToEnableIndex)
RNG = np.random.default_rng(11)
CENTERS = RNG.normal(size=(25, DIM)).astype(np.float32) * 4
VECS = (CENTERS[RNG.integers(0, 25, N)] + RNG.normal(size=(N, DIM))).astype(np.float32)
QUERIES = (CENTERS[RNG.integers(0, 25, NQ)] + RNG.normal(size=(NQ, DIM))).astype(np.float32)

# field -> (index type, metric, build params, recall@10 floor at default search params)
DENSE = {
    "flat": ("FLAT", "L2", {}, 0.99),
    "ivf_flat": ("IVF_FLAT", "IP", {"nlist": 32}, 0.85),
    "ivf_sq8": ("IVF_SQ8", "COSINE", {"nlist": 32}, 0.85),
    "ivf_pq": ("IVF_PQ", "L2", {"nlist": 32, "m": 8}, 0.35),
    "hnsw": ("HNSW", "COSINE", {"M": 16, "efConstruction": 128}, 0.95),
    "scann": ("SCANN", "IP", {"nlist": 32}, 0.85),
    "diskann": ("DISKANN", "L2", {}, 0.9),
    "auto": ("AUTOINDEX", "COSINE", {}, 0.95),
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("indexes") / "data",
                         {"indexCoord.segment.minSegmentNumRowsToEnableIndex": MIN_ROWS}) as cl:
        yield cl


@pytest.fixture
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    c.close()


def served_builds(cluster, collection_id: int) -> dict[int, set[int]]:
    """Sealed segment -> the index builds the query node searches it with."""
    dist = cluster.querynode.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    return {s.id: set(s.index_build_ids) for s in dist.segments if s.sealed and s.collectionID == collection_id}


def wait_served_with(cluster, collection_id: int, builds_per_segment: int, timeout: float = 60.0) -> dict:
    def ready():
        served = served_builds(cluster, collection_id)
        return served if served and all(len(b) >= builds_per_segment for b in served.values()) else None
    return wait_for(ready, timeout=timeout, interval=0.05, message="indexed segments served")


def exact_top(metric: str, x: np.ndarray, q: np.ndarray, ids: np.ndarray) -> list[list[int]]:
    if metric == "COSINE":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    key = ((q[:, None, :] - x[None]) ** 2).sum(-1) if metric == "L2" else -(q @ x.T)
    return [ids[np.argsort(row)[:K]].tolist() for row in key]


def recall(hits, truth) -> float:
    return float(np.mean([len({h["id"] for h in got} & set(want)) / K for got, want in zip(hits, truth, strict=True)]))


def test_quick_setup_uses_autoindex_and_its_metric(client):
    client.create_collection("quick", dimension=8)
    assert client.list_indexes("quick") == ["vector"]
    desc = client.describe_index("quick", "vector")
    assert {k: desc[k] for k in ("index_type", "metric_type", "field_name", "index_name", "state")} == {
        "index_type": "AUTOINDEX", "metric_type": "COSINE", "field_name": "vector", "index_name": "vector",
        "state": "Finished"}
    assert str(client.get_load_state("quick")["state"]) == "Loaded"
    client.insert("quick", [{"id": i, "vector": [float(i % 7 + 1), 1.0, 0, 0, 0, 0, 0, 0]} for i in range(20)])
    # Strong: the rows just inserted are searched (a Bounded read may run before they are visible)
    hits = client.search("quick", [[1.0, 1.0, 0, 0, 0, 0, 0, 0]], limit=3, consistency_level="Strong")
    assert len(hits[0]) == 3 and hits[0][0]["distance"] == pytest.approx(1.0)  # COSINE: from the index
    with pytest.raises(MilvusException, match=r"metric type not match.*expected=COSINE.*actual=L2"):
        client.search("quick", [[1.0] * 8], limit=3, search_params={"metric_type": "L2"})
    with pytest.raises(MilvusException, match="collection is loaded, please release it first"):
        client.drop_index("quick", "vector")
    client.release_collection("quick")
    client.drop_index("quick", "vector")
    assert client.list_indexes("quick") == [] and client.describe_index("quick", "vector") is None
    client.drop_collection("quick")


def test_every_dense_index_type_builds_searches_and_drops(cluster, client):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    for name in DENSE:
        schema.add_field(name, DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection("dense", schema=schema, num_shards=1)
    ids = np.arange(N)
    client.insert("dense", [{"id": int(i), **{name: VECS[i].tolist() for name in DENSE}} for i in ids])
    client.flush("dense")
    params = client.prepare_index_params()
    for name, (index_type, metric, build, _) in DENSE.items():
        params.add_index(name, index_type=index_type, metric_type=metric, params=build)
    client.create_index("dense", params)  # waits until every flushed segment is indexed
    assert sorted(client.list_indexes("dense")) == sorted(DENSE)
    hnsw = client.describe_index("dense", "hnsw")
    assert (hnsw["index_type"], hnsw["metric_type"], hnsw["M"], hnsw["efConstruction"]) == ("HNSW", "COSINE",
                                                                                            "16", "128")
    assert (hnsw["total_rows"], hnsw["indexed_rows"], hnsw["pending_index_rows"]) == (N, N, 0)
    client.load_collection("dense")
    coll_id = client.describe_collection("dense")["collection_id"]
    wait_served_with(cluster, coll_id, len(DENSE))

    for name, (_, metric, _, floor) in DENSE.items():
        hits = client.search("dense", QUERIES.tolist(), limit=K, anns_field=name)  # the index's metric
        assert recall(hits, exact_top(metric, VECS, QUERIES, ids)) >= floor, name
        filtered = client.search("dense", QUERIES.tolist(), limit=K, anns_field=name, filter="id >= 2000")
        assert all(h["id"] >= 2000 for got in filtered for h in got)
        keep = ids >= 2000
        assert recall(filtered, exact_top(metric, VECS[keep], QUERIES, ids[keep])) >= floor - 0.05, name

    # a filter keeping very few rows is answered exactly
    few = client.search("dense", QUERIES.tolist(), limit=K, anns_field="hnsw", filter="id < 40")
    assert recall(few, exact_top("COSINE", VECS[:40], QUERIES, ids[:40])) == 1.0

    # search parameters reach the index
    with pytest.raises(MilvusException, match=r"ef\(5\) should be larger than k\(10\)"):
        client.search("dense", QUERIES[:1].tolist(), limit=K, anns_field="hnsw", search_params={"params": {"ef": 5}})
    wide = client.search("dense", QUERIES.tolist(), limit=K, anns_field="ivf_flat",
                         search_params={"params": {"nprobe": 32}})
    assert recall(wide, exact_top("IP", VECS, QUERIES, ids)) == 1.0
    best = client.search("dense", QUERIES[:1].tolist(), limit=K, anns_field="diskann")[0]
    radius = best[5]["distance"]
    ranged = client.search("dense", QUERIES[:1].tolist(), limit=K, anns_field="diskann",
                           search_params={"params": {"radius": radius, "range_filter": best[1]["distance"]}})[0]
    assert [h["id"] for h in ranged] == [h["id"] for h in best[1:5]]

    client.release_collection("dense")
    for name in DENSE:
        client.drop_index("dense", name)
    assert client.list_indexes("dense") == []
    client.drop_collection("dense")


def test_binary_and_sparse_indexes(cluster, client):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("bin_flat", DataType.BINARY_VECTOR, dim=64)
    schema.add_field("bin_ivf", DataType.BINARY_VECTOR, dim=64)
    schema.add_field("sp_inv", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("sp_wand", DataType.SPARSE_FLOAT_VECTOR)
    client.create_collection("other", schema=schema, num_shards=1)
    centers = RNG.integers(0, 256, (10, 8), dtype=np.uint8)
    bits = centers[RNG.integers(0, 10, N)] ^ np.packbits(RNG.random((N, 64)) < 0.08, axis=1)
    sparse = [{int(d): float(v) for d, v in zip(RNG.choice(300, 8, replace=False), RNG.random(8), strict=True)}
              for _ in range(N)]
    client.insert("other", [{"id": i, "bin_flat": bits[i].tobytes(), "bin_ivf": bits[i].tobytes(),
                             "sp_inv": sparse[i], "sp_wand": sparse[i]} for i in range(N)])
    client.flush("other")
    params = client.prepare_index_params()
    params.add_index("bin_flat", index_type="BIN_FLAT", metric_type="HAMMING")
    params.add_index("bin_ivf", index_type="BIN_IVF_FLAT", metric_type="JACCARD", params={"nlist": 16})
    params.add_index("sp_inv", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    params.add_index("sp_wand", index_type="SPARSE_WAND", metric_type="IP", params={"drop_ratio_build": 0.0})
    client.create_index("other", params)
    client.load_collection("other")
    wait_served_with(cluster, client.describe_collection("other")["collection_id"], 4)

    q = bits[:5]
    exact = np.bitwise_count(q[:, None, :] ^ bits[None]).sum(-1)
    hits = client.search("other", [v.tobytes() for v in q], limit=K, anns_field="bin_flat")
    for row, got in zip(exact, hits, strict=True):
        assert [h["distance"] for h in got] == sorted(row)[:K]
    jac = client.search("other", [v.tobytes() for v in q], limit=K, anns_field="bin_ivf",
                        search_params={"params": {"nprobe": 16}})
    assert all(len(got) == K and got[0]["id"] == i for i, got in enumerate(jac))
    for field in ("sp_inv", "sp_wand"):
        got = client.search("other", sparse[:3], limit=K, anns_field=field)
        for i, result in enumerate(got):
            scores = [sum(v * sparse[j].get(d, 0.0) for d, v in sparse[i].items()) for j in range(N)]
            assert [h["distance"] for h in result] == pytest.approx(sorted(scores, reverse=True)[:K], rel=1e-5)
    client.release_collection("other")
    for field in ("bin_flat", "bin_ivf", "sp_inv", "sp_wand"):
        client.drop_index("other", field)
    assert client.list_indexes("other") == []
    client.drop_collection("other")


SCALAR_INDEXES = {"num": "STL_SORT", "tag": "INVERTED", "level": "BITMAP", "title": "Trie", "score": "STL_SORT"}
SCALAR_FILTERS = ["num < 300", "num >= 1100 and level == 2", "100 <= num < 140 or num in [5, 999, 7000]",
                  "tag == 't3'", "tag in ['t1', 't4'] and not (level > 3)", "level != 1", "title like 'w1%'",
                  "title like 'w1_'", "title == 'w17'", "score > 0.5 and title like 'w2%'", "num != 17 and tag < 't2'"]


def test_scalar_indexes_filter_like_a_scan(cluster, client):
    rng = np.random.default_rng(5)
    rows = [{"id": i, "vec": VECS[i, :8].tolist(), "num": int(rng.integers(0, 1500)), "tag": f"t{i % 6}",
             "level": int(i % 5), "title": f"w{rng.integers(0, 40)}", "score": float(rng.random())}
            for i in range(1200)]
    for name in ("plain", "indexed"):
        schema = client.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=8)
        schema.add_field("num", DataType.INT64)
        schema.add_field("tag", DataType.VARCHAR, max_length=8)
        schema.add_field("level", DataType.INT32)
        schema.add_field("title", DataType.VARCHAR, max_length=8)
        schema.add_field("score", DataType.DOUBLE)
        client.create_collection(name, schema=schema, num_shards=1)
        client.insert(name, rows)
        client.flush(name)
    params = client.prepare_index_params()
    for field, index_type in SCALAR_INDEXES.items():
        params.add_index(field, index_type=index_type)
    client.create_index("indexed", params)
    assert client.describe_index("indexed", "level")["index_type"] == "BITMAP"
    for name in ("plain", "indexed"):
        client.load_collection(name)
    wait_served_with(cluster, client.describe_collection("indexed")["collection_id"], len(SCALAR_INDEXES))
    query = VECS[:2, :8].tolist()
    for expr in SCALAR_FILTERS:
        want = sorted(r["id"] for r in client.query("plain", filter=expr, output_fields=["id"]))
        got = sorted(r["id"] for r in client.query("indexed", filter=expr, output_fields=["id"]))
        assert got == want and want, expr
        want_hits = client.search("plain", query, limit=10, filter=expr, search_params={"metric_type": "L2"})
        got_hits = client.search("indexed", query, limit=10, filter=expr, search_params={"metric_type": "L2"})
        assert [[h["id"] for h in q] for q in got_hits] == [[h["id"] for h in q] for q in want_hits], expr
    for name in ("plain", "indexed"):
        client.drop_collection(name)


def test_index_errors_are_clear(client):
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("tag", DataType.INT64)
    schema.add_field("title", DataType.VARCHAR, max_length=32)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=8)
    client.create_collection("errs", schema=schema)

    def create(field, **kwargs):
        params = client.prepare_index_params()
        params.add_index(field, **kwargs)
        client.create_index("errs", params)

    for kwargs, message in [
        ({"index_type": "NOPE"}, "invalid index type: NOPE"),
        ({"index_type": "HNSW", "metric_type": "JACCARD"}, r"metric type JACCARD not found or not supported"),
        ({"index_type": "HNSW", "metric_type": "L2", "params": {"M": 5000}}, r"param 'M' \(5000\) should be in range"),
        ({"index_type": "IVF_PQ", "metric_type": "L2", "params": {"m": 3}}, "integer multiple"),
    ]:
        with pytest.raises(MilvusException, match=message):
            create("vec", **kwargs)
    with pytest.raises(MilvusException, match="cannot create index on non-exist field: nope"):
        create("nope", index_type="FLAT")
    with pytest.raises(MilvusException, match="Trie are not supported on Int64"):
        create("tag", index_type="Trie")
    with pytest.raises(MilvusException, match="Invalid index name"):
        create("vec", index_type="FLAT", metric_type="L2", index_name="1bad")
    create("tag", index_type="STL_SORT")  # scalar indexes (see test_scalar_indexes_filter_like_a_scan)
    create("title", index_type="Trie", index_name="title_idx")
    create("vec", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 64})
    create("vec", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 64})  # idempotent
    with pytest.raises(MilvusException, match="at most one distinct index is allowed per field"):
        create("vec", index_type="FLAT", metric_type="L2", index_name="another")
    assert sorted(client.list_indexes("errs")) == ["tag", "title_idx", "vec"]
    assert client.describe_index("errs", "tag")["index_type"] == "STL_SORT"
    client.drop_collection("errs")


def test_search_never_sees_a_gap_during_hand_off(cluster, client):
    client.create_collection("handoff", dimension=16, metric_type="L2", consistency_level="Strong", num_shards=1)
    ids = np.arange(2000)
    vecs = RNG.random((2000, 16), dtype=np.float32)
    client.insert("handoff", [{"id": int(i), "vector": vecs[i].tolist()} for i in ids])
    coll_id = client.describe_collection("handoff")["collection_id"]
    stop = threading.Event()
    failures: list[str] = []
    rounds = [0]

    def searcher() -> None:
        try:
            search_loop()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failures.append(repr(exc))
            stop.set()

    def search_loop() -> None:
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        try:
            while not stop.is_set():
                hits = c.search("handoff", vecs[:3].tolist(), limit=10)
                for q, got in enumerate(hits):
                    got_ids = [h["id"] for h in got]
                    if len(got_ids) != 10 or len(set(got_ids)) != 10 or got_ids[0] != q:
                        failures.append(f"query {q}: {got_ids}")
                count = c.query("handoff", filter="", output_fields=["count(*)"])[0]["count(*)"]
                if count != 2000:
                    failures.append(f"count {count}")
                rounds[0] += 1
        finally:
            c.close()

    thread = threading.Thread(target=searcher)
    thread.start()
    try:
        wait_for(lambda: rounds[0] >= 3 or failures, timeout=30, message="searches on growing data")
        client.flush("handoff")  # growing -> sealed (exact) -> indexed, while searching
        wait_served_with(cluster, coll_id, 1)
        done = rounds[0]
        wait_for(lambda: rounds[0] >= done + 3 or failures, timeout=30, message="searches on the indexed segment")
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[:5]
    client.drop_collection("handoff")


def test_restart_keeps_indexes_without_rebuilding(tmp_path):
    data = tmp_path / "data"
    overrides = {"indexCoord.segment.minSegmentNumRowsToEnableIndex": MIN_ROWS}
    vecs = RNG.random((1500, 16), dtype=np.float32)
    with running_cluster(data, overrides) as cl:
        c = MilvusClient(uri=f"http://127.0.0.1:{cl.port}")
        c.create_collection("kept", dimension=16, metric_type="L2", num_shards=1, index_params=None)
        c.insert("kept", [{"id": i, "vector": vecs[i].tolist()} for i in range(1500)])
        c.flush("kept")
        coll_id = c.describe_collection("kept")["collection_id"]
        before = wait_served_with(cl, coll_id, 1)
        assert cl.indexnode.health()[1]["builds"] >= 1
        c.close()
    with running_cluster(data, overrides) as cl:
        c = MilvusClient(uri=f"http://127.0.0.1:{cl.port}")
        after = wait_served_with(cl, coll_id, 1)  # loaded again, with the same builds
        assert after == before
        time.sleep(0.3)  # a few scheduling rounds
        assert cl.indexnode.health()[1]["builds"] == 0, "an index was built again"
        hits = c.search("kept", [vecs[7].tolist()], limit=1)
        assert hits[0][0]["id"] == 7
        c.close()


def test_orm_api(cluster):
    connections.connect(alias="orm-idx", uri=f"http://127.0.0.1:{cluster.port}")
    try:
        fields = [FieldSchema("id", DataType.INT64, is_primary=True),
                  FieldSchema("vec", DataType.FLOAT_VECTOR, dim=DIM)]
        coll = Collection("orm_idx", CollectionSchema(fields), using="orm-idx")
        coll.insert([list(range(1000)), VECS[:1000].tolist()])
        coll.flush()
        coll.create_index("vec", {"index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 16}})
        assert utility.wait_for_index_building_complete("orm_idx", using="orm-idx")
        progress = utility.index_building_progress("orm_idx", using="orm-idx")
        assert (progress["total_rows"], progress["indexed_rows"], progress["state"]) == (1000, 1000, "Finished")
        index = coll.index()
        assert index.params == {"index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 16}}
        assert coll.has_index() and [i.field_name for i in coll.indexes] == ["vec"]
        coll.load()
        res = coll.search(VECS[:2].tolist(), "vec", {"metric_type": "L2", "params": {"nprobe": 16}}, limit=3)
        assert [r.ids[0] for r in res] == [0, 1]
        coll.release()
        coll.drop_index()
        assert not coll.has_index()
        coll.drop()
    finally:
        connections.disconnect("orm-idx")
