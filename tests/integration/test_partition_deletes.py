"""A delete naming a partition hides (and, at compaction, removes) the key in that partition
only, before and after its deletes are flushed into an L0 segment, through pymilvus, every
role in this process.  The same key in another partition stays."""

from __future__ import annotations

import pytest
from pymilvus.grpc_gen import common_pb2

from tests.conftest import wait_for
from tests.integration.cluster import running_stack

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")


def _rows(client, partitions=None):
    got = client.query("t", filter="id >= 0", output_fields=["id", "tag"], partition_names=partitions,
                       consistency_level="Strong")
    return sorted((r["id"], r["tag"]) for r in got)


def test_a_partition_scoped_delete_leaves_the_key_in_other_partitions(tmp_path):
    with running_stack(tmp_path / "data") as s, s.client() as c:
        c.create_collection("t", dimension=2, consistency_level="Strong")
        c.create_partition("t", "p1")
        c.create_partition("t", "p2")
        c.insert("t", [{"id": 1, "vector": [1.0, 0.0], "tag": "p1"}, {"id": 2, "vector": [1.0, 1.0], "tag": "p1"}],
                 partition_name="p1")
        c.insert("t", [{"id": 1, "vector": [0.0, 1.0], "tag": "p2"}], partition_name="p2")
        c.flush("t")
        c.delete("t", ids=[1], partition_name="p1")
        assert _rows(c) == [(1, "p2"), (2, "p1")]

        c.flush("t")  # the delete goes to an L0 segment of p1, which the query node loads
        wait_for(lambda: any(seg.level == common_pb2.SegmentLevel.L0 for seg in c.list_loaded_segments("t")), timeout=30,
                 message="the L0 segment loaded")
        assert _rows(c) == [(1, "p2"), (2, "p1")]
        assert _rows(c, ["p2"]) == [(1, "p2")]

        compaction = c.compact("t")  # the L0 delete is applied to the segments for good
        wait_for(lambda: str(c.get_compaction_state(compaction)) == "Completed", timeout=60,
                 message="the compaction")
        c.release_collection("t")
        c.load_collection("t")
        assert _rows(c) == [(1, "p2"), (2, "p1")]
