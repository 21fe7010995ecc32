"""Partial update (``upsert(..., partial_update=True)``) through the real pymilvus client,
every role in this process: a stored row keeps every field the request leaves out (scalars,
nullable fields, JSON, dynamic keys, vectors of every kind bit for bit) and takes the ones it
gives; a new key is inserted with its nulls and defaults, or the request is refused, nothing
written, when it lacks a required field; duplicate keys are refused; a partition-key row goes
where its (merged) key hashes; BM25 follows the merged text; flushes and compactions keep the
merged rows."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from tests.conftest import wait_for
from tests.integration.cluster import running_stack

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
RNG = np.random.default_rng(3)
INVALID_PARAMETER = 1100


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("partial-update") / "data",
                       {"dataCoord.enableAutoCompaction": False}) as s:
        yield s


@pytest.fixture
def client(stack):
    with stack.client() as c:
        yield c
        for name in c.list_collections():
            c.drop_collection(name)


def _every_kind(client: MilvusClient, name: str) -> None:
    schema = MilvusClient.create_schema(enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("fv", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("hv", DataType.FLOAT16_VECTOR, dim=DIM)
    schema.add_field("bv", DataType.BINARY_VECTOR, dim=16)
    schema.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("title", DataType.VARCHAR, max_length=32)
    schema.add_field("note", DataType.VARCHAR, max_length=32, nullable=True)
    schema.add_field("rank", DataType.INT32, default_value=7)
    schema.add_field("doc", DataType.JSON, nullable=True)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
    index = client.prepare_index_params()
    index.add_index("fv", index_type="FLAT", metric_type="L2")
    index.add_index("hv", index_type="FLAT", metric_type="L2")
    index.add_index("bv", index_type="BIN_FLAT", metric_type="HAMMING")
    index.add_index("sv", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong", num_shards=2)


def _row(i: int) -> dict:
    return {"id": i, "fv": RNG.random(DIM, dtype=np.float32).tolist(), "hv": RNG.random(DIM).astype(np.float16),
            "bv": bytes([i, 255 - i]), "sv": {int(i) + 1: 0.5, 100 + i: 1.25}, "title": f"t{i}", "note": f"n{i}",
            "rank": i, "doc": {"k": i, "deep": [1, {"x": None}]}, "tags": [i, -i], "color": "red", "size": i}


def _expected(row: dict) -> dict:
    out = dict(row)
    out["hv"] = [row["hv"].astype("<f2").tobytes()]
    out["bv"] = [row["bv"]]
    out["sv"] = {k: float(np.float32(v)) for k, v in row["sv"].items()}
    return out


def _get(client: MilvusClient, name: str, ids) -> dict[int, dict]:
    rows = client.query(name, filter=f"id in {list(ids)}", output_fields=["*"], consistency_level="Strong")
    return {r["id"]: dict(r) for r in rows}


def _count(client: MilvusClient, name: str) -> int:
    return client.query(name, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]


def _flush_and_compact(client: MilvusClient, name: str) -> None:
    client.flush(name)
    job = client.compact(name)
    wait_for(lambda: str(client.get_compaction_state(job)) == "Completed", timeout=60, message="the compaction")
    client.release_collection(name)
    client.load_collection(name)


def test_stored_rows_keep_every_field_left_out(client):
    _every_kind(client, "kinds")
    rows = [_row(i) for i in range(6)]
    client.insert("kinds", rows[:3])
    client.flush("kinds")  # some stored rows sealed, some growing
    client.insert("kinds", rows[3:])
    new_fv = [[9.0, 8.0, 7.0, 6.0], [0.5, 0.25, 0.125, 0.0625]]
    result = client.upsert("kinds", [{"id": 1, "title": "T1", "note": None, "fv": new_fv[0], "size": 10},
                                     {"id": 4, "title": "T4", "note": "x", "fv": new_fv[1], "shape": "round"}],
                           partial_update=True)
    assert result["upsert_count"] == 2
    want = {i: _expected(r) for i, r in enumerate(rows)}
    want[1].update(title="T1", note=None, fv=new_fv[0], size=10)  # dynamic: "size" replaced, "color" kept
    want[4].update(title="T4", note="x", fv=new_fv[1], shape="round")
    assert _get(client, "kinds", range(6)) == want
    assert _count(client, "kinds") == 6

    hits = client.search("kinds", data=[new_fv[0]], anns_field="fv", limit=1, output_fields=["title"],
                         search_params={"metric_type": "L2"})
    assert [(h["id"], h["entity"]["title"]) for h in hits[0]] == [(1, "T1")]

    _flush_and_compact(client, "kinds")
    assert _get(client, "kinds", range(6)) == want
    assert _count(client, "kinds") == 6


def test_new_keys_are_inserted_with_nulls_and_defaults(client):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=8)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("note", DataType.VARCHAR, max_length=32, nullable=True)
    schema.add_field("rank", DataType.INT32, default_value=7)
    schema.add_field("score", DataType.DOUBLE, nullable=True, default_value=0.5)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection("fresh", schema=schema, index_params=index, consistency_level="Strong")
    client.insert("fresh", [{"id": "a", "vector": [1, 1], "note": "keep", "rank": 1, "score": 2.0}])
    # a mixed batch: "a" is stored, "b" is new
    client.upsert("fresh", [{"id": "a", "vector": [2, 2]}, {"id": "b", "vector": [3, 3]}], partial_update=True)
    rows = {r["id"]: r for r in client.query("fresh", filter="id != ''", output_fields=["*"])}
    assert rows == {"a": {"id": "a", "vector": [2.0, 2.0], "note": "keep", "rank": 1, "score": 2.0},
                    "b": {"id": "b", "vector": [3.0, 3.0], "note": None, "rank": 7, "score": 0.5}}


def test_a_new_key_missing_a_required_field_is_refused_and_nothing_written(client):
    client.create_collection("strict", dimension=2, consistency_level="Strong")  # id, vector, dynamic
    client.insert("strict", [{"id": 1, "vector": [1, 0], "color": "red"}])
    with pytest.raises(MilvusException) as refused:
        client.upsert("strict", [{"id": 1, "color": "blue"}, {"id": 2, "color": "green"}], partial_update=True)
    assert refused.value.code == INVALID_PARAMETER
    assert "fieldSchema(vector) has no corresponding fieldData pass in" in refused.value.message
    assert [dict(r) for r in client.query("strict", filter="id >= 0", output_fields=["*"])] == [
        {"id": 1, "vector": [1.0, 0.0], "color": "red"}]
    client.upsert("strict", [{"id": 1, "color": "blue"}], partial_update=True)  # only stored keys: fine
    assert [dict(r) for r in client.query("strict", filter="id >= 0", output_fields=["*"])] == [
        {"id": 1, "vector": [1.0, 0.0], "color": "blue"}]


def test_duplicate_keys_and_missing_keys_are_refused(client):
    client.create_collection("dups", dimension=2, consistency_level="Strong", auto_id=True)
    ids = client.insert("dups", [{"vector": [1, 0]}, {"vector": [0, 1]}])["ids"]
    with pytest.raises(MilvusException, match="duplicate primary keys are not allowed in the same batch"):
        client.upsert("dups", [{"id": ids[0], "vector": [1, 1]}, {"id": ids[0], "vector": [2, 2]}],
                      partial_update=True)
    with pytest.raises(MilvusException, match="must assign pk when upsert, primary field: id"):
        client.upsert("dups", [{"vector": [1, 1]}], partial_update=True)
    client.upsert("dups", [{"id": ids[1], "vector": [5, 5]}], partial_update=True)  # auto id: the key stays
    got = {r["id"]: r["vector"] for r in client.query("dups", filter="id >= 0", output_fields=["vector"])}
    assert got == {ids[0]: [1.0, 0.0], ids[1]: [5.0, 5.0]}


def test_partitions(client):
    client.create_collection("parts", dimension=2, consistency_level="Strong")
    client.create_partition("parts", "p1")
    client.insert("parts", [{"id": 1, "vector": [1, 0], "tag": "in p1"}], partition_name="p1")
    client.upsert("parts", [{"id": 1, "tag": "still p1"}], partition_name="p1", partial_update=True)
    assert [dict(r) for r in client.query("parts", filter="id == 1", output_fields=["*"], partition_names=["p1"])] \
        == [{"id": 1, "vector": [1.0, 0.0], "tag": "still p1"}]
    # as in Milvus, the stored row is looked for in the partition the request names (here the
    # default one): a key stored in another is a new row there
    with pytest.raises(MilvusException, match=r"fieldSchema\(vector\) has no corresponding fieldData"):
        client.upsert("parts", [{"id": 1, "tag": "x"}], partial_update=True)


def test_partition_key_rows_go_where_the_merged_key_hashes(client):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("tenant", DataType.INT64, is_partition_key=True)
    schema.add_field("note", DataType.VARCHAR, max_length=16)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection("keyed", schema=schema, index_params=index, num_partitions=8, consistency_level="Strong")
    client.insert("keyed", [{"id": i, "vector": [i, 0], "tenant": i, "note": f"n{i}"} for i in range(4)])
    client.flush("keyed")
    client.upsert("keyed", [{"id": 1, "note": "same tenant"}], partial_update=True)
    client.upsert("keyed", [{"id": 2, "note": "moved", "tenant": 30}], partial_update=True)
    by_tenant = lambda t: [dict(r) for r in client.query("keyed", filter=f"tenant == {t}",  # noqa: E731
                                                         output_fields=["*"])]
    assert by_tenant(1) == [{"id": 1, "vector": [1.0, 0.0], "tenant": 1, "note": "same tenant"}]
    assert by_tenant(30) == [{"id": 2, "vector": [2.0, 0.0], "tenant": 30, "note": "moved"}]
    assert by_tenant(2) == []
    assert _count(client, "keyed") == 4
    with pytest.raises(MilvusException, match="not support manually specifying the partition names"):
        client.upsert("keyed", [{"id": 1, "note": "x"}], partition_name="_default_0", partial_update=True)


def test_bm25_follows_the_merged_text(client):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=200, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("tag", DataType.VARCHAR, max_length=16, nullable=True)
    schema.add_function(Function(name="bm25", input_field_names=["text"], output_field_names=["sparse"],
                                 function_type=FunctionType.BM25))
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("docs", schema=schema, index_params=index, consistency_level="Strong")
    client.insert("docs", [{"id": 1, "text": "red apples and pears"}, {"id": 2, "text": "blue whales swim"}])
    client.upsert("docs", [{"id": 1, "tag": "fruit"}], partial_update=True)  # text kept: still found
    client.upsert("docs", [{"id": 2, "text": "green frogs jump"}], partial_update=True)

    def found(words: str) -> list[tuple[int, str | None]]:
        hits = client.search("docs", data=[words], anns_field="sparse", limit=5, output_fields=["tag"])
        return [(h["id"], h["entity"]["tag"]) for h in hits[0]]

    assert found("apples") == [(1, "fruit")]
    assert found("frogs") == [(2, None)]
    assert found("whales") == []
    _flush_and_compact(client, "docs")
    assert found("apples") == [(1, "fruit")]
    assert found("frogs") == [(2, None)]
    assert found("whales") == []


def test_a_collection_not_loaded_is_refused(client):
    client.create_collection("cold", dimension=2, consistency_level="Strong")
    client.insert("cold", [{"id": 1, "vector": [1, 0]}])
    client.release_collection("cold")
    with pytest.raises(MilvusException, match="collection not loaded"):
        client.upsert("cold", [{"id": 1, "vector": [0, 1]}], partial_update=True)


def test_array_operators_are_refused(client):
    client.create_collection("ops", dimension=2, consistency_level="Strong")
    client.insert("ops", [{"id": 1, "vector": [1, 0], "tags": [1]}])
    with pytest.raises(MilvusException, match="field op ARRAY_APPEND of field tags is not supported"):
        client.upsert("ops", [{"id": 1, "tags": [2]}], partial_update=True, field_ops={"tags": "array_append"})


def test_concurrent_partial_updates_of_one_row_lose_nothing(stack, client):
    client.create_collection("race", dimension=2, consistency_level="Strong")
    client.insert("race", [{"id": 1, "vector": [1, 0], "a": 0, "b": 0}])
    rounds = 12

    def bump(key: str) -> None:
        with stack.client() as own:
            for i in range(1, rounds + 1):
                own.upsert("race", [{"id": 1, key: i}], partial_update=True)

    threads = [threading.Thread(target=bump, args=(key,)) for key in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [dict(r) for r in client.query("race", filter="id == 1", output_fields=["*"])] == [
        {"id": 1, "vector": [1.0, 0.0], "a": rounds, "b": rounds}]
