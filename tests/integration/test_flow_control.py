"""Memory protection across nodes (issue #6), through the real pymilvus client: data and query
nodes report their memory to their coordinators, the proxy refuses writes with RateLimit
(code 8) while one is past its high water level and accepts them again once it is below the
low one; a node that stops reporting no longer counts.  The nodes under test join the
in-process cluster with a memory probe of the test's (what they would measure)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException
from pymilvus.grpc_gen import milvus_pb2

from milvus._proto import internal_pb2, rootcoord_pb2
from milvus.cmd.standalone import DATA_NODE_ID, QUERY_NODE_ID
from milvus.datacoord import SERVICE as DATACOORD_SERVICE
from milvus.datanode import SERVICE as DATANODE_SERVICE
from milvus.datanode import DataNode, DataNodeParams
from milvus.expr import compile_filter
from milvus.querynode import SERVICE as QUERYNODE_SERVICE
from milvus.querynode import QueryNode
from milvus.rpc import LocalClient
from milvus.util.memory import MemoryUsage
from tests.conftest import wait_for
from tests.integration.cluster import running_stack
from tests.integration.test_health import _check_health

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

NAME = "flow"
DIM = 4
GB = 1 << 30
INTERVAL = 0.2  # quotaAndLimits.quotaCenterCollectInterval
NODE = 2  # the id of the data node and of the query node under test


class Probe:
    """What a node measures: ``fraction`` of 1 GiB."""

    def __init__(self) -> None:
        self.fraction = 0.1

    def __call__(self) -> MemoryUsage:
        return MemoryUsage(int(self.fraction * GB), GB)


def _reported(coord, node_id: int) -> float | None:
    """The fraction ``coord`` has of a node's newest report."""
    for node in coord.GetNodeMemory(internal_pb2.GetNodeMemoryRequest()).nodes:
        if node.node_id == node_id and node.total_bytes:
            return node.used_bytes / node.total_bytes
    return None


def test_writes_are_refused_while_a_data_or_query_node_is_past_its_high_water_level(tmp_path):
    overrides = {"quotaAndLimits.quotaCenterCollectInterval": INTERVAL,
                 "quotaAndLimits.limitWriting.memProtection.dataNodeMemoryLowWaterLevel": 0.85,
                 "quotaAndLimits.limitWriting.memProtection.dataNodeMemoryHighWaterLevel": 0.95,
                 "quotaAndLimits.limitWriting.memProtection.queryNodeMemoryLowWaterLevel": 0.6,
                 "quotaAndLimits.limitWriting.memProtection.queryNodeMemoryHighWaterLevel": 0.7}
    with running_stack(tmp_path / "data", overrides) as stack:
        cluster = stack.cluster
        dc, qc = cluster.datacoord, cluster.querycoord
        # the standalone nodes report the same way (the one process' memory)
        wait_for(lambda: _reported(dc, DATA_NODE_ID) and _reported(qc, QUERY_NODE_ID), timeout=10,
                 message="the standalone nodes' memory reports")

        def alloc_id(count: int) -> int:
            return cluster.rootcoord.AllocID(rootcoord_pb2.AllocIDRequest(count=count)).ID

        dn_memory, qn_memory = Probe(), Probe()
        datanode = DataNode(stack.mq, stack.storage, LocalClient(dc, DATACOORD_SERVICE), alloc_id=alloc_id,
                            node_id=NODE, params=DataNodeParams.from_config(cluster.config), memory=dn_memory)
        querynode = QueryNode(NODE, stack.mq, stack.storage, filter_compiler=compile_filter,
                              local_dir=tmp_path / "querynode-2", memory=qn_memory)
        datanode.start()
        dc.add_data_node(NODE, LocalClient(datanode, DATANODE_SERVICE))
        querynode.start()
        qc.add_node(NODE, LocalClient(querynode, QUERYNODE_SERVICE), "local-2")
        datanode_in = querynode_in = True

        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}", timeout=60)
        accepted: set[int] = set()
        next_id = 0

        def insert(**kw) -> None:
            nonlocal next_id
            ids = list(range(next_id, next_id + 10))
            next_id += 10
            rows = [{"id": i, "vec": np.random.default_rng(i).random(DIM, dtype=np.float32).tolist()} for i in ids]
            c.insert(NAME, rows, **kw)
            accepted.update(ids)

        def refusal() -> str | None:
            """None when a write is accepted now, else the RateLimit message."""
            try:
                insert(retry_on_rate_limit=False, timeout=10)
                return None
            except MilvusException as exc:
                assert exc.code == 8, exc  # RateLimit, as pymilvus reads it
                return exc.message

        def after_report(coord, node_id: int, fraction: float) -> None:
            """Until the coordinator has the node's report of ``fraction`` and the proxy's last
            look is older than one collect interval (so the next write looks again)."""
            wait_for(lambda: _reported(coord, node_id) == pytest.approx(fraction, abs=1e-6), timeout=10,
                     message=f"node {node_id} reporting {fraction}")
            seen = time.monotonic()
            wait_for(lambda: time.monotonic() - seen > 2 * INTERVAL, timeout=5, message="a collect interval")

        try:
            schema = c.create_schema(auto_id=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
            c.create_collection(NAME, schema=schema, num_shards=2, consistency_level="Strong")
            assert refusal() is None

            # a data node past its high water level: every write refused, naming it
            dn_memory.fraction = 0.97
            message = wait_for(refusal, timeout=10, message="writes refused for the data node's memory")
            assert "memory quota exhausted" in message and f"datanode {NODE} memory usage 0.970" in message
            # CheckHealth: still healthy, writes denied, and why (as Milvus' proxy answers)
            health = _check_health(cluster.port)
            assert health.isHealthy and list(health.quota_states) == [milvus_pb2.QuotaState.DenyToWrite]
            assert len(health.reasons) == 1 and f"datanode {NODE} memory usage 0.970" in health.reasons[0]
            with pytest.raises(MilvusException) as info:
                c.delete(NAME, ids=[1], retry_on_rate_limit=False, timeout=10)
            assert info.value.code == 8
            with pytest.raises(MilvusException) as info:
                c.upsert(NAME, [{"id": 1, "vec": [0.0] * DIM}], retry_on_rate_limit=False, timeout=10)
            assert info.value.code == 8
            # between its levels: still refused; below the low one: accepted again
            dn_memory.fraction = 0.9
            after_report(dc, NODE, 0.9)
            assert f"datanode {NODE} memory usage 0.900" in refusal()
            dn_memory.fraction = 0.5
            wait_for(lambda: refusal() is None, timeout=10, message="writes accepted again")
            health = _check_health(cluster.port)
            assert health.isHealthy and not health.quota_states and not health.reasons

            # a query node, with its own levels
            qn_memory.fraction = 0.75
            message = wait_for(refusal, timeout=10, message="writes refused for the query node's memory")
            assert f"querynode {NODE} memory usage 0.750 passed the high water level 0.7" in message
            assert "datanode" not in message
            qn_memory.fraction = 0.65
            after_report(qc, NODE, 0.65)
            assert refusal() is not None

            # pymilvus' default retries RateLimit: the insert goes through once the node is below
            done: list[object] = []

            def retried_insert() -> None:
                try:
                    insert(timeout=60)
                    done.append("ok")
                except Exception as exc:  # noqa: BLE001 - asserted below
                    done.append(exc)

            retrying = threading.Thread(target=retried_insert)
            retrying.start()
            began = time.monotonic()
            wait_for(lambda: time.monotonic() - began > 1.0 or done, timeout=5, message="a retrying insert")
            assert not done  # still refused, still retrying
            qn_memory.fraction = 0.3
            retrying.join(timeout=60)
            assert done == ["ok"]

            # a data node that stops reporting (stuck or dead; its session not yet ended) ages out
            dn_memory.fraction = 0.99
            wait_for(refusal, timeout=10, message="writes refused again")
            datanode.stop()
            stopped = time.monotonic()
            wait_for(lambda: refusal() is None, timeout=30, message="the dead node's report aging out")
            assert time.monotonic() - stopped >= 10 * INTERVAL - 0.5  # not before it aged
            dc.remove_data_node(NODE)  # its session ended: forgotten, its channels go back to node 1
            datanode_in = False
            assert _reported(dc, NODE) is None
            qc.remove_node(NODE)
            querynode_in = False
            assert _reported(qc, NODE) is None

            c.flush(NAME, timeout=120)
            assert c.get_collection_stats(NAME)["row_count"] == len(accepted)  # nothing refused was written
        finally:
            c.close()
            if querynode_in:
                qc.remove_node(NODE)
            querynode.stop()
            if datanode_in:
                dc.remove_data_node(NODE)
            datanode.stop()
