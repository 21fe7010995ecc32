"""This session's public features across processes (``milvus cluster``: every role its own
process, etcd, NATS and an S3 server), with ``common.security.authorizationEnabled``: requests
need a user, privileges are checked by the proxy against the root coordinator's grants over
gRPC, a partition-key collection takes rows and prunes pinned reads, a hybrid search fuses two
fields, replicas are described, and a bulk insert reads its file from the cluster's S3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from pymilvus import (
    AnnSearchRequest,
    DataType,
    MilvusClient,
    MilvusException,
    RRFRanker,
    connections,
    utility,
)

from milvus.cmd.backends import open_storage
from milvus.cmd.launcher import ClusterSpec, LocalCluster
from milvus.config import Config
from milvus.localsvc import free_port
from tests.conftest import wait_for
from tests.e2e.test_cluster import STARTUP, _env

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"common": {"security": {"authorizationEnabled": True}},
                                    "proxy": {"timeTickInterval": 0.05}}))
    spec = ClusterSpec(tmp_path / "cluster", port=free_port(), config_file=str(base), startup_timeout=STARTUP,
                       querynodes=1, datanodes=1, indexnodes=1)
    cl = LocalCluster(spec, env=_env())
    cl.start()
    try:
        yield cl
    finally:
        cl.stop()


def test_access_partition_keys_hybrid_search_and_bulk_insert_across_processes(cluster: LocalCluster, tmp_path):
    uri = f"http://127.0.0.1:{cluster.spec.port}"
    with pytest.raises(MilvusException) as anonymous:
        MilvusClient(uri=uri).list_collections()
    assert anonymous.value.code == 1800

    root = MilvusClient(uri=uri, user="root", password="Milvus")
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("a", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("b", DataType.FLOAT_VECTOR, dim=4)
    schema.add_field("t", DataType.INT64, is_partition_key=True)
    index = root.prepare_index_params()
    index.add_index("a", index_type="FLAT", metric_type="L2")
    index.add_index("b", index_type="FLAT", metric_type="IP")
    root.create_collection("h", schema=schema, index_params=index, num_partitions=4, consistency_level="Strong")
    rng = np.random.default_rng(3)
    root.insert("h", [{"id": i, "a": rng.random(4).tolist(), "b": rng.random(4).tolist(), "t": i % 7}
                      for i in range(300)])
    assert root.query("h", filter="", output_fields=["count(*)"])[0]["count(*)"] == 300
    assert sorted(r["id"] for r in root.query("h", filter="t == 3", output_fields=["id"])) == list(range(3, 300, 7))
    fused = root.hybrid_search("h", [AnnSearchRequest([[0.1] * 4], "a", {}, 10),
                                     AnnSearchRequest([[0.2] * 4], "b", {}, 10)], RRFRanker(), limit=5,
                               output_fields=["t"])[0]
    assert len(fused) == 5 and all(h["entity"]["t"] == h["id"] % 7 for h in fused)
    replicas = root.describe_replica("h")
    assert len(replicas) == 1 and replicas[0].shards

    root.create_user("u", "password-1")
    root.create_role("reader")
    root.grant_role("u", "reader")
    root.grant_privilege("reader", "Collection", "Search", "h")
    user = MilvusClient(uri=uri, user="u", password="password-1")
    assert len(user.search("h", data=[[0.1] * 4], anns_field="a", limit=3)[0]) == 3
    with pytest.raises(MilvusException) as denied:
        user.query("h", filter="id < 3")
    assert denied.value.code == 1401

    # a bulk insert file in the cluster's S3 bucket, under the object storage root the roles use
    state = json.loads((cluster.spec.data_dir / "cluster.json").read_text())
    storage = open_storage(Config.load(state["config"]))
    try:
        storage.put("imports/rows.json", json.dumps(
            {"rows": [{"id": 1000 + i, "a": [i, 0, 0, 1], "b": [0, i, 0, 1], "t": i} for i in range(50)]}).encode())
    finally:
        storage.close()
    connections.connect("access", uri=uri, user="root", password="Milvus")
    try:
        task = utility.do_bulk_insert("h", ["imports/rows.json"], using="access")
        done = wait_for(lambda: (s := utility.get_bulk_insert_state(task, using="access")).state_name in
                        ("Completed", "Failed") and s, timeout=60, message="bulk insert finished")
    finally:
        connections.disconnect("access")
    assert done.state_name == "Completed", done.failed_reason
    assert root.query("h", filter="", output_fields=["count(*)"])[0]["count(*)"] == 350
    root.flush_all(timeout=60)
    for c in (root, user):
        c.close()
