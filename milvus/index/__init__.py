"""Vector index algorithms behind one small interface, shared by index nodes (build) and query
nodes (load and search).  See ``base`` for the contract, ``spec`` for the index types and
their parameters, and ``dense``/``binary``/``sparse`` for the algorithms and the library
each one uses.

``build_index(index_type, metric, params, data)`` returns the files of one segment's index
(``meta.json`` plus the algorithm's own); ``load_index(read, local_dir)`` opens them again as
a ``LoadedIndex`` whose ``search`` validates the search parameters of its type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from milvus.errors import ParameterInvalid
from milvus.index import bm25
from milvus.index.base import Algorithm, Files, Reader, Searcher, top_k, worst_score
from milvus.index.binary import BinaryAlgorithm
from milvus.index.dense import FaissAlgorithm
from milvus.index.scalar import ScalarIndex, build_scalar, load_scalar
from milvus.index.sparse import SparseAlgorithm
from milvus.index.spec import (
    AUTOINDEX,
    BINARY,
    BM25,
    BM25_PARAMS,
    DENSE,
    INDEX_TYPES,
    SCALAR,
    SPARSE,
    FieldSpec,
    IndexSpec,
    auto_choice,
    auto_search_params,
    field_kind,
    flatten_params,
    resolve_index,
    search_params,
)

META_FILE = "meta.json"
EXACT_TYPES = frozenset({"FLAT", "BIN_FLAT", "SPARSE_INVERTED_INDEX", "SPARSE_WAND"})
FORMAT_VERSION = 1

ALGORITHMS: dict[str, Algorithm] = {
    **{name: FaissAlgorithm(name) for name in ("FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ", "HNSW", "SCANN", "DISKANN")},
    **{name: BinaryAlgorithm(name) for name in ("BIN_FLAT", "BIN_IVF_FLAT")},
    **{name: SparseAlgorithm(name) for name in ("SPARSE_INVERTED_INDEX", "SPARSE_WAND")},
}


def build_index(index_type: str, metric: str, params: Mapping[str, Any], data: Any, *, kind: str, dim: int,
                num_rows: int) -> Files:
    """The files of an index over ``data`` (the segment's ``num_rows`` vectors in row order)."""
    chosen, build_params = index_type, dict(params)
    if index_type == AUTOINDEX:
        chosen, build_params = auto_choice(kind, metric, num_rows)
        build_params.update({p.name: params[p.name] for p in BM25_PARAMS if p.name in params})
    algorithm = ALGORITHMS.get(chosen)
    if algorithm is None:
        raise ParameterInvalid(f"index type {chosen} has no vector index algorithm")
    files = algorithm.build(data, metric, build_params)
    meta = {"format": FORMAT_VERSION, "index_type": chosen, "requested_type": index_type, "metric_type": metric,
            "params": build_params, "num_rows": num_rows, "dim": dim, "kind": kind, "files": sorted(files)}
    files[META_FILE] = json.dumps(meta, sort_keys=True).encode()
    return files


@dataclass
class LoadedIndex:
    """One segment's index, opened: ``search`` takes the request's raw search parameters."""

    meta: dict[str, Any]
    searcher: Searcher

    @property
    def index_type(self) -> str:
        return self.meta["index_type"]

    @property
    def requested_type(self) -> str:
        return self.meta.get("requested_type", self.index_type)

    @property
    def metric(self) -> str:
        return self.meta["metric_type"]

    @property
    def num_rows(self) -> int:
        return int(self.meta["num_rows"])

    @property
    def exact(self) -> bool:
        """True when the index answers exactly (no approximation to make up for)."""
        return self.index_type in EXACT_TYPES

    def search(self, queries: Any, k: int, params: Mapping[str, Any],
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.requested_type == AUTOINDEX:
            own = auto_search_params(self.index_type, params, k)
        else:
            own = search_params(self.index_type, params, k)
        if self.metric == BM25:  # the index's k1 and b, the search's average row length
            built = self.meta.get("params", {})
            own.update({p.name: built.get(p.name, p.default) for p in BM25_PARAMS})
            own[bm25.AVGDL] = params.get(bm25.AVGDL, 1.0)
        return self.searcher.search(queries, k, own, allowed)

    def memory_bytes(self) -> int:
        return self.searcher.memory_bytes()

    def stored_vectors(self) -> Any:
        """The raw vectors the index keeps in row order (a ``pyarrow.Buffer`` of float32 that
        shares the index's memory), or None: a query node serves the vector column from it
        instead of keeping a second copy."""
        stored = getattr(self.searcher, "stored_vectors", None)
        return stored() if stored is not None else None

    def close(self) -> None:
        self.searcher.close()


def load_index(read: Reader, local_dir: Path | None = None, **extra: Any) -> LoadedIndex | ScalarIndex:
    """Open an index from its files; ``extra`` (build id, version) is kept in its meta.  A
    scalar index (``milvus.index.scalar``) opens as a ``ScalarIndex`` the filter asks."""
    meta = {**json.loads(read(META_FILE)), **extra}
    if meta.get("kind") == SCALAR:
        return load_scalar(meta, read(meta["files"][0]))
    algorithm = ALGORITHMS.get(meta["index_type"])
    if algorithm is None:
        raise ParameterInvalid(f"index type {meta['index_type']} has no vector index algorithm")
    return LoadedIndex(meta, algorithm.load(meta, read, local_dir))


__all__ = [
    "ALGORITHMS",
    "AUTOINDEX",
    "BINARY",
    "DENSE",
    "INDEX_TYPES",
    "META_FILE",
    "SCALAR",
    "SPARSE",
    "Algorithm",
    "ScalarIndex",
    "FieldSpec",
    "Files",
    "IndexSpec",
    "LoadedIndex",
    "Searcher",
    "build_index",
    "build_scalar",
    "field_kind",
    "flatten_params",
    "load_index",
    "resolve_index",
    "search_params",
    "top_k",
    "worst_score",
]
