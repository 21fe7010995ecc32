"""Every metric the Grafana dashboard reads exists in a real scrape of a standalone process
that served a small pymilvus workload."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymilvus import DataType, MilvusClient

from tests.conftest import wait_for
from tests.e2e.test_standalone import standalone

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "milvus-dashboard.json"
METRIC = re.compile(r"\b((?:milvus|process)_[a-z0-9_]+)\b")


def dashboard_metrics() -> dict[str, str]:
    """metric name -> title of a panel reading it."""
    names = {}
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            for name in METRIC.findall(target["expr"]):
                names[name] = panel["title"]
    return names


def scraped_names(metrics_port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_every_dashboard_metric_is_scraped(tmp_path, monkeypatch):
    monkeypatch.setenv("MILVUS_INDEXCOORD_SEGMENT_MINSEGMENTNUMROWSTOENABLEINDEX", "100")
    wanted = dashboard_metrics()
    assert len(wanted) >= 15
    rng = np.random.default_rng(3)
    with standalone(tmp_path / "data") as server:
        c = MilvusClient(uri=server.uri)
        try:
            schema = c.create_schema(auto_id=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=8)
            c.create_collection("dash", schema=schema)
            c.insert("dash", [{"id": i, "vec": v.tolist()} for i, v in enumerate(rng.random((300, 8)))])
            c.flush("dash")
            index = c.prepare_index_params()
            index.add_index("vec", index_type="IVF_FLAT", metric_type="L2", params={"nlist": 4})
            c.create_index("dash", index)
            c.load_collection("dash")
            c.search("dash", data=rng.random((3, 8)).tolist(), limit=5)
            c.query("dash", filter="id < 5")
            c.delete("dash", ids=[1, 2])
            missing: set[str] = set()

            def all_scraped() -> bool:
                missing.clear()
                missing.update(set(wanted) - scraped_names(server.metrics_port))
                return not missing

            try:
                wait_for(all_scraped, timeout=60, message="every dashboard metric scraped")
            except BaseException:
                pytest.fail(f"not in the scrape: { {name: wanted[name] for name in missing} }")
        finally:
            c.close()
