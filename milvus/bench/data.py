"""The benchmark's data: a seeded Gaussian mixture of float vectors with scalar columns for
filters, queries drawn from the same mixture, and exact ground truth (faiss ``IndexFlatL2``)
computed once per (rows, dim, seed, queries) and cached as ``.npz`` under the cache folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

K = 10
CATEGORIES = 100
# filtered workloads: label -> (filter, row mask from the `cat` column); `cat` is uniform on 0..99
SELECTIVITY = {"1%": "cat < 1", "10%": "cat < 10", "50%": "cat < 50"}
_SEL_BOUND = {"1%": 1, "10%": 10, "50%": 50}
QUERY_FILTER = "cat == 7 and price < 0.5"


@dataclass
class Dataset:
    vectors: np.ndarray  # float32 (rows, dim)
    cat: np.ndarray  # int64 (rows,), uniform 0..CATEGORIES-1
    price: np.ndarray  # float32 (rows,), uniform [0, 1)
    queries: np.ndarray  # float32 (nq, dim)
    truth: np.ndarray  # int64 (nq, K): exact L2 neighbours (row number == primary key)
    filtered_truth: dict[str, np.ndarray]  # selectivity label -> (nq, K)

    @property
    def rows(self) -> int:
        return len(self.vectors)

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def mask(self, label: str) -> np.ndarray:
        return self.cat < _SEL_BOUND[label]

    def query_matches(self) -> int:
        return int(np.count_nonzero((self.cat == 7) & (self.price < 0.5)))


def generate(rows: int, dim: int, nq: int, seed: int, clusters: int = 256) -> tuple[np.ndarray, ...]:
    """Vectors (in chunks, so 1M x 768 stays within memory), scalar columns and queries."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (clusters, dim)).astype(np.float32)
    vectors = np.empty((rows, dim), np.float32)
    for lo in range(0, rows, 100_000):
        hi = min(rows, lo + 100_000)
        vectors[lo:hi] = centers[rng.integers(0, clusters, hi - lo)] + rng.normal(0, 0.35, (hi - lo, dim))
    cat = rng.integers(0, CATEGORIES, rows).astype(np.int64)
    price = rng.random(rows, dtype=np.float32)
    queries = (centers[rng.integers(0, clusters, nq)] + rng.normal(0, 0.35, (nq, dim))).astype(np.float32)
    return vectors, cat, price, queries


def exact(vectors: np.ndarray, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    import faiss  # the ceiling's library; imported here so the smoke path fails clearly without it

    base = vectors if rows is None else vectors[rows]
    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(np.ascontiguousarray(base))
    _, found = index.search(queries, K)
    found = found.astype(np.int64)
    return found if rows is None else np.where(found >= 0, rows[np.maximum(found, 0)], -1)


def load(rows: int, dim: int, nq: int, seed: int, cache: Path, progress=None) -> Dataset:
    vectors, cat, price, queries = generate(rows, dim, nq, seed)
    path = cache / f"truth-{rows}x{dim}-q{nq}-s{seed}.npz"
    if path.exists():
        stored = np.load(path)
        truth = stored["all"]
        filtered = {label: stored[f"sel_{label[:-1]}"] for label in SELECTIVITY}
    else:
        if progress:
            progress(f"exact ground truth (faiss, {rows} x {dim}, cached in {path.parent})")
        truth = exact(vectors, queries)
        filtered = {label: exact(vectors, queries, np.flatnonzero(cat < _SEL_BOUND[label])) for label in SELECTIVITY}
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, all=truth, **{f"sel_{label[:-1]}": v for label, v in filtered.items()})
    return Dataset(vectors, cat, price, queries, truth, filtered)


def recall(found: list[list[int]] | np.ndarray, truth: np.ndarray) -> float:
    """Mean recall@K of ``found`` (per query, the ids returned) against the first rows of ``truth``."""
    if not len(found):
        return float("nan")
    hits = [len(set(map(int, got)) & set(truth[i].tolist()) - {-1}) / max(1, int(np.count_nonzero(truth[i] >= 0)))
            for i, got in enumerate(found)]
    return float(np.mean(hits))
