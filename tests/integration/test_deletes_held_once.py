"""A query node holds each delete once: the deletes it consumed from the channel are not
taken again when the data node's delta logs (an L0 segment's) bring them back after a flush,
nor when a segment is loaded again.  What the deletes hide stays the same."""

from __future__ import annotations

import pytest
from pymilvus.grpc_gen import common_pb2

from milvus._proto import querynode_pb2
from tests.conftest import wait_for
from tests.integration.cluster import running_stack

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")


def _held(cluster) -> int:
    dist = cluster.querynode.GetDataDistribution(querynode_pb2.GetDataDistributionRequest())
    return sum(channel.delete_rows for channel in dist.channels)


def _count(client) -> int:
    return client.query("t", filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]


def _l0_loaded(client, at_least: int) -> bool:
    return sum(seg.level == common_pb2.SegmentLevel.L0 for seg in client.list_loaded_segments("t")) >= at_least


def test_flushed_deletes_are_held_once(tmp_path):
    with running_stack(tmp_path / "data") as s, s.client() as c:
        c.create_collection("t", dimension=2, consistency_level="Strong")
        c.insert("t", [{"id": i, "vector": [float(i), 1.0]} for i in range(2000)])
        c.flush("t")
        assert _count(c) == 2000

        c.delete("t", ids=list(range(300)))
        c.upsert("t", [{"id": i, "vector": [0.0, float(i)]} for i in range(1000, 1200)])  # 200 more deletes
        assert _count(c) == 1700
        assert _held(s.cluster) == 500

        c.flush("t")  # the deletes go to an L0 segment, which the query node loads
        wait_for(lambda: _l0_loaded(c, 1), timeout=30, message="the L0 segment loaded")
        assert _count(c) == 1700
        assert _held(s.cluster) == 500  # not 1,000: the L0 segment's deletes were held already

        c.delete("t", ids=list(range(300, 400)))
        c.flush("t")
        wait_for(lambda: _l0_loaded(c, 2), timeout=30, message="the second L0 segment loaded")
        assert _count(c) == 1600
        assert _held(s.cluster) == 600

        c.release_collection("t")  # a new delete log: the L0 segments bring the deletes back, once
        c.load_collection("t")
        assert _count(c) == 1600
        assert _held(s.cluster) == 600
        got = c.query("t", filter="id in [0, 299, 350, 400, 1000]", output_fields=["vector"],
                      consistency_level="Strong")
        assert sorted((r["id"], r["vector"]) for r in got) == [(400, [400.0, 1.0]), (1000, [0.0, 1000.0])]
