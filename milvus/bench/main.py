"""The ``milvus bench`` command line (see the package docstring)."""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from milvus.bench import ceiling, data, report, servers, workloads

SIZES = {"100k": (100_000, 128), "1m": (1_000_000, 128), "1m-768": (1_000_000, 768)}


def parser(prog: str = "milvus bench") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Measure a server through pymilvus beside the "
                                "in-process ceiling (faiss/hnswlib) and optional peers.")
    p.add_argument("--size", choices=SIZES, help="a preset size: 100k (x128, default), 1m (x128), 1m-768")
    p.add_argument("--rows", type=int, help="rows (overrides --size)")
    p.add_argument("--dim", type=int, help="vector dimension (overrides --size)")
    p.add_argument("--nq", type=int, default=1000, help="distinct queries with ground truth (default 1000)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--seconds", type=float, default=10.0, help="per timed search workload (default 10)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 4, 16], help="client thread counts")
    p.add_argument("--procs", type=int, default=4, help="client processes of the multi-process workload")
    p.add_argument("--insert-1k-rows", type=int, default=20_000, help="rows inserted in batches of 1k")
    p.add_argument("--M", type=int, default=16, dest="hnsw_m")
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--ef", type=int, default=64)
    p.add_argument("--uri", help="measure this server instead of starting our standalone")
    p.add_argument("--peers", default="", help="comma-separated peers to run too: milvus-lite, milvus-2.3.5 "
                   "(installed with pip into venvs under the cache folder on first use)")
    p.add_argument("--peer-venv", action="append", default=[], metavar="NAME=DIR",
                   help="use an existing venv for a peer, e.g. milvus-lite=/tmp/venvlite")
    p.add_argument("--no-ceiling", action="store_true", help="skip the in-process faiss/hnswlib ceiling")
    p.add_argument("--cache-dir", type=Path, default=Path(".bench"), help="ground truth and peer venvs")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    p.add_argument("--write-md", type=Path, metavar="FILE", help="replace the results section of this markdown "
                   "file (BENCHMARKS.md)")
    p.add_argument("--rounds", type=int, default=1, help="run every server and the ceiling this many times, "
                   "the order reversed each round, and report each figure's median (every round is kept in "
                   "the JSON): on a shared machine whose speed drifts, no server gets only its slow hours")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def median_figures(results: list[dict]) -> dict:
    """One result from several rounds of the same workloads: per figure the median of the
    rounds that have it (numbers), whether all of them hold (booleans), else the first."""
    out: dict = {}
    for key in dict.fromkeys(k for r in results for k in r):
        values = [r[key] for r in results if key in r]
        first = values[0]
        if isinstance(first, dict):
            out[key] = median_figures([v for v in values if isinstance(v, dict)])
        elif isinstance(first, bool):
            out[key] = all(values)
        elif isinstance(first, (int, float)):
            out[key] = statistics.median(values)
        else:
            out[key] = first
    return out


def _prefixed(bar: report.Bar, label: str):
    def progress(what: str, fraction: float) -> None:
        bar(f"{label}: {what}", fraction)
    return progress


def main(argv: Sequence[str] | None = None, prog: str = "milvus bench") -> int:
    args = parser(prog).parse_args(argv)
    warnings.simplefilter("ignore")
    rows, dim = SIZES[args.size or "100k"]
    rows, dim = args.rows or rows, args.dim or dim
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in peers if p not in servers.PEERS]
    if unknown:
        sys.stderr.write(f"milvus bench: unknown peer(s) {unknown}; known: {list(servers.PEERS)}\n")
        return 2
    venvs = dict(v.split("=", 1) for v in args.peer_venv)
    settings = workloads.Settings(build=(("M", args.hnsw_m), ("efConstruction", args.ef_construction)),
                                  search=(("ef", args.ef),), seconds=args.seconds, threads=tuple(args.threads),
                                  procs=args.procs, insert_1k_rows=args.insert_1k_rows)
    bar = report.Bar(not args.quiet)
    bar(f"data set {rows} x {dim}")
    ds = data.load(rows, dim, args.nq, args.seed, args.cache_dir, progress=bar)
    import pymilvus

    out: dict = {"date": datetime.date.today().isoformat(), "machine": report.machine(),
                 "pymilvus": pymilvus.__version__,
                 "config": {"command": "milvus bench " + " ".join(argv if argv is not None else sys.argv[1:]),
                            "rows": rows, "dim": dim, "nq": args.nq, "seed": args.seed,
                            "index_type": settings.index_type, "build": dict(settings.build),
                            "search": dict(settings.search), "seconds": args.seconds,
                            "threads": list(settings.threads), "procs": settings.procs},
                 "servers": {}, "ceiling": {}, "notes": []}
    if args.rounds < 1:
        sys.stderr.write(f"milvus bench: --rounds must be at least 1, got {args.rounds}\n")
        return 2
    rounds: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="milvus-bench-") as tmp:
        targets = [("server" if args.uri else "ours", None)] + [(p, p) for p in peers]
        targets += [] if args.no_ceiling else [("ceiling", "")]  # "": the in-process ceiling, no server
        for number in range(args.rounds):
            work = Path(tmp) / f"round-{number + 1}"  # every server starts on empty folders
            work.mkdir()
            for label, peer in targets if number % 2 == 0 else targets[::-1]:
                tag = label if args.rounds == 1 else f"{label} {number + 1}/{args.rounds}"
                if peer == "":
                    rounds.setdefault(label, []).append(ceiling.run(ds, settings, _prefixed(bar, tag)))
                    continue
                server = None
                try:
                    if args.uri and peer is None:
                        server = servers.Server("server", args.uri)
                    elif peer is None:
                        server = servers.start_ours(work)
                    else:
                        bar(f"{peer}: venv")
                        venv = Path(venvs[peer]) if peer in venvs else servers.peer_venv(peer, args.cache_dir)
                        start = servers.start_lite if peer == "milvus-lite" else servers.start_milvus235
                        server = start(venv, work)
                    rounds.setdefault(label, []).append(workloads.run(server.uri, ds, settings,
                                                                      _prefixed(bar, tag), server.rss_mb))
                except Exception as exc:  # noqa: BLE001 - a peer that fails is reported, the others still run
                    if peer is None:
                        raise
                    out["notes"].append(f"{tag}: failed: {type(exc).__name__}: {str(exc)[:300]}")
                finally:
                    if server is not None:
                        server.stop()
    bar.done()
    for label, results in rounds.items():
        merged = median_figures(results)
        if label == "ceiling":
            out["ceiling"] = merged
        else:
            out["servers"][label] = merged
    if args.rounds > 1:
        out["rounds"] = rounds
        out["notes"].append(f"each figure is the median of {args.rounds} rounds; the servers and the ceiling "
                            f"ran in turn, the order reversed each round")
    raw_mb = rows * dim * 4 / 2**20
    index_mb = out["ceiling"].get("index_bytes", {}).get("mb")
    out["sizes"] = {"raw_vectors_mb": raw_mb, "faiss_index_mb": index_mb}
    if index_mb:
        out["notes"].append(f"raw vectors {raw_mb:,.0f} MB; the faiss {settings.index_type} index (vectors "
                            f"included) {index_mb:,.0f} MB")
    sys.stdout.write(report.terminal(out))
    for note in out["notes"]:
        sys.stdout.write(f"- {note}\n")
    if args.json:
        report.write_json(args.json, out)
    if args.write_md:
        report.write_markdown(args.write_md, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(prog="python -m milvus.bench.main"))
