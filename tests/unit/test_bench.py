"""`milvus bench` at a tiny size: every workload runs and lands in the JSON (no timing asserted)."""

from __future__ import annotations

import json

from milvus.bench import main as main_module
from milvus.bench import report
from milvus.cmd import cli

WORKLOADS = ["insert_1k", "insert_10k", "flush", "index_build", "load", "search_serial", "search_batch",
             "search_threads_1", "search_threads_4", "search_procs_2", "search_filter_1%", "search_filter_10%",
             "search_filter_50%", "query_filter", "search_output", "get_ids", "rss", "delete_ids"]
SEARCHES = [w for w in WORKLOADS if w.startswith("search_")]


def test_bench_tiny_runs_every_workload(tmp_path, capsys):
    out, md = tmp_path / "bench.json", tmp_path / "BENCH.md"
    md.write_text("# Benchmarks\n\nkept\n")
    code = cli.main(["bench", "--rows", "2000", "--dim", "16", "--nq", "40", "--seconds", "0.2",
                     "--threads", "1", "4", "--procs", "2", "--insert-1k-rows", "1000", "--quiet",
                     "--cache-dir", str(tmp_path / "cache"), "--json", str(out), "--write-md", str(md)])
    assert code == 0
    result = json.loads(out.read_text())
    ours = result["servers"]["ours"]
    assert set(WORKLOADS) <= set(ours)
    for name in SEARCHES:
        assert ours[name]["qps"] > 0
        assert 0.0 <= ours[name]["recall"] <= 1.0
    assert ours["search_serial"]["recall"] > 0.9
    for name in ("query_filter", "search_output", "get_ids", "delete_ids"):  # every answer checked
        assert ours[name]["correct"] is True, name
        assert ours[name]["qps"] > 0
    for name in ("search_serial", "search_batch"):  # what the server and transport took, beside the client
        figures = ours[name]
        assert 0 < figures["client_cpu_ms"] and figures["less_client_ms"] < figures["mean_ms"]
        assert abs(figures["client_cpu_ms"] + figures["less_client_ms"] - figures["mean_ms"]) < 1e-6
        assert result["ceiling"][name]["less_client_ms"] == result["ceiling"][name]["mean_ms"] > 0
    assert {"index_build", "search_serial", "search_batch", "search_filter_1%"} <= set(result["ceiling"])
    assert result["machine"]["cores"]
    text = md.read_text()
    assert "kept" in text and "serial search QPS" in text and "batch mean less client CPU" in text
    assert "get by 10 ids" in text and "delete 100 ids" in text
    assert report.markers(2000, 16)[0] in text and report.MD_START not in text  # a set of its own
    assert "ours / ceiling" in capsys.readouterr().out
    # the ground truth is cached: a second load finds the file
    assert list((tmp_path / "cache").glob("truth-2000x16-*.npz"))


def _report(rows: int, dim: int, qps: float) -> dict:
    return {"date": "2026-12-07", "pymilvus": "3.0.2",
            "machine": {"cpu": "cpu", "cores": 2, "mem_gib": 24, "python": "3.11"},
            "config": {"command": "milvus bench", "rows": rows, "dim": dim, "seed": 42, "index_type": "HNSW",
                       "build": {}, "search": {}, "seconds": 1},
            "servers": {"ours": {"search_serial": {"qps": qps}}}}


def test_each_data_set_keeps_its_own_results_section(tmp_path):
    md = tmp_path / "BENCH.md"
    md.write_text("# Benchmarks\n\nbefore\n\n" + report.markdown(_report(100_000, 128, 1.0)) + "\n\nafter\n")
    report.write_markdown(md, _report(1_000_000, 128, 2.0))  # a new set: right after the default one
    report.write_markdown(md, _report(1_000_000, 128, 3.0))  # again: replaced in place
    report.write_markdown(md, _report(100_000, 128, 4.0))
    text = md.read_text()
    assert text.startswith("# Benchmarks\n\nbefore\n") and text.rstrip().endswith("after")
    start, end = report.markers(1_000_000, 128)
    assert text.count(start) == text.count(end) == 1 and text.count(report.MD_START) == 1
    assert text.index(report.MD_END) < text.index("### 1,000,000 x 128") < text.index(start) < text.index("after")
    default = text[text.index(report.MD_START):text.index(report.MD_END)]
    large = text[text.index(start):text.index(end)]
    assert "| 4.0 |" in default and "| 3.0 |" in large and "2.0" not in text and "| 1.0 |" not in text


def test_median_figures_of_several_rounds():
    rounds = [{"serial": {"qps": 10.0, "recall": 0.9, "correct": True}, "rss": {"mb": 200}, "note": "a"},
              {"serial": {"qps": 30.0, "recall": 0.8, "correct": False}, "rss": {"mb": 100}, "note": "b"},
              {"serial": {"qps": 20.0, "recall": 0.7, "correct": True}, "extra": {"s": 1.5}}]
    merged = main_module.median_figures(rounds)
    assert merged == {"serial": {"qps": 20.0, "recall": 0.8, "correct": False}, "rss": {"mb": 150.0},
                      "note": "a", "extra": {"s": 1.5}}


def test_rounds_reverse_the_order_and_report_the_medians(tmp_path, monkeypatch):
    order: list[str] = []
    qps = iter([100.0, 300.0, 200.0])
    ceiling_qps = iter([1000.0, 3000.0, 2000.0])

    def run_server(uri, ds, settings, progress, rss):
        order.append("server")
        return {"search_serial": {"qps": next(qps)}, "rss": {"mb": rss()}}

    def run_ceiling(ds, settings, progress):
        order.append("ceiling")
        return {"search_serial": {"qps": next(ceiling_qps)}}

    monkeypatch.setattr(main_module.workloads, "run", run_server)
    monkeypatch.setattr(main_module.ceiling, "run", run_ceiling)
    monkeypatch.setattr(main_module.servers.Server, "rss_mb", lambda self: 42.0)
    out = tmp_path / "bench.json"
    args = ["--rows", "200", "--dim", "8", "--nq", "10", "--quiet", "--uri", "http://127.0.0.1:1",
            "--cache-dir", str(tmp_path / "cache"), "--json", str(out)]
    assert main_module.main(args + ["--rounds", "3"]) == 0
    assert order == ["server", "ceiling", "ceiling", "server", "server", "ceiling"]
    result = json.loads(out.read_text())
    assert result["servers"]["server"] == {"search_serial": {"qps": 200.0}, "rss": {"mb": 42.0}}
    assert result["ceiling"]["search_serial"]["qps"] == 2000.0
    assert [r["search_serial"]["qps"] for r in result["rounds"]["server"]] == [100.0, 300.0, 200.0]
    assert any("median of 3 rounds" in n for n in result["notes"])
    assert main_module.main(args + ["--rounds", "0"]) == 2
