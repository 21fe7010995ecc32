"""The rank key of a search score: the one rule every read path ranks and filters hits by.

The key is ascending (smaller is better): the score for smaller-better metrics (L2, HAMMING,
JACCARD), its negation for larger-better ones (IP, COSINE, BM25).  A NaN score gets the key
``+inf``.  A result is a hit iff its key is below ``+inf``, so:

* NaN is never a hit, and never ranks above a real hit;
* ``+inf`` L2 distance (or ``-inf`` inner product) is not a hit;
* ``+inf`` inner product (an overflow) is a hit with key ``-inf``: it ranks first.

The query node (``milvus.querynode.distance``), the indexes and the proxy's merge of shards
all use these functions, so a score is a hit, or not, the same way on every path.
"""

from __future__ import annotations

import numpy as np

POSITIVE = frozenset({"IP", "COSINE", "BM25"})


def positively_related(metric: str) -> bool:
    """True when a larger score is better."""
    return metric.upper() in POSITIVE


def rank_key(scores: np.ndarray, metric: str) -> np.ndarray:
    """The ascending rank keys of ``scores`` (always a new array; NaN becomes ``+inf``)."""
    if positively_related(metric):
        keys = np.negative(scores)
        return np.fmin(keys, np.inf, out=keys)  # fmin takes the number over a NaN
    return np.fmin(scores, np.inf)


def is_hit(keys: np.ndarray) -> np.ndarray:
    """Which rank keys are hits (below ``+inf``; a NaN key is none)."""
    return np.less(keys, np.inf)


def score_of(keys: np.ndarray, metric: str) -> np.ndarray:
    """The scores of rank keys (the inverse of ``rank_key`` on hits)."""
    return -keys if positively_related(metric) else keys
