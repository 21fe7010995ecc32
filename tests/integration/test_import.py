"""Bulk insert through the real pymilvus client (``utility.do_bulk_insert``), every role in
this process: JSON, Parquet and NumPy files put in the cluster's object storage are imported,
the job reaches Completed, and a Strong count, a query and a search see exactly the imported
rows; a dynamic field and an auto-id key work; a missing file or a wrong dim fails the job
with a reason and inserts nothing; what can be checked up front fails the call itself."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pymilvus import DataType, MilvusException, utility
from pymilvus.client.types import BulkInsertState

from tests.conftest import wait_for
from tests.integration.cluster import running_stack

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 4
N = 120
VECS = np.random.default_rng(5).random((N, DIM), dtype=np.float32)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("import") / "data") as s:
        yield s


@pytest.fixture(scope="module")
def client(stack):
    with stack.client() as c:
        yield c


@pytest.fixture(scope="module")
def orm(stack):
    with stack.orm("imports") as alias:
        yield alias


def create(client, name, *, auto_id=False, dynamic=False):
    schema = client.create_schema(auto_id=auto_id, enable_dynamic_field=dynamic)
    schema.add_field("id", DataType.INT64, is_primary=True, auto_id=auto_id)
    schema.add_field("title", DataType.VARCHAR, max_length=32)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


def finished(orm, task_id) -> BulkInsertState:
    def done():
        state = utility.get_bulk_insert_state(task_id, using=orm)
        return state if state.state in (BulkInsertState.ImportCompleted, BulkInsertState.ImportFailed) else None
    return wait_for(done, timeout=60, message=f"import {task_id} to finish")


def count(client, name, **kw) -> int:
    return client.query(name, output_fields=["count(*)"], consistency_level="Strong", **kw)[0]["count(*)"]


def rows(start=0, n=N):
    return [{"id": i, "title": f"t{i}", "vector": VECS[i].tolist()} for i in range(start, start + n)]


def test_json_rows_with_a_dynamic_field(stack, client, orm):
    create(client, "json_rows", dynamic=True)
    data = [{**r, "color": "red" if r["id"] % 2 else "blue"} for r in rows()]
    stack.storage.put("imports/rows.json", json.dumps({"rows": data}).encode())
    task = utility.do_bulk_insert("json_rows", files=["imports/rows.json"], using=orm)
    state = finished(orm, task)
    assert state.state == BulkInsertState.ImportCompleted, state.failed_reason
    assert (state.row_count, state.infos["progress_percent"], state.files) == (N, "100", "imports/rows.json")
    assert state.collection_name == "json_rows" and state.create_timestamp > 0
    assert count(client, "json_rows") == N
    got = client.query("json_rows", filter="id in [3, 8]", output_fields=["title", "color", "vector"])
    assert sorted((r["id"], r["title"], r["color"]) for r in got) == [(3, "t3", "red"), (8, "t8", "blue")]
    assert np.allclose(next(r for r in got if r["id"] == 3)["vector"], VECS[3])
    assert count(client, "json_rows", filter='color == "red"') == N // 2
    hits = client.search("json_rows", data=[VECS[42].tolist()], limit=1, anns_field="vector")
    assert hits[0][0]["id"] == 42


def test_parquet_into_a_partition(stack, client, orm):
    create(client, "parquet_rows")
    client.create_partition("parquet_rows", "p1")
    table = pa.table({"id": pa.array(range(N), pa.int64()), "title": [f"t{i}" for i in range(N)],
                      "vector": pa.array(VECS.tolist(), pa.list_(pa.float32()))})
    out = io.BytesIO()
    pq.write_table(table, out)
    stack.storage.put("imports/rows.parquet", out.getvalue())
    task = utility.do_bulk_insert("parquet_rows", files=["imports/rows.parquet"], partition_name="p1", using=orm)
    state = finished(orm, task)
    assert state.state == BulkInsertState.ImportCompleted, state.failed_reason
    assert state.partition_name == "p1"
    assert count(client, "parquet_rows", partition_names=["p1"]) == N
    assert count(client, "parquet_rows", partition_names=["_default"]) == 0
    assert client.get("parquet_rows", ids=[7])[0]["title"] == "t7"


def test_numpy_files_into_an_auto_id_collection(stack, client, orm):
    create(client, "numpy_rows", auto_id=True)
    files = []
    for name, values in (("title", np.array([f"t{i}" for i in range(N)])), ("vector", VECS)):
        out = io.BytesIO()
        np.save(out, values)
        stack.storage.put(f"imports/npy/{name}.npy", out.getvalue())
        files.append(f"imports/npy/{name}.npy")
    state = finished(orm, utility.do_bulk_insert("numpy_rows", files=files, using=orm))
    assert state.state == BulkInsertState.ImportCompleted, state.failed_reason
    got = client.query("numpy_rows", filter="id >= 0", output_fields=["id", "title"], limit=1000)
    assert len({r["id"] for r in got}) == N and sorted(r["title"] for r in got) == sorted(f"t{i}" for i in range(N))
    hit = client.search("numpy_rows", data=[VECS[9].tolist()], limit=1, output_fields=["title"])[0][0]
    assert hit["entity"]["title"] == "t9"


def test_a_file_larger_than_one_batch(stack, client, orm):
    create(client, "big")
    n = 11_000  # three insert batches of at most 5,000 rows
    vecs = np.random.default_rng(6).random((n, DIM), dtype=np.float32)
    table = pa.table({"id": pa.array(range(n), pa.int64()), "title": [f"t{i}" for i in range(n)],
                      "vector": pa.FixedSizeListArray.from_arrays(pa.array(vecs.reshape(-1)), DIM)})
    out = io.BytesIO()
    pq.write_table(table, out)
    stack.storage.put("imports/big.parquet", out.getvalue())
    state = finished(orm, utility.do_bulk_insert("big", files=["imports/big.parquet"], using=orm))
    assert (state.state, state.row_count) == (BulkInsertState.ImportCompleted, n), state.failed_reason
    assert count(client, "big") == n
    assert client.get("big", ids=[10_999])[0]["title"] == "t10999"


def test_failed_jobs_say_why_and_insert_nothing(stack, client, orm):
    create(client, "failing")
    missing = finished(orm, utility.do_bulk_insert("failing", files=["imports/nothing.json"], using=orm))
    assert missing.state == BulkInsertState.ImportFailed
    assert "imports/nothing.json" in missing.failed_reason and "not found" in missing.failed_reason
    bad = rows(0, 10)
    bad[6]["vector"] = [1.0, 2.0]
    stack.storage.put("imports/bad_dim.json", json.dumps(bad).encode())
    wrong = finished(orm, utility.do_bulk_insert("failing", files=["imports/bad_dim.json"], using=orm))
    assert wrong.state == BulkInsertState.ImportFailed
    assert "vector" in wrong.failed_reason and wrong.row_count == 0
    stack.storage.put("imports/no_title.json", json.dumps([{"id": 1, "vector": [0.0] * DIM}]).encode())
    no_title = finished(orm, utility.do_bulk_insert("failing", files=["imports/no_title.json"], using=orm))
    assert "field 'title' is missing from the file" in no_title.failed_reason
    assert count(client, "failing") == 0


def test_what_is_checked_up_front_fails_the_call(orm):
    with pytest.raises(MilvusException) as unknown:
        utility.do_bulk_insert("no_such_collection", files=["imports/rows.json"], using=orm)
    assert unknown.value.code == 100
    for files in (["a.json", "b.json"], ["a.csv"]):
        with pytest.raises(MilvusException) as bad:
            utility.do_bulk_insert("failing", files=files, using=orm)
        assert bad.value.code == 1100
    with pytest.raises(MilvusException) as partition:
        utility.do_bulk_insert("failing", files=["imports/rows.json"], partition_name="nope", using=orm)
    assert partition.value.code == 200


def test_list_bulk_insert_tasks(orm):
    tasks = utility.list_bulk_insert_tasks(collection_name="failing", using=orm)
    assert len(tasks) == 3 and all(t.state == BulkInsertState.ImportFailed for t in tasks)
    assert [t.task_id for t in tasks] == sorted(t.task_id for t in tasks)
    assert len(utility.list_bulk_insert_tasks(limit=2, collection_name="failing", using=orm)) == 2
    everything = {t.collection_name for t in utility.list_bulk_insert_tasks(using=orm)}
    assert {"json_rows", "parquet_rows", "numpy_rows", "failing"} <= everything


def test_an_added_field_through_a_bulk_insert(stack, client, orm):
    """A field added to a loaded collection, then rows imported with and without it: those
    without read its default, the rows inserted before it too."""
    create(client, "evolved")
    client.insert("evolved", rows(0, 2))
    client.add_collection_field("evolved", "level", DataType.INT32, nullable=True, default_value=-1)
    data = [{**r, "level": r["id"]} if r["id"] % 2 else r for r in rows(2, 4)]
    stack.storage.put("imports/evolved.json", json.dumps({"rows": data}).encode())
    state = finished(orm, utility.do_bulk_insert("evolved", files=["imports/evolved.json"], using=orm))
    assert state.state == BulkInsertState.ImportCompleted, state.failed_reason
    got = client.query("evolved", filter="id >= 0", output_fields=["level"], consistency_level="Strong")
    assert sorted((r["id"], r["level"]) for r in got) == [(0, -1), (1, -1), (2, -1), (3, 3), (4, -1), (5, 5)]
    assert sorted(r["id"] for r in client.query("evolved", filter="level > 0", consistency_level="Strong")) == [3, 5]
