"""Compaction in cluster mode (one process per role, gRPC between them, etcd, NATS, S3):
pymilvus ``compact()`` merges small flushed segments, purges deleted rows and the query
node serves the result with exact answers."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from pymilvus import MilvusClient

from milvus.cmd.launcher import ClusterSpec, LocalCluster
from milvus.localsvc import free_port
from tests.conftest import wait_for
from tests.e2e.test_cluster import STARTUP, _env

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 8


def test_compaction_in_cluster_mode(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({
        "proxy": {"timeTickInterval": 0.05},
        "dataCoord": {"enableAutoCompaction": False, "tickInterval": 0.2},
    }))
    spec = ClusterSpec(tmp_path / "cluster", port=free_port(), indexnodes=1, config_file=str(base),
                       startup_timeout=STARTUP)
    cluster = LocalCluster(spec, env=_env())
    cluster.start()
    try:
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.proxy_ports[0]}")
        vecs = np.random.default_rng(2).random((600, DIM), dtype=np.float32)
        c.create_collection("cc", dimension=DIM, metric_type="L2", consistency_level="Strong", num_shards=1)
        for k in range(3):
            c.insert("cc", [{"id": i, "vector": vecs[i].tolist()} for i in range(k * 200, (k + 1) * 200)])
            c.flush("cc")
        c.delete("cc", filter="id < 50")
        c.flush("cc")
        before = {s.segment_id for s in c.list_persistent_segments("cc") if s.num_rows}
        assert len(before) == 4  # three L1 segments and the L0 deletes
        compaction_id = c.compact("cc")
        wait_for(lambda: c.get_compaction_state(compaction_id) == "Completed", timeout=120, interval=0.2,
                 message="compaction completed")
        after = c.list_persistent_segments("cc")
        assert len(after) == 1 and after[0].num_rows == 550 and after[0].segment_id not in before
        wait_for(lambda: c.query("cc", filter="", output_fields=["count(*)"])[0]["count(*)"] == 550, timeout=60,
                 interval=0.2, message="count after compaction")
        ids = sorted(r["id"] for r in c.query("cc", filter="id >= 0", output_fields=["id"], limit=1000))
        assert ids == list(range(50, 600))
        assert c.search("cc", [vecs[77].tolist()], limit=1)[0][0]["id"] == 77
        c.close()
    finally:
        assert cluster.stop()
