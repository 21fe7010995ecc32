"""The data coordinator: segment allocation, seal and flush, channel checkpoints, recovery.

Each method of the ``DataCoord`` service (``proto/datacoord.proto``) takes and returns its
protobuf messages; failures are raised as ``milvus.errors`` exceptions and answered as
statuses by one decorator.  Meta changes happen under one lock; calls to data nodes, to the
ID/timestamp allocators and to object storage happen outside it (a data node called from
here may call back, and the root coordinator that allocates may be calling us).

Injected by the composition root: the meta store (already rooted at the meta prefix),
``alloc_id(n)`` (first of ``n`` fresh ids) and ``alloc_ts(n)`` (first of ``n`` fresh
timestamps), both the root coordinator's in Milvus; object storage for garbage collection
(optional); data node clients through ``add_data_node``.

A dropped collection stays dropped: ``DropCollection`` first writes a marker to the meta
store, and ``WatchChannels`` / ``AssignSegmentID`` for it (a proxy or data node that has not
heard of the drop yet) answer CollectionNotFound instead of creating its channels or
segments again.  Likewise ``DropPartition``: ``AssignSegmentID`` for a dropped partition
answers PartitionNotFound instead of opening a segment no reader would ever see.

Recovery: ``start`` reloads segments, checkpoints, channel assignments and dropped
collections from the meta store, re-sends ``WatchDmChannel`` for every assigned channel (a node already watching it
ignores the repeat) and ``FlushSegments`` for every sealed, unflushed segment; bulk insert
jobs that were running are marked failed (``milvus.datacoord.imports``).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2, datanode_pb2, internal_pb2
from milvus.datacoord.channels import UNASSIGNED, ChannelManager
from milvus.datacoord.compaction import Compactions, MetaView
from milvus.datacoord.gc import GarbageCollector
from milvus.datacoord.imports import ImportJobs
from milvus.datacoord.index_service import IndexService, IndexServiceParams
from milvus.datacoord.job_rpcs import JobRpcs
from milvus.datacoord.params import DataCoordParams
from milvus.datacoord.rpc import answers as _answers
from milvus.datacoord.segments import DROPPED, FLUSHED, GROWING, L0, SEALED, SegmentManager, copy_segment
from milvus.datacoord.snapshots import SnapshotBook
from milvus.kv.base import KV
from milvus.metastore.datacoord_catalog import DataCoordCatalog
from milvus.metastore.import_catalog import ImportCatalog
from milvus.metastore.index_catalog import IndexCatalog
from milvus.metastore.snapshot_catalog import SnapshotCatalog
from milvus.rpc.health import probe
from milvus.rpc.memory_reports import MemoryReports
from milvus.storage.base import ObjectStorage
from milvus.tso import compose_ts, parse_ts

log = logging.getLogger(__name__)

_OK = errors.OK
_ID_BATCH = 64  # segment ids fetched from the allocator at a time




def _add_ms(ts: int, ms: int) -> int:
    physical, logical = parse_ts(ts)
    return compose_ts(physical + ms, logical)


def _stripped(segment: datacoord_pb2.SegmentInfo) -> datacoord_pb2.SegmentInfo:
    out = copy_segment(segment)
    for name in ("binlogs", "statslogs", "deltalogs"):
        out.ClearField(name)
    return out


class DataCoord(JobRpcs):
    """Segments, channels and checkpoints of one cluster."""

    name = "datacoord"

    def __init__(
        self,
        kv: KV,
        *,
        alloc_id: Callable[[int], int],
        alloc_ts: Callable[[int], int],
        params: DataCoordParams | None = None,
        storage: ObjectStorage | None = None,
        node_id: int = 0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        index_params: IndexServiceParams | None = None,
        describe_schema: Callable[[int], bytes] | None = None,
    ):
        """``describe_schema(collection_id)``: the collection's schema now, from the root
        coordinator (compaction plans carry it, see ``Compactions``)."""
        self._params = params or DataCoordParams()
        self._catalog = DataCoordCatalog(kv)
        self._alloc_id = alloc_id
        self._alloc_ts = alloc_ts
        self._node_id = node_id
        self._clock = clock
        self._lock = threading.Lock()
        self._ids_lock = threading.Lock()
        self._id_pool: collections.deque[int] = collections.deque()  # segment ids fetched ahead
        self._segments = SegmentManager(self._catalog, self._params, clock)
        self._channels = ChannelManager(self._catalog, clock)
        self._checkpoints: dict[str, internal_pb2.MsgPosition] = {}
        self._dropped: set[int] = set()  # collections dropped (marked in the meta store for good)
        self._dropped_partitions: set[tuple[int, int]] = set()  # (collection, partition), likewise
        # vchannel -> newest time tick its data node consumed (ReportTimeTicks; flow control)
        self._consumed: dict[str, int] = {}
        self._unconfirmed: set[str] = set()  # channels whose WatchDmChannel did not go through yet
        self._memory = MemoryReports(clock)  # the data nodes' memory (ReportNodeMemory; flow control)
        self._gc = (GarbageCollector(storage, self._params.gc_drop_tolerance, self._params.gc_missing_tolerance,
                                     wall_clock) if storage is not None else None)
        self._storage = storage
        self._wall_clock = wall_clock
        self._index = IndexService(IndexCatalog(kv), segments=self._segment_snapshot, alloc_id=alloc_id,
                                   alloc_ts=alloc_ts, params=index_params)
        self._imports = ImportJobs(ImportCatalog(kv), wall_clock)  # bulk insert jobs (run by the proxies)
        # snapshots and restore jobs; a snapshot forgotten for good takes its manifest along
        self._snapshots = SnapshotBook(SnapshotCatalog(kv), wall_clock, forget=self._remove_manifest)
        self._last_gc = clock()
        p = self._params
        self._compactions = Compactions(
            MetaView(self._lock, self._segments, self._channels, self._checkpoints_get),
            dataclasses.replace(p.compaction, max_rows=p.segment_max_rows),
            alloc_id=alloc_id, alloc_ts=alloc_ts, clock=clock, on_commit=self._index.trigger,
            describe_schema=describe_schema, protected=self._snapshots.compaction_protected)
        self._serving = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def start(self, run_ticker: bool = True) -> None:
        """Recover from the meta store and re-ask the data nodes; ``run_ticker`` starts the
        background loop (seal by age, flush retries, GC); tests drive ``tick`` themselves."""
        floor = _add_ms(self._alloc_ts(1), self._params.assignment_expiration_ms)
        with self._lock:
            self._segments.recover(floor)
            self._channels.recover()
            self._checkpoints = self._catalog.list_checkpoints()
            self._dropped = self._catalog.list_dropped_collections()
            self._dropped_partitions = self._catalog.list_dropped_partitions()
            self._channels.assign_orphans()
            self._unconfirmed = {w.vchannel for w in self._channels.all() if w.node_id != UNASSIGNED}
        self._imports.recover()
        self._snapshots.recover()
        self._index.start(run_loop=run_ticker)
        self._serving = True
        self._send_watches()
        self._send_flushes(self._collect_due_flushes())
        if run_ticker:
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick_loop, name="datacoord-ticker", daemon=True)
            self._ticker.start()

    def stop(self) -> None:
        self._serving = False
        self._stop.set()
        ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.join()
        self._index.stop()

    def health(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            return self._serving, {"channels": len(self._channels.all()), "data_nodes": self._channels.node_ids}

    def segment_state_counts(self) -> dict[str, int]:
        """How many segments are in each state (``Growing``, ``Flushed``, ...), for metrics."""
        counts: dict[str, int] = {}
        for segment in self._segment_snapshot(None):
            name = datacoord_pb2.SegmentState.Name(segment.state)
            counts[name] = counts.get(name, 0) + 1
        return counts

    def _tick_loop(self) -> None:
        while not self._stop.wait(self._params.tick_interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the loop must outlive one bad pass
                log.exception("datacoord tick failed")

    def tick(self) -> None:
        """One pass of the background work: seal old segments, retry flushes and watches, GC."""
        now = self._clock()
        with self._lock:
            self._segments.seal(self._segments.expired(now))
        self._send_flushes(self._collect_due_flushes())
        self._give_up_expected()
        self._send_watches()
        self._compactions.tick()
        self._imports.expire(self._params.import_retention, self._params.import_stall_timeout)
        self._snapshots.expire(self._params.import_retention, self._params.import_stall_timeout)
        if self._gc is not None and now - self._last_gc >= self._params.gc_interval:
            self._last_gc = now
            self.collect_garbage()

    def collect_garbage(self) -> int:
        """One GC pass now; returns how many files were removed."""
        if self._gc is None:
            return 0
        with self._lock:
            snapshot = self._segments.select()
        result = self._gc.collect(snapshot, keep=self._snapshots.protected_segments())
        with self._lock:
            self._segments.forget(result.collected_segments)
        removed = self._index.collect_garbage(self._storage, self._wall_clock(), self._params.gc_missing_tolerance)
        return result.removed_files + removed

    def _segment_snapshot(self, collection_id: int | None) -> list[datacoord_pb2.SegmentInfo]:
        with self._lock:
            return self._segments.select(collection_id)

    def _checkpoints_get(self, vchannel: str) -> internal_pb2.MsgPosition | None:
        return self._checkpoints.get(vchannel)  # under the lock (compaction planning)

    @property
    def compactions(self) -> Compactions:
        """Compaction tasks (tests call ``compactions.poll()`` when the ticker is off)."""
        return self._compactions

    @property
    def indexes(self) -> IndexService:
        """Index meta and builds (tests drive ``indexes.schedule()`` when the loop is off)."""
        return self._index

    # ---- data nodes -----------------------------------------------------------------------

    def add_data_node(self, node_id: int, client: Any) -> None:
        """Register a data node (its DataNode client); it takes the channels nobody consumes."""
        with self._lock:
            assigned = self._channels.add_node(node_id, client)
            # channels move to it from the busiest nodes: owner first (the old one's saves are refused now)
            moved = self._channels.rebalance()
            self._unconfirmed.update(w.vchannel for w in [*assigned, *(w for _, w in moved)])
            # the channels it owned already (recovered from the meta store after a restart, or kept
            # while it re-registers): a joining node watches nothing yet, so it is asked again
            self._unconfirmed.update(w.vchannel for w in self._channels.all() if w.node_id == node_id)
            releases = [(self._channels.client(old), w) for old, w in moved]
        for old_client, watch in releases:  # unwatch without flushing: the new owner replays from the checkpoint
            log.info("datacoord: channel %s moves to data node %d", watch.vchannel, watch.node_id)
            if old_client is not None:
                self._call(old_client, "UnwatchDmChannel",
                           datanode_pb2.UnwatchDmChannelRequest(channel_name=watch.vchannel, drop=True),
                           f"release {watch.vchannel}")
        if self._serving:
            self._send_watches()

    def expect_data_nodes(self, node_ids: Iterable[int]) -> None:
        """The data nodes live as this coordinator starts following them: the channels they
        own stay theirs until they register (or leave), for ``node_grace`` seconds at most.
        A coordinator that takes over would otherwise give every channel to the first node to
        register and then move channels back, each move a replay from the checkpoint."""
        with self._lock:
            self._channels.expect(node_ids, self._params.node_grace)

    def _give_up_expected(self) -> None:
        """(``tick``) Expected data nodes that did not register in time: their channels move."""
        with self._lock:
            late, moved = self._channels.give_up_overdue()
            if late:
                log.warning("datacoord: data nodes %s were live at start but did not register within %.0fs: "
                            "their channels move", sorted(late), self._params.node_grace)
            self._unconfirmed.update(w.vchannel for w in moved)

    def expect_index_nodes(self, node_ids: Iterable[int]) -> None:
        """The index nodes live as this coordinator starts following them (``IndexService.expect_index_nodes``)."""
        self._index.expect_index_nodes(node_ids)

    def add_index_node(self, node_id: int, client: Any) -> None:
        """Register an index node (its IndexNode client): it gets builds to run."""
        self._index.add_index_node(node_id, client)

    def remove_index_node(self, node_id: int) -> None:
        """An index node left: its running builds are issued again elsewhere."""
        self._index.remove_index_node(node_id)

    def remove_data_node(self, node_id: int) -> None:
        """A data node left: its channels move to the remaining nodes (replayed from the checkpoint)."""
        with self._lock:
            moved = self._channels.remove_node(node_id)
            self._unconfirmed.update(w.vchannel for w in moved)
        self._memory.forget(node_id)
        if self._serving:
            self._send_watches()

    def _watch_request(self, watch: datacoord_pb2.ChannelWatchInfo) -> datanode_pb2.WatchDmChannelRequest:
        """Under the lock: what a data node needs to consume ``watch`` from its checkpoint."""
        info = self._vchannel_info(watch)
        request = datanode_pb2.WatchDmChannelRequest(vchannel=info, schema=watch.schema)
        floor = info.seek_position.timestamp
        for segment in self._segments.select(channel=watch.vchannel):
            if segment.state == DROPPED or not segment.HasField("dml_position"):
                continue
            if segment.dml_position.timestamp >= floor:
                request.segments.append(_stripped(segment))
        return request

    def _vchannel_info(self, watch: datacoord_pb2.ChannelWatchInfo,
                       partition_ids: Iterable[int] | None = None) -> datacoord_pb2.VchannelInfo:
        info = datacoord_pb2.VchannelInfo(collectionID=watch.collectionID, channelName=watch.vchannel)
        checkpoint = self._checkpoints.get(watch.vchannel)
        if checkpoint is not None:
            info.seek_position.CopyFrom(checkpoint)
        elif watch.HasField("start_position"):
            info.seek_position.CopyFrom(watch.start_position)
            info.seek_position.channel_name = watch.vchannel
        else:
            info.seek_position.channel_name = watch.vchannel
        for segment in self._segments.select(channel=watch.vchannel, partition_ids=partition_ids):
            if segment.state == FLUSHED:
                info.flushedSegmentIds.append(segment.id)
            elif segment.state in (GROWING, SEALED):
                info.unflushedSegmentIds.append(segment.id)
            elif segment.state == DROPPED:
                info.dropped_segmentIds.append(segment.id)
        return info

    def _send_watches(self) -> None:
        with self._lock:
            calls = []
            for vchannel in sorted(self._unconfirmed):
                watch = self._channels.get(vchannel)
                client = self._channels.client(watch.node_id) if watch is not None else None
                if client is None:
                    self._unconfirmed.discard(vchannel)  # dropped, or waits for a node to join
                    continue
                calls.append((vchannel, watch.node_id, client, self._watch_request(watch)))
        for vchannel, node_id, client, request in calls:
            if self._call(client, "WatchDmChannel", request, f"watch {vchannel} on data node {node_id}"):
                with self._lock:
                    current = self._channels.get(vchannel)
                    if current is not None and current.node_id == node_id:
                        self._unconfirmed.discard(vchannel)

    def _collect_due_flushes(self) -> list[tuple[Any, datanode_pb2.FlushSegmentsRequest]]:
        with self._lock:
            return self._flush_requests(self._segments.flush_due(self._clock()))

    def _flush_requests(
        self, sealed: Iterable[datacoord_pb2.SegmentInfo], flush_ts: int = 0,
        channels: Iterable[datacoord_pb2.ChannelWatchInfo] = (),
    ) -> list[tuple[Any, datanode_pb2.FlushSegmentsRequest]]:
        """Under the lock: one FlushSegments per channel with sealed segments (and per extra
        channel in ``channels``); each flush_ts covers the expiry of its segments' assignments."""
        by_channel: dict[str, list[datacoord_pb2.SegmentInfo]] = {w.vchannel: [] for w in channels}
        for segment in sealed:
            by_channel.setdefault(segment.insert_channel, []).append(segment)
        out = []
        now = self._clock()
        for vchannel, segments in sorted(by_channel.items()):
            watch = self._channels.get(vchannel)
            client = self._channels.client(watch.node_id) if watch is not None else None
            if client is None:
                continue  # retried once a node watches it
            ts = max([flush_ts] + [s.last_expire_time for s in segments])
            request = datanode_pb2.FlushSegmentsRequest(
                collectionID=watch.collectionID, segmentIDs=[s.id for s in segments], channel_name=vchannel,
                flush_ts=ts, dbID=watch.dbID,
            )
            request.base.sourceID = self._node_id
            out.append((client, request))
            self._segments.flush_sent((s.id for s in segments), now)
        return out

    def _send_flushes(self, calls: list[tuple[Any, datanode_pb2.FlushSegmentsRequest]]) -> None:
        for client, request in calls:
            self._call(client, "FlushSegments", request, f"flush {list(request.segmentIDs)} of {request.channel_name}")

    @staticmethod
    def _call(client: Any, method: str, request: Any, what: str) -> bool:
        try:
            errors.check_status(getattr(client, method)(request))
            return True
        except Exception as exc:  # noqa: BLE001 - a node may be down; the ticker retries
            log.warning("datacoord: cannot %s: %s", what, exc)
            return False

    def _check_owner(self, request: Any, vchannel: str) -> datacoord_pb2.ChannelWatchInfo | None:
        """The channel's watch; refuses a data node that no longer owns the channel."""
        watch = self._channels.get(vchannel)
        source = request.base.sourceID if request.HasField("base") else 0
        if watch is not None and source and watch.node_id not in (source, UNASSIGNED):
            raise errors.ChannelNotFound(f"channel {vchannel} is now watched by data node {watch.node_id}, "
                                         f"not {source}")
        return watch

    def _newer_checkpoint(self, position: internal_pb2.MsgPosition) -> bool:
        current = self._checkpoints.get(position.channel_name)
        return current is None or position.timestamp >= current.timestamp

    # ---- RPCs -----------------------------------------------------------------------------------

    def GetComponentStates(self, request: internal_pb2.GetComponentStatesRequest) -> internal_pb2.ComponentStates:
        """Its own state and, as subcomponents, each registered data and index node's."""
        state = internal_pb2.HEALTHY if self._serving else internal_pb2.INITIALIZING
        with self._lock:
            data_nodes = [(node_id, self._channels.client(node_id)) for node_id in self._channels.node_ids]
        nodes = [probe("datanode", node_id, client) for node_id, client in data_nodes if client is not None]
        nodes += [probe("indexnode", node_id, client) for node_id, client in self._index.node_clients()]
        return internal_pb2.ComponentStates(
            state=internal_pb2.ComponentInfo(node_id=self._node_id, role="datacoord", state=state), status=_OK,
            subcomponent_states=nodes,
        )

    @_answers
    def AssignSegmentID(self, request: datacoord_pb2.AssignSegmentIDRequest) -> datacoord_pb2.AssignSegmentIDResponse:
        wanted = list(request.segmentIDRequests)
        for r in wanted:
            if r.count < 1:
                raise errors.ParameterInvalid(f"segment assignment needs a positive row count, got {r.count}")
        if not wanted:
            return datacoord_pb2.AssignSegmentIDResponse(status=_OK)
        with self._lock:
            self._refuse_dropped({r.collectionID for r in wanted})
            self._refuse_dropped_partitions(wanted)
        expire = _add_ms(self._alloc_ts(1), self._params.assignment_expiration_ms)
        while True:
            # each entry opens at most one segment; ids are fetched outside the lock
            with self._lock:
                if len(self._id_pool) >= len(wanted):
                    response, calls = self._assign(wanted, expire)
                    break
            self._refill_ids(len(wanted))
        self._send_flushes(calls)
        return response

    def _refill_ids(self, at_least: int) -> None:
        with self._ids_lock:
            if len(self._id_pool) >= at_least:
                return
            count = max(at_least, _ID_BATCH)
            first = self._alloc_id(count)
        with self._lock:
            self._id_pool.extend(range(first, first + count))

    def _refuse_dropped(self, collection_ids: Iterable[int]) -> None:
        """Under the lock: raise CollectionNotFound for a collection that was dropped."""
        dropped = sorted(set(collection_ids) & self._dropped)
        if dropped:
            raise errors.CollectionNotFound(f"collection not found[collection={dropped[0]}]: it was dropped")

    def _refuse_dropped_partitions(self, wanted: Iterable[datacoord_pb2.SegmentIDRequest]) -> None:
        """Under the lock: raise PartitionNotFound for an assignment to a dropped partition."""
        for r in wanted:
            if (r.collectionID, r.partitionID) in self._dropped_partitions:
                raise errors.PartitionNotFound(f"partition not found[partition={r.partitionID}]: it was dropped")

    def _assign(self, wanted, expire: int):
        """Under the lock, with enough ids pooled: the assignments and the flushes they cause."""
        response = datacoord_pb2.AssignSegmentIDResponse(status=_OK)
        sealed: list[datacoord_pb2.SegmentInfo] = []
        self._refuse_dropped({r.collectionID for r in wanted})  # dropped while the ids were fetched
        self._refuse_dropped_partitions(wanted)
        for r in wanted:
            watch = self._channels.get(r.channel_name)
            if watch is None or watch.collectionID != r.collectionID:
                raise errors.ChannelNotFound(
                    f"channel {r.channel_name} is not a watched channel of collection {r.collectionID}")
        for r in wanted:
            watch = self._channels.get(r.channel_name)
            segment, newly_sealed = self._segments.allocate(
                r.channel_name, r.collectionID, r.partitionID, r.count, expire, self._id_pool.popleft,
                db_id=watch.dbID,
            )
            sealed += newly_sealed
            response.segIDAssignments.append(datacoord_pb2.SegmentIDAssignment(
                segID=segment.id, channel_name=r.channel_name, count=r.count, collectionID=r.collectionID,
                partitionID=r.partitionID, expire_time=expire, status=_OK,
            ))
        return response, self._flush_requests(sealed)

    @_answers
    def Flush(self, request: datacoord_pb2.FlushRequest) -> datacoord_pb2.FlushResponse:
        now_ts = self._alloc_ts(1)
        with self._lock:
            growing = self._segments.select(request.collectionID, states=[GROWING])
            self._segments.seal(growing)
            sealed = self._segments.select(request.collectionID, states=[SEALED])
            flushed = [s for s in self._segments.select(request.collectionID, states=[FLUSHED]) if s.level != L0]
            flush_ts = max([now_ts] + [s.last_expire_time for s in sealed])
            # every channel hears the flush, so its deletes and checkpoint reach flush_ts too
            calls = self._flush_requests(sealed, flush_ts, self._channels.of_collection(request.collectionID))
        self._send_flushes(calls)
        return datacoord_pb2.FlushResponse(
            status=_OK, dbID=request.dbID, collectionID=request.collectionID,
            segmentIDs=[s.id for s in sealed], flushSegmentIDs=[s.id for s in flushed], flush_ts=flush_ts,
        )

    @_answers
    def GetFlushState(self, request: datacoord_pb2.GetFlushStateRequest) -> datacoord_pb2.GetFlushStateResponse:
        """Flushed once every listed segment is flushed (or dropped) and, with a flush_ts,
        every channel of the collection has a checkpoint at or past it."""
        with self._lock:
            for sid in request.segmentIDs:
                segment = self._segments.get(sid)
                if segment is not None and segment.state not in (FLUSHED, DROPPED):
                    return datacoord_pb2.GetFlushStateResponse(status=_OK, flushed=False)
            if request.flush_ts:
                for watch in self._channels.of_collection(request.collectionID):
                    checkpoint = self._checkpoints.get(watch.vchannel)
                    if checkpoint is None or checkpoint.timestamp < request.flush_ts:
                        return datacoord_pb2.GetFlushStateResponse(status=_OK, flushed=False)
        return datacoord_pb2.GetFlushStateResponse(status=_OK, flushed=True)

    @_answers
    def SaveBinlogPaths(self, request: datacoord_pb2.SaveBinlogPathsRequest):
        with self._lock:
            segment = self._segments.get(request.segmentID)
            channel = request.channel or (segment.insert_channel if segment is not None else "")
            watch = self._check_owner(request, channel)
            if watch is None and (segment is None or segment.state == DROPPED):
                return _OK  # the collection was dropped meanwhile: nothing to record
            checkpoint = None
            if request.HasField("checkpoint") and watch is not None:
                checkpoint = internal_pb2.MsgPosition()
                checkpoint.CopyFrom(request.checkpoint)
                checkpoint.channel_name = channel
                if not self._newer_checkpoint(checkpoint):
                    checkpoint = None
            try:
                saved = self._segments.save_binlog_paths(request, checkpoint)
            except KeyError:
                raise errors.SegmentNotFound(f"segment {request.segmentID} not found") from None
            if saved is not None and checkpoint is not None:
                self._checkpoints[channel] = checkpoint
        if request.flushed:
            self._index.trigger()  # a flushed segment gets its index builds
        return _OK

    @_answers
    def ReportTimeTicks(self, request: datacoord_pb2.ReportTimeTicksRequest):
        """A data node's newest consumed time tick per channel (kept in memory: after a
        restart the nodes report again within their checkpoint interval)."""
        with self._lock:
            for tick in request.time_ticks:
                if self._check_owner(request, tick.channel_name) is not None:
                    self._consumed[tick.channel_name] = max(self._consumed.get(tick.channel_name, 0), tick.timestamp)
        return _OK

    @_answers
    def GetChannelTimeTicks(self, request: datacoord_pb2.GetChannelTimeTicksRequest):
        """The consumed time ticks of a collection's channels (those reported on)."""
        resp = datacoord_pb2.GetChannelTimeTicksResponse(status=_OK)
        with self._lock:
            for watch in self._channels.of_collection(request.collectionID):
                ts = self._consumed.get(watch.vchannel)
                if ts is not None:
                    resp.time_ticks.add(channel_name=watch.vchannel, timestamp=ts)
        return resp

    @_answers
    def ReportNodeMemory(self, request: datacoord_pb2.ReportNodeMemoryRequest):
        """A data node's memory (kept in memory, like the time ticks: after a restart the nodes
        report again within their interval).  A node that left is forgotten
        (``remove_data_node``) until it reports again."""
        if request.memory.node_id != request.base.sourceID:
            raise errors.ParameterInvalid(
                f"memory report of node {request.memory.node_id} sent by node {request.base.sourceID}")
        self._memory.put(request.memory)
        return _OK

    @_answers
    def GetNodeMemory(self, request: internal_pb2.GetNodeMemoryRequest):
        """The data nodes' newest memory reports, with their age."""
        return self._memory.answer()

    @_answers
    def UpdateChannelCheckpoint(self, request: datacoord_pb2.UpdateChannelCheckpointRequest):
        with self._lock:
            newer = []
            for position in request.channel_checkpoints:
                if self._check_owner(request, position.channel_name) is None:
                    continue  # dropped meanwhile
                if self._newer_checkpoint(position):
                    newer.append(position)
            self._catalog.save_checkpoints(newer)
            for position in newer:
                self._checkpoints[position.channel_name] = position
        return _OK

    @_answers
    def GetSegmentInfo(self, request: datacoord_pb2.GetSegmentInfoRequest) -> datacoord_pb2.GetSegmentInfoResponse:
        """The known segments among the ids (dropped ones only with includeUnHealthy)."""
        response = datacoord_pb2.GetSegmentInfoResponse(status=_OK)
        with self._lock:
            for sid in request.segmentIDs:
                segment = self._segments.get(sid)
                if segment is None or (segment.state == DROPPED and not request.includeUnHealthy):
                    continue
                response.infos.append(segment)
        return response

    @_answers
    def GetRecoveryInfo(self, request: datacoord_pb2.GetRecoveryInfoRequest) -> datacoord_pb2.GetRecoveryInfoResponse:
        response = datacoord_pb2.GetRecoveryInfoResponse(status=_OK)
        partitions = list(request.partitionIDs) or None
        with self._lock:
            for watch in self._channels.of_collection(request.collectionID):
                response.channels.append(self._vchannel_info(watch, partitions))
            response.segments.extend(self._segments.select(
                request.collectionID, states=[GROWING, SEALED, FLUSHED], partition_ids=partitions))
        return response

    @_answers
    def WatchChannels(self, request: datacoord_pb2.WatchChannelsRequest):
        if not request.schema:
            raise errors.ParameterMissing("WatchChannels needs the collection schema")
        with self._lock:
            self._refuse_dropped([request.collectionID])
            try:
                assigned = self._channels.watch(
                    request.collectionID, list(request.channelNames), request.schema, request.dbID,
                    list(request.start_positions),
                )
            except ValueError as exc:
                raise errors.ParameterInvalid(str(exc)) from None
            self._unconfirmed.update(w.vchannel for w in assigned)
        self._send_watches()
        return _OK

    @_answers
    def DropCollection(self, request: datacoord_pb2.DropCollectionRequest):
        """Mark the collection's segments dropped and stop consuming its channels; GC removes
        the files after ``dataCoord.gc.dropTolerance``."""
        ts = self._alloc_ts(1)
        with self._lock:
            if request.collectionID not in self._dropped:
                self._catalog.mark_collection_dropped(request.collectionID)  # first: nothing comes back
                self._dropped.add(request.collectionID)
            self._segments.mark_dropped(self._segments.select(request.collectionID), ts)
            watches = self._channels.of_collection(request.collectionID)
            calls = [(self._channels.client(w.node_id), w) for w in watches]
            self._channels.drop(w.vchannel for w in watches)
            for watch in watches:
                self._checkpoints.pop(watch.vchannel, None)
                self._unconfirmed.discard(watch.vchannel)
        for client, watch in calls:
            if client is not None:
                unwatch = datanode_pb2.UnwatchDmChannelRequest(channel_name=watch.vchannel, drop=True)
                self._call(client, "UnwatchDmChannel", unwatch, f"unwatch {watch.vchannel}")
        self._index.drop_collection(request.collectionID)
        self._snapshots.drop_collection(request.collectionID)
        return _OK

    @_answers
    def DropPartition(self, request: datacoord_pb2.DropPartitionRequest):
        ts = self._alloc_ts(1)
        with self._lock:
            key = (request.collectionID, request.partitionID)
            if key not in self._dropped_partitions:
                self._catalog.mark_partition_dropped(*key)  # first: nothing comes back
                self._dropped_partitions.add(key)
            doomed = [s for s in self._segments.select(request.collectionID, partition_ids=[request.partitionID])
                      if s.partition_id == request.partitionID]
            self._segments.mark_dropped(doomed, ts)
        return _OK

    @_answers
    def GetCollectionStatistics(
        self, request: datacoord_pb2.GetCollectionStatisticsRequest
    ) -> datacoord_pb2.GetCollectionStatisticsResponse:
        with self._lock:
            segments = self._segments.select(request.collectionID, states=[GROWING, SEALED, FLUSHED],
                                             partition_ids=list(request.partitionIDs) or None)
            rows = sum(s.num_of_rows for s in segments
                       if s.level != L0 and not _truncated_away(s, request.truncated_ts))
        return datacoord_pb2.GetCollectionStatisticsResponse(status=_OK, row_count=rows)

    # ---- indexes (milvus.datacoord.index_service) ---------------------------------------------

    @_answers
    def CreateIndex(self, request: datacoord_pb2.CreateIndexRequest):
        self._index.create_index(request)
        return _OK

    @_answers
    def DescribeIndex(self, request: datacoord_pb2.DescribeIndexRequest) -> datacoord_pb2.DescribeIndexResponse:
        return datacoord_pb2.DescribeIndexResponse(
            status=_OK, index_infos=self._index.describe(request.collectionID, request.index_name))

    @_answers
    def DropIndex(self, request: datacoord_pb2.DropIndexRequest):
        self._index.drop_index(request)
        return _OK

    @_answers
    def AlterIndex(self, request: datacoord_pb2.AlterIndexRequest):
        self._index.alter_index(request)
        return _OK

    @_answers
    def GetIndexState(self, request: datacoord_pb2.GetIndexStateRequest) -> datacoord_pb2.GetIndexStateResponse:
        info = self._index.describe(request.collectionID, request.index_name)[0]
        return datacoord_pb2.GetIndexStateResponse(status=_OK, state=info.state,
                                                   fail_reason=info.index_state_fail_reason)

    @_answers
    def GetSegmentIndexState(self, request: datacoord_pb2.GetSegmentIndexStateRequest
                             ) -> datacoord_pb2.GetSegmentIndexStateResponse:
        return datacoord_pb2.GetSegmentIndexStateResponse(status=_OK, states=self._index.segment_states(request))

    @_answers
    def GetIndexBuildProgress(self, request: datacoord_pb2.GetIndexBuildProgressRequest
                              ) -> datacoord_pb2.GetIndexBuildProgressResponse:
        info = self._index.describe(request.collectionID, request.index_name)[0]
        return datacoord_pb2.GetIndexBuildProgressResponse(
            status=_OK, indexed_rows=info.indexed_rows, total_rows=info.total_rows,
            pending_index_rows=info.pending_index_rows)

    @_answers
    def GetIndexInfos(self, request: datacoord_pb2.GetIndexInfosRequest) -> datacoord_pb2.GetIndexInfosResponse:
        return datacoord_pb2.GetIndexInfosResponse(
            status=_OK, infos=self._index.index_infos(request.collectionID, request.segmentIDs, request.index_name))

    # ---- compaction (milvus.datacoord.compaction) ------------------------------------------

    @_answers
    def ManualCompaction(self, request: datacoord_pb2.ManualCompactionRequest
                         ) -> datacoord_pb2.ManualCompactionResponse:
        trigger = self._compactions.manual(request.collectionID, request.ttl_seconds, request.expire_ts)
        return datacoord_pb2.ManualCompactionResponse(status=_OK, compactionID=trigger.trigger_id,
                                                      compactionPlanCount=len(trigger.plan_ids))

    @_answers
    def GetCompactionState(self, request: datacoord_pb2.GetCompactionStateRequest
                           ) -> datacoord_pb2.GetCompactionStateResponse:
        self._compactions.poll()
        return self._compactions.state(request.compactionID)


def _truncated_away(segment: datacoord_pb2.SegmentInfo, truncated_ts: int) -> bool:
    """A flushed segment whose rows were all written at or before ``truncated_ts`` (its
    binlogs say when: one without a known time is kept)."""
    if not truncated_ts or segment.state != FLUSHED:
        return False
    newest = [b.timestamp_to for g in segment.binlogs for b in g.binlogs]
    return bool(newest) and all(0 < t <= truncated_ts for t in newest)
