"""The in-process ceiling: the same index type and parameters built and searched in this
process with faiss (what our query nodes run) and, for HNSW, hnswlib; the same workloads
without any RPC, so ``ours / ceiling`` is the cost of the server around the library."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from milvus.bench.data import SELECTIVITY, Dataset, K, recall
from milvus.bench.workloads import Settings

_FACTORIES = {"HNSW": lambda s, dim: f"HNSW{s['M']}", "FLAT": lambda s, dim: "Flat",
              "IVF_FLAT": lambda s, dim: f"IVF{s.get('nlist', 128)},Flat",
              "IVF_SQ8": lambda s, dim: f"IVF{s.get('nlist', 128)},SQ8"}


def _params(faiss, settings: Settings, selector=None):
    search = dict(settings.search)
    if settings.index_type == "HNSW":
        return faiss.SearchParametersHNSW(efSearch=int(search.get("ef", 64)), sel=selector)
    if settings.index_type.startswith("IVF"):
        return faiss.SearchParametersIVF(nprobe=int(search.get("nprobe", 8)), sel=selector)
    return faiss.SearchParameters(sel=selector) if selector is not None else None


def _timed_loop(seconds: float, step: Callable[[int], None]) -> tuple[list[float], float]:
    lat = []
    start = time.perf_counter()
    i = 0
    while time.perf_counter() < start + seconds or not lat:
        t = time.perf_counter()
        step(i)
        lat.append(time.perf_counter() - t)
        i += 1
    return lat, time.perf_counter() - start


def _stats(lat: list[float], wall: float, per_call: int = 1) -> dict:
    """In process there is no client: the whole mean call is the "less client CPU" figure."""
    a = np.asarray(lat) * 1000
    mean = float(a.mean())
    return {"qps": len(lat) * per_call / wall, "p50_ms": float(np.percentile(a, 50)),
            "p99_ms": float(np.percentile(a, 99)), "mean_ms": mean, "less_client_ms": mean}


def _threaded(index, q: np.ndarray, params, threads: int, seconds: float) -> float:
    """Queries per second of ``threads`` threads each searching one query at a time."""
    counts = [0] * threads
    stop = time.perf_counter() + seconds
    nq = len(q)

    def worker(t: int) -> None:
        i = t * 97
        while time.perf_counter() < stop:
            index.search(q[i % nq:i % nq + 1], K, params=params)  # faiss releases the GIL
            counts[t] += 1
            i += 1
    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for w in pool:
        w.start()
    for w in pool:
        w.join()
    return sum(counts) / (time.perf_counter() - start)


def run(ds: Dataset, settings: Settings, progress: Callable[[str, float], None]) -> dict:
    import faiss

    build = dict(settings.build)
    if settings.index_type not in _FACTORIES:
        return {}
    out: dict = {}
    q, nq = ds.queries, len(ds.queries)
    progress("ceiling: faiss build", 0.0)
    index = faiss.index_factory(ds.dim, _FACTORIES[settings.index_type](build, ds.dim))
    t = time.perf_counter()
    if settings.index_type == "HNSW":
        index.hnsw.efConstruction = int(build["efConstruction"])
    index.train(ds.vectors)
    index.add(ds.vectors)
    out["index_build"] = {"s": time.perf_counter() - t}
    params = _params(faiss, settings)

    def serial(params, truth, label):
        found = []

        def step(i):
            _, ids = index.search(q[i % nq:i % nq + 1], K, params=params)
            if i < nq:
                found.append(ids[0])
        lat, wall = _timed_loop(settings.seconds, step)
        progress(label, 1.0)
        return {**_stats(lat, wall), "recall": recall(found, truth[:len(found)])}

    out["search_serial"] = serial(params, ds.truth, "ceiling: serial")
    b = settings.batch_nq
    found_b: list = []

    def batch_step(i):
        idx = np.arange(i * b, (i + 1) * b) % nq
        _, ids = index.search(q[idx], K, params=params)
        if i * b < nq:
            found_b.extend(zip(idx.tolist(), ids, strict=True))
    lat, wall = _timed_loop(settings.seconds, batch_step)
    out["search_batch"] = {**_stats(lat, wall, b),
                           "recall": recall([f[1] for f in found_b], ds.truth[[f[0] for f in found_b]])}
    progress("ceiling: batch", 1.0)
    for threads in settings.threads:
        out[f"search_threads_{threads}"] = {"qps": _threaded(index, q, params, threads, settings.seconds)}
        progress(f"ceiling: {threads} threads", 1.0)
    for label in SELECTIVITY:
        bitmap = np.packbits(ds.mask(label), bitorder="little")
        selector = faiss.IDSelectorBitmap(ds.rows, faiss.swig_ptr(bitmap))
        out[f"search_filter_{label}"] = serial(_params(faiss, settings, selector), ds.filtered_truth[label],
                                               f"ceiling: filtered {label}")
    out["index_bytes"] = {"mb": faiss.serialize_index(index).nbytes / 2**20}
    if settings.index_type == "HNSW":
        out["hnswlib"] = _hnswlib(ds, settings, progress)
    return out


def _hnswlib(ds: Dataset, settings: Settings, progress) -> dict:
    import hnswlib

    build, search = dict(settings.build), dict(settings.search)
    index = hnswlib.Index("l2", ds.dim)
    t = time.perf_counter()
    index.init_index(ds.rows, M=int(build["M"]), ef_construction=int(build["efConstruction"]))
    index.add_items(ds.vectors, np.arange(ds.rows))
    out = {"index_build": {"s": time.perf_counter() - t}}
    index.set_ef(int(search.get("ef", 64)))
    q, nq = ds.queries, len(ds.queries)
    found = []

    def step(i):
        ids, _ = index.knn_query(q[i % nq:i % nq + 1], K)
        if i < nq:
            found.append(ids[0])
    lat, wall = _timed_loop(settings.seconds, step)
    out["search_serial"] = {**_stats(lat, wall), "recall": recall(found, ds.truth[:len(found)])}
    b = settings.batch_nq
    lat, wall = _timed_loop(settings.seconds, lambda i: index.knn_query(q[np.arange(i * b, (i + 1) * b) % nq], K))
    out["search_batch"] = _stats(lat, wall, b)
    progress("ceiling: hnswlib", 1.0)
    return out
