"""``milvus.proxy.hybrid`` with a stand-in read path: every search after the first reads at
the first one's read timestamp (time travel), and so does the fetch of the output fields; the
searches return unrounded, unpaged scores and no output fields; rankers are parsed and checked."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.proxy.collections import Collection
from milvus.proxy.hybrid import HybridDeps, Ranker, hybrid_search, parse_ranker
from milvus.schema import CollectionSchemaModel, arrow_to_ids

SCHEMA = schema_pb2.CollectionSchema(name="c", fields=[
    schema_pb2.FieldSchema(fieldID=100, name="pk", data_type=schema_pb2.Int64, is_primary_key=True),
    schema_pb2.FieldSchema(fieldID=101, name="v", data_type=schema_pb2.FloatVector,
                           type_params=[common_pb2.KeyValuePair(key="dim", value="2")]),
    schema_pb2.FieldSchema(fieldID=102, name="w", data_type=schema_pb2.FloatVector,
                           type_params=[common_pb2.KeyValuePair(key="dim", value="2")]),
    schema_pb2.FieldSchema(fieldID=103, name="tag", data_type=schema_pb2.Int64),
])
COLL = Collection(rootcoord_pb2.CollectionInfo(id=7, name="c"), CollectionSchemaModel(SCHEMA))


def _kv(**pairs) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key=k, value=str(v)) for k, v in pairs.items()]


def _answer(keys: list[int], scores: list[float], read_ts: int) -> milvus_pb2.SearchResults:
    data = schema_pb2.SearchResultData(num_queries=1, top_k=len(keys), scores=scores, topks=[len(keys)],
                                       ids=arrow_to_ids(pa.array(keys, type=pa.int64())))
    return milvus_pb2.SearchResults(status=errors.OK, results=data, session_ts=read_ts)


def test_the_searches_and_the_row_fetch_read_at_the_first_searchs_timestamp():
    seen: list[milvus_pb2.SearchRequest] = []
    fetched: list[tuple] = []
    answers = [_answer([1, 2, 3], [0.1, 0.2, 0.3], read_ts=500), _answer([3, 4], [0.9, 0.8], read_ts=999)]

    def search(db, request):
        seen.append(request)
        return answers[len(seen) - 1]

    def rows(coll, pks, fields, travel, partitions):
        fetched.append((pks.to_pylist(), [f.name for f in fields], travel))
        return pa.table({"tag": pa.array([k * 10 for k in pks.to_pylist()], type=pa.int64())})

    deps = HybridDeps(collection=lambda db, name: COLL, search=search, metric=lambda coll, r: "L2" if
                      dict((p.key, p.value) for p in r.search_params)["anns_field"] == "v" else "IP",
                      rows=rows, max_topk=16384)
    subs = [milvus_pb2.SearchRequest(nq=1, output_fields=["tag"],
                                     search_params=_kv(anns_field=field, topk=3, round_decimal=2, offset=1))
            for field in ("v", "w")]
    request = milvus_pb2.HybridSearchRequest(collection_name="c", requests=subs, output_fields=["tag"],
                                             rank_params=_kv(strategy='"rrf"', params='{"k": 1}', limit=3))
    response = hybrid_search(deps, "default", request)

    assert [s.travel_timestamp for s in seen] == [0, 500]
    for sub in seen:
        params = {p.key: p.value for p in sub.search_params}
        assert params["round_decimal"] == "-1" and params["offset"] == "0"
        assert list(sub.output_fields) == [] and sub.collection_name == "c" and sub.db_name == "default"
    # rrf k=1: 3 -> 1/4 + 1/2, 1 -> 1/2, 4 -> 1/3, 2 -> 1/3 (ties by key)
    assert list(response.results.ids.int_id.data) == [3, 1, 2]
    assert list(response.results.scores) == pytest.approx([0.75, 0.5, 1 / 3])
    assert fetched == [([3, 1, 2], ["tag"], 500)]
    assert list(response.results.fields_data[0].scalars.long_data.data) == [30, 10, 20]
    assert response.session_ts == 500


def test_rankers_are_parsed_and_checked():
    assert parse_ranker({"strategy": '"rrf"', "params": '{"k": 10}'}, 2) == Ranker("rrf", k=10.0)
    assert parse_ranker({}, 3) == Ranker("rrf", k=60.0)
    assert parse_ranker({"strategy": '"weighted"', "params": '{"weights": [0.2, 1], "norm_score": false}'}, 2) == \
        Ranker("weighted", weights=(0.2, 1.0), norm_score=False)
    for rank, count in [({"strategy": '"weighted"', "params": '{"weights": [0.2]}'}, 2),
                        ({"strategy": '"weighted"', "params": '{"weights": [-0.1, 1]}'}, 2),
                        ({"strategy": '"rrf"', "params": '{"k": 16384}'}, 1),
                        ({"strategy": '"decay"'}, 1),
                        ({"strategy": '"rrf"', "group_by_field": '"tag"'}, 1)]:
        with pytest.raises(errors.ParameterInvalid):
            parse_ranker(rank, count)


def test_weighted_fusion_turns_distances_so_that_larger_is_better():
    ranker = Ranker("weighted", weights=(1.0, 1.0), norm_score=True)
    keys, scores = ranker.fuse([([1, 2], np.array([0.0, 10.0], np.float32)), ([2], np.array([1.0], np.float32))],
                               ["L2", "COSINE"])
    # 1: 1 - 0 = 1; 2: (1 - 2 atan(10) / pi) + (1 + 1) / 2
    assert keys == [2, 1]
    assert scores.tolist() == pytest.approx([1 - 2 * np.arctan(10) / np.pi + 1.0, 1.0])
