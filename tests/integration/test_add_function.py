"""Adding a BM25 function to a collection that already holds rows (Milvus 3.0's
``add_function_field``, an AlterCollectionSchema add with a function) through the real pymilvus
client, every role in this process.

The rows written before the function, sealed and growing, get their output computed from their
text wherever they are read: the query node's loaded and growing segments, the index node's
build of the bound index, the data node's flush and a compaction.  Full-text search then finds
old and new rows alike, after a flush, a compaction and a reload."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType, FieldSchema, Function, FunctionType, MilvusClient, MilvusException

from tests.conftest import wait_for
from tests.integration.cluster import running_cluster
from tests.integration.test_compaction import compacted_into_one

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
NAME = "texts"
# every segment indexed, however small: the index node computes the outputs of older rows
OVERRIDES = {"dataCoord.enableAutoCompaction": False, "indexCoord.segment.minSegmentNumRowsToEnableIndex": 1}
RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("add-function") / "data", OVERRIDES) as cl:
        yield cl


@pytest.fixture(scope="module")
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    c.close()


def rows(ids):
    return [{"id": i, "text": f"{'apple' if i % 2 == 0 else 'pear'} number {i}",
             "vector": RNG.random(DIM).tolist()} for i in ids]


def make_collection(client, name, analyzer=True):
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=100, enable_analyzer=analyzer)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong", num_shards=1)


def bm25_index(client, metric="BM25"):
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type=metric)
    return index


def add_bm25(client, name, function_type=FunctionType.BM25, output_type=DataType.SPARSE_FLOAT_VECTOR,
             index=None, **field):
    client.add_function_field(
        name, FieldSchema("sparse", output_type, **field),
        Function(name="bm25", function_type=function_type, input_field_names=["text"],
                 output_field_names=["sparse"]),
        index_params=index if index is not None else bm25_index(client))


def apples(client, limit=100):
    hits = client.search(NAME, ["apple"], anns_field="sparse", limit=limit, consistency_level="Strong")[0]
    return {h["id"] for h in hits}


def test_rows_written_before_the_function_are_found_by_text(cluster, client):
    make_collection(client, NAME)
    client.insert(NAME, rows(range(0, 10)))
    client.flush(NAME)  # sealed rows
    client.insert(NAME, rows(range(10, 20)))  # growing rows
    client.load_collection(NAME)

    add_bm25(client, NAME)
    described = client.describe_collection(NAME)
    sparse = next(f for f in described["fields"] if f["name"] == "sparse")
    assert sparse.get("is_function_output") and [f["name"] for f in described["functions"]] == ["bm25"]
    assert client.describe_index(NAME, "sparse")["metric_type"] == "BM25"
    wait_for(lambda: client.describe_index(NAME, "sparse")["state"] == "Finished", timeout=60,
             message="the bound index built")

    # loaded and growing rows from before the function; then new rows
    assert apples(client) == set(range(0, 20, 2))
    client.insert(NAME, rows(range(20, 30)))
    assert apples(client) == set(range(0, 30, 2))
    got = client.query(NAME, filter="id == 4", output_fields=["text"], consistency_level="Strong")
    assert got[0]["text"] == "apple number 4"

    # written by the data node (old growing rows beside new ones), indexed, reloaded
    client.flush(NAME)
    client.release_collection(NAME)
    client.load_collection(NAME)
    assert apples(client) == set(range(0, 30, 2))

    compacted_into_one(cluster, client, NAME)
    assert apples(client) == set(range(0, 30, 2))
    # the top hits are the rows with the term, scored by BM25 (not the others at zero)
    hits = client.search(NAME, ["apple"], anns_field="sparse", limit=3, consistency_level="Strong")[0]
    assert len(hits) == 3 and all(h["id"] % 2 == 0 and h["distance"] > 0 for h in hits)


def refused(fn, words):
    with pytest.raises(MilvusException) as info:
        fn()
    assert info.value.code == 1100 and words in info.value.message, info.value


def test_refusals(client):
    name = "plain_texts"
    make_collection(client, name, analyzer=False)
    before = client.describe_collection(name)["fields"]
    refused(lambda: add_bm25(client, name), "enable_analyzer")
    refused(lambda: add_bm25(client, name, function_type=FunctionType.MINHASH, output_type=DataType.BINARY_VECTOR,
                             dim=64, index=_minhash_index(client)), "only a BM25 function")
    refused(lambda: add_bm25(client, name, index=bm25_index(client, metric="IP")), "BM25")
    # Milvus 2.6's calls for a function over existing fields: unsupported, as in Milvus 3.0
    bm25 = Function("bm25", FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"])
    for call, words in ((lambda: client.add_collection_function(name, bm25), "use add_function_field"),
                        (lambda: client.alter_collection_function(name, "bm25", bm25), "drop_function_field")):
        with pytest.raises(MilvusException) as info:
            call()
        assert info.value.code == 10 and words in info.value.message, info.value
    assert client.describe_collection(name)["fields"] == before
    client.drop_collection(name)


def _minhash_index(client):
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="MINHASH_LSH", metric_type="MHJACCARD")
    return index
