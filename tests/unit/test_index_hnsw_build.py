"""HNSW graphs built by hnswlib and copied into faiss' layout (milvus.index.dense): links in
row labels, faiss' level invariants hold, the vectors are stored in row order, the copy
survives serialization and searches (filtered too) as well as a graph faiss built itself."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from milvus.index import dense
from milvus.index.dense import hnsw_graph_from_hnswlib, serialized

N, DIM, K = 4000, 24, 10
RNG = np.random.default_rng(11)
CENTERS = RNG.normal(size=(20, DIM)).astype(np.float32) * 3
X = (CENTERS[RNG.integers(0, 20, N)] + RNG.normal(size=(N, DIM))).astype(np.float32)
Q = (CENTERS[RNG.integers(0, 20, 100)] + RNG.normal(size=(100, DIM))).astype(np.float32)


def _recall(labels, truth):
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(labels, truth, strict=True)]))


def _links(index, label, level):
    hnsw = index.hnsw
    offsets = faiss.vector_to_array(hnsw.offsets)
    cum = faiss.vector_to_array(hnsw.cum_nneighbor_per_level)
    neighbors = faiss.vector_to_array(hnsw.neighbors)
    start = int(offsets[label] + cum[level])
    out = neighbors[start:int(offsets[label] + cum[level + 1])]
    return set(out[out >= 0].tolist())


@pytest.mark.parametrize("metric", [faiss.METRIC_L2, faiss.METRIC_INNER_PRODUCT])
def test_copied_graph_searches_like_faiss_own(metric):
    index = faiss.deserialize_index(faiss.serialize_index(hnsw_graph_from_hnswlib(X, metric, 16, 100)))
    own = faiss.IndexHNSWFlat(DIM, 16, metric)
    own.hnsw.efConstruction = 100
    own.add(X)
    exact = faiss.IndexFlat(DIM, metric)
    exact.add(X)
    _, truth = exact.search(Q, K)
    params = faiss.SearchParametersHNSW(efSearch=64)
    _, mine = index.search(Q, K, params=params)
    _, theirs = own.search(Q, K, params=params)
    assert index.ntotal == N
    assert _recall(mine, truth) >= _recall(theirs, truth) - 0.02
    assert _recall(mine, truth) >= 0.9
    # filtered: only even rows
    allowed = np.arange(N) % 2 == 0
    bits = np.packbits(allowed, bitorder="little")
    sel = faiss.IDSelectorBitmap(N, faiss.swig_ptr(bits))
    _, filtered = index.search(Q, K, params=faiss.SearchParametersHNSW(efSearch=64, sel=sel))
    assert (filtered[filtered >= 0] % 2 == 0).all()
    assert (filtered >= 0).all()


def test_links_are_in_row_labels_and_follow_faiss_layout():
    index = hnsw_graph_from_hnswlib(X, faiss.METRIC_L2, 8, 40)
    levels = faiss.vector_to_array(index.hnsw.levels)
    assert len(levels) == N and levels.min() >= 1
    assert index.hnsw.max_level == levels.max() - 1
    assert levels[index.hnsw.entry_point] == levels.max()
    # every node links to real rows other than itself, and a node's links on a level lead to
    # nodes that exist on that level
    for label in range(0, N, 97):
        links = _links(index, label, 0)
        assert links and all(0 <= n < N for n in links) and label not in links
        for level in range(1, int(levels[label])):
            assert all(levels[n] > level for n in _links(index, label, level))
    np.testing.assert_array_equal(faiss.rev_swig_ptr(faiss.downcast_index(index.storage).get_xb(), N * DIM),
                                  X.ravel())


def test_every_link_on_every_level_is_hnswlib_s(monkeypatch):
    """The copy against a plain per-record decoding of the hnswlib state it was made from."""
    import hnswlib

    states = []

    class Recorded(hnswlib.Index):
        def __getstate__(self):
            state = super().__getstate__()
            states.append({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state[0].items()})
            return state

    monkeypatch.setattr(hnswlib, "Index", Recorded)
    index = hnsw_graph_from_hnswlib(X, faiss.METRIC_L2, 6, 40)
    state = states[0]
    size, max_m0, max_m = state["size_data_per_element"], state["max_M0"], state["max_M"]
    level0 = state["data_level0"].view(np.uint8).reshape(-1, size)[:N]
    label_at = state["label_offset"]
    label_of = [int(level0[i, label_at:label_at + 8].copy().view(np.uint64)[0]) for i in range(N)]
    per = state["size_links_per_element"]
    upper = state["link_lists"].view(np.uint8)
    pos = 0
    assert int(state["element_levels"].max()) >= 2  # levels above 1 are covered
    for internal in range(N):
        label = label_of[internal]
        count = int(level0[internal, :2].copy().view(np.uint16)[0])
        links = level0[internal, 4:4 + 4 * max_m0].copy().view(np.uint32)[:count]
        assert _links(index, label, 0) == {label_of[i] for i in links}
        for level in range(1, int(state["element_levels"][internal]) + 1):
            record = upper[pos:pos + per]
            pos += per
            count = int(record[:2].copy().view(np.uint16)[0])
            links = record[4:4 + 4 * max_m].copy().view(np.uint32)[:count]
            assert _links(index, label, level) == {label_of[i] for i in links}
    assert pos == state["element_levels"].sum() * per


def test_serialized_is_faiss_own_file_in_any_chunk_size(monkeypatch):
    index = hnsw_graph_from_hnswlib(X, faiss.METRIC_L2, 8, 40)
    expected = faiss.serialize_index(index).tobytes()
    assert serialized(index) == expected
    monkeypatch.setattr(dense, "_WRITE_CHUNK", 1000)  # many chunks, the last one partial
    assert serialized(index) == expected
    empty = faiss.IndexFlatL2(DIM)
    assert serialized(empty) == faiss.serialize_index(empty).tobytes()
