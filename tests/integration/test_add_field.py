"""Adding fields through the real pymilvus client (``add_collection_field``: AlterCollectionSchema,
which pymilvus tries before the legacy AddCollectionField), every role in this process: a loaded
collection with sealed and growing rows gains a nullable field and one with a default; old
rows read null or the default, new rows their values, in filters and outputs, after a flush,
a compaction, a release and load, and with a scalar index on the new field; what Milvus
refuses is refused with its messages."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from milvus.grpc_gen import milvus_pb2, milvus_pb2_grpc, schema_pb2
from tests.conftest import wait_for
from tests.integration.cluster import running_cluster
from tests.integration.test_compaction import compacted_into_one

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
NAME = "evolving"
OVERRIDES = {"dataCoord.enableAutoCompaction": False}
RNG = np.random.default_rng(3)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("add-field") / "data", OVERRIDES) as cl:
        yield cl


@pytest.fixture(scope="module")
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    c.close()


def rows(ids, **extra):
    return [{"id": i, "vector": RNG.random(DIM).tolist(), **{k: v(i) for k, v in extra.items()}} for i in ids]


def query(client, expr, fields=("score", "label")):
    got = client.query(NAME, filter=expr, output_fields=["id", *fields], consistency_level="Strong", limit=1000)
    return {r["id"]: tuple(r[f] for f in fields) for r in got}


def test_an_alter_collection_schema_request_must_add_or_drop(cluster):
    channel = grpc.insecure_channel(f"127.0.0.1:{cluster.port}")
    try:
        call = channel.unary_unary("/milvus.proto.milvus.MilvusService/AlterCollectionSchema",
                                   request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=milvus_pb2.AlterCollectionSchemaResponse.FromString)
        response = call(milvus_pb2.AlterCollectionSchemaRequest(collection_name="x"), timeout=10)
        assert response.alter_status.code == 1100 and "add or drop" in response.alter_status.reason
    finally:
        channel.close()


def test_a_loaded_collection_gains_fields(cluster, client):
    client.create_collection(NAME, dimension=DIM, metric_type="L2", consistency_level="Strong", num_shards=1)
    client.insert(NAME, rows(range(0, 5)))
    client.flush(NAME)  # sealed rows
    client.insert(NAME, rows(range(5, 10)))  # growing rows
    assert len(query(client, "id >= 0", fields=())) == 10

    client.add_collection_field(NAME, "score", DataType.INT64, nullable=True)
    client.add_collection_field(NAME, "label", DataType.VARCHAR, max_length=16, nullable=True,
                                default_value="none")
    fields = {f["name"]: f for f in client.describe_collection(NAME)["fields"]}
    assert fields["score"]["nullable"] and fields["label"]["default_value"].string_data == "none"
    assert fields["label"]["field_id"] == fields["score"]["field_id"] + 1

    old = {i: (None, "none") for i in range(10)}
    assert query(client, "id >= 0") == old  # no release needed
    client.insert(NAME, rows(range(10, 15), score=lambda i: i, label=lambda i: f"l{i}"))
    client.insert(NAME, rows(range(15, 17)))  # new rows without the fields: null, the default
    new = {**{i: (i, f"l{i}") for i in range(10, 15)}, 15: (None, "none"), 16: (None, "none")}
    assert query(client, "id >= 0") == {**old, **new}
    assert set(query(client, "score is null")) == set(range(10)) | {15, 16}
    assert set(query(client, "score > 11")) == {12, 13, 14}
    assert set(query(client, 'label == "none"')) == set(range(10)) | {15, 16}
    star = client.query(NAME, filter="id == 12", output_fields=["*"], consistency_level="Strong")
    assert star[0]["score"] == 12 and star[0]["label"] == "l12"
    hits = client.search(NAME, [RNG.random(DIM).tolist()], limit=20, filter="score >= 13",
                         output_fields=["score", "label"], consistency_level="Strong")[0]
    assert sorted((h["entity"]["score"], h["entity"]["label"]) for h in hits) == [(13, "l13"), (14, "l14")]

    client.flush(NAME)
    assert query(client, "id >= 0") == {**old, **new}

    compacted_into_one(cluster, client, NAME)
    assert query(client, "id >= 0") == {**old, **new}

    client.release_collection(NAME)
    client.load_collection(NAME)
    assert query(client, "id >= 0") == {**old, **new}

    index = client.prepare_index_params()
    index.add_index("score", index_type="INVERTED")
    client.create_index(NAME, index)
    wait_for(lambda: client.describe_index(NAME, "score")["state"] == "Finished", timeout=60,
             message="the index on the added field")
    assert set(query(client, "score > 11")) == {12, 13, 14}
    assert set(query(client, "score is null")) == set(range(10)) | {15, 16}


@pytest.mark.parametrize("kwargs, words", [
    ({"field_name": "x", "data_type": DataType.INT64, "nullable": False}, "added field must be nullable"),
    ({"field_name": "id", "data_type": DataType.INT64, "nullable": True}, "duplicated field name id"),
    ({"field_name": "x", "data_type": DataType.INT64, "nullable": True, "is_primary": True}, "not support to add pk"),
    ({"field_name": "x", "data_type": DataType.VARCHAR, "nullable": True, "max_length": 0}, "maximum length"),
    ({"field_name": "x", "data_type": DataType.INT8, "nullable": True, "default_value": 1000}, "out of range"),
])
def test_refusals(client, kwargs, words):
    if not client.has_collection(NAME):
        client.create_collection(NAME, dimension=DIM, consistency_level="Strong")
    before = client.describe_collection(NAME)["fields"]
    with pytest.raises(MilvusException) as info:
        client.add_collection_field(NAME, **kwargs)
    assert info.value.code == 1100 and words in info.value.message
    assert client.describe_collection(NAME)["fields"] == before


def test_a_client_that_shaped_rows_by_an_older_schema_is_told_and_retries(cluster, client):
    """pymilvus caches the schema and sends its ``update_timestamp`` with each insert: when
    the collection changed since (here through another client: the raw RPC), the proxy answers
    SchemaMismatch and pymilvus describes the collection again and retries.  Without that, the
    stale client sent the new field's value as a dynamic key, which the proxy refuses (a dynamic
    key named like a field)."""
    name = "stale_schema"
    client.create_collection(name, dimension=DIM, consistency_level="Strong")  # dynamic field on
    client.insert(name, rows(range(3)))  # pymilvus now caches the schema
    field = schema_pb2.FieldSchema(name="score", data_type=schema_pb2.Int64, nullable=True)
    with grpc.insecure_channel(f"127.0.0.1:{cluster.port}") as channel:
        status = milvus_pb2_grpc.MilvusServiceStub(channel).AddCollectionField(
            milvus_pb2.AddCollectionFieldRequest(collection_name=name, schema=field.SerializeToString()), timeout=10)
    assert status.code == 0, status
    client.insert(name, rows([10], score=lambda i: 5))
    got = client.query(name, filter="score == 5", output_fields=["score"], consistency_level="Strong")
    assert [(r["id"], r["score"]) for r in got] == [(10, 5)]
    client.drop_collection(name)
