"""The index algorithms (milvus/index) on their own: every type and metric against exact
ground truth on a clustered synthetic set (recall@10 floors), filters respected, parameters
validated with Milvus' messages, AUTOINDEX's choice, the disk-resident index memory-mapped."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus.grpc_gen import schema_pb2 as spb

from milvus.errors import ParameterInvalid
from milvus.index import BINARY, DENSE, SPARSE, build_index, dense, load_index
from milvus.index.binary import binary_scores
from milvus.index.spec import FieldSpec, auto_choice, resolve_index, search_params
from milvus.schema.vectors import SparseMatrix

N, DIM, NQ, K = 3000, 32, 40, 10
RNG = np.random.default_rng(42)
CENTERS = RNG.normal(size=(30, DIM)).astype(np.float32) * 4
X = (CENTERS[RNG.integers(0, 30, N)] + RNG.normal(size=(N, DIM))).astype(np.float32)
Q = (CENTERS[RNG.integers(0, 30, NQ)] + RNG.normal(size=(NQ, DIM))).astype(np.float32)
ALLOWED = RNG.random(N) < 0.3

# recall@10 floors at default search parameters (build parameters as in the ``BUILD`` table)
FLOORS = {"FLAT": 0.99, "IVF_FLAT": 0.9, "IVF_SQ8": 0.85, "IVF_PQ": 0.35, "HNSW": 0.95, "SCANN": 0.9,
          "DISKANN": 0.9, "AUTOINDEX": 0.95}
BUILD = {"IVF_FLAT": {"nlist": "32"}, "IVF_SQ8": {"nlist": "32"}, "IVF_PQ": {"nlist": "32", "m": "8"},
         "SCANN": {"nlist": "32"}, "HNSW": {"M": "16", "efConstruction": "100"}}


def exact_top(metric: str, x: np.ndarray, q: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    if metric == "COSINE":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    key = ((q[:, None, :] - x[None]) ** 2).sum(-1) if metric == "L2" else -(q @ x.T)
    if allowed is not None:
        key = np.where(allowed[None], key, np.inf)
    return np.argsort(key, axis=1)[:, :K]


def recall(labels: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(labels, truth, strict=True)]))


def open_dense(index_type: str, metric: str, tmp_path):
    spec = resolve_index(FieldSpec("v", spb.FloatVector, DIM),
                         {"index_type": index_type, "metric_type": metric, **BUILD.get(index_type, {})})
    files = build_index(spec.index_type, metric, spec.build_params, X, kind=DENSE, dim=DIM, num_rows=N)
    return load_index(files.__getitem__, tmp_path)


@pytest.mark.parametrize("index_type", list(FLOORS))
@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_dense_recall_and_filter(index_type, metric, tmp_path):
    index = open_dense(index_type, metric, tmp_path)
    scores, labels = index.search(Q, K, {}, None)
    floor = FLOORS[index_type] - (0.1 if metric == "IP" else 0.0)  # IP is not a metric space
    assert recall(labels, exact_top(metric, X, Q)) >= floor
    order = scores if metric == "L2" else -scores
    assert (np.diff(order, axis=1) >= -1e-4).all(), "best first"
    _, labels = index.search(Q, K, {}, ALLOWED)
    assert ALLOWED[labels[labels >= 0]].all(), "a filtered-out row came back"
    assert recall(labels, exact_top(metric, X, Q, ALLOWED)) >= floor - 0.1


@pytest.mark.parametrize("index_type", ["FLAT", "HNSW", "IVF_FLAT", "SCANN"])
def test_search_answers_what_faiss_own_search_answers(index_type, tmp_path):
    # the searcher calls faiss' swig search into its own outputs: the same as faiss' Python search
    index = open_dense(index_type, "L2", tmp_path)
    searcher = index.searcher
    few = np.zeros(N, dtype=bool)
    few[[3, 70, 900]] = True  # fewer allowed rows than k: labels -1, scores the worst
    for q, k, allowed in ((Q[:1], K, None), (Q, K, None), (Q, K, ALLOWED), (Q[:3], K, few)):
        scores, labels = index.search(q, k, {}, allowed)
        own = search_params(index_type, {}, k)
        sel, _bits = dense._selector(allowed)
        d, i = searcher.index.search(np.ascontiguousarray(q), k, params=searcher._params(k, own, sel))
        np.testing.assert_array_equal(labels, i)
        expected = np.where(i < 0, np.inf, np.maximum(d, 0.0)).astype(np.float32)
        np.testing.assert_array_equal(scores, expected)
        assert scores.dtype == np.float32 and labels.dtype == np.int64 and scores.shape == (len(q), k)


def test_search_parameters_change_the_work():
    index = open_dense("HNSW", "L2", None)
    truth = exact_top("L2", X, Q)
    low = recall(index.search(Q, K, {"ef": 10}, None)[1], truth)
    high = recall(index.search(Q, K, {"ef": 200}, None)[1], truth)
    assert high >= low and high >= 0.99
    with pytest.raises(ParameterInvalid, match=r"ef\(5\) should be larger than k\(10\)"):
        index.search(Q, K, {"ef": 5}, None)
    ivf = open_dense("IVF_FLAT", "L2", None)
    assert recall(ivf.search(Q, K, {"nprobe": 32}, None)[1], truth) == 1.0


def test_scores_are_user_facing():
    index = open_dense("FLAT", "L2", None)
    scores, labels = index.search(Q[:2], 3, {}, None)
    assert np.allclose(scores, ((Q[:2, None, :] - X[labels]) ** 2).sum(-1), rtol=1e-4)
    cos = open_dense("FLAT", "COSINE", None)
    scores, labels = cos.search(Q[:2], 3, {}, None)
    x = X[labels[0]]
    expected = x @ Q[0] / np.linalg.norm(x, axis=1) / np.linalg.norm(Q[0])
    assert np.allclose(scores[0], expected, atol=1e-5)


def test_diskann_keeps_the_raw_vectors_memory_mapped(tmp_path):
    index = open_dense("DISKANN", "L2", tmp_path)
    assert index.memory_bytes() < X.nbytes / 4  # PQ codes + ids in memory only
    assert not list(tmp_path.iterdir())  # mapped and unlinked: nothing left behind
    assert open_dense("DISKANN", "L2", None).search(Q[:1], K, {}, None)[1].shape == (1, K)  # a temp dir


def binary_data() -> tuple[np.ndarray, np.ndarray]:
    centers = RNG.integers(0, 256, (20, 8), dtype=np.uint8)
    flips = (RNG.random((N, 64)) < 0.08)
    x = centers[RNG.integers(0, 20, N)] ^ np.packbits(flips, axis=1)
    q = x[:NQ] ^ np.packbits(RNG.random((NQ, 64)) < 0.05, axis=1)
    return x, q


@pytest.mark.parametrize("index_type,floor", [("BIN_FLAT", 1.0), ("BIN_IVF_FLAT", 0.8)])
@pytest.mark.parametrize("metric", ["HAMMING", "JACCARD"])
def test_binary(index_type, floor, metric):
    x, q = binary_data()
    files = build_index(index_type, metric, {"nlist": 16}, x, kind=BINARY, dim=64, num_rows=N)
    index = load_index(files.__getitem__)
    for allowed in (None, ALLOWED):
        scores, labels = index.search(q, K, {}, allowed)
        exact = binary_scores(metric, q, x)
        if allowed is not None:
            exact = np.where(allowed[None], exact, np.inf)
            assert allowed[labels[labels >= 0]].all()
        kth = np.sort(exact, axis=1)[:, K - 1:K]
        # distance recall: the share of hits within the exact k-th distance (ties are common)
        assert np.mean(scores <= kth + 1e-6) >= floor
        assert np.allclose(scores, np.take_along_axis(exact, labels, axis=1))


def sparse_data() -> tuple[SparseMatrix, np.ndarray]:
    indptr, indices, values = [0], [], []
    dense = np.zeros((N, 500), np.float32)
    for i in range(N):
        k = int(RNG.integers(3, 15))
        idx = np.sort(RNG.choice(500, k, replace=False))
        val = RNG.random(k).astype(np.float32)
        indices += idx.tolist()
        values += val.tolist()
        indptr.append(len(indices))
        dense[i, idx] = val
    return SparseMatrix(np.array(indptr, np.int64), np.array(indices, np.uint32), np.array(values, np.float32)), dense


@pytest.mark.parametrize("index_type", ["SPARSE_INVERTED_INDEX", "SPARSE_WAND"])
def test_sparse_is_exact(index_type):
    matrix, dense = sparse_data()
    files = build_index(index_type, "IP", {"drop_ratio_build": 0.0}, matrix, kind=SPARSE, dim=0, num_rows=N)
    index = load_index(files.__getitem__)
    queries = [(matrix.indices[matrix.indptr[i]:matrix.indptr[i + 1]].astype(np.int64),
                matrix.values[matrix.indptr[i]:matrix.indptr[i + 1]]) for i in range(NQ)]
    for allowed in (None, ALLOWED):
        scores, labels = index.search(queries, K, {}, allowed)
        exact = dense[:NQ] @ dense.T
        if allowed is not None:
            exact = np.where(allowed[None], exact, -np.inf)
        kth = -np.sort(-exact, axis=1)[:, K - 1:K]
        assert (scores[labels >= 0] >= np.broadcast_to(kth, scores.shape)[labels >= 0] - 1e-5).all()
        assert np.allclose(scores, np.take_along_axis(exact, labels, axis=1), atol=1e-5)
    dropped = index.search(queries, K, {"drop_ratio_search": 0.5}, None)[1]
    assert dropped.shape == (NQ, K)


# ---- parameter validation --------------------------------------------------------------

FLOAT = FieldSpec("v", spb.FloatVector, 32)


@pytest.mark.parametrize("pairs,message", [
    ({"index_type": "NOPE"}, r"invalid index type: NOPE"),
    ({"index_type": "HNSW", "metric_type": "HAMMING"}, r"metric type HAMMING not found or not supported, "
                                                         r"supported: \[L2 IP COSINE\]"),
    ({"index_type": "HNSW", "metric_type": "L2", "M": "1"}, r"param 'M' \(1\) should be in range \[2, 2048\]"),
    ({"index_type": "IVF_FLAT", "params": '{"nlist": 0}'}, r"param 'nlist' \(0\) should be in range \[1, 65536\]"),
    ({"index_type": "IVF_FLAT", "nlist": "abc"}, r"wrong data type in json, key: 'nlist', value: 'abc'"),
    ({"index_type": "IVF_PQ", "m": "5"}, r"integer multiple of the number of subquantizers \(m\)"),
    ({"index_type": "BIN_FLAT"}, r"can't build with this index BIN_FLAT"),
    ({"index_type": "STL_SORT"}, r"scalar index"),
    ({"index_type": "HNSW", "params": "[1]"}, r"not a valid JSON object"),
])
def test_bad_index_params(pairs, message):
    with pytest.raises(ParameterInvalid, match=message):
        resolve_index(FLOAT, pairs)


@pytest.mark.parametrize("index_type, params", [("IVF_FLAT", {"nlist": 16}), ("IVF_SQ8", {"nlist": 16}),
                                                ("IVF_PQ", {"nlist": 16, "m": 4, "nbits": 4})])
def test_training_on_vectors_whose_distances_overflow_is_refused_not_a_crash(index_type, params):
    x = np.random.default_rng(3).standard_normal((600, 16)).astype(np.float32)
    x[7] *= 1e37  # a squared distance to it overflows float32: faiss' k-means would abort the process
    with pytest.raises(ParameterInvalid, match=f"{index_type} cannot be trained on these vectors"):
        build_index(index_type, "L2", params, x, kind=DENSE, dim=16, num_rows=len(x))
    x[7] /= 1e37
    files = build_index(index_type, "L2", params, x, kind=DENSE, dim=16, num_rows=len(x))
    assert files


def test_index_params_resolved_with_defaults():
    spec = resolve_index(FLOAT, {"index_type": "HNSW", "params": '{"M": 8}'})
    assert (spec.index_type, spec.metric_type) == ("HNSW", "COSINE")  # Milvus' default dense metric
    assert spec.build_params == {"M": 8, "efConstruction": 360}
    assert resolve_index(FLOAT, {}).index_type == "AUTOINDEX"
    binary = resolve_index(FieldSpec("b", spb.BinaryVector, 64), {"index_type": "AUTOINDEX"})
    assert binary.metric_type == "HAMMING"
    sparse = resolve_index(FieldSpec("s", spb.SparseFloatVector), {"index_type": "SPARSE_WAND"})
    assert sparse.metric_type == "IP"
    assert resolve_index(FieldSpec("t", spb.VarChar), {"index_type": "Trie"}).index_type == "Trie"
    assert resolve_index(FieldSpec("n", spb.Int64), {}).index_type == "INVERTED"
    with pytest.raises(ParameterInvalid, match="Trie are not supported on Int64"):
        resolve_index(FieldSpec("n", spb.Int64), {"index_type": "Trie"})
    with pytest.raises(ParameterInvalid, match="should be larger than k"):
        search_params("DISKANN", {"search_list": 5}, 10)


def test_autoindex_choice():
    assert auto_choice(DENSE, "COSINE", 10_000) == ("HNSW", {"M": 16, "efConstruction": 200})
    assert auto_choice(DENSE, "L2", 5_000_000)[0] == "IVF_SQ8"
    assert auto_choice(BINARY, "HAMMING", 10_000) == ("BIN_IVF_FLAT", {"nlist": 100})
    assert auto_choice(SPARSE, "IP", 10)[0] == "SPARSE_INVERTED_INDEX"
