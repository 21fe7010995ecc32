"""Full-text search through the real pymilvus client, every role in this process: a
collection with a BM25 function is created (MilvusClient and ORM) and described with the
function's ids filled; inserts, upserts and bulk imports write only the text (the server
computes the sparse column); queries return every field but the sparse one, and naming it is
refused; schemas this server cannot serve are refused with a reason.  Searches with query
texts score every row by BM25 over the whole collection, growing and sealed rows alike, as a
plain computation over the texts does."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import numpy as np
import pytest
from pymilvus import (
    AnnSearchRequest,
    Collection,
    CollectionSchema,
    DataType,
    FieldSchema,
    Function,
    FunctionType,
    MilvusClient,
    MilvusException,
    RRFRanker,
    utility,
)
from pymilvus.client.prepare import Prepare
from pymilvus.client.types import BulkInsertState
from pymilvus.grpc_gen import schema_pb2

from tests.conftest import wait_for
from tests.integration.cluster import running_stack

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

TEXTS = ["information retrieval is a field of study.",
         "information retrieval focuses on finding relevant information in large datasets.",
         "data mining and information retrieval overlap in research."]
SPARSE_INDEX = {"index_type": "SPARSE_INVERTED_INDEX", "metric_type": "BM25"}
INVALID_PARAMETER = 1100
# the rows of Milvus' "Phrase Match" guide, and a null one
GUIDE_TEXTS = ["Machine learning is a subset of artificial intelligence that focuses on algorithms.",
               "Deep learning machine algorithms require large datasets for training.",
               "The machine learning model showed excellent performance on the test set.",
               "Natural language processing and machine learning go hand in hand.",
               "This article discusses various learning machine techniques and applications.",
               None]
RAW_DATA = "not allowed to retrieve raw data of field sparse"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # small segments get their index (the searched one: 80 sealed rows)
    with running_stack(tmp_path_factory.mktemp("full-text") / "data",
                       {"indexCoord.segment.minSegmentNumRowsToEnableIndex": 10}) as s:
        yield s


@pytest.fixture(scope="module")
def client(stack):
    with stack.client() as c:
        yield c


@pytest.fixture(scope="module")
def orm(stack):
    with stack.orm("full_text") as alias:
        yield alias


def bm25(name="text_bm25_emb", inputs=("text",), outputs=("sparse",)) -> Function:
    return Function(name=name, input_field_names=list(inputs), output_field_names=list(outputs),
                    function_type=FunctionType.BM25)


def schema(*, text_kwargs=None, functions=None):
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True, auto_id=True)
    s.add_field("text", DataType.VARCHAR, max_length=1000, **(text_kwargs or {"enable_analyzer": True}))
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    for fn in [bm25()] if functions is None else functions:
        s.add_function(fn)
    return s


def create_loaded(client, name: str) -> None:
    index = client.prepare_index_params()
    index.add_index("sparse", **SPARSE_INDEX)
    client.create_collection(name, schema=schema(), index_params=index, consistency_level="Strong")


def refused(call, fragment: str) -> MilvusException:
    with pytest.raises(MilvusException) as info:
        call()
    assert fragment in info.value.message, info.value.message
    assert info.value.code == INVALID_PARAMETER, info.value
    return info.value


def test_create_and_describe_fill_the_function_ids(client):
    client.create_collection("described", schema=schema())
    described = client.describe_collection("described")
    ids = {f["name"]: f["field_id"] for f in described["fields"]}
    [fn] = described["functions"]
    assert (fn["name"], fn["type"], fn["id"]) == ("text_bm25_emb", FunctionType.BM25, 100)
    assert list(fn["input_field_names"]) == ["text"] and list(fn["output_field_names"]) == ["sparse"]
    assert list(fn["input_field_ids"]) == [ids["text"]] and list(fn["output_field_ids"]) == [ids["sparse"]]
    sparse = next(f for f in described["fields"] if f["name"] == "sparse")
    assert sparse.get("is_function_output") is True
    client.drop_collection("described")


def test_orm_schema_with_functions(client, orm):
    fields = [FieldSchema("id", DataType.INT64, is_primary=True, auto_id=True),
              FieldSchema("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True),
              FieldSchema("sparse", DataType.SPARSE_FLOAT_VECTOR)]
    Collection("orm_docs", CollectionSchema(fields, functions=[bm25()]), using=orm)
    reopened = Collection("orm_docs", using=orm)
    [fn] = reopened.schema.functions
    assert (fn.name, fn.type, fn.input_field_names, fn.output_field_names) == (
        "text_bm25_emb", FunctionType.BM25, ["text"], ["sparse"])
    assert [f.name for f in reopened.schema.fields if f.is_function_output] == ["sparse"]
    reopened.insert([{"text": t} for t in TEXTS])
    reopened.create_index("sparse", SPARSE_INDEX)
    reopened.load()
    got = reopened.query("", output_fields=["*"], limit=10, consistency_level="Strong")
    assert sorted(r["text"] for r in got) == sorted(TEXTS)
    assert all(set(r) == {"id", "text"} for r in got)
    utility.drop_collection("orm_docs", using=orm)


def test_insert_upsert_and_query(client):
    create_loaded(client, "docs")
    ids = client.insert("docs", [{"text": t} for t in TEXTS])["ids"]
    assert len(ids) == 3
    got = client.query("docs", filter="", output_fields=["*"], limit=10)
    assert sorted(r["text"] for r in got) == sorted(TEXTS)
    assert all(set(r) == {"id", "text"} for r in got)

    assert client.upsert("docs", [{"id": ids[0], "text": "rewritten text"}])["upsert_count"] == 1
    got = client.query("docs", filter=f"id == {ids[0]}", output_fields=["text"])
    assert [r["text"] for r in got] == ["rewritten text"]
    assert client.query("docs", filter="", output_fields=["count(*)"])[0]["count(*)"] == 3

    refused(lambda: client.query("docs", filter="", output_fields=["sparse"], limit=10), RAW_DATA)
    refused(lambda: client.query("docs", filter="", output_fields=["text", "sparse"], limit=10), RAW_DATA)
    refused(lambda: client.search("docs", data=[{1: 1.0}], anns_field="sparse", limit=1,
                                  output_fields=["sparse"]), RAW_DATA)
    client.drop_collection("docs")


def test_the_sparse_field_cannot_be_written(client):
    """pymilvus refuses it too; a raw request reaches the server's own check."""
    client.create_collection("no_sparse", schema=schema())
    handler = client._get_connection()
    info = handler.describe_collection("no_sparse")
    request = Prepare.row_insert_param("no_sparse", [{"text": "a"}], "", info["fields"],
                                       info["struct_array_fields"], enable_dynamic=False)
    given = request.fields_data.add(type=schema_pb2.SparseFloatVector, field_name="sparse")
    given.vectors.sparse_float_vector.contents.append(b"")
    status = handler._stub.Insert(request).status
    assert status.code == INVALID_PARAMETER
    assert "Attempt to insert an unexpected function output field `sparse`" in status.reason
    client.drop_collection("no_sparse")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"text_kwargs": {"enable_match": True}}, "must set enable_analyzer to true"),
    ({"text_kwargs": {"enable_analyzer": True, "analyzer_params": {"type": "chinese"}}},
     "only the standard and english analyzers are supported by this server"),
    ({"text_kwargs": {"enable_analyzer": True, "analyzer_params": {"tokenizer": "jieba"}}},
     'tokenizer "jieba" is not supported by this server'),
    ({"functions": [bm25("same"), bm25("same")]}, "duplicate function name same"),
    ({"functions": [bm25("one"), bm25("two")]}, "duplicate function output sparse"),
])
def test_schemas_this_server_cannot_serve_are_refused(client, kwargs, fragment):
    refused(lambda: client.create_collection("bad", schema=schema(**kwargs)), fragment)
    assert not client.has_collection("bad")


def test_other_function_types_are_refused(client):
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True, auto_id=True)
    s.add_field("text", DataType.VARCHAR, max_length=1000)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=8)
    s.add_function(Function(name="embed", input_field_names=["text"], output_field_names=["dense"],
                            function_type=FunctionType.TEXTEMBEDDING, params={}))
    refused(lambda: client.create_collection("embedded", schema=s), "TextEmbedding is not supported by this server")


def finished(orm, task_id) -> BulkInsertState:
    def done():
        state = utility.get_bulk_insert_state(task_id, using=orm)
        return state if state.state in (BulkInsertState.ImportCompleted, BulkInsertState.ImportFailed) else None
    return wait_for(done, timeout=60, message=f"import {task_id} to finish")


def test_bulk_import_computes_the_sparse_column(stack, client, orm):
    create_loaded(client, "imported")
    stack.storage.put("imports/texts.json", json.dumps([{"text": t} for t in TEXTS]).encode())
    state = finished(orm, utility.do_bulk_insert("imported", files=["imports/texts.json"], using=orm))
    assert state.state == BulkInsertState.ImportCompleted, state.failed_reason
    got = client.query("imported", filter="", output_fields=["*"], limit=10)
    assert sorted(r["text"] for r in got) == sorted(TEXTS)

    stack.storage.put("imports/with_sparse.json", json.dumps([{"text": "a", "sparse": {"1": 1.0}}]).encode())
    state = finished(orm, utility.do_bulk_insert("imported", files=["imports/with_sparse.json"], using=orm))
    assert state.state == BulkInsertState.ImportFailed
    assert "unexpected function output field `sparse`" in state.failed_reason
    assert client.query("imported", filter="", output_fields=["count(*)"])[0]["count(*)"] == 3
    client.drop_collection("imported")


# ---- search ------------------------------------------------------------------------

WORDS = ("vector database search index query text token field shard segment node leader "
         "score rank merge filter data row column write read").split()


def _corpus(n: int, seed: int = 11) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(3, 12)))).capitalize() + "." for _ in range(n)]


def _bm25_scores(texts: list[str], query: str, k1: float, b: float) -> np.ndarray:
    """BM25 of every text for ``query``, computed plainly: lower-cased word tokens."""
    docs = [re.findall(r"\w+", t.lower()) for t in texts]
    avgdl = sum(map(len, docs)) / len(docs)
    out = np.zeros(len(docs))
    for term, q in Counter(re.findall(r"\w+", query.lower())).items():
        df = sum(1 for d in docs if term in d)
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            tf = d.count(term)
            if tf:
                out[i] += q * idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))
    return out


def _best(scores: np.ndarray, limit: int, allowed=None) -> list[int]:
    ids = np.flatnonzero(scores > 0) if allowed is None else np.array([i for i in allowed if scores[i] > 0])
    return [int(i) for i in ids[np.lexsort((ids, -scores[ids]))][:limit]]


@pytest.fixture(scope="module")
def searchable(client):
    """120 texts (ids = positions), 80 of them flushed (sealed) and 40 growing, with a dense
    vector beside the text; index BM25 with k1=1.6, b=0.5."""
    texts = _corpus(120)
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_field("dense", DataType.FLOAT_VECTOR, dim=4)
    s.add_function(bm25())
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="AUTOINDEX", metric_type="BM25", params={"bm25_k1": 1.6, "bm25_b": 0.5})
    index.add_index("dense", index_type="FLAT", metric_type="L2")
    client.create_collection("searchable", schema=s, index_params=index, consistency_level="Strong", num_shards=1)
    rng = np.random.default_rng(3)
    dense = rng.standard_normal((len(texts), 4)).astype(np.float32)
    rows = [{"id": i, "text": t, "dense": dense[i].tolist()} for i, t in enumerate(texts)]
    client.insert("searchable", rows[:80])
    client.flush("searchable")
    wait_for(lambda: client.describe_index("searchable", "sparse")["indexed_rows"] == 80, timeout=60,
             message="the sealed rows' BM25 index built")
    client.insert("searchable", rows[80:])
    yield texts, dense
    client.drop_collection("searchable")


QUERIES = ["vector search", "Shard leader merge, merge!", "data data row", "nothing matches zzz"]


def test_a_text_search_ranks_every_row_by_bm25(client, searchable):
    texts, _ = searchable
    got = client.search("searchable", data=QUERIES, anns_field="sparse", limit=7, output_fields=["text"])
    for query, hits in zip(QUERIES, got, strict=True):
        want = _bm25_scores(texts, query, 1.6, 0.5)
        assert [h["id"] for h in hits] == _best(want, 7), query
        assert [h["distance"] for h in hits] == pytest.approx([want[h["id"]] for h in hits], rel=1e-4)
        assert all(h["entity"]["text"] == texts[h["id"]] for h in hits)
    assert len(got[3]) == 0  # no row holds a query term


def test_a_text_search_with_a_filter_and_an_offset(client, searchable):
    texts, _ = searchable
    want = _bm25_scores(texts, "index query token", 1.6, 0.5)
    got = client.search("searchable", data=["index query token"], anns_field="sparse", limit=5, offset=2,
                        filter="id >= 40 and id < 100", search_params={"params": {"drop_ratio_search": 0.0}})
    assert [h["id"] for h in got[0]] == _best(want, 7, allowed=range(40, 100))[2:]
    # a filter that leaves no row of the sealed segment: the terms are still weighed over every row
    got = client.search("searchable", data=["index query token"], anns_field="sparse", limit=5, filter="id >= 80")
    assert [h["id"] for h in got[0]] == _best(want, 5, allowed=range(80, 120))
    assert [h["distance"] for h in got[0]] == pytest.approx([want[h["id"]] for h in got[0]], rel=1e-4)


def test_a_hybrid_search_fuses_a_text_search_with_a_dense_one(client, searchable):
    _, dense = searchable
    text = AnnSearchRequest(data=["segment node score"], anns_field="sparse", param={}, limit=10)
    near = AnnSearchRequest(data=[dense[5].tolist()], anns_field="dense", param={"metric_type": "L2"}, limit=10)
    fused = client.hybrid_search("searchable", [text, near], RRFRanker(60), limit=5)
    alone = [client.search("searchable", data=["segment node score"], anns_field="sparse", limit=10)[0],
             client.search("searchable", data=[dense[5].tolist()], anns_field="dense", limit=10)[0]]
    rrf: dict[int, float] = {}
    for hits in alone:
        for rank, h in enumerate(hits, start=1):
            rrf[h["id"]] = rrf.get(h["id"], 0.0) + 1 / (60 + rank)
    want = sorted(rrf, key=lambda i: (-rrf[i], i))[:5]
    assert [h["id"] for h in fused[0]] == want


def test_text_searches_are_refused_where_they_cannot_run(client, searchable):
    refused(lambda: client.search("searchable", data=[{1: 1.0}], anns_field="sparse", limit=3),
            "search it with query texts")
    refused(lambda: client.search("searchable", data=["vector"], anns_field="sparse", limit=3,
                                  search_params={"metric_type": "IP"}), "metric type not match")
    with pytest.raises(MilvusException, match="VarChar"):
        client.search("searchable", data=["vector"], anns_field="dense", limit=3)


def test_run_analyzer_shows_the_tokens_searches_use(client, searchable):
    assert client.run_analyzer("Vector-search, VECTOR!").tokens == ["vector", "search", "vector"]
    got = client.run_analyzer(["Héllo wörld", ""], analyzer_params={"type": "standard"}, with_detail=True,
                              with_hash=True)
    assert [t.dict for t in got[0].tokens] == [
        {"token": "héllo", "start_offset": 0, "end_offset": 6, "position": 0, "position_length": 1,
         "hash": got[0].tokens[0].hash},
        {"token": "wörld", "start_offset": 7, "end_offset": 13, "position": 1, "position_length": 1,
         "hash": got[0].tokens[1].hash}]
    assert got[0].tokens[0].hash != got[0].tokens[1].hash
    assert got[1].tokens == []
    by_field = client.run_analyzer("Shard leader", collection_name="searchable", field_name="text")
    assert by_field.tokens == ["shard", "leader"]
    refused(lambda: client.run_analyzer("x", analyzer_params={"type": "chinese"}), "english analyzers are supported")
    refused(lambda: client.run_analyzer("x", collection_name="searchable", field_name="id"), "no analyzer")


def test_an_english_analyzer_matches_word_forms(client):
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=200, enable_analyzer=True, enable_match=True,
                analyzer_params={"type": "english"})
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(bm25())
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("english", schema=s, index_params=index, consistency_level="Strong")
    client.insert("english", [{"id": 0, "text": "The dogs are running"}, {"id": 1, "text": "A cat sleeps"},
                              {"id": 2, "text": "Runners run daily"}])
    hits = client.search("english", data=["Run!"], anns_field="sparse", limit=5)[0]
    assert sorted(h["id"] for h in hits) == [0, 2]
    assert client.search("english", data=["the are"], anns_field="sparse", limit=5)[0] == []  # stop words only
    got = client.query("english", filter="text_match(text, 'sleeping dog')", output_fields=["id"])
    assert sorted(r["id"] for r in got) == [0, 1]
    assert client.run_analyzer("The dogs are running", analyzer_params={"type": "english"}).tokens == ["dog", "run"]
    assert client.run_analyzer("Dogs", collection_name="english", field_name="text").tokens == ["dog"]
    client.drop_collection("english")


def test_phrase_match_filters_queries_and_searches(client):
    """The examples of Milvus' Phrase Match guide: its five rows and query vector, its filters
    and the rows (and cosine distances) it shows; some rows sealed, some growing, one null."""
    s = MilvusClient.create_schema()
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("text", DataType.VARCHAR, max_length=1000, enable_analyzer=True, enable_match=True, nullable=True)
    s.add_field("plain", DataType.VARCHAR, max_length=100, enable_analyzer=True)
    s.add_field("embeddings", DataType.FLOAT_VECTOR, dim=5)
    index = client.prepare_index_params()
    index.add_index("embeddings", index_type="AUTOINDEX", metric_type="COSINE")
    client.create_collection("tech_articles", schema=s, index_params=index, consistency_level="Strong")
    rows = [{"id": i, "text": text, "plain": "machine learning", "embeddings": [0.1 * (i + k) for k in range(1, 6)]}
            for i, text in enumerate(GUIDE_TEXTS)]
    client.insert("tech_articles", rows[:3])
    client.flush("tech_articles")
    client.insert("tech_articles", rows[3:])

    got = client.query("tech_articles", filter="PHRASE_MATCH(text, 'machine learning')", output_fields=["text"])
    assert sorted(r["id"] for r in got) == [0, 2, 3]
    assert client.query("tech_articles", filter="phrase_match(text, '')", output_fields=["id"]) == []

    def search(expr):
        hits = client.search("tech_articles", data=[[0.1, 0.2, 0.3, 0.4, 0.5]], anns_field="embeddings",
                             filter=expr, limit=10, output_fields=["text"])[0]
        assert all(h["entity"]["text"] == GUIDE_TEXTS[h["id"]] for h in hits)
        return [h["id"] for h in hits], [h["distance"] for h in hits]

    guide_distances = [0.9999999403953552, 0.9949367046356201, 0.9864400029182434, 0.9782319068908691,
                       0.9710607528686523]
    ids, distances = search("PHRASE_MATCH(text, 'learning machine', 1)")
    assert ids == [1, 4] and distances == pytest.approx([guide_distances[1], guide_distances[4]], abs=1e-6)
    for slop in (2, 3):
        ids, distances = search(f"PHRASE_MATCH(text, 'machine learning', {slop})")
        assert ids == [0, 1, 2, 3, 4] and distances == pytest.approx(guide_distances, abs=1e-6)
    assert search("not phrase_match(text, 'machine learning', 1)")[0] == [1, 4]  # the null row is neither

    refused(lambda: client.query("tech_articles", filter="phrase_match(text, 'machine learning', -1)"),
            '"slop" should not be a negative interger. "slop" passed: -1')
    refused(lambda: client.query("tech_articles", filter="phrase_match(text, 'machine learning', 0.5)"),
            '"slop" should be a const integer expression with "uint32" value')
    refused(lambda: client.query("tech_articles", filter="phrase_match(plain, 'machine learning')"),
            'field "plain" does not enable match')
    client.drop_collection("tech_articles")
