"""The workloads, through pymilvus against one server.  Every search workload records its
recall@10 against the exact ground truth; timings are wall-clock on the client side."""

from __future__ import annotations

import multiprocessing
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pymilvus import DataType, MilvusClient

from milvus.bench.data import QUERY_FILTER, SELECTIVITY, Dataset, K, recall

COLLECTION = "bench"
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Settings:
    index_type: str = "HNSW"
    build: tuple = (("M", 16), ("efConstruction", 200))
    search: tuple = (("ef", 64),)
    seconds: float = 10.0  # per timed search workload
    threads: tuple = (1, 4, 16)
    procs: int = 4
    insert_1k_rows: int = 20_000  # rows inserted in batches of 1k (a scratch collection)
    batch_nq: int = 100
    warmup: float = 1.0  # seconds of untimed serial searches after load, for every server alike

    @property
    def search_params(self) -> dict:
        return {"metric_type": "L2", "params": dict(self.search)}


def _latency(lat: list[float], wall: float, cpu: list[float] | None = None) -> dict:
    """QPS and latency percentiles; with ``cpu`` (the client process' CPU seconds per call, from
    ``time.process_time``) also the mean call time the client did not spend computing: the
    server's part plus the transport, comparable with the in-process ceiling's mean call."""
    a = np.asarray(lat) * 1000
    out = {"qps": len(lat) / wall, "p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
           "mean_ms": float(a.mean())}
    if cpu:
        client = float(np.mean(cpu)) * 1000
        out.update(client_cpu_ms=client, less_client_ms=out["mean_ms"] - client)
    return out


def _ids(hits) -> list[int]:
    return [h["id"] for h in hits]


def _serial(client: MilvusClient, ds: Dataset, settings: Settings, progress: Progress, label: str,
            expr: str = "", truth: np.ndarray | None = None, output_fields: list[str] | None = None) -> dict:
    """Serial nq=1 searches; with ``output_fields`` (of ``cat`` and ``price``) every hit's
    values are checked against the data set (``correct``)."""
    truth = ds.truth if truth is None else truth
    nq = len(ds.queries)
    lat, cpu, found, rows = [], [], [], []
    correct = True
    start = time.perf_counter()
    deadline = start + settings.seconds
    i = 0
    while time.perf_counter() < deadline or i == 0:
        q = ds.queries[i % nq]
        c, t = time.process_time(), time.perf_counter()
        res = client.search(COLLECTION, data=[q], limit=K, filter=expr, search_params=settings.search_params,
                            output_fields=output_fields)
        lat.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if i < nq:
            found.append(_ids(res[0]))
            rows.append(i)
            if output_fields:
                correct = correct and all(_row_matches(ds, h["id"], h["entity"], output_fields) for h in res[0])
        i += 1
        if i % 32 == 0:
            progress(label, min(1.0, (time.perf_counter() - start) / settings.seconds))
    out = _latency(lat, time.perf_counter() - start, cpu)
    out["recall"] = recall(found, truth[rows])
    if output_fields:
        out["correct"] = correct
    return out


def _row_matches(ds: Dataset, key: int, entity: dict, fields: list[str]) -> bool:
    expected = {"cat": int(ds.cat[key]), "price": float(np.float32(ds.price[key]))}
    return all(abs(entity.get(f, float("nan")) - expected[f]) <= 1e-6 * max(1.0, abs(expected[f])) for f in fields)


def _get(client: MilvusClient, ds: Dataset, settings: Settings, progress: Progress, keys: int = 10) -> dict:
    """``get`` of ``keys`` random rows by primary key per call, with two scalar fields; every
    answer checked."""
    rng = np.random.default_rng(17)
    lat, correct = [], True
    start = time.perf_counter()
    while time.perf_counter() < start + settings.seconds or not lat:
        ids = rng.choice(ds.rows, size=min(keys, ds.rows), replace=False).tolist()
        t = time.perf_counter()
        res = client.get(COLLECTION, ids=ids, output_fields=["cat", "price"])
        lat.append(time.perf_counter() - t)
        correct = correct and sorted(r["id"] for r in res) == sorted(ids) and all(
            _row_matches(ds, r["id"], r, ["cat", "price"]) for r in res)
        progress(f"get by {keys} ids", min(1.0, (time.perf_counter() - start) / settings.seconds))
    out = _latency(lat, time.perf_counter() - start)
    out.update(keys=keys, correct=correct)
    return out


def _delete(client: MilvusClient, ds: Dataset, settings: Settings, progress: Progress, keys: int = 100) -> dict:
    """``delete`` of ``keys`` existing rows by primary key per call, from the highest key down
    (at most half of the rows); then the first batch deleted must be gone (a Strong query)."""
    lat, batches = [], []
    top = ds.rows
    start = time.perf_counter()
    while (time.perf_counter() < start + settings.seconds or not lat) and top - keys >= ds.rows // 2:
        ids = list(range(top - keys, top))
        top -= keys
        t = time.perf_counter()
        client.delete(COLLECTION, ids=ids)
        lat.append(time.perf_counter() - t)
        batches.append(ids)
        progress(f"delete {keys} ids", min(1.0, (time.perf_counter() - start) / settings.seconds))
    out = _latency(lat, time.perf_counter() - start)
    left = client.query(COLLECTION, filter=f"id in {batches[0]}", output_fields=["id"],
                        consistency_level="Strong") if batches else []
    out.update(keys=keys, correct=not left)
    return out


def _warm_up(client: MilvusClient, ds: Dataset, settings: Settings) -> None:
    """Untimed searches right after load: a server may still be settling (caches, threads, work
    the load started) when load returns; the first timed workload should not pay for that."""
    deadline = time.perf_counter() + settings.warmup
    i = 0
    while time.perf_counter() < deadline or i == 0:
        client.search(COLLECTION, data=[ds.queries[i % len(ds.queries)]], limit=K, search_params=settings.search_params)
        i += 1


def _batch(client: MilvusClient, ds: Dataset, settings: Settings, progress: Progress) -> dict:
    nq, b = len(ds.queries), settings.batch_nq
    lat, cpu, found, rows = [], [], [], []
    start = time.perf_counter()
    lo = 0
    while time.perf_counter() < start + settings.seconds or not lat:
        idx = np.arange(lo, lo + b) % nq
        c, t = time.process_time(), time.perf_counter()
        res = client.search(COLLECTION, data=ds.queries[idx], limit=K, search_params=settings.search_params)
        lat.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if lo < nq:
            found += [_ids(r) for r in res]
            rows += idx.tolist()
        lo += b
        progress("batch search", min(1.0, (time.perf_counter() - start) / settings.seconds))
    out = _latency(lat, time.perf_counter() - start, cpu)
    out["qps"] *= b  # queries per second, not requests
    out["recall"] = recall(found, ds.truth[rows])
    return out


def _client_loop(uri: str, queries: np.ndarray, first: int, seconds: float, search_params: dict,
                 out: list) -> None:
    client = MilvusClient(uri=uri)
    nq = len(queries)
    lat, found = [], []
    i = first
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t = time.perf_counter()
        res = client.search(COLLECTION, data=[queries[i % nq]], limit=K, search_params=search_params)
        lat.append(time.perf_counter() - t)
        found.append((i % nq, _ids(res[0])))
        i += 1
    client.close()
    out.append((lat, found))


def _process_worker(args: tuple) -> tuple:
    uri, queries, first, seconds, search_params = args
    warnings.simplefilter("ignore")
    out: list = []
    _client_loop(uri, queries, first, seconds, search_params, out)
    return out[0]


def _merge_clients(parts: list, wall: float, truth: np.ndarray) -> dict:
    lat = [x for p in parts for x in p[0]]
    found = [f for p in parts for f in p[1]]
    out = _latency(lat, wall)
    out["recall"] = recall([f[1] for f in found], truth[[f[0] for f in found]])
    return out


def _concurrent_threads(uri: str, ds: Dataset, settings: Settings, threads: int, progress: Progress) -> dict:
    parts: list = []
    workers = [threading.Thread(target=_client_loop, args=(uri, ds.queries, t * 97, settings.seconds,
                                                           settings.search_params, parts)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    while any(w.is_alive() for w in workers):
        progress(f"{threads} client threads", min(1.0, (time.perf_counter() - start) / settings.seconds))
        time.sleep(0.25)
    return _merge_clients(parts, time.perf_counter() - start, ds.truth)


def _concurrent_procs(uri: str, ds: Dataset, settings: Settings, progress: Progress) -> dict:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(settings.procs) as pool:
        # spawn costs seconds: every worker starts its clock only once it runs
        pending = pool.map_async(_process_worker, [(uri, ds.queries, p * 131, settings.seconds,
                                                    settings.search_params) for p in range(settings.procs)])
        start = time.perf_counter()
        while not pending.ready():
            progress(f"{settings.procs} client processes", min(1.0, (time.perf_counter() - start) / settings.seconds))
            pending.wait(0.25)
        parts = pending.get()
    # the workers ran side by side for `seconds` each
    return _merge_clients(parts, settings.seconds, ds.truth)


def _query(client: MilvusClient, ds: Dataset, settings: Settings, progress: Progress) -> dict:
    expected = ds.query_matches()
    lat, correct = [], True
    start = time.perf_counter()
    while time.perf_counter() < start + settings.seconds or not lat:
        t = time.perf_counter()
        res = client.query(COLLECTION, filter=QUERY_FILTER, output_fields=["id", "price"], limit=16384)
        lat.append(time.perf_counter() - t)
        correct = correct and len(res) == min(expected, 16384)
        progress("query by filter", min(1.0, (time.perf_counter() - start) / settings.seconds))
    out = _latency(lat, time.perf_counter() - start)
    out.update(rows=expected, correct=correct)
    return out


def _insert(client: MilvusClient, name: str, ds: Dataset, lo: int, hi: int, batch: int, progress: Progress,
            label: str) -> float:
    rows = [{"id": int(i), "vec": ds.vectors[i], "cat": int(ds.cat[i]), "price": float(ds.price[i])}
            for i in range(lo, hi)]
    start = time.perf_counter()
    for b in range(0, len(rows), batch):
        client.insert(name, rows[b:b + batch])
        progress(label, (b + batch) / max(1, len(rows)))
    return (hi - lo) / (time.perf_counter() - start)


def _create(client: MilvusClient, name: str, dim: int) -> None:
    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_field("cat", DataType.INT64)
    schema.add_field("price", DataType.FLOAT)
    client.create_collection(name, schema=schema, consistency_level="Bounded", shards_num=1)


def _wait_index(client: MilvusClient, rows: int, timeout: float = 3600) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = client.describe_index(COLLECTION, "vec")
        state = str(info.get("state", ""))
        if "Finished" in state and int(info.get("indexed_rows", rows)) >= rows:
            return
        if "Failed" in state:
            raise RuntimeError(f"index build failed: {info}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"index not built after {timeout} s: {info}")
        time.sleep(0.1)


def run(uri: str, ds: Dataset, settings: Settings, progress: Progress, rss: Callable[[], float]) -> dict:
    """Every workload against the server at ``uri``; returns {workload: figures}."""
    client = MilvusClient(uri=uri)
    out: dict = {}
    scratch = "bench_insert_1k"
    _create(client, scratch, ds.dim)
    n1k = min(settings.insert_1k_rows, ds.rows)
    out["insert_1k"] = {"rows_per_s": _insert(client, scratch, ds, 0, n1k, 1_000, progress, "insert, batches of 1k"),
                        "rows": n1k}
    client.drop_collection(scratch)
    _create(client, COLLECTION, ds.dim)
    out["insert_10k"] = {"rows_per_s": _insert(client, COLLECTION, ds, 0, ds.rows, 10_000, progress,
                                               "insert, batches of 10k"), "rows": ds.rows}
    progress("flush", 0.0)
    t = time.perf_counter()
    client.flush(COLLECTION)
    out["flush"] = {"s": time.perf_counter() - t}
    progress("index build", 0.0)
    params = client.prepare_index_params()
    params.add_index("vec", index_type=settings.index_type, metric_type="L2", params=dict(settings.build))
    t = time.perf_counter()
    client.create_index(COLLECTION, params)
    _wait_index(client, ds.rows)
    out["index_build"] = {"s": time.perf_counter() - t}
    progress("load", 0.0)
    t = time.perf_counter()
    client.load_collection(COLLECTION)
    out["load"] = {"s": time.perf_counter() - t}
    _warm_up(client, ds, settings)
    out["search_serial"] = _serial(client, ds, settings, progress, "serial search")
    out["search_batch"] = _batch(client, ds, settings, progress)
    for threads in settings.threads:
        out[f"search_threads_{threads}"] = _concurrent_threads(uri, ds, settings, threads, progress)
    out[f"search_procs_{settings.procs}"] = _concurrent_procs(uri, ds, settings, progress)
    for label, expr in SELECTIVITY.items():
        out[f"search_filter_{label}"] = _serial(client, ds, settings, progress, f"filtered search {label}", expr,
                                                ds.filtered_truth[label])
    out["query_filter"] = _query(client, ds, settings, progress)
    out["search_output"] = _serial(client, ds, settings, progress, "search with output fields",
                                   output_fields=["cat", "price"])
    out["get_ids"] = _get(client, ds, settings, progress)
    out["rss"] = {"mb": rss()}
    out["delete_ids"] = _delete(client, ds, settings, progress)  # last: it changes the collection
    client.drop_collection(COLLECTION)
    client.close()
    return out
