"""Sparse float vector indexes (inner product): SPARSE_INVERTED_INDEX and SPARSE_WAND.

Both keep one posting list per dimension (rows and values, CSC order).  The inverted index
scores term at a time over every posting of the query's dimensions.  SPARSE_WAND adds each
list's largest value and searches MaxScore-style: terms go in order of their upper bound
(query value x list maximum); once the k-th best score so far beats what the remaining
terms could add to a row not seen yet, those terms only update rows already seen.  Both are
exact (before ``drop_ratio_*``): a row sharing no dimension with the query is not a hit.

``drop_ratio_build`` drops that fraction of the smallest stored values (by magnitude) when
building; ``drop_ratio_search`` that fraction of the query's smallest values.

With the BM25 metric the stored values are term counts: the index also keeps every row's
length, and a search turns each posting list it reads into BM25 weights (``milvus.index.bm25``)
with the index's k1 and b and the average length the search gives; the query's values are
its terms' idf-weighted counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from milvus.index import bm25
from milvus.index.base import Files, Reader
from milvus.schema.vectors import SparseMatrix

DIMS, INDPTR, ROWS, VALUES, MAXES = "dims.bin", "indptr.bin", "rows.bin", "values.bin", "maxes.bin"
LENGTHS = "lengths.bin"  # BM25: every row's length


def _drop_smallest(values: np.ndarray, ratio: float) -> np.ndarray:
    """A mask keeping all but the ``ratio`` smallest values by magnitude."""
    if ratio <= 0 or not len(values):
        return np.ones(len(values), dtype=bool)
    threshold = np.quantile(np.abs(values), ratio)
    return np.abs(values) >= threshold


class SparseSearcher:
    def __init__(self, index_type: str, num_rows: int, dims: np.ndarray, indptr: np.ndarray, rows: np.ndarray,
                 values: np.ndarray, maxes: np.ndarray, metric: str = "IP", lengths: np.ndarray | None = None):
        self.index_type = index_type
        self.metric = metric
        self.num_rows = num_rows
        self._dims, self._indptr, self._rows, self._values, self._maxes = dims, indptr, rows, values, maxes
        self._lengths = lengths
        self._negative = bool(len(values)) and float(values.min()) < 0

    def memory_bytes(self) -> int:
        arrays = (self._dims, self._indptr, self._rows, self._values, self._maxes, self._lengths)
        return sum(a.nbytes for a in arrays if a is not None)

    def close(self) -> None:
        pass

    def _postings(self, dim: int) -> tuple[np.ndarray, np.ndarray, float]:
        pos = np.searchsorted(self._dims, dim)
        if pos >= len(self._dims) or self._dims[pos] != dim:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), 0.0
        lo, hi = self._indptr[pos], self._indptr[pos + 1]
        return self._rows[lo:hi], self._values[lo:hi], float(self._maxes[pos])

    def _bm25_postings(self, dim: int, settings: bm25.Settings) -> tuple[np.ndarray, np.ndarray, float]:
        rows, tf, _ = self._postings(dim)
        weights = bm25.term_weights(tf, self._lengths[rows], settings)
        return rows, weights, float(weights.max()) if len(weights) else 0.0

    def _one(self, q_idx: np.ndarray, q_val: np.ndarray, k: int, ratio: float,
             allowed: np.ndarray | None, settings: bm25.Settings | None = None) -> tuple[np.ndarray, np.ndarray]:
        keep = _drop_smallest(q_val, ratio)
        if settings is not None:
            terms = [(self._bm25_postings(int(d), settings), float(v))
                     for d, v in zip(q_idx[keep], q_val[keep], strict=True)]
        else:
            terms = [(self._postings(int(d)), float(v)) for d, v in zip(q_idx[keep], q_val[keep], strict=True)]
        n = self.num_rows
        scores = np.zeros(n, dtype=np.float64)
        seen = np.zeros(n, dtype=bool)
        if self.index_type == "SPARSE_WAND":
            terms.sort(key=lambda t: -abs(t[1]) * abs(t[0][2]))
        bounds = np.cumsum([abs(v) * abs(p[2]) for p, v in terms][::-1])[::-1] if terms else np.zeros(0)
        # with negative values a seen row may still lose up to the remaining bound
        signed = self._negative or bool((q_val < 0).any())
        closed = False  # no new row can reach the top k any more
        for i, ((rows, vals, _), qv) in enumerate(terms):
            if allowed is not None:
                sel = allowed[rows]
                rows, vals = rows[sel], vals[sel]
            if closed:
                sel = seen[rows]
                rows, vals = rows[sel], vals[sel]
            np.add.at(scores, rows, vals.astype(np.float64) * qv)
            seen[rows] = True
            if self.index_type == "SPARSE_WAND" and not closed and i + 1 < len(terms):
                hits = np.flatnonzero(seen)
                if len(hits) >= k:
                    kth = np.partition(scores[hits], len(hits) - k)[len(hits) - k]
                    closed = kth - (bounds[i + 1] if signed else 0.0) > bounds[i + 1]
        hits = np.flatnonzero(seen)
        out_s = np.full(k, -np.inf, dtype=np.float32)
        out_l = np.full(k, -1, dtype=np.int64)
        if len(hits):
            order = np.lexsort((hits, -scores[hits]))[:k]
            out_l[:len(order)] = hits[order]
            out_s[:len(order)] = scores[hits[order]]
        return out_s, out_l

    def search(self, queries: list[tuple[np.ndarray, np.ndarray]], k: int, params: Mapping[str, Any],
               allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        ratio = float(params.get("drop_ratio_search") or 0.0)
        settings = bm25.Settings.from_params(params) if self.metric == bm25.BM25 else None
        out_s = np.empty((len(queries), k), dtype=np.float32)
        out_l = np.empty((len(queries), k), dtype=np.int64)
        for i, (q_idx, q_val) in enumerate(queries):
            out_s[i], out_l[i] = self._one(np.asarray(q_idx), np.asarray(q_val, dtype=np.float32), k, ratio, allowed,
                                           settings)
        return out_s, out_l


class SparseAlgorithm:
    def __init__(self, index_type: str):
        self.index_type = index_type

    def build(self, data: SparseMatrix, metric: str, params: Mapping[str, Any]) -> Files:
        rows = data.row_ids()
        keep = _drop_smallest(data.values, float(params.get("drop_ratio_build", 0.0)))
        dims_all, rows, values = data.indices[keep].astype(np.int64), rows[keep], data.values[keep]
        order = np.lexsort((rows, dims_all))
        dims_sorted, rows, values = dims_all[order], rows[order], values[order]
        dims, starts = np.unique(dims_sorted, return_index=True)
        indptr = np.append(starts, len(dims_sorted)).astype(np.int64)
        maxes = np.maximum.reduceat(np.abs(values), starts) if len(values) else np.zeros(0, np.float32)
        files = {DIMS: dims.tobytes(), INDPTR: indptr.tobytes(), ROWS: rows.astype(np.int64).tobytes(),
                 VALUES: values.astype(np.float32).tobytes(), MAXES: maxes.astype(np.float32).tobytes()}
        if metric == bm25.BM25:  # the lengths of the rows as stored, before anything was dropped
            files[LENGTHS] = bm25.row_lengths(data.indptr, data.values).tobytes()
        return files

    def load(self, meta: Mapping[str, Any], read: Reader, local_dir: Path | None) -> SparseSearcher:
        def arr(name: str, dtype: Any) -> np.ndarray:
            return np.frombuffer(read(name), dtype=dtype)
        metric = str(meta.get("metric_type", "IP"))
        lengths = arr(LENGTHS, np.float32) if metric == bm25.BM25 else None
        return SparseSearcher(self.index_type, int(meta["num_rows"]), arr(DIMS, np.int64), arr(INDPTR, np.int64),
                              arr(ROWS, np.int64), arr(VALUES, np.float32), arr(MAXES, np.float32), metric, lengths)
