"""Dense float vector indexes on faiss: FLAT, IVF_FLAT, IVF_SQ8, IVF_PQ, HNSW, SCANN, DISKANN.

COSINE is inner product on L2-normalised vectors (queries normalised at search time); L2
scores are squared distances, as Milvus reports them.  A filter becomes a faiss
``IDSelectorBitmap`` passed in the search parameters, so every type skips the rows it must
not return while it searches (not after).

HNSW is searched as faiss' ``IndexHNSWFlat`` rather than hnswlib: both search unfiltered at
about the same speed here (50k x 128, M=16, ef=64: 26k vs 31k QPS, recall@10 0.996 vs
0.998), but hnswlib's filter is a Python callback per candidate (111 QPS with a 10 % filter,
against 20k QPS for faiss' bitmap selector).  The graph is built by hnswlib, which is about
a quarter faster at construction (40k x 128, M=16, efConstruction=200, two threads: 5.4 s
with the copy into faiss' layout vs 6.9 s for faiss, recall@10 at ef=64 0.998 vs 0.999), and
copied into the faiss index (``hnsw_graph_from_hnswlib``).

DISKANN here is not Microsoft's Vamana graph: it is built from faiss' IVF with 4-bit
fast-scan PQ codes (kept in memory: dim / 4 bytes per vector) plus a flat copy of the raw
vectors that is written to a local file and memory-mapped (``IO_FLAG_MMAP_IFC``); a search
takes ``search_list`` candidates from the PQ codes and re-ranks them on the raw vectors read
from the file, so resident memory stays far below the raw data.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pyarrow as pa

from milvus.errors import ParameterInvalid
from milvus.index.base import Files, Reader, worst_score

_FAISS_METRIC = {"L2": faiss.METRIC_L2, "IP": faiss.METRIC_INNER_PRODUCT, "COSINE": faiss.METRIC_INNER_PRODUCT}
INDEX_FILE = "index.faiss"
_PARAMS_KEPT = 64  # unfiltered search parameter objects a searcher keeps
_WRITE_CHUNK = 1 << 24  # bytes per chunk of a serialized index


def _prepared(data: np.ndarray, metric: str) -> np.ndarray:
    x = np.ascontiguousarray(data, dtype=np.float32)
    if metric == "COSINE":
        x = x.copy()
        faiss.normalize_L2(x)
    return x


def _selector(allowed: np.ndarray | None) -> tuple[Any, Any]:
    """A faiss selector over the allowed rows (and the buffer it points into, kept alive)."""
    if allowed is None:
        return None, None
    bits = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
    return faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits)), bits


def _nlist(requested: int, n: int) -> int:
    """IVF lists: as asked, but never more than the rows (a tiny segment gets fewer lists)."""
    return max(1, min(requested, n))


# k-means (the IVF and PQ types' training) works in float32 squared distances; above this
# squared norm a distance overflows to inf, no centroid is nearest and faiss aborts the whole
# process from inside OpenMP (an exception it cannot catch): refuse such data up front
_TRAINABLE_SQUARED_NORM = float(np.finfo(np.float32).max) / 4


def _check_trainable(x: np.ndarray, index_type: str) -> None:
    if not len(x):
        return
    largest = float(np.einsum("ij,ij->i", x, x, dtype=np.float64).max())
    if not largest <= _TRAINABLE_SQUARED_NORM:
        raise ParameterInvalid(f"{index_type} cannot be trained on these vectors: a squared L2 norm of "
                               f"{largest:.3g} overflows float32 distances (at most {_TRAINABLE_SQUARED_NORM:.3g}); "
                               f"scale the vectors down or use FLAT or HNSW")


def _train_sample(x: np.ndarray, count: int, seed: int = 1234) -> np.ndarray:
    if len(x) <= count:
        return x
    rng = np.random.default_rng(seed)
    return x[np.sort(rng.choice(len(x), count, replace=False))]


class FaissSearcher:
    """One faiss index of a segment; ``kind`` says which search parameters apply."""

    def __init__(self, index_type: str, metric: str, index: Any, num_rows: int, size: int, mapped: bool = False):
        self.index_type = index_type
        self._size = size
        self.metric = metric
        self.index = index
        self.num_rows = num_rows
        self._mapped = mapped
        self._ivf = _find_ivf(index)
        # unfiltered search parameters by (k, params): built once, shared by concurrent searches
        # (faiss only reads them)
        self._unfiltered: dict[tuple, Any] = {}

    def memory_bytes(self) -> int:
        if self._mapped:  # resident: the IVF lists of PQ codes and ids; the raw vectors are mapped
            return int(self._ivf.ntotal * (self._ivf.code_size + 8)) if self._ivf is not None else 0
        return self._size

    def close(self) -> None:
        self.index = None

    def stored_vectors(self) -> pa.Buffer | None:
        """The segment's float32 vectors in row order as the index itself stores them (FLAT,
        HNSW, SCANN's refine copy), without a copy: the buffer points into the index and keeps
        it alive.  None when the index holds no such copy (quantized codes, IVF lists in list
        order, COSINE's normalised vectors, a memory-mapped DISKANN file)."""
        index = self.index
        if index is None or self._mapped or self.metric == "COSINE":
            return None
        if isinstance(index, faiss.IndexHNSW):
            flat = faiss.downcast_index(index.storage)
        elif isinstance(index, faiss.IndexRefine):
            flat = faiss.downcast_index(index.refine_index)
        else:
            flat = index
        if not isinstance(flat, faiss.IndexFlat) or flat.ntotal != self.num_rows or not flat.ntotal:
            return None
        count = flat.ntotal * flat.d
        view = faiss.rev_swig_ptr(flat.get_xb(), count)
        return pa.foreign_buffer(view.ctypes.data, count * 4, base=index)

    def _params(self, k: int, params: Mapping[str, Any], sel: Any) -> Any:
        t = self.index_type
        if t == "HNSW":
            return faiss.SearchParametersHNSW(efSearch=int(params.get("ef") or max(k, 64)), sel=sel)
        if t in ("IVF_FLAT", "IVF_SQ8", "IVF_PQ"):
            return faiss.SearchParametersIVF(nprobe=int(params.get("nprobe") or 8), sel=sel)
        if t == "SCANN":
            ivf = faiss.SearchParametersIVF(nprobe=int(params.get("nprobe") or 8), sel=sel)
            if not isinstance(self.index, faiss.IndexRefine):
                return ivf
            reorder = int(params.get("reorder_k") or max(100, 10 * k))
            return faiss.IndexRefineSearchParameters(k_factor=max(1.0, reorder / k), base_index_params=ivf, sel=sel)
        if t == "DISKANN":
            search_list = int(params.get("search_list") or max(k, 100))
            nlist = self._ivf.nlist if self._ivf is not None else 1
            nprobe = min(nlist, max(8, search_list // 4))
            ivf = faiss.SearchParametersIVF(nprobe=nprobe, sel=sel)
            return faiss.IndexRefineSearchParameters(k_factor=max(1.0, search_list / k), base_index_params=ivf,
                                                     sel=sel)
        return faiss.SearchParameters(sel=sel) if sel is not None else None

    def search(self, queries: np.ndarray, k: int, params: Mapping[str, Any],
               allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        q = _prepared(queries, self.metric)
        if allowed is None:
            sel, _keep = None, None
            key = (k, tuple(sorted(params.items())))
            search_params = self._unfiltered.get(key)
            if search_params is None:
                if len(self._unfiltered) >= _PARAMS_KEPT:
                    self._unfiltered.clear()
                search_params = self._unfiltered[key] = self._params(k, params, None)
        else:
            sel, _keep = _selector(allowed)
            search_params = self._params(k, params, sel)
        index = self.index
        n, d = q.shape
        if d != index.d or k <= 0:
            raise ParameterInvalid(f"the dim ({d}) of the query vectors is not the index's ({index.d}), or k ({k}) < 1")
        # the swig call itself, into outputs allocated here (what faiss' Python ``search`` does,
        # without its per-call checks and dispatch)
        scores = np.empty((n, k), dtype=np.float32)  # ours to change
        labels = np.empty((n, k), dtype=np.int64)
        index.search_c(n, faiss.swig_ptr(q), k, faiss.swig_ptr(scores), faiss.swig_ptr(labels), search_params)
        missing = labels < 0
        any_missing = bool(missing.any())
        if any_missing:
            scores[missing] = worst_score(self.metric)
        if self.metric == "L2":
            np.maximum(scores, 0.0, out=scores, where=~missing if any_missing else True)
        elif self.metric == "COSINE":
            np.clip(scores, -1.0, 1.0, out=scores, where=labels >= 0)
        return scores, labels


def _find_ivf(index: Any) -> Any:
    try:
        base = faiss.downcast_index(index.base_index) if isinstance(index, faiss.IndexRefine) else index
        return faiss.downcast_index(faiss.extract_index_ivf(base))
    except (RuntimeError, AttributeError):
        return None


def _quiet_training(index: Any) -> None:
    """Let k-means train on what a segment has without faiss' "please provide at least" warning
    (a small segment is a normal case here, not a mistake)."""
    ivf = _find_ivf(index)
    for owner in (ivf, getattr(ivf, "pq", None)):
        cp = getattr(owner, "cp", None)
        if cp is not None:
            cp.min_points_per_centroid = 1


def serialized(index: Any) -> bytes:
    """The index file's bytes.  Written in chunks joined once: ``faiss.serialize_index`` grows
    one buffer as it writes (copying it on every growth), then copies it into numpy and
    ``tobytes`` copies it again (HNSW over 100k x 128: 63 MB, about twice as slow)."""
    chunks: list[bytes] = []

    def write(chunk: bytes) -> int:
        chunks.append(bytes(chunk))
        return len(chunk)

    writer = faiss.PyCallbackIOWriter(write, _WRITE_CHUNK)
    faiss.write_index(index, writer)
    del writer  # flushes what it still holds
    return b"".join(chunks)


class FaissAlgorithm:
    """Builds one of the faiss-backed types from its validated build parameters."""

    def __init__(self, index_type: str):
        self.index_type = index_type

    def _make(self, d: int, n: int, metric: str, params: Mapping[str, Any]) -> Any:
        fm = _FAISS_METRIC[metric]
        t = self.index_type
        if t == "FLAT":
            return faiss.IndexFlat(d, fm)
        if t == "HNSW":
            index = faiss.IndexHNSWFlat(d, int(params.get("M", 30)), fm)
            index.hnsw.efConstruction = int(params.get("efConstruction", 360))
            return index
        nlist = _nlist(int(params.get("nlist", 128)), n)
        if t == "IVF_FLAT":
            return faiss.IndexIVFFlat(faiss.IndexFlat(d, fm), d, nlist, fm)
        if t == "IVF_SQ8":
            return faiss.IndexIVFScalarQuantizer(faiss.IndexFlat(d, fm), d, nlist, faiss.ScalarQuantizer.QT_8bit, fm)
        if t == "IVF_PQ":
            m, nbits = int(params["m"]), int(params.get("nbits", 8))
            if n < (1 << nbits):
                raise ParameterInvalid(f"IVF_PQ with nbits={nbits} needs at least {1 << nbits} rows to train, "
                                       f"the segment has {n}")
            index = faiss.IndexIVFPQ(faiss.IndexFlat(d, fm), d, nlist, m, nbits, fm)
            index.do_polysemous_training = False
            return index
        if t in ("SCANN", "DISKANN"):
            if t == "DISKANN":
                nlist = _nlist(int(4 * math.sqrt(n)), n)
            m = d // 2 if d % 2 == 0 else d
            base = faiss.index_factory(d, f"IVF{nlist},PQ{m}x4fs", fm)
            if t == "SCANN" and not params.get("with_raw_data", True):
                return base
            return faiss.IndexRefineFlat(base)
        raise ParameterInvalid(f"invalid index type: {t}")

    def build(self, data: np.ndarray, metric: str, params: Mapping[str, Any]) -> Files:
        x = _prepared(data, metric)
        n, d = x.shape
        if self.index_type == "HNSW" and n:
            index = hnsw_graph_from_hnswlib(x, _FAISS_METRIC[metric], int(params.get("M", 30)),
                                            int(params.get("efConstruction", 360)))
            return {INDEX_FILE: serialized(index)}
        index = self._make(d, n, metric, params)
        _quiet_training(index)
        if not index.is_trained:
            sample = _train_sample(x, 256 * 1024)
            _check_trainable(sample, self.index_type)
            index.train(sample)
        index.add(x)
        return {INDEX_FILE: serialized(index)}

    def load(self, meta: Mapping[str, Any], read: Reader, local_dir: Path | None) -> FaissSearcher:
        data = read(INDEX_FILE)
        metric, n = meta["metric_type"], int(meta["num_rows"])
        if self.index_type == "DISKANN":
            local_dir = local_dir or Path(tempfile.gettempdir())
            local_dir.mkdir(parents=True, exist_ok=True)
            path = local_dir / f"{meta.get('build_id', 0)}-{meta.get('version', 0)}-{id(data)}.diskann"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            size = len(data)
            del data
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
            os.unlink(path)  # the mapping keeps the file's pages; nothing to clean up later
            return FaissSearcher(self.index_type, metric, index, n, size, mapped=True)
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        return FaissSearcher(self.index_type, metric, index, n, len(data))



def hnsw_graph_from_hnswlib(x: np.ndarray, metric: int, m: int, ef_construction: int) -> Any:
    """A faiss ``IndexHNSWFlat`` over ``x`` (row i = label i) whose graph hnswlib built.

    hnswlib constructs the same HNSW graph (2M links on level 0, M above) about a quarter
    faster than faiss here (100k x 128, M=16, efConstruction=200, two threads); the graph is
    then copied into faiss' layout, so loading and searching (bitmap filters included) stay
    faiss'.  hnswlib's state: per element (internal id) a level-0 record ``u16 count, u16
    flags, max_M0 x u32 links, vector, u64 label``; for elements above level 0, in internal
    id order, ``level`` records of ``u16 count, u16 flags, max_M x u32 links``."""
    import hnswlib  # only the index node builds

    n, d = x.shape
    builder = hnswlib.Index("l2" if metric == faiss.METRIC_L2 else "ip", d)
    builder.init_index(n, M=m, ef_construction=ef_construction, random_seed=100)
    builder.add_items(x, np.arange(n), num_threads=max(1, faiss.omp_get_max_threads()))
    state = builder.__getstate__()[0]
    del builder
    size, max_m0, max_m = state["size_data_per_element"], state["max_M0"], state["max_M"]
    level0 = state.pop("data_level0").view(np.uint8).reshape(-1, size)[:n]
    label_at = state["label_offset"]
    label_of = level0[:, label_at:label_at + 8].copy().view(np.uint64).ravel().astype(np.int64)
    links0 = level0[:, :4 + 4 * max_m0].copy()
    del level0
    label32 = label_of.astype(np.int32)  # gathers by internal id give faiss' int32 ids directly
    internal_of = np.empty(n, np.int64)
    internal_of[label_of] = np.arange(n)

    index = faiss.IndexHNSWFlat(d, m, metric)
    hnsw = index.hnsw
    hnsw.efConstruction = ef_construction
    index.storage.add(x)
    index.ntotal = n
    cum = faiss.vector_to_array(hnsw.cum_nneighbor_per_level).astype(np.int64)
    if len(cum) < 2 or cum[1] != max_m0 or (len(cum) > 2 and cum[2] - cum[1] != max_m):
        raise RuntimeError(f"hnswlib links per level ({max_m0}, {max_m}) do not match faiss' {cum[:3].tolist()}")
    top = state["element_levels"].astype(np.int64)  # by internal id: highest level
    levels = top[internal_of] + 1  # faiss: levels per label
    if int(levels.max()) >= len(cum):
        raise RuntimeError("hnswlib graph has more levels than faiss' layout")
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(cum[levels], out=offsets[1:])
    neighbors = np.full(int(offsets[-1]), -1, np.int32)
    # level 0: one record per element, in internal id order
    _copy_links(neighbors, offsets[label_of], links0, max_m0, label32)
    # upper levels: the elements above level 0, in internal id order, each with ``level``
    # records (levels 1, 2, ...) back to back
    upper_ids = np.flatnonzero(top > 0)
    per_element = top[upper_ids]
    records = int(per_element.sum())
    if records:
        per = state["size_links_per_element"]
        upper = state["link_lists"].view(np.uint8)[:records * per].reshape(records, per)
        first = np.cumsum(per_element) - per_element  # each element's first record
        level = np.arange(records) - np.repeat(first, per_element) + 1
        starts = np.repeat(offsets[label_of[upper_ids]], per_element) + cum[level]
        _copy_links(neighbors, starts, upper[:, :4 + 4 * max_m], max_m, label32)
    faiss.copy_array_to_vector(levels.astype(np.int32), hnsw.levels)
    faiss.copy_array_to_vector(offsets.astype(np.uint64), hnsw.offsets)
    faiss.copy_array_to_vector(neighbors, hnsw.neighbors)
    hnsw.entry_point = int(label_of[state["enterpoint_node"]])
    hnsw.max_level = int(state["max_level"])
    return index


def _copy_links(neighbors: np.ndarray, starts: np.ndarray, records: np.ndarray, width: int,
                label32: np.ndarray) -> None:
    """Copy hnswlib link records (``u16 count, u16 flags, width x u32 internal ids``, one per
    row) into faiss' ``neighbors`` at ``starts`` (one per record), as labels."""
    counts = records[:, :2].copy().view(np.uint16).ravel()
    links = records[:, 4:4 + 4 * width].copy().view(np.uint32).reshape(len(records), width)
    used = np.arange(width)[None, :] < counts[:, None]
    slots = starts[:, None] + np.arange(width)[None, :]
    neighbors[slots[used]] = label32[links[used]]
