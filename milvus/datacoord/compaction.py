"""Compaction: planning (pure), tracking the plans data nodes run, and committing results.

One plan per vchannel at a time (a segment is in at most one plan).  A plan has groups;
each group's sources (FLUSHED L1 segments of one partition) become one result segment:

* **mix**: small segments (``num_of_rows < smallProportion * maxRows``) of a partition are
  packed into groups of at most ``maxRows`` rows; a group needs ``compaction.min.segment``
  sources when triggered automatically, two when asked for;
* **delete purge**: every delete of the channel's L0 segments (and the sources' own delta
  logs) with ``d <= plan.timestamp`` is applied while rows are copied: deleted rows leave
  the disk, not just the reader's view;
* **L0 folding**: L0 segments whose deletes are all older than every row not yet flushed
  (older than the channel checkpoint and than the start of every growing/sealed segment)
  are dropped by the plan, so it covers *every* flushed L1 segment of the channel: the
  segments not merged are singleton groups rewritten only when a delete hits them
  (``skip_if_unchanged``).  Automatic folding waits for
  ``compaction.levelzero.forceTrigger.deltalogMinNum`` such L0 segments; manual folds any;
* **TTL** (manual only: the proxy passes the collection's ``collection.ttl.seconds``): rows
  older than the TTL go too; a segment holding such rows is a singleton group.  Query nodes
  do not filter expired rows: they disappear when a compaction removes them.

Commit (data coordinator, one meta-store transaction): results FLUSHED with
``compaction_from`` = their sources, the sources and the folded L0 segments DROPPED (GC
removes their files after ``gc.dropTolerance``).  A plan whose sources are no longer
FLUSHED (dropped by a DropCollection/DropPartition meanwhile) is abandoned; a plan whose
data node left, forgot it (restarted) or ran past ``compaction.timeout`` fails (nothing is
committed; its files are orphans for the GC; the next trigger plans again).

Tasks live in memory only: after a data coordinator restart, running plans are forgotten
(their results never commit, their files are collected) and their compaction ids unknown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2, datanode_pb2, internal_pb2
from milvus.grpc_gen import common_pb2
from milvus.tso import compose_ts, parse_ts

log = logging.getLogger(__name__)

FLUSHED = datacoord_pb2.FLUSHED
DROPPED = datacoord_pb2.DROPPED
GROWING = datacoord_pb2.GROWING
SEALED = datacoord_pb2.SEALED
L0 = datacoord_pb2.SEGMENT_LEVEL_L0
L1 = datacoord_pb2.SEGMENT_LEVEL_L1

# a plan's state as the public CompactionTaskState (GetCompactionPlans' merge infos)
_TASK_STATE = {"executing": common_pb2.CompactionTaskStateExecuting,
               "completed": common_pb2.CompactionTaskStateCompleted,
               "failed": common_pb2.CompactionTaskStateFailed}

MAX_PLAN_SEGMENTS = 100  # sources + dropped L0s: the commit is one meta-store transaction
KEEP_FINISHED = 3600.0  # seconds a finished compaction's state stays answerable


@dataclass(frozen=True)
class CompactionParams:
    enable_auto: bool = True
    interval: float = 60.0
    timeout: float = 900.0
    max_rows: int = 1_000_000
    small_proportion: float = 0.5
    min_segments: int = 3
    l0_min_num: int = 10
    delete_ratio: float = 0.2


@dataclass(frozen=True)
class Group:
    sources: tuple[int, ...]
    partition_id: int
    skip_if_unchanged: bool = False


@dataclass(frozen=True)
class ChannelPlan:
    collection_id: int
    channel: str
    groups: tuple[Group, ...]
    deletes_from: tuple[int, ...]  # L0 segments whose deletes are applied
    drop_l0: tuple[int, ...]  # L0 segments dropped at commit (folded into the plan)
    expire_ts: int = 0  # rows with _ts below it expire (collection TTL)

    @property
    def sources(self) -> list[int]:
        return [s for g in self.groups for s in g.sources]


def _max_delete_ts(segment: datacoord_pb2.SegmentInfo) -> int:
    ts = [b.timestamp_to for g in segment.deltalogs for b in g.binlogs]
    if segment.HasField("dml_position"):
        ts.append(segment.dml_position.timestamp)
    return max(ts, default=0)


def _own_deletes(segment: datacoord_pb2.SegmentInfo) -> int:
    return sum(b.entries_num for g in segment.deltalogs for b in g.binlogs)


def _oldest_row_ts(segment: datacoord_pb2.SegmentInfo) -> int | None:
    return min((b.timestamp_from for g in segment.binlogs for b in g.binlogs), default=None)


def plan_channel(segments: Iterable[datacoord_pb2.SegmentInfo], checkpoint_ts: int, params: CompactionParams,
                 manual: bool, busy: Iterable[int] = (), expire_ts: int = 0) -> ChannelPlan | None:
    """The plan for one vchannel's segments (all of its segments, any state), or None.

    ``checkpoint_ts``: the channel checkpoint's timestamp (every row and delete below it is
    persisted); ``busy``: segments in a running plan (a channel with one gets no plan);
    ``expire_ts``: rows older than it expire (collection TTL): a segment holding such rows is
    rewritten."""
    segments = list(segments)
    if not segments:
        return None
    busy = set(busy)
    if any(s.id in busy for s in segments):
        return None
    first = segments[0]
    flushed = sorted((s for s in segments if s.state == FLUSHED and s.level != L0), key=lambda s: s.id)
    l0 = sorted((s for s in segments if s.state == FLUSHED and s.level == L0), key=lambda s: s.id)
    starts = [s.start_position.timestamp for s in segments
              if s.state in (GROWING, SEALED) and s.HasField("start_position")]
    floor = min([checkpoint_ts, *starts])
    foldable = [s for s in l0 if _max_delete_ts(s) < floor]
    fold = foldable if (foldable and (manual or len(foldable) >= params.l0_min_num)) else []

    groups: list[Group] = []
    grouped: set[int] = set()
    small_limit = params.small_proportion * params.max_rows
    by_partition: dict[int, list[datacoord_pb2.SegmentInfo]] = {}
    for s in flushed:
        by_partition.setdefault(s.partition_id, []).append(s)
    need = 2 if manual else max(2, params.min_segments)
    for partition_id, members in sorted(by_partition.items()):
        small = sorted((s for s in members if s.num_of_rows < small_limit), key=lambda s: (s.num_of_rows, s.id))
        current: list[datacoord_pb2.SegmentInfo] = []
        packs: list[list[datacoord_pb2.SegmentInfo]] = []
        for s in small:
            if current and sum(c.num_of_rows for c in current) + s.num_of_rows > params.max_rows:
                packs.append(current)
                current = []
            current.append(s)
        if current:
            packs.append(current)
        for pack in packs:
            if len(pack) >= need:
                groups.append(Group(tuple(sorted(s.id for s in pack)), partition_id))
                grouped.update(s.id for s in pack)
        # delete purge of a segment whose own delta logs delete a large part of it
        for s in members:
            if s.id not in grouped and s.num_of_rows and _own_deletes(s) / s.num_of_rows >= params.delete_ratio:
                groups.append(Group((s.id,), partition_id))
                grouped.add(s.id)
    if expire_ts:
        for s in flushed:
            oldest = _oldest_row_ts(s)
            if s.id not in grouped and oldest is not None and oldest < expire_ts:
                groups.append(Group((s.id,), s.partition_id, skip_if_unchanged=True))
                grouped.add(s.id)
    if fold:
        if len(flushed) + len(fold) > MAX_PLAN_SEGMENTS:
            fold = []  # too large for one commit: merge only
        else:
            groups += [Group((s.id,), s.partition_id, skip_if_unchanged=True) for s in flushed if s.id not in grouped]
    if not fold:
        # keep the plan committable in one transaction
        kept, total = [], 0
        for g in groups:
            if total + len(g.sources) > MAX_PLAN_SEGMENTS:
                break
            kept.append(g)
            total += len(g.sources)
        groups = kept
    if not groups:
        return None
    return ChannelPlan(first.collection_id, first.insert_channel, tuple(groups), tuple(s.id for s in l0),
                       tuple(s.id for s in fold), expire_ts)


# ---- tasks -----------------------------------------------------------------------------------

EXECUTING = "executing"
COMPLETED = "completed"
FAILED = "failed"


@dataclass
class Task:
    plan_id: int
    trigger_id: int
    plan: ChannelPlan
    result_ids: tuple[int, ...]  # one per group
    node_id: int
    started_at: float
    state: str = EXECUTING
    fail_reason: str = ""
    finished_at: float | None = None
    committed: list[int] = field(default_factory=list)  # result segments that were created

    def busy(self) -> set[int]:
        return set(self.plan.sources) | set(self.plan.drop_l0)


@dataclass(frozen=True)
class MetaView:
    """What compaction sees of the data coordinator (see ``Compactions``)."""

    lock: Any
    segments: Any  # SegmentManager
    channels: Any  # ChannelManager
    checkpoint: Callable[[str], internal_pb2.MsgPosition | None]


@dataclass
class Trigger:
    trigger_id: int
    collection_id: int
    plan_ids: list[int] = field(default_factory=list)
    created_at: float = 0.0


class Compactions:
    """The data coordinator's compaction tasks.  ``meta`` is the coordinator's view: its lock
    (meta reads and the commit happen under it), its ``SegmentManager`` and ``ChannelManager``
    and the channel checkpoints."""

    def __init__(self, meta: MetaView, params: CompactionParams, *, alloc_id: Callable[[int], int],
                 alloc_ts: Callable[[int], int], clock: Callable[[], float],
                 on_commit: Callable[[], None] = lambda: None,
                 describe_schema: Callable[[int], bytes] | None = None,
                 protected: Callable[[], set[int]] = set):
        """``describe_schema(collection_id)``: the collection's schema now (the root
        coordinator's); plans carry it so that a compaction leaves dropped fields' columns out.
        Without it (or when it fails) a plan carries the schema of the channel's watch."""
        self._meta = meta
        self._describe_schema = describe_schema
        self._protected = protected  # segments a snapshot keeps from compaction now
        self._params = params
        self._alloc_id = alloc_id
        self._alloc_ts = alloc_ts
        self._clock = clock
        self._on_commit = on_commit
        self._lock = threading.Lock()  # tasks and triggers (taken after meta.lock, never before)
        self._poll_lock = threading.Lock()  # one poll at a time: a plan commits once
        self._tasks: dict[int, Task] = {}
        self._triggers: dict[int, Trigger] = {}
        self._last_auto = clock()

    @property
    def params(self) -> CompactionParams:
        return self._params

    def _busy(self) -> set[int]:
        """Segments no plan may take now: those of running plans, and those snapshots protect."""
        with self._lock:
            busy = {s for t in self._tasks.values() if t.state == EXECUTING for s in t.busy()}
        return busy | self._protected()

    # ---- triggers ------------------------------------------------------------------------

    def manual(self, collection_id: int, ttl_seconds: int = 0, expire_ts: int = 0) -> Trigger:
        """Plan every channel of the collection now (expiring rows older than ``ttl_seconds``
        when given, and rows with ``_ts`` below ``expire_ts``: a truncated collection's); the
        trigger's id is the compaction id."""
        trigger = Trigger(self._alloc_id(1), collection_id, created_at=self._clock())
        with self._lock:
            self._triggers[trigger.trigger_id] = trigger
        if ttl_seconds > 0:
            physical, _ = parse_ts(self._alloc_ts(1))
            expire_ts = max(expire_ts, compose_ts(max(0, physical - ttl_seconds * 1000), 0))
        self._trigger(trigger, manual=True, expire_ts=expire_ts)
        return trigger

    def tick(self) -> None:
        """Poll running plans; every ``interval`` seconds, plan automatically when enabled."""
        self.poll()
        now = self._clock()
        self._forget_finished(now)
        if self._params.enable_auto and now - self._last_auto >= self._params.interval:
            self._last_auto = now
            with self._meta.lock:
                collections = sorted({w.collectionID for w in self._meta.channels.all()})
            for collection_id in collections:
                trigger = Trigger(self._alloc_id(1), collection_id)
                if self._trigger(trigger, manual=False):
                    with self._lock:
                        self._triggers[trigger.trigger_id] = trigger

    def _forget_finished(self, now: float) -> None:
        """Drop the triggers (and their tasks) finished more than ``KEEP_FINISHED`` s ago."""
        with self._lock:
            for trigger in list(self._triggers.values()):
                tasks = [self._tasks.get(p) for p in trigger.plan_ids]
                if not tasks and now - trigger.created_at > KEEP_FINISHED or tasks and all(t is not None and t.finished_at is not None and now - t.finished_at > KEEP_FINISHED
                                 for t in tasks):
                    del self._triggers[trigger.trigger_id]
                    for plan_id in trigger.plan_ids:
                        self._tasks.pop(plan_id, None)

    def _trigger(self, trigger: Trigger, manual: bool, expire_ts: int = 0) -> int:
        """Plan and start the collection's channels; returns how many plans started."""
        busy = self._busy()
        with self._meta.lock:
            plans = []
            for watch in self._meta.channels.of_collection(trigger.collection_id):
                checkpoint = self._meta.checkpoint(watch.vchannel)
                segments = self._meta.segments.select(channel=watch.vchannel)
                plan = plan_channel(segments, checkpoint.timestamp if checkpoint is not None else 0, self._params,
                                    manual, busy, expire_ts)
                if plan is not None:
                    plans.append((plan, watch))
        started = 0
        for plan, watch in plans:
            started += self._start(trigger, plan, watch)
        return started

    def _current_schema(self, collection_id: int) -> bytes | None:
        """The collection's schema now, or None when it cannot be had (described after the
        sources were chosen: every field their rows hold was added before)"""
        if self._describe_schema is None:
            return None
        try:
            return self._describe_schema(collection_id) or None
        except Exception as exc:  # noqa: BLE001 - the plan still runs, with the watch's schema
            log.info("compaction of collection %d: schema not described (%s); the watch's serves",
                     collection_id, exc)
            return None

    def _start(self, trigger: Trigger, plan: ChannelPlan, watch: datacoord_pb2.ChannelWatchInfo) -> bool:
        first = self._alloc_id(1 + len(plan.groups))
        plan_id, result_ids = first, tuple(range(first + 1, first + 1 + len(plan.groups)))
        ts = self._alloc_ts(1)
        schema = self._current_schema(plan.collection_id)
        with self._meta.lock:
            node_id = watch.node_id
            client = self._meta.channels.client(node_id)
            request = datanode_pb2.CompactionPlan(planID=plan_id, channel=plan.channel,
                                                  collectionID=plan.collection_id, timestamp=ts,
                                                  schema=schema or watch.schema, schema_current=schema is not None,
                                                  expire_ts=plan.expire_ts)
            for sid in [*plan.sources, *plan.deletes_from]:
                segment = self._meta.segments.get(sid)
                if segment is None or segment.state != FLUSHED:
                    return False  # changed while planning: the next trigger plans again
                request.segments.append(datanode_pb2.CompactionSegmentBinlogs(
                    segmentID=segment.id, collectionID=segment.collection_id, partitionID=segment.partition_id,
                    level=segment.level, insert_logs=segment.binlogs, deltalogs=segment.deltalogs))
            for group, result_id in zip(plan.groups, result_ids, strict=True):
                request.groups.append(datanode_pb2.CompactionGroup(
                    sourceIDs=group.sources, resultID=result_id, skip_if_unchanged=group.skip_if_unchanged,
                    partitionID=group.partition_id))
            task = Task(plan_id, trigger.trigger_id, plan, result_ids, node_id, self._clock())
            with self._lock:
                if task.busy() & {s for t in self._tasks.values() if t.state == EXECUTING for s in t.busy()}:
                    return False  # another trigger took these segments meanwhile
                self._tasks[plan_id] = task
                trigger.plan_ids.append(plan_id)
        request.base.sourceID = 0
        try:
            if client is None:
                raise errors.ServiceUnavailable(f"no data node watches {plan.channel}")
            errors.check_status(client.Compaction(request))
        except Exception as exc:  # noqa: BLE001 - the plan fails; the next trigger plans again
            self._finish(task, FAILED, f"cannot start on data node {node_id}: {exc}")
            return True
        log.info("compaction plan %d (trigger %d) of %s on data node %d: groups %s, L0 applied %s, dropped %s",
                 plan_id, trigger.trigger_id, plan.channel, node_id,
                 [(g.sources, r, g.skip_if_unchanged) for g, r in zip(plan.groups, result_ids, strict=True)],
                 plan.deletes_from, plan.drop_l0)
        return True

    # ---- progress ------------------------------------------------------------------------

    def poll(self) -> None:
        """Ask the data nodes about running plans; commit the completed ones."""
        if not self._poll_lock.acquire(blocking=False):
            return  # another caller is polling
        try:
            self._poll()
        finally:
            self._poll_lock.release()

    def _poll(self) -> None:
        with self._lock:
            running = [t for t in self._tasks.values() if t.state == EXECUTING]
        now = self._clock()
        for task in running:
            with self._meta.lock:
                client = self._meta.channels.client(task.node_id)
            if client is None:
                self._finish(task, FAILED, f"data node {task.node_id} left")
                continue
            try:
                resp = client.GetCompactionResults(datanode_pb2.GetCompactionResultsRequest(planIDs=[task.plan_id]))
                errors.check_status(resp.status)
            except Exception as exc:  # noqa: BLE001 - retried until the timeout
                if now - task.started_at >= self._params.timeout:
                    self._finish(task, FAILED, f"data node {task.node_id} unreachable: {exc}")
                continue
            results = [r for r in resp.results if r.planID == task.plan_id]
            if not results:
                self._finish(task, FAILED, f"data node {task.node_id} does not know the plan (restarted?)")
            elif results[0].state == datanode_pb2.COMPACTION_FAILED:
                self._finish(task, FAILED, results[0].fail_reason)
            elif results[0].state == datanode_pb2.COMPACTION_COMPLETED:
                self._commit(task, results[0])
            elif now - task.started_at >= self._params.timeout:
                self._finish(task, FAILED, f"timed out after {self._params.timeout} s")

    def _finish(self, task: Task, state: str, reason: str = "") -> None:
        with self._lock:
            task.state = state
            task.fail_reason = reason
            task.finished_at = self._clock()
        if state == FAILED:
            log.warning("compaction plan %d of %s failed: %s", task.plan_id, task.plan.channel, reason)

    def _commit(self, task: Task, result: datanode_pb2.CompactionPlanResult) -> None:
        by_result = {r.segmentID: r for r in result.segments}
        ts = self._alloc_ts(1)
        with self._meta.lock:
            segments = self._meta.segments
            new: list[datacoord_pb2.SegmentInfo] = []
            dropped: list[datacoord_pb2.SegmentInfo] = []
            for group, result_id in zip(task.plan.groups, task.result_ids, strict=True):
                out = by_result.get(result_id)
                if out is None:
                    self._finish(task, FAILED, f"the data node did not report result segment {result_id}")
                    return
                sources = [segments.get(s) for s in group.sources]
                if any(s is None or s.state != FLUSHED for s in sources):
                    self._finish(task, FAILED, f"sources {list(group.sources)} changed meanwhile: abandoned")
                    return
                if out.unchanged:
                    continue
                dropped += sources
                if out.num_of_rows == 0:
                    continue  # every row went: the sources just go
                new.append(_result_segment(result_id, group.partition_id, sources, out))
            for sid in task.plan.drop_l0:
                segment = segments.get(sid)
                if segment is None or segment.state != FLUSHED:
                    self._finish(task, FAILED, f"L0 segment {sid} changed meanwhile: abandoned")
                    return
                dropped.append(segment)
            segments.commit_compaction(new, dropped, ts)
            task.committed = [s.id for s in new]
        self._finish(task, COMPLETED)
        log.info("compaction plan %d of %s committed: new %s, dropped %s", task.plan_id, task.plan.channel,
                 [(s.id, s.num_of_rows, list(s.compaction_from)) for s in new], [s.id for s in dropped])
        self._on_commit()

    # ---- state ---------------------------------------------------------------------------

    def state(self, trigger_id: int) -> datacoord_pb2.GetCompactionStateResponse:
        resp = datacoord_pb2.GetCompactionStateResponse(status=errors.OK)
        with self._lock:
            trigger = self._triggers.get(trigger_id)
            if trigger is None:
                return resp  # unknown: UndefiedState
            resp.collectionID = trigger.collection_id
            tasks = [self._tasks[p] for p in trigger.plan_ids if p in self._tasks]
            for task in tasks:
                state = _TASK_STATE[task.state]
                if task.state == EXECUTING:
                    resp.executing += 1
                elif task.state == COMPLETED:
                    resp.completed += 1
                else:
                    resp.failed += 1
                for group, result_id in zip(task.plan.groups, task.result_ids, strict=True):
                    targets = [result_id] if result_id in task.committed else []
                    if task.state == COMPLETED and not targets:
                        continue  # left unchanged, or emptied
                    resp.plans.append(datacoord_pb2.CompactionPlanInfo(
                        planID=task.plan_id, sources=group.sources, targets=targets, state=state,
                        fail_reason=task.fail_reason, channel=task.plan.channel))
                if task.plan.drop_l0:
                    resp.plans.append(datacoord_pb2.CompactionPlanInfo(
                        planID=task.plan_id, sources=task.plan.drop_l0, state=state, fail_reason=task.fail_reason,
                        channel=task.plan.channel))
        resp.state = common_pb2.Executing if resp.executing else common_pb2.Completed
        return resp


def _result_segment(result_id: int, partition_id: int, sources: list[datacoord_pb2.SegmentInfo],
                    out: datanode_pb2.CompactionResultSegment) -> datacoord_pb2.SegmentInfo:
    first = sources[0]
    segment = datacoord_pb2.SegmentInfo(
        id=result_id, collection_id=first.collection_id, partition_id=partition_id,
        insert_channel=first.insert_channel, num_of_rows=out.num_of_rows, state=FLUSHED,
        max_row_num=max(s.max_row_num for s in sources), binlogs=out.insert_logs, statslogs=out.statslogs,
        compaction_from=[s.id for s in sources], level=L1, db_id=first.db_id,
    )
    starts = [s.start_position for s in sources if s.HasField("start_position")]
    if starts:
        segment.start_position.CopyFrom(min(starts, key=lambda p: p.timestamp))
    ends = [s.dml_position for s in sources if s.HasField("dml_position")]
    if ends:
        segment.dml_position.CopyFrom(max(ends, key=lambda p: p.timestamp))
    return segment
