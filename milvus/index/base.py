"""The one small interface every index algorithm implements, and the contract of its results.

* ``Algorithm.build(data, metric, params) -> Files``: ``data`` is the segment's vectors in row
  order (a float32 matrix for dense fields, packed uint8 rows for binary ones, a CSR
  ``SparseMatrix`` for sparse ones); ``Files`` maps file names to their bytes.
* ``Algorithm.load(meta, read, local_dir) -> Searcher``: ``read(name)`` returns one of those
  files; ``local_dir`` is where a disk-resident index may keep its files (memory-mapped).
* ``Searcher.search(queries, k, params, allowed) -> (scores, labels)``: both ``(nq, k)``;
  labels are row offsets in the segment, ``-1`` (with a worst-possible score) where fewer
  than k rows were found; rows with ``allowed[row] == False`` are never returned.  Scores are
  the user-facing values of ``milvus.querynode.distance`` (L2 squared, IP, COSINE similarity,
  HAMMING, JACCARD distance), best first; a score that is no hit (``milvus.util.ranking``:
  NaN, ``+inf`` L2, ``-inf`` IP) is not returned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from milvus.util.ranking import is_hit, rank_key

Files = dict[str, bytes]
Reader = Callable[[str], bytes]

POSITIVE_METRICS = frozenset({"IP", "COSINE", "BM25"})


def worst_score(metric: str) -> float:
    return -np.inf if metric in POSITIVE_METRICS else np.inf


class Searcher(Protocol):
    index_type: str
    metric: str
    num_rows: int

    def search(self, queries: Any, k: int, params: Mapping[str, Any],
               allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]: ...

    def memory_bytes(self) -> int: ...

    def close(self) -> None: ...


class Algorithm(Protocol):
    def build(self, data: Any, metric: str, params: Mapping[str, Any]) -> Files: ...

    def load(self, meta: Mapping[str, Any], read: Reader, local_dir: Path | None) -> Searcher: ...


def top_k(scores: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` columns of a (nq, n) score matrix, ordered (ties by column), padded with -1."""
    nq, n = scores.shape
    key = rank_key(scores, metric)
    out_s = np.full((nq, k), worst_score(metric), dtype=np.float32)
    out_l = np.full((nq, k), -1, dtype=np.int64)
    if n == 0:
        return out_s, out_l
    kk = min(k, n)
    part = np.argpartition(key, kk - 1, axis=1)[:, :kk] if kk < n else np.tile(np.arange(n), (nq, 1))
    for q in range(nq):
        cand = part[q]
        cand = cand[is_hit(key[q, cand])]
        order = np.lexsort((cand, key[q, cand]))
        chosen = cand[order]
        out_l[q, :len(chosen)] = chosen
        out_s[q, :len(chosen)] = scores[q, chosen]
    return out_s, out_l
