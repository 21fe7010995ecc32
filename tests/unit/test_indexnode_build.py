"""The index node's side of a build: the segment's insert logs are read (side by side) in
``data_paths`` order, logs written before the field existed count as null rows, and a
coordinator in the same process is told as soon as a build's final state can be queried."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus._proto import datacoord_pb2, indexnode_pb2
from milvus.datacoord import index_service
from milvus.datacoord.index_service import IndexService, IndexServiceParams
from milvus.indexnode import SERVICE, IndexNode
from milvus.indexnode.task import read_column, read_vectors
from milvus.kv.local import LocalKV
from milvus.metastore.index_catalog import IndexCatalog
from milvus.rpc import LocalClient
from milvus.storage.local import LocalStorage

DIM = 8


def kv(**pairs: object) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key=k, value=str(v)) for k, v in pairs.items()]


def _log(storage: LocalStorage, key: str, table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    storage.put(key, sink.getvalue().to_pybytes())
    return key


def _vectors(rows: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(rows.ravel(), pa.float32()), DIM)


def _segment(storage: LocalStorage, parts: list[int], seed: int = 5) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    paths, all_rows = [], []
    for i, n in enumerate(parts):
        rows = rng.random((n, DIM), dtype=np.float32)
        all_rows.append(rows)
        paths.append(_log(storage, f"insert_log/1/2/3/{i}.parquet", pa.table({"id": np.arange(n), "vec": _vectors(rows)})))
    return paths, np.concatenate(all_rows)


def _request(paths: list[str], **extra: object) -> indexnode_pb2.CreateJobRequest:
    return indexnode_pb2.CreateJobRequest(
        buildID=7, index_version=1, segmentID=3, data_paths=paths, field_name="vec",
        field_type=schema_pb2.FloatVector, dim=DIM, index_file_prefix="index_files/7/1/", **extra)


def test_logs_are_read_in_data_paths_order(tmp_path):
    storage = LocalStorage(tmp_path)
    parts = [30, 1, 50, 7, 12]
    paths, rows = _segment(storage, parts)
    vectors, n = read_vectors(storage, _request(paths[::-1]), "dense")
    bounds = np.cumsum([0, *parts])
    expected = np.concatenate([rows[bounds[i]:bounds[i + 1]] for i in reversed(range(len(parts)))])
    assert n == 100 and np.array_equal(vectors, expected)


def test_a_log_without_the_field_counts_as_null_rows(tmp_path):
    storage = LocalStorage(tmp_path)
    old = _log(storage, "insert_log/1/2/3/old.parquet", pa.table({"id": np.arange(4)}))
    paths, _ = _segment(storage, [3, 2])
    column = read_column(storage, _request([paths[0], old, paths[1]]))
    assert len(column) == 9 and column.type == pa.list_(pa.float32(), DIM)
    assert [v is None for v in column.to_pylist()] == [False] * 3 + [True] * 4 + [False] * 2


def test_a_missing_log_fails_the_read(tmp_path):
    storage = LocalStorage(tmp_path)
    paths, _ = _segment(storage, [3, 2])
    try:
        read_column(storage, _request([paths[0], "insert_log/1/2/3/gone.parquet"]))
    except Exception as exc:  # noqa: BLE001 - the error type is what is checked
        assert "insert log insert_log/1/2/3/gone.parquet does not exist" in str(exc)
    else:
        raise AssertionError("a missing insert log was read")


def _node_with_done(storage: LocalStorage) -> tuple[IndexNode, list[int], threading.Event]:
    seen: list[int] = []
    done = threading.Event()
    holder: list[IndexNode] = []

    def on_done() -> None:
        # the final state is already what QueryJobs answers
        answer = holder[0].QueryJobs(indexnode_pb2.QueryJobsRequest(buildIDs=[7]))
        seen.append(answer.index_infos[0].state)
        done.set()

    node = IndexNode(1, storage, on_done=on_done)
    holder.append(node)
    node.start()
    return node, seen, done


@pytest.mark.parametrize(("num_rows", "state"), [(64, indexnode_pb2.FINISHED), (65, indexnode_pb2.FAILED)],
                         ids=["finished", "failed"])
def test_the_node_says_when_a_build_ends(tmp_path, num_rows, state):
    storage = LocalStorage(tmp_path)
    paths, _ = _segment(storage, [40, 24])  # 64 rows: a request for 65 fails
    node, seen, done = _node_with_done(storage)
    try:
        node.CreateJob(_request(paths, num_rows=num_rows, index_params=kv(index_type="FLAT", metric_type="L2")))
        assert done.wait(30)
        assert seen == [state]
    finally:
        node.stop()


def test_a_coordinator_woken_by_the_node_does_not_wait_for_its_poll(tmp_path, monkeypatch):
    monkeypatch.setattr(index_service, "_RUNNING_POLL", 60.0)  # only the node's word can be fast
    storage = LocalStorage(tmp_path / "objects")
    paths, _ = _segment(storage, [700, 500])
    segment = datacoord_pb2.SegmentInfo(
        id=3, collection_id=1, partition_id=2, insert_channel="ch", num_of_rows=1200, state=datacoord_pb2.FLUSHED,
        level=datacoord_pb2.SEGMENT_LEVEL_L1,
        binlogs=[datacoord_pb2.FieldBinlog(field_id=101, binlogs=[datacoord_pb2.Binlog(log_path=p) for p in paths])])
    meta = LocalKV(str(tmp_path / "meta.sqlite3"), durable=False)
    ids = iter(range(1000, 10**6))
    svc = IndexService(IndexCatalog(meta), segments=lambda _c: [segment], alloc_id=lambda n: next(ids),
                       alloc_ts=lambda n: int(time.time() * 1000) << 18,
                       params=IndexServiceParams(min_rows=100, check_interval=60.0))
    node = IndexNode(1, storage, on_done=svc.trigger)
    node.start()
    try:
        svc.add_index_node(1, LocalClient(node, SERVICE))
        svc.start()
        svc.create_index(datacoord_pb2.CreateIndexRequest(
            collectionID=1, fieldID=101, field_name="vec", field_type=schema_pb2.FloatVector,
            type_params=kv(dim=DIM), index_params=kv(index_type="FLAT", metric_type="L2"),
            user_index_params=kv(index_type="FLAT", metric_type="L2")))
        deadline = time.monotonic() + 30  # far below the 60 s poll
        while svc.describe(1, "")[0].state != common_pb2.IndexState.Finished:
            assert time.monotonic() < deadline, "the coordinator waited for its poll"
            time.sleep(0.02)
    finally:
        svc.stop()
        node.stop()
        meta.close()
