"""Brute-force search over the rows a read may see, exact and ordered as
``milvus.querynode.distance`` states (best first, ties by primary key, one hit per key)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.errors import ParameterInvalid
from milvus.grpc_gen import schema_pb2
from milvus.index import bm25
from milvus.querynode import distance
from milvus.querynode.indexes import EXACT_BELOW, index_candidates
from milvus.querynode.read import SegmentRows
from milvus.querynode.segments import SegmentView
from milvus.querynode.vectors import SparseMatrix, decode_placeholders, sparse_matrix
from milvus.schema import CollectionSchemaModel, FieldInfo

# below this share of visible rows, gather the rows first instead of scoring them all
_GATHER_BELOW = 0.5


@dataclass
class SearchPlan:
    field: FieldInfo
    metric: str
    queries: object  # float32/uint8 matrix, or a list of sparse (indices, values)
    nq: int
    topk: int
    radius: float | None = None
    range_filter: float | None = None
    params: dict = field(default_factory=dict)  # the request's search parameters (ef, nprobe, ...)


@dataclass
class SearchHits:
    """Per query, the best hits: flattened in query order, ``topks[i]`` entries for query i."""

    pk_values: pa.Array | np.ndarray  # int64 numpy from the vectorised paths (no Arrow array built per search)
    scores: np.ndarray  # float32
    topks: np.ndarray  # int64
    segment_rows: list[SegmentRows]  # what ``segment`` indexes
    segment: np.ndarray  # int64 index into segment_rows
    offset: np.ndarray  # int64 row offset inside that segment

    @property
    def pks(self) -> pa.Array:
        values = self.pk_values
        return pa.array(values) if isinstance(values, np.ndarray) else values


def _float_param(params: dict, key: str) -> float | None:
    if key not in params or params[key] is None:
        return None
    try:
        return float(params[key])
    except (TypeError, ValueError):
        raise ParameterInvalid(f"search parameter {key} must be a number, got {params[key]!r}") from None


@dataclass(frozen=True)
class _PlanSettings:
    """What a plan takes from everything but the query vectors (valid: every check passed)."""

    field: FieldInfo
    metric: str
    params: dict  # shared by every plan made from these settings: read, never changed
    radius: float | None
    range_filter: float | None


class PlanSettingsCache:
    """The settings of the last ``capacity`` distinct (field, metric, topk, search params) a
    node was asked to search with, so a repeated search does not resolve its field and metric
    or parse its JSON parameters again.  An entry is only reused for the very schema object it
    was made for; when full it starts over (plain dict operations: safe across threads)."""

    def __init__(self, capacity: int = 256):
        self._capacity = capacity
        self._items: dict[tuple, tuple[CollectionSchemaModel, _PlanSettings]] = {}

    def get(self, schema: CollectionSchemaModel, key: tuple) -> _PlanSettings | None:
        item = self._items.get((id(schema), *key))
        return item[1] if item is not None and item[0] is schema else None

    def put(self, schema: CollectionSchemaModel, key: tuple, settings: _PlanSettings) -> None:
        if len(self._items) >= self._capacity:
            self._items.clear()
        self._items[(id(schema), *key)] = (schema, settings)


def _search_field(schema: CollectionSchemaModel, anns_field: str) -> FieldInfo:
    if anns_field:
        info = schema.get_field(anns_field)
        if info is None:
            raise ParameterInvalid(f"failed to get field schema by name: fieldName({anns_field}) not found")
        if not info.is_vector:
            raise ParameterInvalid(f"field {anns_field} is not a vector field")
        return info
    vectors = schema.vector_fields
    if len(vectors) != 1:
        raise ParameterInvalid("multiple anns_fields exist, please specify a anns_field in search_params"
                               if vectors else "the collection has no vector field")
    return vectors[0]


def _search_params(search_params: bytes) -> dict:
    params: dict = {}
    if search_params:
        try:
            params = json.loads(search_params)
        except ValueError:
            raise ParameterInvalid("search_params is not valid JSON") from None
        if not isinstance(params, dict):
            raise ParameterInvalid("search_params must be a JSON object")
        inner = params.get("params")
        if isinstance(inner, dict):
            params = {**params, **inner}
    return params


def make_plan(schema: CollectionSchemaModel, anns_field: str, metric_type: str, placeholder_group: bytes,
              topk: int, search_params: bytes, cache: PlanSettingsCache | None = None) -> SearchPlan:
    """The plan of one search; with ``cache``, the settings of a search asked before are reused
    (only settings that passed every check are kept, so the errors stay the same, in the same
    order: field, topk, metric, query vectors, search parameters)."""
    key = (anns_field, metric_type, topk, search_params)
    settings = cache.get(schema, key) if cache is not None else None
    if settings is not None:
        info = settings.field
        queries = decode_placeholders(placeholder_group, info.data_type, info.dim)
    else:
        info = _search_field(schema, anns_field)
        if topk <= 0:
            raise ParameterInvalid(f"topk should be in range [1, 16384], but got {topk}")
        metric = distance.resolve_metric(metric_type or (bm25.BM25 if info.is_function_output else ""),
                                         info.data_type)
        if (metric == bm25.BM25) != info.is_function_output:
            raise ParameterInvalid(f"field {info.name} is the output of a BM25 function: it is searched with "
                                   f"metric BM25, not {metric}" if info.is_function_output else
                                   f"metric BM25 is only for the output field of a BM25 function, "
                                   f"field {info.name} is not one")
        queries = decode_placeholders(placeholder_group, info.data_type, info.dim)
        params = _search_params(search_params)
        settings = _PlanSettings(info, metric, params, _float_param(params, "radius"),
                                 _float_param(params, "range_filter"))
        if cache is not None:
            cache.put(schema, key, settings)
    return SearchPlan(info, settings.metric, queries, len(queries), topk, settings.radius, settings.range_filter,
                      settings.params)


def bm25_stats(view: SegmentView, info: FieldInfo) -> bm25.Stats:
    """The BM25 statistics of every row of the view (cached on the segment, extended as rows
    arrive)."""
    def build(table: pa.Table) -> bm25.Stats:
        m = sparse_matrix(table.column(info.name))
        return bm25.Stats.of(m.num_rows, m.indices, m.values)
    return view.derived(("bm25_stats", info.name), build, lambda a, b: bm25.add([a, b]))


def _bm25_matrix(plan: SearchPlan, view: SegmentView, matrix: SparseMatrix, row_ids: np.ndarray) -> SparseMatrix:
    """The stored term counts as BM25 weights (the search's k1, b and average row length)."""
    def build(table: pa.Table) -> np.ndarray:
        m = sparse_matrix(table.column(plan.field.name))
        return bm25.row_lengths(m.indptr, m.values)
    lengths = view.derived(("bm25_lengths", plan.field.name), build, lambda a, b: np.concatenate([a, b]))
    weights = bm25.term_weights(matrix.values, lengths[row_ids], bm25.Settings.from_params(plan.params))
    return SparseMatrix(matrix.indptr, matrix.indices, weights)


def _scores(plan: SearchPlan, rows: SegmentRows, idx: np.ndarray | None) -> np.ndarray:
    view, info = rows.view, plan.field
    if info.data_type == schema_pb2.SparseFloatVector:
        matrix, row_ids = view.sparse(info)
        if plan.metric == bm25.BM25:
            matrix = _bm25_matrix(plan, view, matrix, row_ids)
        return distance.sparse_scores(plan.queries, matrix, row_ids, idx)  # type: ignore[arg-type]
    vectors = view.dense(info)
    if info.data_type == schema_pb2.BinaryVector:
        return distance.binary_scores(plan.metric, plan.queries, vectors, idx)  # type: ignore[arg-type]
    return distance.dense_scores(plan.metric, plan.queries, vectors, idx)  # type: ignore[arg-type]


def _usable_index(plan: SearchPlan, rows: SegmentRows, visible: int):
    """The segment's index of the searched field, when it can answer this search."""
    indexes = getattr(rows.view.segment, "indexes", None)
    entry = indexes.get(plan.field.field_id) if indexes else None
    index = entry.index if entry is not None else None
    n = rows.view.num_rows
    if index is None or index.metric != plan.metric or index.num_rows != n or visible < EXACT_BELOW * n:
        return None
    return index


def _segment_candidates(plan: SearchPlan, rows: SegmentRows) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per query (keys, row offsets) of the segment's best rows: from its index when it has
    one for the field and metric, else exactly (every row tied with the k-th kept so the
    final tie order, by primary key, is exact)."""
    view, name = rows.view, plan.field.name
    if rows.visible is not None and view.derived(("no_null_vectors", name), lambda t: t.column(name).null_count == 0,
                                                  lambda a, b: a and b):
        mask, visible = rows.mask, rows.visible  # no null vector to leave out: the mask as it is
    else:
        mask = rows.mask & view.vector_valid(plan.field)
        visible = int(np.count_nonzero(mask))
    if not visible:
        return []
    index = _usable_index(plan, rows, visible)
    if index is None:
        return _exact_candidates(plan, rows, mask, visible)
    out, redo = index_candidates(index, plan.queries, plan.nq, plan.topk, plan.metric, plan.params, mask, visible,
                                 plan.radius, plan.range_filter)
    if redo:
        queries = [plan.queries[q] for q in redo] if isinstance(plan.queries, list) else plan.queries[redo]
        exact = _exact_candidates(replace(plan, queries=queries, nq=len(redo)), rows, mask, visible)
        for q, candidates in zip(redo, exact, strict=True):
            out[q] = candidates
    return out


def _exact_candidates(plan: SearchPlan, rows: SegmentRows, mask: np.ndarray,
                      visible: int) -> list[tuple[np.ndarray, np.ndarray]]:
    n = rows.view.num_rows
    if visible < _GATHER_BELOW * n or plan.field.data_type == schema_pb2.SparseFloatVector:
        offsets = np.flatnonzero(mask)
        keys = distance.rank_key(_scores(plan, rows, offsets), plan.metric)
    else:
        offsets = None
        keys = distance.rank_key(_scores(plan, rows, None), plan.metric)
        if visible < n:
            keys[:, ~mask] = np.inf
    distance.range_filter_keys(keys, plan.metric, plan.radius, plan.range_filter)
    out = []
    for q in range(plan.nq):
        row = keys[q]
        cand = smallest(row, plan.topk)
        out.append((row[cand], cand if offsets is None else offsets[cand]))
    return out


_BLOCK = 256
_NO_KEY = np.iinfo(np.int64).min  # a missing candidate's key in the duplicate check


def smallest(row: np.ndarray, k: int) -> np.ndarray:
    """Positions of the hits of ``row`` (rank keys without NaN, ``distance.is_hit``) that are
    <= its k-th smallest (so every value tied with the k-th is in), unordered.

    For long rows it looks at block minima first: the blocks holding the k smallest values
    are among the k blocks with the smallest minima, so only those are partitioned."""
    n = len(row)
    if n <= k:
        cand = np.arange(n)
        return cand[distance.is_hit(row)]
    full = n // _BLOCK * _BLOCK
    if full // _BLOCK <= 4 * k:
        threshold = np.partition(row, k - 1)[k - 1]
        cand = np.flatnonzero(row <= threshold)
        return cand[distance.is_hit(row[cand])]
    mins = row[:full].reshape(-1, _BLOCK).min(axis=1)
    if full < n:
        mins = np.append(mins, row[full:].min())
    blocks = np.argpartition(mins, k - 1)[:k]
    positions = (blocks[:, None] * _BLOCK + np.arange(_BLOCK)).ravel()
    positions = positions[positions < n]
    threshold = np.partition(row[positions], k - 1)[k - 1]
    blocks = np.flatnonzero(mins <= threshold)
    positions = (blocks[:, None] * _BLOCK + np.arange(_BLOCK)).ravel()
    positions = positions[positions < n]
    cand = positions[row[positions] <= threshold]
    return cand[distance.is_hit(row[cand])]


def _matrix_index(plan: SearchPlan, rows: SegmentRows):
    """The segment's index when ``_index_matrix`` may ask it (no range search, a known count of
    visible rows, no null vector), else None."""
    if plan.radius is not None or plan.range_filter is not None or isinstance(plan.queries, list):
        return None
    view, name = rows.view, plan.field.name
    if rows.visible is None or not view.derived(("no_null_vectors", name),
                                                lambda t: t.column(name).null_count == 0, lambda a, b: a and b):
        return None
    return _usable_index(plan, rows, rows.visible)


def _index_matrix(plan: SearchPlan, rows: SegmentRows, index) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(rank keys, row offsets, whether a hit is missing), the first two (nq, k), of the
    segment's index answering every query in full (nothing for the exact search to make up);
    None when it cannot.  A missing hit (no row, or a row whose score is no hit) has the key
    ``+inf``."""
    n = rows.view.num_rows
    k = min(plan.topk, rows.visible)
    scores, labels = index.search(plan.queries, k, plan.params, None if rows.visible == n else rows.mask)
    keys = distance.rank_key(scores.astype(np.float32, copy=False), plan.metric).astype(np.float32, copy=False)
    keys[labels < 0] = np.inf
    any_missing = not bool(distance.is_hit(keys).all())
    if any_missing and not index.exact:
        return None  # the index missed rows the filter allows: the general path answers exactly
    return keys, labels, any_missing


def _int_pks(view, pk_name: str) -> np.ndarray | None:
    """The view's primary keys as int64 numpy (cached on the segment); None when they are not
    integers or hold a null."""
    def build(table: pa.Table) -> np.ndarray | None:
        pk = table.column(pk_name)
        if not pa.types.is_integer(pk.type) or pk.null_count:
            return None
        return np.asarray(pk.to_numpy()).astype(np.int64, copy=False)

    def concat(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
        return None if a is None or b is None else np.concatenate([a, b])
    return view.derived(("int_pks", pk_name), build, concat)


def _unique_pks(view, pk_name: str, pks: np.ndarray) -> bool:
    """True when a sealed segment holds no primary key twice (cached: its rows never change);
    always False for a growing one, whose rows do."""
    if not view.sealed:
        return False
    return view.derived(("unique_pks", pk_name), lambda _t: len(np.unique(pks)) == len(pks))


def _search_matrices(plan: SearchPlan, segments: list[SegmentRows], pk_name: str) -> SearchHits | None:
    """``search`` for the usual case, with no loop over queries: every segment answered by its
    index (``_index_matrix``), integer primary keys, no key twice among a query's candidates."""
    if not segments:
        return None
    seg_pks = []
    for rows in segments:
        pks = _int_pks(rows.view, pk_name)
        if pks is None:
            return None
        seg_pks.append(pks)
    indexes = [_matrix_index(plan, rows) for rows in segments]
    if any(index is None for index in indexes):
        return None  # decided before any search runs: no index search is wasted
    found = []
    for rows, index in zip(segments, indexes, strict=True):
        got = _index_matrix(plan, rows, index)
        if got is None:
            return None
        found.append(got)
    if len(found) == 1 and not found[0][2] and _unique_pks(segments[0].view, pk_name, seg_pks[0]):
        return _one_segment_hits(plan, segments, found[0][0], found[0][1], seg_pks[0])
    nq = plan.nq
    if len(found) == 1:
        keys, offsets, missing = found[0]
        seg = None
        pks = seg_pks[0][offsets] if not missing else np.where(offsets >= 0, seg_pks[0][np.maximum(offsets, 0)], 0)
    else:
        keys = np.concatenate([f[0] for f in found], axis=1)
        offsets = np.concatenate([f[1] for f in found], axis=1)
        seg = np.concatenate([np.full(f[1].shape, s, dtype=np.int64) for s, f in enumerate(found)], axis=1)
        pks = np.concatenate([np.where(f[1] >= 0, seg_pks[s][np.maximum(f[1], 0)], 0)
                              for s, f in enumerate(found)], axis=1)
        missing = any(f[2] for f in found)
    # a missing hit's key is inf (a row without a hit's score too: ``_index_matrix``)
    all_finite = not missing
    finite = None if all_finite else distance.is_hit(keys)
    # a sealed segment without a key twice cannot answer a query with one key twice
    single_unique = len(found) == 1 and _unique_pks(segments[0].view, pk_name, seg_pks[0])
    if keys.shape[1] > 1 and not single_unique:  # one hit per key: the general path when a query has one twice
        by_pk = np.sort(pks if all_finite else np.where(finite, pks, _NO_KEY), axis=1)
        twice = by_pk[:, 1:] == by_pk[:, :-1]
        if not all_finite:
            twice &= by_pk[:, 1:] != _NO_KEY
        if twice.any():
            return None
    width = keys.shape[1]
    order = np.lexsort((pks, keys), axis=-1)  # best first, ties by primary key
    if all_finite and width <= plan.topk:  # every candidate is a hit
        topks = np.full(nq, width, dtype=np.int64)
        pick = (order + (np.arange(nq) * width)[:, None]).reshape(-1)  # flat positions, query by query
    else:
        counts = finite.sum(axis=1) if finite is not None else np.full(nq, width)
        topks = np.minimum(counts, plan.topk).astype(np.int64)
        keep = np.arange(width)[None, :] < topks[:, None]  # inf sorts last: hits are a prefix
        pick = (order + (np.arange(nq) * width)[:, None])[keep]
    keys_out = keys.reshape(-1)[pick]
    scores = -keys_out if distance.positively_related(plan.metric) else keys_out
    return SearchHits(
        pk_values=pks.reshape(-1)[pick].astype(np.int64, copy=False),
        scores=np.asarray(scores, dtype=np.float32),
        topks=topks,
        segment_rows=segments,
        segment=np.zeros(len(pick), dtype=np.int64) if seg is None else seg.reshape(-1)[pick],
        offset=offsets.reshape(-1)[pick].astype(np.int64, copy=False),
    )


def _one_segment_hits(plan: SearchPlan, segments: list[SegmentRows], keys: np.ndarray, offsets: np.ndarray,
                      seg_pks: np.ndarray) -> SearchHits:
    """``_search_matrices``' answer in its most common case, with fewer numpy calls: one sealed
    segment without a key twice whose index found every hit (``offsets`` >= 0, every key a hit:
    the caller checked).  Every candidate is a hit (the index was asked for at most topk)."""
    nq, width = keys.shape
    pks = seg_pks[offsets]
    order = np.lexsort((pks, keys))  # per query: best first, ties by primary key
    if nq == 1:
        pick = order[0]
    else:
        order += np.arange(0, nq * width, width)[:, None]  # flat positions, query by query
        pick = order.ravel()
    keys_out = keys.ravel()[pick]
    return SearchHits(
        pk_values=pks.ravel()[pick],  # int64 (``_int_pks``)
        scores=-keys_out if distance.positively_related(plan.metric) else keys_out,
        topks=np.full(nq, width, dtype=np.int64),
        segment_rows=segments,
        segment=np.zeros(len(pick), dtype=np.int64),
        offset=offsets.ravel()[pick],
    )


def search(plan: SearchPlan, segments: list[SegmentRows], pk_name: str) -> SearchHits:
    fast = _search_matrices(plan, segments, pk_name)
    if fast is not None:
        return fast
    per_query: list[list[tuple[np.ndarray, np.ndarray, int]]] = [[] for _ in range(plan.nq)]
    for s, rows in enumerate(segments):
        for q, (keys, offsets) in enumerate(_segment_candidates(plan, rows)):
            if len(keys):
                per_query[q].append((keys, offsets, s))
    seg_pks = [rows.view.pk(pk_name) for rows in segments]
    # integer keys without nulls (the usual case) are gathered with numpy, once per segment,
    # rather than with an Arrow take per query and segment
    numeric = bool(seg_pks) and all(pa.types.is_integer(p.type) and not p.null_count for p in seg_pks)
    if numeric:
        seg_pks = [np.asarray(p.to_numpy(zero_copy_only=False)) for p in seg_pks]
    pk_type = None
    all_pks, all_keys, all_seg, all_off, topks = [], [], [], [], []
    for q in range(plan.nq):
        parts = per_query[q]
        if not parts:
            topks.append(0)
            continue
        if len(parts) == 1:
            keys, offsets, s = parts[0]
            seg = np.full(len(keys), s, dtype=np.int64)
        else:
            keys = np.concatenate([p[0] for p in parts])
            offsets = np.concatenate([p[1] for p in parts])
            seg = np.concatenate([np.full(len(p[0]), p[2], dtype=np.int64) for p in parts])
        if numeric:
            pks = np.concatenate([seg_pks[p[2]][p[1]] for p in parts]) if len(parts) > 1 \
                else seg_pks[parts[0][2]][parts[0][1]]
            chosen = _best_numeric(keys, pks, plan.topk)
            all_pks.append(pks[chosen])
        else:
            pks = pa.concat_arrays([seg_pks[p[2]].take(pa.array(p[1], pa.int64())) for p in parts])
            pk_type = pks.type
            chosen = _best(keys, pks, plan.topk)
            all_pks.append(pks.take(pa.array(chosen, pa.int64())))
        topks.append(len(chosen))
        all_keys.append(keys[chosen])
        all_seg.append(seg[chosen])
        all_off.append(offsets[chosen])
    if all_pks and numeric:
        pks_out = pa.array(np.concatenate(all_pks).astype(np.int64, copy=False), type=pa.int64())
        keys_out = np.concatenate(all_keys)
    elif all_pks:
        pks_out = pa.concat_arrays(all_pks)
        keys_out = np.concatenate(all_keys)
    else:
        pks_out = pa.array([], type=pk_type or pa.int64())
        keys_out = np.zeros(0, dtype=np.float32)
    scores = -keys_out if distance.positively_related(plan.metric) else keys_out
    return SearchHits(
        pk_values=pks_out,
        scores=np.asarray(scores, dtype=np.float32),
        topks=np.asarray(topks, dtype=np.int64),
        segment_rows=segments,
        segment=np.concatenate(all_seg) if all_seg else np.zeros(0, np.int64),
        offset=np.concatenate(all_off) if all_off else np.zeros(0, np.int64),
    )


def _best_numeric(keys: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """``_best`` for integer keys held in numpy."""
    order = np.lexsort((values, keys))
    _, first = np.unique(values[order], return_index=True)  # each pk's best rank
    return order[np.sort(first)[:k]]


def _best(keys: np.ndarray, pks: pa.Array, k: int) -> np.ndarray:
    """Positions of the best ``k`` candidates: by key, ties by pk, one per pk."""
    if pa.types.is_integer(pks.type) and not pks.null_count:
        values = pks.to_numpy()
        order = np.lexsort((values, keys))
        _, first = np.unique(values[order], return_index=True)  # each pk's best rank
        return order[np.sort(first)[:k]]
    table = pa.table({"key": keys, "pk": pks})
    order = pc.sort_indices(table, sort_keys=[("key", "ascending"), ("pk", "ascending")]).to_numpy()
    ranked = pa.table({"pk": pks.take(pa.array(order)), "rank": np.arange(len(order), dtype=np.int64)})
    first = np.sort(ranked.group_by("pk", use_threads=False).aggregate([("rank", "min")])["rank_min"].to_numpy())
    return order[first[:k]]
