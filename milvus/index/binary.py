"""Binary vector indexes: BIN_FLAT (exact) and BIN_IVF_FLAT (inverted lists), HAMMING or JACCARD.

faiss' binary indexes score HAMMING only and ``IndexBinaryIVF`` takes no ID selector, so
faiss only trains here: BIN_IVF_FLAT gets its centroids from faiss' binary k-means
(``IndexBinaryIVF.train``) and assigns rows with its quantizer; the probed lists are scanned
with numpy, which scores both metrics exactly and skips filtered rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from milvus.index.base import Files, Reader, top_k

VECTORS, CENTROIDS, ORDER, OFFSETS = "vectors.bin", "centroids.bin", "order.bin", "offsets.bin"


def binary_scores(metric: str, queries: np.ndarray, x: np.ndarray, x_pop: np.ndarray | None = None) -> np.ndarray:
    """(nq, n) float32 HAMMING or JACCARD distances of packed rows."""
    out = np.empty((len(queries), len(x)), dtype=np.float32)
    if metric == "JACCARD" and x_pop is None:
        x_pop = np.bitwise_count(x).sum(axis=1, dtype=np.int64)
    for i, q in enumerate(queries):
        if metric == "HAMMING":
            out[i] = np.bitwise_count(x ^ q).sum(axis=1)
        else:
            inter = np.bitwise_count(x & q).sum(axis=1, dtype=np.int64)
            union = int(np.bitwise_count(q).sum()) + x_pop - inter
            with np.errstate(divide="ignore", invalid="ignore"):
                out[i] = np.where(union > 0, 1.0 - inter / union, 0.0)
    return out


class BinarySearcher:
    def __init__(self, index_type: str, metric: str, vectors: np.ndarray, centroids: np.ndarray | None = None,
                 order: np.ndarray | None = None, offsets: np.ndarray | None = None):
        self.index_type = index_type
        self.metric = metric
        self.vectors = vectors
        self.num_rows = len(vectors)
        self._pop = np.bitwise_count(vectors).sum(axis=1, dtype=np.int64)
        self._order = order
        self._offsets = offsets
        self._quantizer = None
        if centroids is not None:
            self._quantizer = faiss.IndexBinaryFlat(vectors.shape[1] * 8)
            self._quantizer.add(centroids)

    def memory_bytes(self) -> int:
        extra = 0 if self._order is None else self._order.nbytes + self._offsets.nbytes
        return self.vectors.nbytes + self._pop.nbytes + extra

    def close(self) -> None:
        self._quantizer = None

    def _scan(self, q: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores = binary_scores(self.metric, q[None, :], self.vectors[rows], self._pop[rows])
        s, pos = top_k(scores, k, self.metric)
        return s[0], np.where(pos[0] >= 0, rows[np.maximum(pos[0], 0)], -1)

    def search(self, queries: np.ndarray, k: int, params: Mapping[str, Any],
               allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        nq = len(queries)
        out_s = np.empty((nq, k), dtype=np.float32)
        out_l = np.empty((nq, k), dtype=np.int64)
        every = np.arange(self.num_rows) if allowed is None else np.flatnonzero(allowed)
        probes = None
        if self._quantizer is not None:
            nprobe = min(int(params.get("nprobe") or 8), self._quantizer.ntotal)
            _, probes = self._quantizer.search(np.ascontiguousarray(queries), nprobe)
        for i, q in enumerate(queries):
            rows = every
            if probes is not None:
                lists = [self._order[self._offsets[c]:self._offsets[c + 1]] for c in probes[i] if c >= 0]
                rows = np.sort(np.concatenate(lists)) if lists else np.zeros(0, np.int64)
                if allowed is not None:
                    rows = rows[allowed[rows]]
            out_s[i], out_l[i] = self._scan(q, rows, k)
        return out_s, out_l


class BinaryAlgorithm:
    def __init__(self, index_type: str):
        self.index_type = index_type

    def build(self, data: np.ndarray, metric: str, params: Mapping[str, Any]) -> Files:
        x = np.ascontiguousarray(data, dtype=np.uint8)
        files = {VECTORS: x.tobytes()}
        if self.index_type == "BIN_IVF_FLAT":
            n, width = x.shape
            nlist = max(1, min(int(params.get("nlist", 128)), n))
            ivf = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(width * 8), width * 8, nlist)
            ivf.train(x if n <= 256 * nlist else x[np.random.default_rng(7).choice(n, 256 * nlist, replace=False)])
            centroids = ivf.quantizer.reconstruct_n(0, ivf.quantizer.ntotal)
            _, assign = ivf.quantizer.search(x, 1)
            order = np.argsort(assign[:, 0], kind="stable").astype(np.int64)
            offsets = np.searchsorted(assign[order, 0], np.arange(nlist + 1)).astype(np.int64)
            files.update({CENTROIDS: centroids.tobytes(), ORDER: order.tobytes(), OFFSETS: offsets.tobytes()})
        return files

    def load(self, meta: Mapping[str, Any], read: Reader, local_dir: Path | None) -> BinarySearcher:
        width = int(meta["dim"]) // 8
        vectors = np.frombuffer(read(VECTORS), dtype=np.uint8).reshape(-1, width)
        if self.index_type != "BIN_IVF_FLAT":
            return BinarySearcher(self.index_type, meta["metric_type"], vectors)
        centroids = np.frombuffer(read(CENTROIDS), dtype=np.uint8).reshape(-1, width)
        order = np.frombuffer(read(ORDER), dtype=np.int64)
        offsets = np.frombuffer(read(OFFSETS), dtype=np.int64)
        return BinarySearcher(self.index_type, meta["metric_type"], vectors, centroids, order, offsets)
