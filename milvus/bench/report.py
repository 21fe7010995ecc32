"""The results as a terminal table, JSON and a markdown section of BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
import re
import sys
from pathlib import Path

MD_START = "<!-- milvus bench: start -->"
MD_END = "<!-- milvus bench: end -->"
DEFAULT_SET = (100_000, 128)  # rows, dim: the data set of the targets, in the markers above


def markers(rows: int, dim: int) -> tuple[str, str]:
    """The markers around one data set's results section (other sets than the default get their own)."""
    if (rows, dim) == DEFAULT_SET:
        return MD_START, MD_END
    return f"<!-- milvus bench {rows}x{dim}: start -->", f"<!-- milvus bench {rows}x{dim}: end -->"

# (label, workload, key, format); the ceiling has no figure for some rows
ROWS = [
    ("insert rows/s (batches of 1k)", "insert_1k", "rows_per_s", "{:,.0f}"),
    ("insert rows/s (batches of 10k)", "insert_10k", "rows_per_s", "{:,.0f}"),
    ("flush (s)", "flush", "s", "{:.2f}"),
    ("index build (s)", "index_build", "s", "{:.2f}"),
    ("load (s)", "load", "s", "{:.2f}"),
    ("serial search QPS (nq=1)", "search_serial", "qps", "{:,.1f}"),
    ("serial p50 (ms)", "search_serial", "p50_ms", "{:.2f}"),
    ("serial p99 (ms)", "search_serial", "p99_ms", "{:.2f}"),
    ("serial recall@10", "search_serial", "recall", "{:.3f}"),
    ("serial client CPU (ms/call)", "search_serial", "client_cpu_ms", "{:.3f}"),
    ("serial mean less client CPU (ms)", "search_serial", "less_client_ms", "{:.3f}"),
    ("batch search QPS (nq=100)", "search_batch", "qps", "{:,.0f}"),
    ("batch recall@10", "search_batch", "recall", "{:.3f}"),
    ("batch client CPU (ms/call)", "search_batch", "client_cpu_ms", "{:.2f}"),
    ("batch mean less client CPU (ms)", "search_batch", "less_client_ms", "{:.2f}"),
    ("1 client thread QPS", "search_threads_1", "qps", "{:,.1f}"),
    ("4 client threads QPS", "search_threads_4", "qps", "{:,.1f}"),
    ("16 client threads QPS", "search_threads_16", "qps", "{:,.1f}"),
    ("16 threads p99 (ms)", "search_threads_16", "p99_ms", "{:.1f}"),
    ("16 threads recall@10", "search_threads_16", "recall", "{:.3f}"),
    ("client processes QPS", "search_procs", "qps", "{:,.1f}"),
    ("filtered 1% QPS", "search_filter_1%", "qps", "{:,.1f}"),
    ("filtered 1% recall@10", "search_filter_1%", "recall", "{:.3f}"),
    ("filtered 10% QPS", "search_filter_10%", "qps", "{:,.1f}"),
    ("filtered 10% recall@10", "search_filter_10%", "recall", "{:.3f}"),
    ("filtered 50% QPS", "search_filter_50%", "qps", "{:,.1f}"),
    ("filtered 50% recall@10", "search_filter_50%", "recall", "{:.3f}"),
    ("query by filter QPS", "query_filter", "qps", "{:,.1f}"),
    ("search with 2 output fields QPS", "search_output", "qps", "{:,.1f}"),
    ("get by 10 ids (calls/s)", "get_ids", "qps", "{:,.1f}"),
    ("delete 100 ids (calls/s)", "delete_ids", "qps", "{:,.1f}"),
    ("server RSS (MB)", "rss", "mb", "{:,.0f}"),
]


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = 0
    try:
        mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem / 2**20, 1), "os": platform.platform(),
            "python": platform.python_version()}


def _value(results: dict, workload: str, key: str):
    if workload == "search_procs":
        workload = next((w for w in results if w.startswith("search_procs")), workload)
    return results.get(workload, {}).get(key)


def _fmt(value, fmt: str) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return fmt.format(value)


def rows(report: dict) -> tuple[list[str], list[list[str]]]:
    servers = report["servers"]
    ceiling = report.get("ceiling") or {}
    header = ["workload"] + list(servers) + (["ceiling (faiss)", "ours / ceiling"] if ceiling else [])
    table = []
    for label, workload, key, fmt in ROWS:
        line = [label] + [_fmt(_value(r, workload, key), fmt) for r in servers.values()]
        if ceiling:
            c = _value(ceiling, workload, key)
            ours = _value(servers.get("ours", {}), workload, key)
            ratio = ours / c if ours and c else None
            line += [_fmt(c, fmt), _fmt(ratio, "{:.2f}x" if ratio is None or ratio >= 0.1 else "{:.3f}x")]
        if any(cell != "—" for cell in line[1:]):
            table.append(line)
    return header, table


def terminal(report: dict) -> str:
    header, table = rows(report)
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in [header, *table]]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]]) + "\n"


def markdown(report: dict) -> str:
    header, table = rows(report)
    cfg, m = report["config"], report["machine"]
    start, end = markers(cfg["rows"], cfg["dim"])
    out = [start, "",
           f"`{cfg['command']}` ({report['date']}; {m['cores']} cores of {m['cpu']}, {m['mem_gib']} GiB, "
           f"Python {m['python']}; pymilvus {report['pymilvus']} client for every server). {cfg['rows']:,} x "
           f"{cfg['dim']} float32, Gaussian mixture (seed {cfg['seed']}); {cfg['index_type']} "
           f"{cfg['build']}, search {cfg['search']}, L2, top-10; {cfg['seconds']:g} s per timed search workload; "
           f"recall@10 against exact faiss ground truth.", "",
           "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in table]
    notes = report.get("notes") or []
    if notes:
        out += [""] + [f"- {n}" for n in notes]
    out += ["", end]
    return "\n".join(out)


def write_markdown(path: Path, report: dict) -> None:
    """Replace the report's data set's results section; a new one goes after the default
    set's section (or at the end)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    section = markdown(report)
    cfg = report["config"]
    start, end = markers(cfg["rows"], cfg["dim"])
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section, text)
    elif start != MD_START and MD_END in text:
        heading = f"### {cfg['rows']:,} x {cfg['dim']}"
        text = text.replace(MD_END, f"{MD_END}\n\n{heading}\n\n{section}", 1)
    else:
        text = text.rstrip() + "\n\n## `milvus bench`: HNSW through pymilvus beside the in-process ceiling\n\n" + \
            section + "\n"
    path.write_text(text)


def write_json(path: Path, report: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=float))


class Bar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self._last = ""

    def __call__(self, label: str, fraction: float = 0.0) -> None:
        if not self.enabled:
            return
        if self.tty:
            filled = int(max(0.0, min(1.0, fraction)) * 30)
            sys.stderr.write(f"\r  [{'#' * filled}{'.' * (30 - filled)}] {label:<40}")
            sys.stderr.flush()
        elif label != self._last:
            sys.stderr.write(f"  .. {label}\n")
        self._last = label

    def done(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\r" + " " * 80 + "\r")
