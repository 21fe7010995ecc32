"""Dropping fields and functions (Milvus 3.0's ``drop_collection_field``,
``drop_collection_function`` and ``alter_collection_schema``, all AlterCollectionSchema /
DropCollectionFunction) through the real pymilvus client, every role in this process.

A loaded collection with sealed and growing rows loses an indexed scalar field and an indexed
vector field: its schema, its indexes, outputs and filters no longer know them, rows written
after the drop (without the field, in the same growing segment as rows with it) flush, load
and read back whole; a field added again under the dropped name gets a new id and old rows
read null for it, never the dropped field's values, before and after a flush, a compaction
and a reload.  What Milvus refuses is refused."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from milvus.binlog import read_insert_log
from milvus.binlog.format import log_paths
from milvus.grpc_gen import milvus_pb2
from tests.conftest import wait_for
from tests.integration.cluster import running_stack
from tests.integration.test_compaction import compacted_into_one

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
NAME = "shrinking"
# every segment indexed, however small: the filter then reads the scalar indexes
OVERRIDES = {"dataCoord.enableAutoCompaction": False, "indexCoord.segment.minSegmentNumRowsToEnableIndex": 1}
RNG = np.random.default_rng(5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("drop-field") / "data", OVERRIDES) as st:
        yield st


@pytest.fixture(scope="module")
def cluster(stack):
    return stack.cluster


@pytest.fixture(scope="module")
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    c.close()


def rows(ids, *, score=True, second=True):
    out = []
    for i in ids:
        row = {"id": i, "vector": RNG.random(DIM).tolist(), "tag": f"t{i}"}
        if score:
            row["score"] = i * 10
        if second:
            row["vector2"] = RNG.random(DIM).tolist()
        out.append(row)
    return out


def query(client, expr, fields):
    got = client.query(NAME, filter=expr, output_fields=["id", *fields], consistency_level="Strong", limit=1000)
    return {r["id"]: tuple(r[f] for f in fields) for r in got}


def field_names(client, name=NAME):
    return [f["name"] for f in client.describe_collection(name)["fields"]]


def index_fields(client, name=NAME):
    return {client.describe_index(name, index)["field_name"] for index in client.list_indexes(name)}


def refused(fn, words, code=1100):
    """``fn`` fails with ``words`` in its message and the error code ``code`` (None: any)."""
    with pytest.raises(MilvusException) as info:
        fn()
    assert code in (None, info.value.code) and words in info.value.message, info.value


def make_collection(client):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("vector2", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.VARCHAR, max_length=16)
    schema.add_field("score", DataType.INT64)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="HNSW", metric_type="L2", params={"M": 8, "efConstruction": 32})
    index.add_index("vector2", index_type="FLAT", metric_type="L2")
    index.add_index("score", index_type="STL_SORT")
    client.create_collection(NAME, schema=schema, index_params=index, consistency_level="Strong", num_shards=1)


def test_a_loaded_collection_loses_fields_and_gets_one_back(stack, cluster, client):
    make_collection(client)
    client.insert(NAME, rows(range(0, 10)))
    client.flush(NAME)  # sealed rows
    client.insert(NAME, rows(range(10, 20)))  # growing rows
    fields = {f["name"]: f["field_id"] for f in client.describe_collection(NAME)["fields"]}
    assert index_fields(client) == {"vector", "vector2", "score"}

    client.drop_collection_field(NAME, field_name="score")
    assert field_names(client) == ["id", "vector", "vector2", "tag"]
    assert index_fields(client) == {"vector", "vector2"}
    star = client.query(NAME, filter="id == 3", output_fields=["*"], consistency_level="Strong")
    assert set(star[0]) == {"id", "vector", "vector2", "tag"}
    refused(lambda: query(client, "id >= 0", ["score"]), "field score not exist", code=1700)
    refused(lambda: query(client, "score > 10", []), "score", code=None)

    # rows without the field land in the growing segment that holds rows with it
    client.insert(NAME, rows(range(20, 30), score=False))
    everything = {i: (f"t{i}",) for i in range(30)}
    assert query(client, "id >= 0", ["tag"]) == everything

    # the loaded, indexed second vector field goes too (by id); the first still searches
    client.drop_collection_field(NAME, field_id=fields["vector2"])
    assert field_names(client) == ["id", "vector", "tag"]
    assert index_fields(client) == {"vector"}
    hits = client.search(NAME, [RNG.random(DIM).tolist()], limit=30, output_fields=["tag"],
                         consistency_level="Strong")[0]
    assert sorted(h["id"] for h in hits) == list(range(30))
    refused(lambda: client.search(NAME, [RNG.random(DIM).tolist()], anns_field="vector2", limit=3), "vector2",
            code=None)
    client.insert(NAME, rows(range(30, 35), score=False, second=False))
    everything.update({i: (f"t{i}",) for i in range(30, 35)})

    # the growing rows, with and without the dropped fields, are written and read back
    client.flush(NAME)
    assert query(client, "id >= 0", ["tag"]) == everything
    client.release_collection(NAME)
    client.load_collection(NAME)
    assert query(client, "id >= 0", ["tag"]) == everything

    # the name comes back as a new field: older rows read null, never the dropped values
    client.add_collection_field(NAME, "score", DataType.INT64, nullable=True)
    score_id = next(f["field_id"] for f in client.describe_collection(NAME)["fields"] if f["name"] == "score")
    assert score_id > max(fields.values())
    client.insert(NAME, [{**r, "score": -r["id"]} for r in rows(range(35, 40), score=False, second=False)])
    expected = {i: (f"t{i}", None) for i in range(35)} | {i: (f"t{i}", -i) for i in range(35, 40)}
    assert query(client, "id >= 0", ["tag", "score"]) == expected
    assert set(query(client, "score is null", [])) == set(range(35))
    assert set(query(client, "score < -36", [])) == {37, 38, 39}

    # an index on the new field is built from its values, not the dropped field's
    client.flush(NAME)
    index = client.prepare_index_params()
    index.add_index("score", index_type="INVERTED")
    client.create_index(NAME, index)
    wait_for(lambda: client.describe_index(NAME, "score")["state"] == "Finished", timeout=60,
             message="the index on the field added again")
    client.release_collection(NAME)
    client.load_collection(NAME)
    assert query(client, "score >= 0", []) == {}
    assert set(query(client, "score < -36", [])) == {37, 38, 39}
    assert query(client, "id >= 0", ["tag", "score"]) == expected

    compacted = compacted_into_one(cluster, client, NAME)
    # the compaction leaves the dropped fields' columns out (storage reclaimed) and writes the
    # new field of the same name as its own column, by its id
    (path,) = log_paths(compacted.binlogs)
    written = read_insert_log(stack.storage.get(path))
    assert written.column_names == ["_row_id", "_ts", "id", "vector", "tag", "score"]
    assert written.schema.field("score").metadata[b"PARQUET:field_id"] == str(score_id).encode()
    assert written.column("score").to_pylist() == [None] * 35 + [-i for i in range(35, 40)]
    assert query(client, "id >= 0", ["tag", "score"]) == expected
    client.release_collection(NAME)
    client.load_collection(NAME)
    assert query(client, "id >= 0", ["tag", "score"]) == expected


def test_refusals(client):
    if not client.has_collection(NAME):
        make_collection(client)
    before = client.describe_collection(NAME)["fields"]
    refused(lambda: client.drop_collection_field(NAME, field_name="id"), "primary key")
    refused(lambda: client.drop_collection_field(NAME, field_name="nope"), "field not found")
    refused(lambda: client.drop_collection_field(NAME, field_id=99999), "field not found")
    if "vector2" in [f["name"] for f in before]:
        client.drop_collection_field(NAME, field_name="vector2")
        before = client.describe_collection(NAME)["fields"]
    refused(lambda: client.drop_collection_field(NAME, field_name="vector"), "last vector field")
    refused(lambda: client.drop_collection_field("no_such_collection", field_name="tag"), "collection not found",
            code=100)
    assert client.describe_collection(NAME)["fields"] == before


def test_partition_key_and_dynamic_field_stay(client):
    name = "keyed"
    schema = client.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("group", DataType.INT64, is_partition_key=True)
    client.create_collection(name, schema=schema, consistency_level="Strong", num_partitions=4)
    refused(lambda: client.drop_collection_field(name, field_name="group"), "partition key")
    refused(lambda: client.drop_collection_field(name, field_name="$meta"), "dynamic field")
    # a collection without any index loses a field too
    client.add_collection_field(name, "note", DataType.INT64, nullable=True)
    client.drop_collection_field(name, field_name="note")
    assert field_names(client, name) == ["id", "vector", "group"]
    client.drop_collection(name)


def bm25_collection(client, name):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=200, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    client.insert(name, [{"id": i, "text": f"apple number {i}", "vector": RNG.random(DIM).tolist()}
                         for i in range(10)])
    hits = client.search(name, ["apple"], anns_field="sparse", limit=20, consistency_level="Strong")[0]
    assert len(hits) == 10


@pytest.mark.parametrize("drop", ["drop_collection_function", "drop_function_field"])
def test_dropping_a_function_drops_its_outputs(client, drop):
    name = "lexical"
    bm25_collection(client, name)
    refused(lambda: client.drop_collection_field(name, field_name="sparse"), "drop_collection_function")
    refused(lambda: client.drop_collection_field(name, field_name="text"), "input of function bm25")
    refused(lambda: getattr(client, drop)(name, "nope"), "function not found")

    getattr(client, drop)(name, "bm25")
    described = client.describe_collection(name)
    assert [f["name"] for f in described["fields"]] == ["id", "text", "vector"]
    assert not described.get("functions")
    assert index_fields(client, name) == {"vector"}
    client.insert(name, [{"id": i, "text": f"pear {i}", "vector": RNG.random(DIM).tolist()} for i in range(10, 15)])
    client.flush(name)
    got = client.query(name, filter="id >= 0", output_fields=["text"], consistency_level="Strong", limit=100)
    assert {r["id"]: r["text"] for r in got} == ({i: f"apple number {i}" for i in range(10)}
                                                 | {i: f"pear {i}" for i in range(10, 15)})
    refused(lambda: client.search(name, ["apple"], anns_field="sparse", limit=3), "sparse", code=None)
    client.drop_collection(name)


def test_a_function_dropped_without_its_outputs_leaves_an_ordinary_field(cluster, client):
    name = "lexical_kept"
    bm25_collection(client, name)
    # MilvusClient has no public call for this form: the RPC itself
    channel = grpc.insecure_channel(f"127.0.0.1:{cluster.port}")
    try:
        call = channel.unary_unary("/milvus.proto.milvus.MilvusService/AlterCollectionSchema",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=milvus_pb2.AlterCollectionSchemaResponse.FromString)
        drop = milvus_pb2.AlterCollectionSchemaRequest.DropRequest(function_name="bm25",
                                                                  drop_function_output_fields=False)
        response = call(milvus_pb2.AlterCollectionSchemaRequest(
            collection_name=name, action=milvus_pb2.AlterCollectionSchemaRequest.Action(drop_request=drop)),
            timeout=10)
    finally:
        channel.close()
    assert response.alter_status.code == 0, response
    described = client.describe_collection(name)
    assert [f["name"] for f in described["fields"]] == ["id", "text", "sparse", "vector"]
    assert not described.get("functions")
    sparse = next(f for f in described["fields"] if f["name"] == "sparse")
    assert not sparse.get("is_function_output")
    assert index_fields(client, name) == {"vector"}  # the BM25 index went with the function
    client.insert(name, [{"id": 20, "text": "plain", "sparse": {3: 0.5}, "vector": RNG.random(DIM).tolist()}])
    got = client.query(name, filter="id == 20", output_fields=["sparse"], consistency_level="Strong")
    assert got[0]["sparse"] == {3: 0.5}
    # an ordinary sparse field now: indexed and searched by inner product
    client.release_collection(name)
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_index(name, index)
    client.load_collection(name)
    hits = client.search(name, [{3: 1.0}], anns_field="sparse", limit=3, consistency_level="Strong")[0]
    assert hits[0]["id"] == 20
    client.drop_collection(name)
