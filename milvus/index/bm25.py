"""BM25 scoring over sparse term-count vectors (a BM25 function's output).

A row stores, per term, how often the term occurs in the text (tf); the row's length is the
sum of its counts. A query's vector holds its terms' counts. The score of row d is
``sum over query terms t of q(t) * idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))``
with ``idf(t) = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))``: N rows, n(t) of them holding t,
``avgdl`` their mean length, over the segments of the shard the search reads.

The weighting is split so each part lives where its inputs are: a shard leader turns the
query counts into ``q(t) * idf(t)`` (``weigh_queries``); every segment turns its stored counts
into ``term_weights`` and takes the inner product with the weighted query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

BM25 = "BM25"
K1, B, AVGDL = "bm25_k1", "bm25_b", "bm25_avgdl"
DEFAULT_K1, DEFAULT_B = 1.2, 0.75


@dataclass(frozen=True)
class Settings:
    k1: float = DEFAULT_K1
    b: float = DEFAULT_B
    avgdl: float = 1.0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Settings:
        return cls(float(params.get(K1, DEFAULT_K1)), float(params.get(B, DEFAULT_B)),
                   max(float(params.get(AVGDL, 1.0)), 1e-9))


def term_weights(tf: np.ndarray, doc_len: np.ndarray, s: Settings) -> np.ndarray:
    """The BM25 weight of stored term counts ``tf`` in rows of length ``doc_len`` (float32)."""
    tf = tf.astype(np.float32, copy=False)
    norm = np.float32(s.k1) * (np.float32(1 - s.b) + np.float32(s.b / s.avgdl) * doc_len.astype(np.float32))
    return tf * np.float32(s.k1 + 1) / (tf + norm)


def row_lengths(indptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each CSR row's length: the sum of its term counts (float32)."""
    n = len(indptr) - 1
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(indptr))
    return np.bincount(rows, weights=values, minlength=n).astype(np.float32)


@dataclass(frozen=True)
class Stats:
    """What a leader needs of some segments: rows, their total length, and per term (sorted
    dimensions) the rows holding it."""

    num_rows: int
    total_length: float
    terms: np.ndarray  # uint32, sorted
    row_counts: np.ndarray  # int64

    @classmethod
    def of(cls, num_rows: int, indices: np.ndarray, values: np.ndarray) -> Stats:
        """The statistics of CSR rows (a row holds each term at most once)."""
        terms, counts = np.unique(indices, return_counts=True)
        return cls(num_rows, float(values.sum(dtype=np.float64)), terms.astype(np.uint32), counts.astype(np.int64))

    def only(self, terms: np.ndarray) -> Stats:
        """The same statistics for just ``terms`` (sorted, unique)."""
        counts = np.zeros(len(terms), dtype=np.int64)
        if len(self.terms) and len(terms):
            pos = np.minimum(np.searchsorted(self.terms, terms), len(self.terms) - 1)
            hit = self.terms[pos] == terms
            counts[hit] = self.row_counts[pos[hit]]
        return Stats(self.num_rows, self.total_length, terms, counts)


def add(parts: Sequence[Stats]) -> Stats:
    """The statistics of the union of disjoint row sets."""
    if not parts:
        return Stats(0, 0.0, np.zeros(0, np.uint32), np.zeros(0, np.int64))
    terms = np.concatenate([p.terms for p in parts])
    counts = np.concatenate([p.row_counts for p in parts])
    uniq, inverse = np.unique(terms, return_inverse=True)
    summed = np.bincount(inverse, weights=counts, minlength=len(uniq)).astype(np.int64)
    return Stats(sum(p.num_rows for p in parts), sum(p.total_length for p in parts), uniq.astype(np.uint32), summed)


def idf(num_rows: int, row_counts: np.ndarray) -> np.ndarray:
    n = row_counts.astype(np.float64)
    return np.log1p((num_rows - n + 0.5) / (n + 0.5))


def avgdl(stats: Stats) -> float:
    return stats.total_length / stats.num_rows if stats.num_rows else 1.0


def query_terms(queries: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Every distinct term of the queries, sorted."""
    parts = [q[0] for q in queries]
    return np.unique(np.concatenate(parts)).astype(np.uint32) if parts else np.zeros(0, np.uint32)


def weigh_queries(queries: Sequence[tuple[np.ndarray, np.ndarray]],
                  stats: Stats) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each query's term counts times the terms' idf (``stats`` covers at least their terms)."""
    weights = idf(stats.num_rows, stats.row_counts)
    out = []
    for dims, counts in queries:
        pos = np.searchsorted(stats.terms, dims)
        out.append((dims, (counts.astype(np.float64) * weights[pos]).astype(np.float32)))
    return out
