"""Index benchmark: per index type, build time, search QPS and recall@10 through pymilvus,
beside the same index built and searched in this process with faiss (and hnswlib for HNSW):
the ceiling.

    python scripts/bench_index.py                      # 100k x 128, every dense type
    python scripts/bench_index.py --rows 20000 --types HNSW IVF_FLAT

The server is every standalone role in this process (``build_cluster``) on a temporary data
directory, reached by pymilvus over gRPC on 127.0.0.1.  Data: a clustered synthetic set
(Gaussian blobs).  Per type, through pymilvus: ``build`` = create_index until it reports
Finished (includes pymilvus' 0.5 s polling), ``qps1`` = one query per request from one
client thread, ``qps100`` = 100 queries per request; recall@10 against exact L2 ground truth.
In-process: the same faiss index (same parameters) built on the same vectors, searched with
the same search parameters: ``build``, ``qps1`` (one query per call), ``qps100`` (100 per call).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import faiss
import hnswlib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymilvus import DataType, MilvusClient  # noqa: E402

from milvus._proto import querynode_pb2  # noqa: E402
from tests.integration.cluster import running_cluster  # noqa: E402

K = 10
# index type -> (build params, search params, faiss factory string or None)
TYPES = {
    "FLAT": ({}, {}, "Flat"),
    "IVF_FLAT": ({"nlist": 1024}, {"nprobe": 16}, "IVF1024,Flat"),
    "IVF_SQ8": ({"nlist": 1024}, {"nprobe": 16}, "IVF1024,SQ8"),
    "IVF_PQ": ({"nlist": 1024, "m": 32, "nbits": 8}, {"nprobe": 16}, "IVF1024,PQ32"),
    "HNSW": ({"M": 16, "efConstruction": 200}, {"ef": 64}, "HNSW16"),
    "SCANN": ({"nlist": 1024}, {"nprobe": 16, "reorder_k": 100}, "IVF1024,PQ64x4fs,RFlat"),
    "DISKANN": ({}, {"search_list": 100}, None),
    "AUTOINDEX": ({}, {}, None),
}


def dataset(rows: int, dim: int, nq: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(max(10, rows // 100), dim)).astype(np.float32) * 3
    x = (centers[rng.integers(0, len(centers), rows)] + rng.normal(size=(rows, dim))).astype(np.float32)
    q = (centers[rng.integers(0, len(centers), nq)] + rng.normal(size=(nq, dim))).astype(np.float32)
    return x, q


def recall(labels: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / K for a, b in zip(labels, truth, strict=True)]))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def in_process(index_type: str, x: np.ndarray, q: np.ndarray, truth: np.ndarray) -> dict:
    build, search, factory = TYPES[index_type]
    if factory is None:
        return {}
    index = faiss.index_factory(x.shape[1], factory)
    if index_type == "HNSW":
        index.hnsw.efConstruction = build["efConstruction"]
    if index_type == "IVF_PQ":
        faiss.extract_index_ivf(index)
        faiss.downcast_index(index).do_polysemous_training = False
    _, seconds = timed(lambda: (index.train(x), index.add(x)))
    if index_type == "HNSW":
        params = faiss.SearchParametersHNSW(efSearch=search["ef"])
    elif index_type == "SCANN":
        params = faiss.IndexRefineSearchParameters(k_factor=search["reorder_k"] / K,
                                                   base_index_params=faiss.SearchParametersIVF(nprobe=16))
    elif "nprobe" in search:
        params = faiss.SearchParametersIVF(nprobe=search["nprobe"])
    else:
        params = None
    labels, batch = timed(lambda: np.concatenate([index.search(q[lo:lo + 100], K, params=params)[1]
                                                  for lo in range(0, len(q), 100)]))
    _, single = timed(lambda: [index.search(q[i:i + 1], K, params=params) for i in range(min(200, len(q)))])
    out = {"build_s": round(seconds, 2), "qps1": round(min(200, len(q)) / single), "qps100": round(len(q) / batch),
           "recall": round(recall(labels, truth), 4)}
    if index_type == "HNSW":
        h = hnswlib.Index("l2", x.shape[1])
        _, hb = timed(lambda: (h.init_index(len(x), M=build["M"], ef_construction=build["efConstruction"]),
                               h.add_items(x, np.arange(len(x)))))
        h.set_ef(search["ef"])
        labels, hs = timed(lambda: np.concatenate([h.knn_query(q[lo:lo + 100], K)[0] for lo in range(0, len(q), 100)]))
        _, h1 = timed(lambda: [h.knn_query(q[i:i + 1], K) for i in range(min(200, len(q)))])
        out["hnswlib"] = {"build_s": round(hb, 2), "qps1": round(min(200, len(q)) / h1),
                          "qps100": round(len(q) / hs), "recall": round(recall(labels.astype(np.int64), truth), 4)}
    return out


def served(cluster, collection_id: int) -> bool:
    dist = cluster.querynode.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    sealed = [s for s in dist.segments if s.sealed and s.collectionID == collection_id]
    return bool(sealed) and all(s.index_build_ids for s in sealed)


def through_pymilvus(cluster, client: MilvusClient, index_type: str, x: np.ndarray, q: np.ndarray,
                     truth: np.ndarray, batch_rows: int) -> dict:
    build, search, _ = TYPES[index_type]
    name = f"bench_{index_type.lower()}"
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=x.shape[1])
    client.create_collection(name, schema=schema, num_shards=1)
    _, insert_s = timed(lambda: [client.insert(name, [{"id": int(i), "vec": x[i]} for i in
                                                      range(lo, min(lo + batch_rows, len(x)))])
                                 for lo in range(0, len(x), batch_rows)])
    client.flush(name)
    params = client.prepare_index_params()
    params.add_index("vec", index_type=index_type, metric_type="L2", params=build)
    _, build_s = timed(client.create_index, name, params)
    client.load_collection(name)
    coll_id = client.describe_collection(name)["collection_id"]
    deadline = time.monotonic() + 600
    while not served(cluster, coll_id):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{index_type}: the index was never served")
        time.sleep(0.1)
    sp = {"params": search}
    client.search(name, q[:1].tolist(), limit=K, search_params=sp)  # warm up
    n1 = min(200, len(q))
    _, single = timed(lambda: [client.search(name, q[i:i + 1].tolist(), limit=K, search_params=sp)
                               for i in range(n1)])
    labels = []
    start = time.perf_counter()
    for lo in range(0, len(q), 100):
        hits = client.search(name, q[lo:lo + 100].tolist(), limit=K, search_params=sp)
        labels += [[h["id"] for h in got] + [-1] * (K - len(got)) for got in hits]
    batch = time.perf_counter() - start
    client.release_collection(name)
    client.drop_collection(name)
    return {"insert_s": round(insert_s, 1), "build_s": round(build_s, 2), "qps1": round(n1 / single),
            "qps100": round(len(q) / batch), "recall": round(recall(np.array(labels), truth), 4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--nq", type=int, default=1000)
    parser.add_argument("--types", nargs="*", default=list(TYPES))
    parser.add_argument("--batch-rows", type=int, default=2000, help="rows per insert request")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    x, q = dataset(args.rows, args.dim, args.nq)
    flat = faiss.IndexFlatL2(args.dim)
    flat.add(x)
    _, truth = flat.search(q, K)
    results = {}
    print(f"{args.rows} x {args.dim}, {args.nq} queries, k={K}, faiss threads={faiss.omp_get_max_threads()}")
    with tempfile.TemporaryDirectory() as tmp, running_cluster(Path(tmp) / "data") as cluster:
        client = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        for index_type in args.types:
            row = {"pymilvus": through_pymilvus(cluster, client, index_type, x, q, truth, args.batch_rows),
                   "in_process": in_process(index_type, x, q, truth)}
            results[index_type] = row
            print(index_type, json.dumps(row), flush=True)
        client.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
