"""The data coordinator's book of bulk insert jobs: saved, listed, final states kept, and
running jobs failed (with their inserted rows named) when it restarts."""

from __future__ import annotations

from pymilvus.grpc_gen import common_pb2

from milvus._proto import datacoord_pb2
from tests.unit.test_datacoord import cluster, ok  # noqa: F401 - the fixture

COLL = 7


def _job(job_id: int, state: int, rows: int = 0, collection: int = COLL) -> datacoord_pb2.ImportJob:
    return datacoord_pb2.ImportJob(id=job_id, collection_id=collection, collection_name="c", files=["a.json"],
                                   state=state, row_count=rows, create_time=1700000000)


def _save(dc, job):
    return dc.SaveImportJob(datacoord_pb2.SaveImportJobRequest(job=job))


def _list(dc, **kw):
    return ok(dc.ListImportJobs(datacoord_pb2.ListImportJobsRequest(**kw))).jobs


def test_jobs_are_saved_updated_and_listed(cluster):  # noqa: F811
    dc = cluster.coord()
    ok(_save(dc, _job(1, common_pb2.ImportPending)))
    ok(_save(dc, _job(2, common_pb2.ImportStarted, collection=8)))
    ok(_save(dc, _job(1, common_pb2.ImportCompleted, rows=10)))
    assert [(j.id, j.state, j.row_count) for j in _list(dc)] == [
        (1, common_pb2.ImportCompleted, 10), (2, common_pb2.ImportStarted, 0)]
    assert [j.id for j in _list(dc, collection_id=8)] == [2]
    assert [j.id for j in _list(dc, limit=1)] == [2]
    assert [j.id for j in _list(dc, job_id=1)] == [1]
    missing = dc.ListImportJobs(datacoord_pb2.ListImportJobsRequest(job_id=3))
    assert missing.status.code == 1100 and "import job 3 not found" in missing.status.reason


def test_a_final_job_stays_final(cluster):  # noqa: F811
    dc = cluster.coord()
    ok(_save(dc, _job(1, common_pb2.ImportFailed)))
    status = _save(dc, _job(1, common_pb2.ImportCompleted, rows=5))
    assert status.code == 1100 and "already ImportFailed" in status.reason
    assert _list(dc, job_id=1)[0].state == common_pb2.ImportFailed


def test_a_restart_fails_running_jobs_and_keeps_the_others(cluster):  # noqa: F811
    dc = cluster.coord()
    ok(_save(dc, _job(1, common_pb2.ImportStarted, rows=5000)))
    ok(_save(dc, _job(2, common_pb2.ImportPending)))
    ok(_save(dc, _job(3, common_pb2.ImportCompleted, rows=7)))
    dc.stop()
    again = cluster.coord()
    jobs = {j.id: j for j in _list(again)}
    assert jobs[1].state == jobs[2].state == common_pb2.ImportFailed
    assert "interrupted" in jobs[1].reason and "after 5000 of its rows were inserted" in jobs[1].reason
    assert "those rows stay in the collection" in jobs[1].reason
    assert (jobs[3].state, jobs[3].row_count, jobs[3].reason) == (common_pb2.ImportCompleted, 7, "")


def test_finished_jobs_are_forgotten_after_the_retention_and_stalled_ones_fail(tmp_path):
    from milvus.datacoord.imports import ImportJobs
    from milvus.kv.local import LocalKV
    from milvus.metastore.import_catalog import ImportCatalog

    now = [1000.0]
    kv = LocalKV(str(tmp_path / "meta.sqlite3"), durable=False)
    catalog = ImportCatalog(kv)
    jobs = ImportJobs(catalog, clock=lambda: now[0])
    jobs.save(_job(1, common_pb2.ImportCompleted, rows=3))
    jobs.save(_job(2, common_pb2.ImportStarted, rows=5000))
    now[0] += 100
    jobs.save(_job(3, common_pb2.ImportStarted, rows=10))  # its proxy reported later
    jobs.expire(retention=500, stall_timeout=200)
    assert {j.id: j.state for j in jobs.list()} == {1: common_pb2.ImportCompleted, 2: common_pb2.ImportStarted,
                                                    3: common_pb2.ImportStarted}
    now[0] += 150  # job 2 silent for 250 s, job 3 for 150 s
    jobs.expire(retention=500, stall_timeout=200)
    states = {j.id: j for j in jobs.list()}
    assert states[2].state == common_pb2.ImportFailed and "did not report for 200 s" in states[2].reason
    assert "after 5000 of its rows were inserted" in states[2].reason
    assert states[3].state == common_pb2.ImportStarted
    now[0] += 300  # job 1 finished 550 s ago: forgotten, here and in the meta store
    jobs.expire(retention=500, stall_timeout=200)
    assert sorted(j.id for j in jobs.list()) == [2, 3]
    assert sorted(j.id for j in catalog.list()) == [2, 3]
    assert all(j.update_time > 0 for j in catalog.list())
    kv.close()
