"""Index meta and index builds (Milvus' index coordinator, inside the data coordinator).

* **Meta.**  ``CreateIndex`` records a field index (one per field; the name defaults to the
  field's), ``DropIndex`` marks it and its builds deleted, ``DescribeIndex`` reports each
  index with its progress over the collection's flushed segments: ``total_rows``,
  ``indexed_rows``, ``pending_index_rows`` and a state (Finished once every flushed segment
  is indexed, Failed with the reason when a build failed, else InProgress).
* **Builds.**  Every flushed (L1) segment gets one build per index of its collection.
  ``schedule`` (run by a background loop, woken on every change) creates the missing builds,
  issues unissued ones to the index node with the fewest running builds (``CreateJob``, with
  a new ``index_version`` each time), and polls running ones (``QueryJobs``, every
  ``_RUNNING_POLL`` seconds while builds run; an index node in the same process calls
  ``trigger`` as soon as a build ends, so the standalone notices it at once): finished builds
  record their files, failed ones their reason.  A build whose node left, restarted (it no
  longer knows the build) or stayed unreachable is issued again.  Segments smaller than
  ``min_rows``, and scalar indexes on Array/JSON fields, finish at once without files: they
  are searched/filtered exactly from the segment's columns.
* **Files** live under ``index_files/{build}/{version}/``; ``collect_garbage`` removes the
  files of deleted builds (dropped indexes or segments) and versions no build owns.

Calls to index nodes, to the id/timestamp allocators and to object storage happen outside
the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2, indexnode_pb2
from milvus.datacoord.index_meta import (
    FAILED,
    FINISHED,
    IN_PROGRESS,
    UNISSUED,
    IndexMeta,
    copy_build,
    kv_dict,
)
from milvus.datacoord.segments import FLUSHED, L0
from milvus.grpc_gen import common_pb2
from milvus.metastore.index_catalog import IndexCatalog
from milvus.storage.base import ObjectStorage
from milvus.util.expected import ExpectedNodes

log = logging.getLogger(__name__)

INDEX_ROOT = "index_files/"
_SCALAR_TYPES_MAX = 99  # DataType values below 100 are scalar fields
# scalar fields whose indexes are built (``milvus.index.scalar``): Bool, Int8..Int64, Float, Double, String, VarChar
_BUILT_SCALAR_TYPES = frozenset({1, 2, 3, 4, 5, 10, 11, 20, 21})
_UNREACHABLE_ROUNDS = 3  # polls a node may miss before its builds are issued elsewhere
_RUNNING_POLL = 0.1  # seconds between polls of the index nodes while builds run


def index_prefix(build_id: int, version: int) -> str:
    return f"{INDEX_ROOT}{build_id}/{version}/"


@dataclass(frozen=True)
class IndexServiceParams:
    min_rows: int = 1024  # segments below this are not indexed (searched exactly)
    check_interval: float = 1.0
    # seconds after ``expect_index_nodes`` that the builds running on those nodes wait for them
    # to register before they are issued again elsewhere
    node_grace: float = 10.0


def _pairs(d: dict[str, str]) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key=k, value=v) for k, v in d.items()]


class IndexService:
    """``segments(collection_id | None)`` returns the data coordinator's current segments."""

    def __init__(self, catalog: IndexCatalog, *, segments: Callable[[int | None], list[datacoord_pb2.SegmentInfo]],
                 alloc_id: Callable[[int], int], alloc_ts: Callable[[int], int],
                 params: IndexServiceParams | None = None, cluster_id: str = ""):
        self._meta = IndexMeta(catalog)
        self._segments = segments
        self._alloc_id = alloc_id
        self._alloc_ts = alloc_ts
        self._params = params or IndexServiceParams()
        self._cluster_id = cluster_id
        self._lock = threading.RLock()
        self._nodes: dict[int, Any] = {}
        self._missed: dict[int, tuple[int, float]] = {}  # node -> (consecutive failed polls, first one's time)
        # live index nodes not registered yet (a coordinator that just took over): their builds run on
        self._expected = ExpectedNodes()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self, run_loop: bool = True) -> None:
        with self._lock:
            self._meta.recover()
        if run_loop:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="datacoord-index-scheduler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def trigger(self) -> None:
        self._wake.set()

    def _running(self) -> bool:
        with self._lock:
            return any(build.state == IN_PROGRESS for build in self._meta.builds())

    def _loop(self) -> None:
        while not self._stop.is_set():
            # while builds run, poll them often: a finished build is reported within
            # _RUNNING_POLL seconds, not a whole check interval later
            wait = self._params.check_interval
            if self._running():
                wait = min(wait, _RUNNING_POLL)
            self._wake.wait(wait)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.schedule()
            except Exception:  # noqa: BLE001 - the next round retries
                log.exception("index scheduling round failed")

    # ---- index nodes --------------------------------------------------------------------

    def expect_index_nodes(self, node_ids: Iterable[int]) -> None:
        """The index nodes live as the coordinator starts following them: the builds they run
        are not issued again elsewhere until they register (or leave), for ``node_grace``
        seconds at most (a round before they registered took each for gone and built again)."""
        with self._lock:
            self._expected.expect(node_ids, self._nodes, self._params.node_grace)

    def add_index_node(self, node_id: int, client: Any) -> None:
        with self._lock:
            self._nodes[node_id] = client
            self._missed.pop(node_id, None)
            self._expected.arrived(node_id)
        self.trigger()

    def remove_index_node(self, node_id: int) -> None:
        with self._lock:
            self._nodes.pop(node_id, None)
            self._missed.pop(node_id, None)
            self._expected.arrived(node_id)
        self.trigger()

    def node_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._nodes)

    def node_clients(self) -> list[tuple[int, Any]]:
        with self._lock:
            return sorted(self._nodes.items())

    # ---- meta RPCs ----------------------------------------------------------------------

    def field_indexes(self, collection_id: int) -> list[datacoord_pb2.FieldIndex]:
        """The collection's indexes (their definitions)."""
        with self._lock:
            return list(self._named(collection_id, ""))

    def _named(self, collection_id: int, name: str) -> list[datacoord_pb2.FieldIndex]:
        indexes = self._meta.indexes(collection_id)
        return [i for i in indexes if i.index_name == name] if name else indexes

    def create_index(self, request: datacoord_pb2.CreateIndexRequest) -> None:
        with self._lock:
            existing = self._meta.indexes(request.collectionID)
            on_field = [i for i in existing if i.fieldID == request.fieldID]
            name = request.index_name or (on_field[0].index_name if len(on_field) == 1 else request.field_name)
            wanted = kv_dict(request.index_params)
            for index in existing:
                if index.index_name != name and index.fieldID != request.fieldID:
                    continue
                same = (index.index_name == name and index.fieldID == request.fieldID
                        and kv_dict(index.index_params) == wanted)
                if same:
                    return  # idempotent
                if index.index_name == name:
                    raise errors.ParameterInvalid(
                        f"CreateIndex failed: index already exist, but parameters are inconsistent, "
                        f"source={dict(kv_dict(index.user_index_params))}, "
                        f"current={dict(kv_dict(request.user_index_params))}")
                raise errors.ParameterInvalid(
                    "CreateIndex failed: at most one distinct index is allowed per field")
        index_id = self._alloc_id(1)
        create_time = self._alloc_ts(1)
        index = datacoord_pb2.FieldIndex(
            collectionID=request.collectionID, fieldID=request.fieldID, indexID=index_id, index_name=name,
            type_params=request.type_params, index_params=request.index_params,
            user_index_params=request.user_index_params, is_auto_index=request.is_auto_index,
            create_time=create_time, field_name=request.field_name, field_type=request.field_type)
        with self._lock:
            if any(i.index_name == name or i.fieldID == request.fieldID
                   for i in self._meta.indexes(request.collectionID)):
                raise errors.ParameterInvalid("CreateIndex failed: a concurrent request created this index")
            self._meta.add_index(index)
        log.info("index %s (%d) created on field %s of collection %d: %s", name, index_id, request.field_name,
                 request.collectionID, wanted)
        self.trigger()

    def drop_index(self, request: datacoord_pb2.DropIndexRequest) -> None:
        with self._lock:
            indexes = self._named(request.collectionID, request.index_name)
            if not indexes:
                return  # nothing to drop: success, as Milvus answers
            if not request.index_name and len(indexes) > 1 and not request.drop_all:
                raise errors.ParameterInvalid("there are multiple indexes, please specify the index_name")
            running = self._meta.mark_deleted(indexes)
            nodes = dict(self._nodes)
        self._drop_jobs(running, nodes)
        for index in indexes:
            log.info("index %s (%d) of collection %d dropped", index.index_name, index.indexID, index.collectionID)

    def drop_collection(self, collection_id: int) -> None:
        self.drop_index(datacoord_pb2.DropIndexRequest(collectionID=collection_id, drop_all=True))

    def alter_index(self, request: datacoord_pb2.AlterIndexRequest) -> None:
        with self._lock:
            indexes = self._named(request.collectionID, request.index_name)
            if not indexes or not request.index_name:
                raise errors.IndexNotFound(f"index not found[indexName={request.index_name}]")
            index = datacoord_pb2.FieldIndex()
            index.CopyFrom(indexes[0])
            user = kv_dict(index.user_index_params)
            for pair in request.params:
                if pair.key != "mmap.enabled":
                    raise errors.ParameterInvalid(f"{pair.key} is not a configable index property")
                user[pair.key] = pair.value
            for key in request.delete_keys:
                user.pop(key, None)
            del index.user_index_params[:]
            index.user_index_params.extend(_pairs(user))
            self._meta.replace_index(index)

    def _progress(self, index: datacoord_pb2.FieldIndex,
                  segments: list[datacoord_pb2.SegmentInfo]) -> datacoord_pb2.IndexInfo:
        info = datacoord_pb2.IndexInfo(
            collectionID=index.collectionID, fieldID=index.fieldID, index_name=index.index_name,
            indexID=index.indexID, type_params=index.type_params, index_params=index.index_params,
            user_index_params=index.user_index_params, is_auto_index=index.is_auto_index,
            field_name=index.field_name, state=FINISHED)
        failed = ""
        for segment in segments:
            if segment.collection_id != index.collectionID:
                continue
            info.total_rows += segment.num_of_rows
            build = self._meta.build_of(segment.id, index.indexID)
            if build is not None and build.state == FINISHED:
                info.indexed_rows += segment.num_of_rows
            elif build is not None and build.state == FAILED:
                failed = failed or f"segment {segment.id}: {build.fail_reason}"
            else:
                info.pending_index_rows += segment.num_of_rows
        if failed:
            info.state = FAILED
            info.index_state_fail_reason = failed
        elif info.pending_index_rows:
            info.state = IN_PROGRESS
        return info

    def _indexable(self, collection_id: int | None = None) -> list[datacoord_pb2.SegmentInfo]:
        return [s for s in self._segments(collection_id) if s.state == FLUSHED and s.level != L0]

    def describe(self, collection_id: int, index_name: str) -> list[datacoord_pb2.IndexInfo]:
        segments = self._indexable(collection_id)
        with self._lock:
            indexes = self._named(collection_id, index_name)
            if not indexes:
                suffix = f"[indexName={index_name}]" if index_name else f"[collection={collection_id}]"
                raise errors.IndexNotFound(f"index not found{suffix}")
            return [self._progress(i, segments) for i in indexes]

    def segment_states(self, request: datacoord_pb2.GetSegmentIndexStateRequest
                       ) -> list[datacoord_pb2.SegmentIndexState]:
        with self._lock:
            indexes = self._named(request.collectionID, request.index_name)
            if not indexes:
                raise errors.IndexNotFound(f"index not found[indexName={request.index_name}]")
            out = []
            for segment_id in request.segmentIDs:
                build = self._meta.build_of(segment_id, indexes[0].indexID)
                out.append(datacoord_pb2.SegmentIndexState(
                    segmentID=segment_id, index_name=indexes[0].index_name,
                    state=build.state if build is not None else common_pb2.IndexState.IndexStateNone,
                    fail_reason=build.fail_reason if build is not None else ""))
            return out

    def index_infos(self, collection_id: int, segment_ids: Iterable[int],
                    index_name: str = "") -> list[datacoord_pb2.IndexFilePathInfo]:
        """The finished builds of these segments (every segment of the collection when empty)."""
        wanted = set(segment_ids)
        with self._lock:
            indexes = {i.indexID: i for i in self._named(collection_id, index_name)}
            out = []
            for build in self._meta.builds():
                index = indexes.get(build.indexID)
                if index is None or build.state != FINISHED or (wanted and build.segmentID not in wanted):
                    continue
                out.append(datacoord_pb2.IndexFilePathInfo(
                    segmentID=build.segmentID, fieldID=index.fieldID, indexID=index.indexID, buildID=build.buildID,
                    index_name=index.index_name, index_params=index.index_params,
                    index_file_keys=build.index_file_keys, serialized_size=build.serialized_size,
                    index_version=build.index_version, num_rows=build.num_rows))
            return sorted(out, key=lambda i: (i.segmentID, i.fieldID))

    # ---- scheduling ---------------------------------------------------------------------

    def schedule(self) -> None:
        """One round: create missing builds, issue unissued ones, poll running ones."""
        self._create_builds()
        self._issue()
        self._poll()

    def _needs_file_build(self, index: datacoord_pb2.FieldIndex, segment: datacoord_pb2.SegmentInfo) -> bool:
        if segment.num_of_rows < self._params.min_rows:
            return False
        return index.field_type > _SCALAR_TYPES_MAX or index.field_type in _BUILT_SCALAR_TYPES

    def _create_builds(self) -> None:
        segments = self._segments(None)
        live = {s.id: s for s in segments if s.state == FLUSHED and s.level != L0}
        with self._lock:
            # builds of segments no longer flushed (dropped, or forgotten by GC) go too
            gone = [b for b in self._meta.builds() if b.segmentID not in live]
            running = [b for b in gone if b.state == IN_PROGRESS]
            self._meta.mark_builds_deleted(gone)
            nodes = dict(self._nodes)
            missing = [(segment, index) for segment in live.values()
                       for index in self._meta.indexes(segment.collection_id)
                       if self._meta.build_of(segment.id, index.indexID) is None]
        self._drop_jobs(running, nodes)
        if not missing:
            return
        first = self._alloc_id(len(missing))
        now = self._alloc_ts(1)
        builds = []
        for offset, (segment, index) in enumerate(missing):
            build = datacoord_pb2.SegmentIndex(
                collectionID=segment.collection_id, partitionID=segment.partition_id, segmentID=segment.id,
                num_rows=segment.num_of_rows, indexID=index.indexID, fieldID=index.fieldID, buildID=first + offset,
                state=UNISSUED, create_time=now)
            if not self._needs_file_build(index, segment):
                build.state = FINISHED
            builds.append(build)
        with self._lock:
            fresh = [b for b in builds if self._meta.build_of(b.segmentID, b.indexID) is None
                     and (index := self._meta.index(b.indexID)) is not None and not index.deleted]
            self._meta.save_builds(fresh)

    def _job(self, build: datacoord_pb2.SegmentIndex, index: datacoord_pb2.FieldIndex,
             segment: datacoord_pb2.SegmentInfo) -> indexnode_pb2.CreateJobRequest:
        paths: list[str] = []
        for group in segment.binlogs:
            for binlog in group.binlogs:
                if binlog.log_path and binlog.log_path not in paths:
                    paths.append(binlog.log_path)
        type_params = kv_dict(index.type_params)
        return indexnode_pb2.CreateJobRequest(
            cluster_id=self._cluster_id, buildID=build.buildID, index_version=build.index_version,
            collectionID=build.collectionID, partitionID=build.partitionID, segmentID=build.segmentID,
            fieldID=index.fieldID, data_paths=paths, index_params=index.index_params, type_params=index.type_params,
            num_rows=segment.num_of_rows, index_file_prefix=index_prefix(build.buildID, build.index_version),
            field_name=index.field_name, field_type=index.field_type, dim=int(type_params.get("dim", "0") or 0))

    def _issue(self) -> None:
        segments = {s.id: s for s in self._indexable()}
        with self._lock:
            if not self._nodes:
                return
            load = {node: 0 for node in self._nodes}
            for build in self._meta.builds():
                if build.state == IN_PROGRESS and build.nodeID in load:
                    load[build.nodeID] += 1
            plans = []
            for build in sorted(self._meta.builds(), key=lambda b: b.buildID):
                index = self._meta.index(build.indexID)
                segment = segments.get(build.segmentID)
                if build.state != UNISSUED or index is None or segment is None:
                    continue
                node = min(load, key=lambda n: (load[n], n))
                load[node] += 1
                issued = copy_build(build)
                issued.index_version += 1
                issued.nodeID = node
                plans.append((issued, self._nodes[node], self._job(issued, index, segment)))
        for issued, client, request in plans:
            try:
                errors.check_status(client.CreateJob(request))
            except Exception as exc:  # noqa: BLE001 - retried at the next round
                log.warning("cannot issue build %d to index node %d: %s", issued.buildID, issued.nodeID, exc)
                continue
            issued.state = IN_PROGRESS
            with self._lock:
                current = self._meta.build(issued.buildID)
                if current is not None and not current.deleted and current.state == UNISSUED:
                    self._meta.save_builds([issued])
            log.info("build %d (segment %d, index %d) issued to index node %d as version %d", issued.buildID,
                     issued.segmentID, issued.indexID, issued.nodeID, issued.index_version)

    def _poll(self) -> None:
        with self._lock:
            by_node: dict[int, list[int]] = {}
            orphans = []
            late = self._expected.overdue()
            if late:
                log.warning("index nodes %s were live at start but did not register within %.0fs: their "
                            "builds are issued again", sorted(late), self._params.node_grace)
            for build in self._meta.builds():
                if build.state != IN_PROGRESS:
                    continue
                if build.nodeID in self._nodes:
                    by_node.setdefault(build.nodeID, []).append(build.buildID)
                elif build.nodeID not in self._expected:
                    orphans.append(build)
            self._reissue(orphans, "its index node left")
            clients = {n: self._nodes[n] for n in by_node}
        for node, build_ids in sorted(by_node.items()):
            try:
                resp = clients[node].QueryJobs(indexnode_pb2.QueryJobsRequest(
                    cluster_id=self._cluster_id, buildIDs=build_ids))
                errors.check_status(resp.status)
            except Exception as exc:  # noqa: BLE001 - the node may be restarting
                with self._lock:
                    # unreachable: this many failed polls in a row spanning as many check
                    # intervals (polls are frequent while builds run)
                    count, since = self._missed.get(node, (0, time.monotonic()))
                    self._missed[node] = (count + 1, since)
                    if (count + 1 >= _UNREACHABLE_ROUNDS and time.monotonic() - since
                            >= (_UNREACHABLE_ROUNDS - 1) * self._params.check_interval):
                        stuck = [self._meta.build(b) for b in build_ids]
                        self._reissue([b for b in stuck if b is not None and b.state == IN_PROGRESS],
                                      f"index node {node} is unreachable: {exc}")
                continue
            with self._lock:
                self._missed.pop(node, None)
                self._record(node, build_ids, resp.index_infos)

    def _record(self, node: int, asked: list[int], infos: Iterable[indexnode_pb2.IndexTaskInfo]) -> None:
        """Under the lock: apply what a node said about its builds."""
        known = {i.buildID: i for i in infos}
        changed = []
        lost = []
        for build_id in asked:
            build = self._meta.build(build_id)
            if build is None or build.state != IN_PROGRESS or build.nodeID != node:
                continue
            info = known.get(build_id)
            if info is None or info.state == indexnode_pb2.INDEX_STATE_NONE or (
                    info.index_version and info.index_version != build.index_version):
                lost.append(build)
                continue
            if info.state == indexnode_pb2.FINISHED:
                new = copy_build(build)
                new.state = FINISHED
                new.index_file_keys[:] = list(info.index_file_keys)
                new.serialized_size = info.serialized_size
                changed.append(new)
                log.info("build %d of segment %d finished: %d files, %d bytes", build_id, build.segmentID,
                         len(info.index_file_keys), info.serialized_size)
            elif info.state == indexnode_pb2.FAILED:
                new = copy_build(build)
                new.state = FAILED
                new.fail_reason = info.fail_reason or "index build failed"
                changed.append(new)
                log.warning("build %d of segment %d failed: %s", build_id, build.segmentID, new.fail_reason)
            elif info.state == indexnode_pb2.RETRY:
                lost.append(build)
        self._meta.save_builds(changed)
        self._reissue(lost, f"index node {node} no longer runs it")

    def _reissue(self, builds: list[datacoord_pb2.SegmentIndex], why: str) -> None:
        changed = []
        for build in builds:
            new = copy_build(build)
            new.state = UNISSUED
            new.nodeID = 0
            changed.append(new)
            log.info("build %d (segment %d) will be issued again: %s", build.buildID, build.segmentID, why)
        self._meta.save_builds(changed)
        if changed:
            self.trigger()

    def _drop_jobs(self, builds: list[datacoord_pb2.SegmentIndex], nodes: dict[int, Any]) -> None:
        by_node: dict[int, list[int]] = {}
        for build in builds:
            by_node.setdefault(build.nodeID, []).append(build.buildID)
        for node, build_ids in by_node.items():
            client = nodes.get(node)
            if client is None:
                continue
            try:
                client.DropJobs(indexnode_pb2.DropJobsRequest(cluster_id=self._cluster_id, buildIDs=build_ids))
            except Exception as exc:  # noqa: BLE001 - the node forgets them when it restarts anyway
                log.warning("cannot drop builds %s on index node %d: %s", build_ids, node, exc)

    # ---- garbage collection -------------------------------------------------------------

    def collect_garbage(self, storage: ObjectStorage, now: float, missing_tolerance: float) -> int:
        """Remove the files of deleted builds (then their records) and of versions no build
        owns once older than ``missing_tolerance``; returns how many files went."""
        with self._lock:
            deleted = self._meta.builds(deleted=True)
            current = {b.buildID: b for b in self._meta.builds(deleted=None)}
        removed = 0
        done = []
        for build in deleted:
            try:
                removed += storage.remove_prefix(f"{INDEX_ROOT}{build.buildID}/")
            except Exception:  # noqa: BLE001 - retried at the next pass
                log.exception("gc: cannot remove the files of build %d", build.buildID)
                continue
            done.append(build)
        with self._lock:
            self._meta.forget_builds(done)
        try:
            for info in list(storage.list(INDEX_ROOT)):
                parts = info.key[len(INDEX_ROOT):].split("/")
                if len(parts) < 3 or info.mtime + missing_tolerance > now:
                    continue
                build = current.get(int(parts[0])) if parts[0].isdigit() else None
                if build is not None and (build.deleted or str(build.index_version) == parts[1]
                                          or build.state != FINISHED):
                    continue
                storage.remove(info.key)
                removed += 1
        except Exception:  # noqa: BLE001 - retried at the next pass
            log.exception("gc: cannot scan %s", INDEX_ROOT)
        return removed
