"""Executing compaction plans: read source segments, drop deleted (and expired) rows, write
the result segments.

A plan (``proto/datanode.proto`` ``CompactionPlan``, made by the data coordinator) names
its source segments with their logs, the L0 delete segments whose deletes apply, and
groups: each group's sources become one result segment (its id chosen by the planner).  A
row of a source in partition ``p`` goes when a delete (pk, d) of ``p`` or of every
partition (-1), from an L0 segment or the source's own delta logs, has ``_ts < d <=
plan.timestamp`` (the MVCC rule of the query nodes), or when ``_ts < plan.expire_ts``.
A group marked ``skip_if_unchanged`` from which no row goes is reported ``unchanged``.

The result's files have the formats of a sync (``milvus.datanode.sync``): one Parquet
insert log and one stats log with the same log id, under the result segment's prefix.
Nothing is recorded in the meta store here: the data coordinator polls
``GetCompactionResults`` and commits the results itself (or abandons them, leaving files
for its GC).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from milvus._proto import datanode_pb2
from milvus.binlog import conform, log_paths, read_delta_log, read_insert_log
from milvus.binlog.mvcc import ALL_PARTITIONS, StoredDeletes, deleted_rows
from milvus.datanode.sync import insert_log_files
from milvus.grpc_gen import schema_pb2
from milvus.schema import TIMESTAMP_FIELD, CollectionSchemaModel
from milvus.schema.evolve import concat_versions
from milvus.storage.base import ObjectStorage

log = logging.getLogger(__name__)

EXECUTING = datanode_pb2.COMPACTION_EXECUTING
COMPLETED = datanode_pb2.COMPACTION_COMPLETED
FAILED = datanode_pb2.COMPACTION_FAILED


class Compactor:
    """Runs one plan at a time per call of ``run`` (the node gives each plan a thread)."""

    def __init__(self, storage: ObjectStorage, alloc_id: Callable[[int], int]):
        self._storage = storage
        self._alloc_id = alloc_id

    def run(self, plan: datanode_pb2.CompactionPlan) -> datanode_pb2.CompactionPlanResult:
        schema = CollectionSchemaModel(schema_pb2.CollectionSchema.FromString(plan.schema))
        pk = schema.primary_field
        arrow_schema = schema.arrow_schema
        sources = {s.segmentID: s for s in plan.segments}
        deletes = StoredDeletes()
        for segment in plan.segments:
            # the query nodes' scope: a segment's deletes apply to its partition (-1: to every one;
            # an L0 segment holds one partition's deletes, or every partition's)
            scope = segment.partitionID if segment.partitionID > 0 else ALL_PARTITIONS
            for path in log_paths(segment.deltalogs):
                pks, ts = read_delta_log(self._storage.get(path))
                deletes.add(pks, ts, scope, plan.timestamp)
        result = datanode_pb2.CompactionPlanResult(planID=plan.planID, state=COMPLETED, channel=plan.channel)
        for group in plan.groups:
            tables = []
            removed = 0
            for source_id in group.sourceIDs:
                source = sources[source_id]
                # a column the schema lacks is a dropped field's when the schema is current (it
                # goes), else perhaps a field added since the channel's watch (it stays)
                parts = [conform(read_insert_log(self._storage.get(p)), arrow_schema,
                                 keep_extra=not plan.schema_current)
                         for p in log_paths(source.insert_logs)]
                if not parts:
                    continue
                table = concat_versions(parts)
                row_ts = table.column(TIMESTAMP_FIELD).to_numpy()
                pks = table.column(pk.name).combine_chunks()
                gone = deleted_rows(pks, row_ts, deletes.latest(source.partitionID, pk.arrow_type))
                if plan.expire_ts:
                    gone |= row_ts < np.uint64(plan.expire_ts)
                removed += int(gone.sum())
                tables.append(table.filter(pa.array(~gone)) if gone.any() else table)
            out = datanode_pb2.CompactionResultSegment(
                segmentID=group.resultID, partitionID=group.partitionID, compactionFrom=list(group.sourceIDs))
            if group.skip_if_unchanged and removed == 0:
                out.unchanged = True
                result.segments.append(out)
                continue
            merged = concat_versions(tables) if tables else arrow_schema.empty_table()
            out.num_of_rows = merged.num_rows
            if merged.num_rows:
                log_id = self._alloc_id(1)
                insert, stats = insert_log_files(self._storage, merged, pk.name, plan.collectionID,
                                                 group.partitionID, group.resultID, log_id)
                out.insert_logs.append(insert)
                out.statslogs.append(stats)
            result.segments.append(out)
        return result


@dataclass
class _Task:
    plan: datanode_pb2.CompactionPlan
    result: datanode_pb2.CompactionPlanResult
    thread: threading.Thread | None = None
    finished_at: float | None = None


class CompactionExecutor:
    """The data node's compaction tasks: each plan runs in a thread of its own; results are
    kept until ``keep`` seconds after they finished (the data coordinator polls them)."""

    def __init__(self, compactor: Compactor, clock: Callable[[], float] = time.monotonic, keep: float = 3600.0):
        self._compactor = compactor
        self._clock = clock
        self._keep = keep
        self._lock = threading.Lock()
        self._tasks: dict[int, _Task] = {}
        self._stopping = False

    def submit(self, plan: datanode_pb2.CompactionPlan) -> None:
        """Start ``plan`` (a plan already known is left as is)."""
        with self._lock:
            if self._stopping or plan.planID in self._tasks:
                return
            task = _Task(plan, datanode_pb2.CompactionPlanResult(planID=plan.planID, state=EXECUTING,
                                                                  channel=plan.channel))
            task.thread = threading.Thread(target=self._run, args=(task,), name=f"compaction-{plan.planID}",
                                           daemon=True)
            self._tasks[plan.planID] = task
        task.thread.start()

    def _run(self, task: _Task) -> None:
        started = time.perf_counter()
        try:
            result = self._compactor.run(task.plan)
        except Exception as exc:  # noqa: BLE001 - reported to the data coordinator as a failed plan
            log.exception("compaction plan %d failed", task.plan.planID)
            result = datanode_pb2.CompactionPlanResult(planID=task.plan.planID, state=FAILED,
                                                       channel=task.plan.channel, fail_reason=str(exc))
        else:
            log.info("compaction plan %d of %s done in %.3f s: %s", task.plan.planID, task.plan.channel,
                     time.perf_counter() - started,
                     [(list(s.compactionFrom), s.segmentID, s.num_of_rows, s.unchanged) for s in result.segments])
        with self._lock:
            task.result = result
            task.finished_at = self._clock()

    def results(self, plan_ids: list[int]) -> list[datanode_pb2.CompactionPlanResult]:
        now = self._clock()
        with self._lock:
            for plan_id in [p for p, t in self._tasks.items()
                            if t.finished_at is not None and now - t.finished_at > self._keep]:
                del self._tasks[plan_id]
            wanted = plan_ids or sorted(self._tasks)
            return [self._tasks[p].result for p in wanted if p in self._tasks]

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            threads = [t.thread for t in self._tasks.values() if t.thread is not None]
        for thread in threads:
            thread.join()
