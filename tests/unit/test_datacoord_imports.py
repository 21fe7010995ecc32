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
