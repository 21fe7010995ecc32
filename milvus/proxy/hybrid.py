"""Hybrid search (``HybridSearch``; pymilvus ``hybrid_search``): several ANN searches of one
collection, each with its own vector field, query vectors, filter and limit, fused into one
ranking by a ranker, then ``offset``/``limit``.

Rankers (``rank_params``: ``strategy`` and its ``params``, as pymilvus sends them):

- ``rrf`` (``RRFRanker(k)``): a hit's score is the sum over the searches that found it of
  ``1 / (k + rank)``, rank counted from 1; ``0 < k < 16384``, 60 by default.
- ``weighted`` (``WeightedRanker(*weights, norm_score)``): the sum of ``weight * score``,
  one weight in [0, 1] per search.  With ``norm_score`` each score is first mapped to [0, 1]
  by its metric (COSINE ``(1 + s) / 2``, IP ``0.5 + atan(s) / pi``, BM25 ``2 atan(s) / pi``, a
  distance ``1 - 2 atan(d) / pi``); without it a distance is still turned that way (larger is
  better after fusion) and similarities are summed as they are.  These are Milvus' rules.

The fused hits are ranked best first, ties by primary key.  Every search reads at one
timestamp: the first search's read timestamp (its consistency level's), which the others
read at by time travel, and the output fields of the picked rows are fetched at it too, so
one answer never mixes two states of the collection.  Grouping and rerank functions
(``function_score``) are refused with a clear error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from milvus import errors
from milvus.grpc_gen import milvus_pb2, schema_pb2
from milvus.proxy.collections import Collection
from milvus.schema import arrow_to_fields, arrow_to_ids, ids_to_arrow

MAX_REQUESTS = 1024
RRF_DEFAULT_K = 60.0
_RRF_MAX_K = 16384
_SIMILARITIES = {"IP", "COSINE", "BM25"}
_GROUPING_KEYS = ("group_by_field", "group_size", "strict_group_size", "rank_group_scorer")


def _param(value: str):
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


@dataclass(frozen=True)
class Ranker:
    strategy: str  # "rrf" or "weighted"
    k: float = RRF_DEFAULT_K
    weights: tuple[float, ...] = ()
    norm_score: bool = True

    def fuse(self, hits: Sequence[tuple[list, np.ndarray]], metrics: Sequence[str]) -> tuple[list, np.ndarray]:
        """One query's hits of every search (primary keys, scores: best first) fused: the
        keys best first (ties by key) and their fused scores."""
        fused: dict = {}
        for i, (keys, scores) in enumerate(hits):
            if self.strategy == "rrf":
                contributions = 1.0 / (self.k + np.arange(1, len(keys) + 1, dtype=np.float64))
            else:
                contributions = self.weights[i] * _normalized(scores.astype(np.float64), metrics[i], self.norm_score)
            for key, value in zip(keys, contributions.tolist(), strict=True):
                fused[key] = fused.get(key, 0.0) + value
        ordered = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        return [k for k, _ in ordered], np.asarray([v for _, v in ordered], dtype=np.float32)


def _normalized(scores: np.ndarray, metric: str, norm: bool) -> np.ndarray:
    metric = metric.upper()
    if metric not in _SIMILARITIES:
        return 1.0 - 2.0 * np.arctan(scores) / math.pi  # a distance: larger is better after this
    if not norm:
        return scores
    if metric == "COSINE":
        return (1.0 + scores) * 0.5
    if metric == "IP":
        return 0.5 + np.arctan(scores) / math.pi
    return 2.0 * np.arctan(scores) / math.pi  # BM25


def parse_ranker(rank: dict[str, str], searches: int) -> Ranker:
    """The ranker ``rank_params`` name, checked against the number of searches."""
    if any(key in rank for key in _GROUPING_KEYS):
        raise errors.ParameterInvalid("grouping is not supported in hybrid search by this server")
    strategy = str(_param(rank.get("strategy", "rrf")) or "rrf").lower()
    params = _param(rank.get("params", "{}")) or {}
    if not isinstance(params, dict):
        raise errors.ParameterInvalid(f"rank params must be a JSON object, got {rank.get('params')}")
    if strategy == "rrf":
        try:
            k = float(params.get("k", RRF_DEFAULT_K))
        except (TypeError, ValueError):
            raise errors.ParameterInvalid(f"the k of rrf [{params.get('k')}] should be a number") from None
        if not 0 < k < _RRF_MAX_K:
            raise errors.ParameterInvalid(f"the k of rrf [{k:g}] should be in range (0, {_RRF_MAX_K})")
        return Ranker("rrf", k=k)
    if strategy == "weighted":
        weights = params.get("weights")
        if not isinstance(weights, list) or not all(isinstance(w, (int, float)) for w in weights):
            raise errors.ParameterInvalid("the weights of a weighted ranker should be a list of numbers")
        if len(weights) != searches:
            raise errors.ParameterInvalid(f"the length of weights param mismatch with ann search requests: "
                                          f"invalid parameter[expected={searches}][actual={len(weights)}]")
        if any(not 0 <= w <= 1 for w in weights):
            raise errors.ParameterInvalid(f"rank param weight should be in range [0, 1], got {weights}")
        norm = params.get("norm_score", True)
        return Ranker("weighted", weights=tuple(float(w) for w in weights),
                      norm_score=norm if isinstance(norm, bool) else str(norm).lower() == "true")
    raise errors.ParameterInvalid(f"unsupported rank type {strategy}: use rrf or weighted")


def _int_param(rank: dict[str, str], key: str, default: int) -> int:
    value = _param(rank.get(key, str(default)))
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.ParameterInvalid(f"{key} [{value}] is invalid, should be an integer") from None


@dataclass(frozen=True)
class HybridDeps:
    """What a hybrid search needs of the proxy's read path (``milvus.proxy.dql.Dql``)."""

    collection: Callable[[str, str], Collection]
    search: Callable[[str, milvus_pb2.SearchRequest], milvus_pb2.SearchResults]
    metric: Callable[[Collection, milvus_pb2.SearchRequest], str]  # the metric a search runs with
    # (collection, keys, output fields, timestamp, partitions): those fields of those keys' rows, in their order
    rows: Callable[[Collection, pa.Array, list, int, Sequence[str]], pa.Table]
    max_topk: int


def hybrid_search(deps: HybridDeps, db: str, request: milvus_pb2.HybridSearchRequest) -> milvus_pb2.SearchResults:
    coll = deps.collection(db, request.collection_name)
    if request.HasField("function_score") and len(request.function_score.functions):
        raise errors.ParameterInvalid("rerank functions are not supported by this server: "
                                      "use RRFRanker or WeightedRanker")
    count = len(request.requests)
    if not 0 < count <= MAX_REQUESTS:
        raise errors.ParameterInvalid(f"the number of ann search requests should be in range [1, {MAX_REQUESTS}], "
                                      f"got {count}")
    rank = {p.key: p.value for p in request.rank_params}
    ranker = parse_ranker(rank, count)
    limit = _int_param(rank, "limit", 10)
    offset = _int_param(rank, "offset", 0)
    round_decimal = _int_param(rank, "round_decimal", -1)
    if limit <= 0 or offset < 0 or limit + offset > deps.max_topk:
        raise errors.ParameterInvalid(f"topk [{limit}] and offset [{offset}] are invalid: 1 <= topk and "
                                      f"0 <= offset, offset + topk <= {deps.max_topk}")
    nqs = {sub.nq for sub in request.requests}
    if len(nqs) != 1:
        raise errors.ParameterInvalid(f"the nq of every ann search request must be the same, got {sorted(nqs)}")
    nq = nqs.pop()

    metrics: list[str] = []
    answers: list[milvus_pb2.SearchResults] = []
    read_ts = request.travel_timestamp
    for i, given in enumerate(request.requests):
        sub = _sub_request(request, given, db, read_ts if i else request.travel_timestamp)
        metrics.append(deps.metric(coll, sub))
        answer = deps.search(db, sub)
        errors.check_status(answer.status)
        if i == 0:
            read_ts = read_ts or answer.session_ts
        answers.append(answer)

    per_search = [_hits(answer.results, nq) for answer in answers]
    picked_keys: list = []
    picked_scores: list[np.ndarray] = []
    topks: list[int] = []
    for q in range(nq):
        keys, scores = ranker.fuse([hits[q] for hits in per_search], metrics)
        keys, scores = keys[offset:offset + limit], scores[offset:offset + limit]
        picked_keys += keys
        picked_scores.append(scores)
        topks.append(len(keys))
    scores = np.concatenate(picked_scores) if picked_scores else np.zeros(0, np.float32)
    if round_decimal >= 0:
        scores = np.round(scores, round_decimal)

    pk = coll.schema.primary_field
    out = coll.output_fields(list(request.output_fields))
    pks = pa.array(picked_keys, type=pk.arrow_type)
    data = schema_pb2.SearchResultData(num_queries=nq, top_k=limit, scores=scores.tolist(), topks=topks,
                                       ids=arrow_to_ids(pks), output_fields=out.names, primary_field_name=pk.name)
    if out.fields and len(pks):
        table = deps.rows(coll, pks, list(out.fields), read_ts, list(request.partition_names))
        data.fields_data.extend(arrow_to_fields(coll.schema, table, out.names))
    return milvus_pb2.SearchResults(status=errors.OK, results=data, collection_name=coll.name, session_ts=read_ts)


def _sub_request(request: milvus_pb2.HybridSearchRequest, given: milvus_pb2.SearchRequest, db: str,
                 travel: int) -> milvus_pb2.SearchRequest:
    """One search of a hybrid search: the hybrid request's collection, partitions and
    consistency, its scores unrounded, no output fields (fetched once for the fused hits)."""
    sub = milvus_pb2.SearchRequest()
    sub.CopyFrom(given)
    sub.db_name = db
    sub.collection_name = request.collection_name
    if request.partition_names:
        sub.partition_names[:] = request.partition_names
    del sub.output_fields[:]
    sub.consistency_level = request.consistency_level
    sub.use_default_consistency = request.use_default_consistency
    sub.guarantee_timestamp = request.guarantee_timestamp
    sub.travel_timestamp = travel
    for pair in sub.search_params:
        if pair.key in ("round_decimal", "offset"):
            pair.value = "-1" if pair.key == "round_decimal" else "0"
    return sub


def _hits(data: schema_pb2.SearchResultData, nq: int) -> list[tuple[list, np.ndarray]]:
    """Per query of one search's answer: (primary keys, scores), best first."""
    keys = ids_to_arrow(data.ids).to_pylist() if data.ids.WhichOneof("id_field") else []
    scores = np.asarray(data.scores, dtype=np.float32)
    topks = list(data.topks) or [0] * nq
    out, start = [], 0
    for topk in topks:
        out.append((keys[start:start + topk], scores[start:start + topk]))
        start += topk
    return out
