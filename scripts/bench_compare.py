"""Insert throughput and serial search QPS through pymilvus, against our standalone server and,
in the same run, any peer server (e.g. milvus-lite) — brute-force (FLAT) search, exact ground
truth from numpy.  Not a test; prints a table and writes JSON.

    python scripts/bench_compare.py [--rows 100000] [--dim 128] [--lite /path/to/milvus-lite]
        [--cluster [--querynodes 2] [--datanodes 2]]

With ``--cluster`` the same workload also runs against a local cluster (every role its own
process); its RSS counts every process of the cluster, etcd, NATS and nanio included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from pymilvus import DataType, MilvusClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from milvus.bench.data import exact  # noqa: E402
from milvus.bench.servers import Server, start_lite, start_ours  # noqa: E402
from milvus.localsvc import free_port  # noqa: E402

warnings.simplefilter("ignore")
REPO = Path(__file__).resolve().parents[1]


def dataset(rows: int, dim: int, queries: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 1, (64, dim)).astype(np.float32)
    pick = rng.integers(0, 64, rows)
    data = centers[pick] + rng.normal(0, 0.3, (rows, dim)).astype(np.float32)
    qpick = rng.integers(0, 64, queries)
    q = centers[qpick] + rng.normal(0, 0.3, (queries, dim)).astype(np.float32)
    return data.astype(np.float32), q.astype(np.float32)


def start_cluster(tmp: Path, querynodes: int, datanodes: int) -> Server:
    """``milvus cluster up`` (etcd, NATS, nanio, a process per role); the proxy on a free port."""
    port = free_port()
    log_path = tmp / "cluster.log"
    proc = subprocess.Popen([sys.executable, "-m", "milvus", "cluster", "up", "--data-dir", str(tmp / "cluster"),
                             "--port", str(port), "--querynodes", str(querynodes), "--datanodes", str(datanodes)],
                            cwd=REPO, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while "milvus cluster ready" not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"cluster not ready: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)
    return Server("cluster", f"http://127.0.0.1:{port}", proc, log_path)


def workload(server: Server, data: np.ndarray, queries: np.ndarray, gt: np.ndarray, batch: int,
             search_seconds: float) -> dict:
    client = MilvusClient(uri=server.uri)
    name = "bench"
    if client.has_collection(name):
        client.drop_collection(name)
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=data.shape[1])
    client.create_collection(name, schema=schema, consistency_level="Bounded")
    ids = np.arange(len(data))
    t0 = time.perf_counter()
    for start in range(0, len(data), batch):
        chunk = data[start:start + batch]
        client.insert(name, [{"id": int(i), "vec": v} for i, v in zip(ids[start:start + batch], chunk, strict=True)])
    insert_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    client.flush(name)
    flush_s = time.perf_counter() - t0
    try:
        params = client.prepare_index_params()
        params.add_index("vec", index_type="FLAT", metric_type="L2")
        client.create_index(name, params)
        index = "FLAT"
    except Exception as exc:  # noqa: BLE001 - a server without indexes searches brute force anyway
        index = f"none ({type(exc).__name__})"
    t0 = time.perf_counter()
    client.load_collection(name)
    load_s = time.perf_counter() - t0
    k = gt.shape[1]
    lat, hits = [], []
    deadline = time.perf_counter() + search_seconds
    i = 0
    while time.perf_counter() < deadline:
        q = queries[i % len(queries)]
        t = time.perf_counter()
        res = client.search(name, data=[q.tolist()], limit=k, search_params={"metric_type": "L2"})
        lat.append(time.perf_counter() - t)
        if i < len(queries):
            hits.append(len(set(h["id"] for h in res[0]) & set(gt[i].tolist())) / k)
        i += 1
    lat_a = np.array(lat)
    out = {
        "insert_rows_per_s": len(data) / insert_s, "flush_s": flush_s, "load_s": load_s, "index": index,
        "search_qps": len(lat) / lat_a.sum(), "search_p50_ms": float(np.percentile(lat_a, 50) * 1000),
        "search_p99_ms": float(np.percentile(lat_a, 99) * 1000), "recall_at_10": float(np.mean(hits)),
        "rss_mb": server.rss_mb(),
    }
    client.drop_collection(name)
    client.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--search-seconds", type=float, default=15)
    ap.add_argument("--lite", help="path of the milvus-lite executable (a peer to compare with)")
    ap.add_argument("--cluster", action="store_true",
                    help="also run `milvus cluster up` (a process per role on etcd, NATS JetStream and nanio)")
    ap.add_argument("--querynodes", type=int, default=2, help="query nodes of the --cluster run")
    ap.add_argument("--datanodes", type=int, default=2, help="data nodes of the --cluster run")
    ap.add_argument("--json", default="bench_compare.json")
    args = ap.parse_args()
    data, queries = dataset(args.rows, args.dim, 200)
    gt = exact(data, queries)
    results = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        servers = [("ours", start_ours)]
        if args.cluster:
            servers.append((f"cluster {args.querynodes}qn/{args.datanodes}dn",
                            lambda t: start_cluster(t, args.querynodes, args.datanodes)))
        if args.lite:
            # the executable lives in <venv>/bin/milvus-lite
            servers.append(("milvus-lite", lambda t: start_lite(Path(args.lite).resolve().parent.parent, t)))
        for label, start in servers:
            server = start(tmp)
            try:
                results[label] = workload(server, data, queries, gt, args.batch, args.search_seconds)
            finally:
                server.stop()
    keys = ["insert_rows_per_s", "flush_s", "load_s", "search_qps", "search_p50_ms", "search_p99_ms",
            "recall_at_10", "rss_mb", "index"]
    sys.stdout.write(f"{args.rows} x {args.dim}, batches of {args.batch}, serial nq=1 top-10 L2\n")
    sys.stdout.write(f"{'metric':<20}" + "".join(f"{label:>16}" for label in results) + "\n")
    for key in keys:
        row = "".join(f"{results[label][key]:>16.2f}" if isinstance(results[label][key], float)
                      else f"{str(results[label][key]):>16}" for label in results)
        sys.stdout.write(f"{key:<20}{row}\n")
    Path(args.json).write_text(json.dumps({"rows": args.rows, "dim": args.dim, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
