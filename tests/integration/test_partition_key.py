"""Partition-key collections through the real pymilvus client, every role in this process:
rows go to the partition their key hashes to (all rows of a key to one partition, the keys
spread over the partitions), reads see every partition, upsert moves a row whose key
changed, deletes reach every partition, and naming a partition is refused as Milvus refuses
it."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from tests.integration.cluster import running_cluster

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
PARTITIONS = 8
KEYS = 20
KEY_MODE = "not support manually specifying the partition names if partition key mode is used"
RNG = np.random.default_rng(11)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("partition-key") / "data", {}) as cl:
        yield cl


@pytest.fixture
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    for name in c.list_collections():
        c.drop_collection(name)
    c.close()


def _create(client: MilvusClient, name: str, key_type: DataType = DataType.INT64) -> None:
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    if key_type == DataType.VARCHAR:
        schema.add_field("tenant", DataType.VARCHAR, max_length=16, is_partition_key=True)
    else:
        schema.add_field("tenant", key_type, is_partition_key=True)
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, num_partitions=PARTITIONS,
                             consistency_level="Strong")


def _rows(ids, tenant_of) -> list[dict]:
    return [{"id": i, "vec": RNG.random(DIM).tolist(), "tenant": tenant_of(i)} for i in ids]


def _count(client: MilvusClient, name: str) -> int:
    return client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]


def _rows_per_partition(client: MilvusClient, name: str) -> dict[str, int]:
    client.flush(name)
    return {p: client.get_partition_stats(name, p)["row_count"] for p in client.list_partitions(name)}


@pytest.mark.parametrize("key_type", [DataType.INT64, DataType.VARCHAR], ids=["int64", "varchar"])
def test_rows_go_to_the_partition_of_their_key_and_reads_see_every_partition(client, key_type):
    name = f"tenants_{key_type.name.lower()}"
    tenant_of = (lambda i: i % KEYS) if key_type == DataType.INT64 else (lambda i: f"t{i % KEYS}")
    _create(client, name, key_type)
    client.insert(name, _rows(range(200), tenant_of))
    client.insert(name, _rows(range(200, 400), tenant_of))  # the same keys again: the same partitions

    placed = _rows_per_partition(client, name)
    assert sorted(placed) == [f"_default_{i}" for i in range(PARTITIONS)]
    assert sum(placed.values()) == 400
    assert sum(1 for n in placed.values() if n) >= 3  # the keys spread
    assert all(n % (400 // KEYS) == 0 for n in placed.values())  # each key's 20 rows in one partition

    assert _count(client, name) == 400
    key = repr(tenant_of(3)) if key_type == DataType.VARCHAR else str(tenant_of(3))
    assert sorted(r["id"] for r in client.query(name, filter=f"tenant == {key}", output_fields=["id"])) == \
        list(range(3, 400, KEYS))
    hits = client.search(name, data=[[0.5] * DIM], anns_field="vec", limit=400, output_fields=["tenant"])[0]
    assert sorted(h["id"] for h in hits) == list(range(400))


def test_upsert_moves_a_row_whose_key_changed_and_deletes_reach_every_partition(client):
    name = "moves"
    _create(client, name)
    client.insert(name, _rows(range(100), lambda i: i % KEYS))
    client.upsert(name, _rows([5], lambda i: 1000))  # key 5 -> 1000: most likely another partition
    assert _count(client, name) == 100
    assert [r["id"] for r in client.query(name, filter="tenant == 1000", output_fields=["id"])] == [5]
    assert 5 not in {r["id"] for r in client.query(name, filter=f"tenant == {5 % KEYS}", output_fields=["id"])}

    client.delete(name, filter="id < 50")  # rows of every key, so of every partition holding one
    assert _count(client, name) == 50
    assert min(r["id"] for r in client.query(name, filter="id >= 0", output_fields=["id"])) == 50
    client.delete(name, ids=[99])
    assert _count(client, name) == 49


def test_naming_a_partition_is_refused_in_partition_key_mode(client):
    name = "named"
    _create(client, name)
    client.insert(name, _rows(range(10), lambda i: i))
    refused = [
        lambda: client.insert(name, _rows([10], lambda i: i), partition_name="_default_0"),
        lambda: client.upsert(name, _rows([1], lambda i: i), partition_name="_default_0"),
        lambda: client.delete(name, ids=[1], partition_name="_default_0"),
        lambda: client.query(name, filter="id >= 0", partition_names=["_default_0"]),
        lambda: client.search(name, data=[[0.5] * DIM], anns_field="vec", limit=3, partition_names=["_default_0"]),
    ]
    for call in refused:
        with pytest.raises(MilvusException) as excinfo:
            call()
        assert KEY_MODE in excinfo.value.message
    assert _count(client, name) == 10  # nothing of the refused writes landed
