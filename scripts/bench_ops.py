"""Everyday operations beside `milvus bench`'s workloads, through pymilvus, server by server.

    python scripts/bench_ops.py [--servers ours,milvus-2.3.5] [--seconds 3] [--rows 100000]
                                [--tree PATH] [--cache-dir .bench]

On the benchmark's data (`cat` and `price` beside the vectors, HNSW M=16 efConstruction=200,
ef=64, one shard, Bounded): small writes (one row or key per call), searches with output
fields, a filter, a radius, groups or nq=10, queries by key, by key range and by a scalar
range, and a few control calls.  Each operation runs serially for ``--seconds`` and prints
calls per second; the last column is ours / Milvus 2.3.5 when both ran.  ``--tree`` names
another checkout of this project to run as server ``base`` (before/after comparisons in one
run).  Milvus 2.3.5 comes from the bench's peer venv (installed on first use, as ``milvus
bench --peers milvus-2.3.5`` does).  The writes run first, so every read after them also
meets a growing segment and deletes, as a live collection does.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymilvus import MilvusClient  # noqa: E402

from milvus.bench import data as bench_data  # noqa: E402
from milvus.bench import servers, workloads  # noqa: E402

NAME = workloads.COLLECTION


def operations(client: MilvusClient, ds: bench_data.Dataset) -> dict[str, Callable[[int], object]]:
    q, rows = ds.queries, ds.rows
    search = {"params": {"ef": 64}}

    def row(key: int, at: int) -> dict:
        return {"id": key, "vec": ds.vectors[at], "cat": int(ds.cat[at]), "price": float(ds.price[at])}

    return {
        "insert 1 row": lambda i: client.insert(NAME, [row(3 * rows + i, i % rows)]),
        "upsert 1 row": lambda i: client.upsert(NAME, [row(i % 1000, i % 1000)]),
        "delete 1 key": lambda i: client.delete(NAME, ids=[4 * rows + i]),
        "delete 100 keys": lambda i: client.delete(NAME, ids=list(range(5 * rows + 100 * i, 5 * rows + 100 * i + 100))),
        "search": lambda i: client.search(NAME, q[i % 1000:i % 1000 + 1], limit=10, search_params=search),
        "search, 2 output fields": lambda i: client.search(NAME, q[i % 1000:i % 1000 + 1], limit=10,
                                                           output_fields=["cat", "price"], search_params=search),
        "search, output the vector": lambda i: client.search(NAME, q[i % 1000:i % 1000 + 1], limit=10,
                                                             output_fields=["vec"], search_params=search),
        "search, filter + output": lambda i: client.search(NAME, q[i % 1000:i % 1000 + 1], limit=10,
                                                           filter="cat < 10", output_fields=["cat", "price"],
                                                           search_params=search),
        "search, radius": lambda i: client.search(NAME, q[i % 1000:i % 1000 + 1], limit=10,
                                                  search_params={"params": {"ef": 64, "radius": 200.0,
                                                                            "range_filter": 0.0}}),
        "search, group_by cat": lambda i: client.search(NAME, q[i % 1000:i % 1000 + 1], limit=10,
                                                        group_by_field="cat", search_params=search),
        "search, limit 100": lambda i: client.search(NAME, q[i % 1000:i % 1000 + 1], limit=100,
                                                     search_params={"params": {"ef": 128}}),
        "search, nq=10": lambda i: client.search(NAME, q[(10 * i) % 990:(10 * i) % 990 + 10], limit=10,
                                                 search_params=search),
        "get 10 keys": lambda i: client.get(NAME, ids=[(10 * i + j) % rows for j in range(10)]),
        "query 100 keys, every field": lambda i: client.query(
            NAME, filter=f"id in {[(100 * i + j) % rows for j in range(100)]}", output_fields=["*"]),
        "query id > x, limit 100": lambda i: client.query(NAME, filter=f"id > {7 * i % (rows - 1000)}",
                                                          output_fields=["cat"], limit=100),
        "query cat == 3, limit 100": lambda i: client.query(NAME, filter="cat == 3", output_fields=["id", "price"],
                                                            limit=100),
        "query price range, limit 10": lambda i: client.query(NAME, filter="price > 0.2 and price < 0.21",
                                                              output_fields=["cat"], limit=10),
        "count(*)": lambda i: client.query(NAME, filter="", output_fields=["count(*)"]),
        "describe_collection": lambda i: client.describe_collection(NAME),
        "get_load_state": lambda i: client.get_load_state(NAME),
    }


def rate(fn: Callable[[int], object], seconds: float) -> float:
    for i in range(20):  # warm
        fn(i)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(20 + calls)
        calls += 1
    return calls / (time.perf_counter() - start)


def start(label: str, work: Path, cache: Path, tree: Path | None) -> servers.Server:
    if label == "ours":
        return servers.start_ours(work)
    if label == "base":
        if tree is None:
            raise SystemExit("server 'base' needs --tree")
        return servers.start_ours(work, repo=tree)
    if label == "milvus-2.3.5":
        return servers.start_milvus235(servers.peer_venv(label, cache), work)
    raise SystemExit(f"unknown server {label!r}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--servers", default="ours,milvus-2.3.5")
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--tree", type=Path, help="another checkout, run as server 'base'")
    p.add_argument("--cache-dir", type=Path, default=Path(".bench"))
    args = p.parse_args()
    labels = [s for s in args.servers.split(",") if s]
    ds = bench_data.load(args.rows, 128, 1000, 42, args.cache_dir, progress=lambda *a: None)
    results: dict[str, dict[str, float]] = {}
    for label in labels:
        server = start(label, Path(tempfile.mkdtemp(prefix=f"ops-{label}-")), args.cache_dir, args.tree)
        try:
            client = MilvusClient(server.uri)
            workloads._create(client, NAME, 128)
            workloads._insert(client, NAME, ds, 0, ds.rows, 10_000, lambda *a: None, "insert")
            client.flush(NAME)
            index = client.prepare_index_params()
            index.add_index("vec", index_type="HNSW", metric_type="L2", params={"M": 16, "efConstruction": 200})
            client.create_index(NAME, index)
            workloads._wait_index(client, ds.rows)
            client.load_collection(NAME)
            for op, fn in operations(client, ds).items():
                results.setdefault(op, {})[label] = rate(fn, args.seconds)
                print(f"{label:>14}  {op:<30} {results[op][label]:8.1f}/s", flush=True)
            client.close()
        finally:
            server.stop()
    ratio = "ours" in labels and "milvus-2.3.5" in labels
    print("\n| operation (calls/s) | " + " | ".join(labels) + (" | ours / Milvus |" if ratio else " |"))
    print("|---" * (len(labels) + 1 + ratio) + "|")
    for op, by_server in results.items():
        cells = [f"{by_server[s]:,.0f}" if s in by_server else "—" for s in labels]
        if ratio:
            cells.append(f"{by_server['ours'] / by_server['milvus-2.3.5']:.2f}x")
        print(f"| {op} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
