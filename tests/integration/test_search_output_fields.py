"""Output fields of search hits through the real pymilvus client, every role in this process:
each hit carries its own row's values, whether the hits come from one segment or several
(sealed and growing), from one shard (answered as the shard leader ranked them) or two
(merged by the proxy), with or without an offset."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient

from tests.integration.cluster import running_cluster

DIM = 8


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("outputs") / "data", {}) as running:
        c = MilvusClient(uri=f"http://127.0.0.1:{running.port}")
        yield c
        c.close()


def _vectors(ids) -> np.ndarray:
    rng = np.random.default_rng(3)
    table = rng.normal(size=(1000, DIM)).astype(np.float32)
    return table[np.asarray(ids) % 1000]


def _collection(client, name: str, shards: int) -> None:
    schema = MilvusClient.create_schema(enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("tag", DataType.INT64)
    schema.add_field("title", DataType.VARCHAR, max_length=32)
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong", shards_num=shards)
    batches = [range(0, 300), range(300, 600), range(600, 700)]  # two sealed segments, then growing rows
    for i, ids in enumerate(batches):
        vecs = _vectors(ids)
        client.insert(name, [{"id": k, "vec": vecs[j], "tag": k % 97, "title": f"t{k}", "color": f"c{k % 5}"}
                             for j, k in enumerate(ids)])
        if i < 2:
            client.flush(name)
    client.load_collection(name)


@pytest.mark.parametrize("shards", [1, 2])
def test_every_hit_carries_its_own_rows_fields(client, shards):
    name = f"outputs_{shards}"
    _collection(client, name, shards)
    queries = _vectors([5, 305, 650, 123]) + 0.01
    plain = client.search(name, queries, limit=10)
    for offset in (0, 3):
        hits = client.search(name, queries, limit=10, offset=offset, output_fields=["tag", "title", "color"])
        assert [[h["id"] for h in q] for q in hits] == [[h["id"] for h in q][offset:offset + 10] for q in
                                                        client.search(name, queries, limit=10 + offset)]
        for per_query in hits:
            assert len(per_query) == 10
            for hit in per_query:
                k = hit["id"]
                assert hit["entity"] == {"tag": k % 97, "title": f"t{k}", "color": f"c{k % 5}"}, hit
    assert [[h["id"] for h in q][:1] for q in plain] == [[5], [305], [650], [123]]
    # every field, the vector included
    hits = client.search(name, queries[:1], limit=5, output_fields=["*"])
    for hit in hits[0]:
        k = hit["id"]
        assert hit["entity"]["tag"] == k % 97 and hit["entity"]["title"] == f"t{k}"
        assert np.allclose(hit["entity"]["vec"], _vectors([k])[0])
    # no hit at all: empty, with the fields named
    none = client.search(name, queries[:1], limit=5, filter="tag < 0", output_fields=["tag", "title"])
    assert len(none[0]) == 0
