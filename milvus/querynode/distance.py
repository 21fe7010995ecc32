"""Metrics and the ordering contract of search results (one place for every invariant).

Scores are Milvus' user-facing values:

========  ==============================================  =========================
metric    score                                           better
========  ==============================================  =========================
L2        squared Euclidean distance                      smaller (ascending order)
IP        inner product (dense or sparse)                 larger (descending order)
COSINE    cosine similarity in [-1, 1]; 0 for a zero row  larger (descending order)
HAMMING   number of differing bits                        smaller
JACCARD   1 - |a & b| / |a | b| (0 when both are empty)   smaller
BM25      BM25 relevance (``milvus.index.bm25``)            larger
========  ==============================================  =========================

Results are best first; equal scores are ordered by primary key ascending; a primary key
appears at most once per query (its best hit).  A sparse row sharing no index with the
query is not a hit.  Range search (``radius``/``range_filter``) keeps, for smaller-better
metrics, ``range_filter <= score < radius`` and for larger-better ones
``radius < score <= range_filter``.

Internally every metric is turned into an ascending *rank key* (the score, or its negation
for larger-better metrics; ``milvus.util.ranking``, shared with the indexes and the proxy's
merge).  A result is a hit iff its key is below ``+inf`` (``is_hit``): a NaN score (an
``inf - inf``) gets the key ``+inf``, so it is never a hit and never ranks above one; an
overflowed ``+inf`` inner product has the key ``-inf`` and ranks first, on every path
(growing or sealed, exact or by an index, on one node or merged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from milvus.errors import ParameterInvalid
from milvus.grpc_gen import schema_pb2
from milvus.querynode.vectors import DENSE_FLOAT_TYPES, SparseMatrix
from milvus.util.ranking import is_hit, positively_related, rank_key, score_of  # noqa: F401 - the contract's rule

L2, IP, COSINE, HAMMING, JACCARD, BM25 = "L2", "IP", "COSINE", "HAMMING", "JACCARD", "BM25"
DENSE_METRICS = frozenset({L2, IP, COSINE})
BINARY_METRICS = frozenset({HAMMING, JACCARD})
SPARSE_METRICS = frozenset({IP, BM25})  # BM25: a BM25 function's output field only

# the element budget of one block of the (queries x rows) score matrix
_BLOCK = 1 << 24


def default_metric(data_type: int) -> str:
    if data_type == schema_pb2.BinaryVector:
        return HAMMING
    if data_type == schema_pb2.SparseFloatVector:
        return IP
    return COSINE


def resolve_metric(metric: str, data_type: int) -> str:
    """The metric to use on a field of ``data_type`` (its default when ``metric`` is empty)."""
    metric = (metric or "").strip().upper() or default_metric(data_type)
    if data_type == schema_pb2.BinaryVector:
        allowed = BINARY_METRICS
    elif data_type == schema_pb2.SparseFloatVector:
        allowed = SPARSE_METRICS
    elif data_type in DENSE_FLOAT_TYPES:
        allowed = DENSE_METRICS
    else:
        raise ParameterInvalid(f"cannot search a field of type {schema_pb2.DataType.Name(data_type)}")
    if metric not in allowed:
        raise ParameterInvalid(
            f"metric type {metric} does not match the field's data type "
            f"{schema_pb2.DataType.Name(data_type)} (supported: {', '.join(sorted(allowed))})")
    return metric


@dataclass
class DenseVectors:
    """A segment's dense vectors (float32, or packed uint8 for binary) with cached norms."""

    matrix: np.ndarray

    @cached_property
    def sq_norms(self) -> np.ndarray:
        m = self.matrix
        return np.einsum("ij,ij->i", m, m, dtype=np.float32)

    @cached_property
    def norms(self) -> np.ndarray:
        return np.sqrt(self.sq_norms)

    @cached_property
    def popcounts(self) -> np.ndarray:
        return np.bitwise_count(self.matrix).sum(axis=1, dtype=np.int64)


def _take(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return values if rows is None else values[rows]


def dense_scores(metric: str, queries: np.ndarray, vectors: DenseVectors, rows: np.ndarray | None) -> np.ndarray:
    """(nq, len(rows)) float32 scores of float-like vectors; ``rows=None``: every row."""
    x = _take(vectors.matrix, rows)
    q = np.ascontiguousarray(queries, dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: inf or NaN scores (see is_hit)
        return _dense_scores(metric, q, x, vectors, rows)


def _dense_scores(metric: str, q: np.ndarray, x: np.ndarray, vectors: DenseVectors,
                  rows: np.ndarray | None) -> np.ndarray:
    ip = q @ x.T
    if metric == IP:
        return ip
    if metric == L2:
        qn = np.einsum("ij,ij->i", q, q, dtype=np.float32)
        ip *= -2.0  # in place: ||x||^2 + ||q||^2 - 2 q.x without temporaries
        ip += _take(vectors.sq_norms, rows)[None, :]
        ip += qn[:, None]
        return np.maximum(ip, 0.0, out=ip)
    # COSINE
    qn = np.sqrt(np.einsum("ij,ij->i", q, q, dtype=np.float32))
    denom = qn[:, None] * _take(vectors.norms, rows)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(denom > 0, ip / denom, 0.0).astype(np.float32)
    return np.clip(cos, -1.0, 1.0, out=cos)


def binary_scores(metric: str, queries: np.ndarray, vectors: DenseVectors, rows: np.ndarray | None) -> np.ndarray:
    """(nq, len(rows)) float32 HAMMING or JACCARD distances of packed binary vectors."""
    x = _take(vectors.matrix, rows)
    nq, n, width = len(queries), len(x), max(1, x.shape[1])
    out = np.empty((nq, n), dtype=np.float32)
    step = max(1, _BLOCK // max(1, n * width))
    x_pop = _take(vectors.popcounts, rows) if metric == JACCARD else None
    for start in range(0, nq, step):
        q = queries[start:start + step]
        if metric == HAMMING:
            out[start:start + step] = np.bitwise_count(q[:, None, :] ^ x[None, :, :]).sum(axis=2)
        else:
            inter = np.bitwise_count(q[:, None, :] & x[None, :, :]).sum(axis=2, dtype=np.int64)
            union = np.bitwise_count(q).sum(axis=1, dtype=np.int64)[:, None] + x_pop[None, :] - inter
            with np.errstate(divide="ignore", invalid="ignore"):
                out[start:start + step] = np.where(union > 0, 1.0 - inter / union, 0.0)
    return out


def sparse_scores(queries: Sequence[tuple[np.ndarray, np.ndarray]], matrix: SparseMatrix,
                  row_ids: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """(nq, len(rows)) float32 sparse inner products; ``-inf`` where a row shares no index."""
    n = matrix.num_rows
    out = np.empty((len(queries), n), dtype=np.float32)
    for i, (q_idx, q_val) in enumerate(queries):
        if not len(q_idx) or not len(matrix.indices):
            out[i] = -np.inf
            continue
        pos = np.searchsorted(q_idx, matrix.indices)
        pos_c = np.minimum(pos, len(q_idx) - 1)
        hit = q_idx[pos_c] == matrix.indices
        contrib = np.where(hit, matrix.values * q_val[pos_c], 0.0)
        score = np.bincount(row_ids, weights=contrib, minlength=n)
        overlap = np.bincount(row_ids, weights=hit, minlength=n) > 0
        out[i] = np.where(overlap, score, -np.inf)
    return out if rows is None else out[:, rows]


def range_filter_keys(keys: np.ndarray, metric: str, radius: float | None, range_filter: float | None) -> None:
    """Set the rank key of every hit outside the range to +inf, in place."""
    if radius is None and range_filter is None:
        return
    scores = -keys if positively_related(metric) else keys
    outside = np.zeros(keys.shape, dtype=bool)
    if positively_related(metric):
        if radius is not None:
            outside |= scores <= radius
        if range_filter is not None:
            outside |= scores > range_filter
    else:
        if radius is not None:
            outside |= scores >= radius
        if range_filter is not None:
            outside |= scores < range_filter
    keys[outside] = np.inf
