"""LoadBalance (``utility.load_balance``) in one process: three query nodes in one replica of a
one-shard collection.  Sealed segments asked off a node move to the named node (or the least
loaded other member) and stay there through later checker rounds (pinned), reads stay exact
all along, and requests naming what is not there are refused; through pymilvus too."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import MilvusException, utility

from milvus import errors
from milvus._proto import querycoord_pb2
from tests.conftest import wait_for
from tests.integration.cluster import running_stack
from tests.integration.test_read_path import Model, Stack, ok
from tests.integration.test_segment_distribution import _sealed_by_node, six_sealed_segments

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")


def _balance(stack, cid, source, destinations=(), segments=()):
    return stack.qc.LoadBalance(querycoord_pb2.LoadBalanceRequest(
        collectionID=cid, source_node=source, destination_nodes=list(destinations), segment_ids=list(segments)))


def test_segments_move_where_asked_and_stay_there(tmp_path):
    rng = np.random.default_rng(3)
    model = Model()
    stack = Stack(tmp_path, query_nodes=3)
    try:
        cid = six_sealed_segments(stack, model, rng)
        wait_for(lambda: all(_sealed_by_node(stack).values()), timeout=30, message="segments on every node")
        want = sorted(model.visible(stack.alloc_ts()))

        by_node = _sealed_by_node(stack)
        source = max(by_node, key=lambda n: len(by_node[n]))
        destination = min((n for n in by_node if n != source), key=lambda n: n)
        moving = sorted(by_node[source])
        assert ok(_balance(stack, cid, source, [destination], moving)).code == 0
        wait_for(lambda: set(moving) <= _sealed_by_node(stack)[destination]
                 and not set(moving) & _sealed_by_node(stack)[source], timeout=30, message="segments moved")
        for _ in range(3):  # later rounds keep them there, although the rows are uneven now
            stack.qc.check_once()
        assert set(moving) <= _sealed_by_node(stack)[destination]
        now = stack.alloc_ts()
        assert stack.query(cid, guarantee_ts=now) == want
        assert stack.count(cid, guarantee_ts=now) == len(want)

        # no segments named: every one the node serves goes to the other members (and stays
        # away; the balancer may give the node other segments)
        stack.qc.check_once()
        served = _sealed_by_node(stack)[destination]
        assert ok(_balance(stack, cid, destination)).code == 0
        wait_for(lambda: not served & _sealed_by_node(stack)[destination], timeout=30, message="segments moved off")
        for _ in range(3):
            stack.qc.check_once()
        assert not served & _sealed_by_node(stack)[destination]
        assert stack.count(cid, guarantee_ts=stack.alloc_ts()) == len(want)

        for request, code in [((cid, 99), errors.ParameterInvalid.code),
                              ((cid, source, [source]), errors.ParameterInvalid.code),
                              ((cid, source, [], [123456]), errors.SegmentNotFound.code),
                              ((cid + 1000, source), errors.CollectionNotLoaded.code)]:
            status = _balance(stack, *request)
            assert status.code == code, (request, status)
    finally:
        stack.stop()


def test_load_balance_through_pymilvus_reaches_the_query_coordinator(tmp_path):
    with running_stack(tmp_path / "data") as s, s.client() as c, s.orm("lb") as alias:
        c.create_collection("lb", dimension=4)
        c.insert("lb", [{"id": i, "vector": [float(i), 0, 0, 1]} for i in range(10)])
        with pytest.raises(MilvusException, match="source node 77 of collection .* not found in any replica"):
            utility.load_balance("lb", src_node_id=77, using=alias)
