"""Draw the key panels of milvus-dashboard.json from a real run, since Grafana does not run here.

Starts ``python -m milvus run standalone`` on free ports, runs a small pymilvus workload
(insert, flush, index, search, query, delete) while scraping ``/metrics`` every second, and
plots what the dashboard's key panels show into ``docs/dashboard.png``:

    python deploy/grafana/draw_dashboard.py [--seconds 40] [--out docs/dashboard.png]

Needs matplotlib (not a dependency of the product: ``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
DIM = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> dict[tuple, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def workload(uri: str, stop: threading.Event) -> None:
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(uri=uri)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection("demo", schema=schema, consistency_level="Bounded")
    rng = np.random.default_rng(1)
    next_id = 0
    while not stop.is_set():
        rows = [{"id": next_id + i, "vec": v.tolist()} for i, v in enumerate(rng.random((500, DIM)))]
        client.insert("demo", rows)
        next_id += len(rows)
        if next_id % 2000 == 0:
            client.flush("demo")
        if next_id == 2000:
            index = client.prepare_index_params()
            index.add_index("vec", index_type="IVF_FLAT", metric_type="L2", params={"nlist": 16})
            client.create_index("demo", index)
            client.load_collection("demo")
        if next_id >= 2000:
            for _ in range(5):
                client.search("demo", data=rng.random((8, DIM)).tolist(), limit=10)
            client.query("demo", filter=f"id < {next_id // 10}", limit=5)
            client.delete("demo", filter=f"id in [{next_id - 1}, {next_id - 2}]")
        time.sleep(0.2)
    client.close()


def collect(seconds: float) -> list[tuple[float, dict]]:
    port, metrics_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "PYTHONPATH": str(REPO), "MILVUS_PROXY_TIMETICKINTERVAL": "0.05",
               "MILVUS_INDEXCOORD_SEGMENT_MINSEGMENTNUMROWSTOENABLEINDEX": "100"}
        proc = subprocess.Popen([sys.executable, "-m", "milvus", "run", "standalone", "--port", str(port),
                                 "--metrics-port", str(metrics_port), "--data-dir", data],
                                env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    scrape(metrics_port)
                    break
                except OSError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("standalone did not start") from None
                    time.sleep(0.5)
            stop = threading.Event()
            worker = threading.Thread(target=workload, args=(f"http://127.0.0.1:{port}", stop), daemon=True)
            worker.start()
            scrapes, start = [], time.monotonic()
            while time.monotonic() - start < seconds:
                scrapes.append((time.monotonic() - start, scrape(metrics_port)))
                time.sleep(1.0)
            stop.set()
            worker.join(timeout=30)
            return scrapes
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)


def _sum(samples: dict, name: str, by: str | None = None, **match: str) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for (n, labels), v in samples.items():
        if n != name:
            continue
        d = dict(labels)
        if any(d.get(k) != val for k, val in match.items()):
            continue
        out[d.get(by, "") if by else ""] += v
    return out


def _rate(scrapes, name, by=None, **match):
    series = defaultdict(list)
    for (t0, a), (t1, b) in zip(scrapes, scrapes[1:], strict=False):
        sa, sb = _sum(a, name, by, **match), _sum(b, name, by, **match)
        for key in sb:
            series[key].append((t1, max(0.0, sb[key] - sa.get(key, 0.0)) / (t1 - t0)))
    return series


def _gauge(scrapes, name, by=None):
    series = defaultdict(list)
    for t, s in scrapes:
        for key, v in _sum(s, name, by).items():
            series[key].append((t, v))
    return series


def _p99(scrapes, name, by):
    series = defaultdict(list)
    for (_, a), (t1, b) in zip(scrapes, scrapes[1:], strict=False):
        buckets = defaultdict(dict)
        for (n, labels), v in b.items():
            if n == name + "_bucket":
                d = dict(labels)
                buckets[d.get(by, "")][float(d["le"])] = v - a.get((n, labels), 0.0)
        for key, counts in buckets.items():
            les = sorted(counts)
            total = counts[les[-1]]
            if total > 0:
                series[key].append((t1, next(le for le in les if counts[le] >= 0.99 * total)))
    return series


PANELS = [
    ("Requests / s by method", lambda s: _rate(s, "milvus_proxy_req_count_total", "function_name")),
    ("Request latency p99 (ms)", lambda s: _p99(s, "milvus_proxy_req_latency", "function_name")),
    ("Rows inserted / s", lambda s: _rate(s, "milvus_proxy_insert_vectors_count_total")),
    ("Search / query p99 at proxy (ms)", lambda s: _p99(s, "milvus_proxy_sq_latency", "query_type")),
    ("Segments by state", lambda s: _gauge(s, "milvus_datacoord_segment_num", "segment_state")),
    ("tsafe lag per channel (ms)", lambda s: _gauge(s, "milvus_querynode_consume_tt_lag_ms", "channel_name")),
    ("MQ messages / s", lambda s: _rate(s, "milvus_msgstream_op_count_total", "message_op_type")),
    ("Object storage bytes / s", lambda s: _rate(s, "milvus_storage_kv_size_total", "persistent_data_op_type")),
    ("Flushes / s", lambda s: _rate(s, "milvus_datanode_flush_buffer_op_count_total", "status")),
    ("Process memory RSS (MiB)", lambda s: {k: [(t, v / 2**20) for t, v in pts] for k, pts in
                                            _gauge(s, "process_resident_memory_bytes").items()}),
]


def draw(scrapes, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(5, 2, figsize=(14, 17))
    for ax, (title, panel) in zip(axes.flat, PANELS, strict=False):
        series = panel(scrapes)
        for key, points in sorted(series.items(), key=lambda kv: -sum(v for _, v in kv[1]))[:8]:
            if points:
                ts, vs = zip(*points, strict=False)
                ax.plot(ts, vs, label=key or "all")
        ax.set_title(title)
        ax.set_xlabel("seconds")
        ax.grid(alpha=0.3)
        if any(k for k in series):
            ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("milvus-py standalone: key panels of deploy/grafana/milvus-dashboard.json (real scrape)")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "dashboard.png")
    args = parser.parse_args()
    draw(collect(args.seconds), args.out)
    sys.stdout.write(f"wrote {args.out}\n")


if __name__ == "__main__":
    main()
