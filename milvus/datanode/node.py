"""The data node: consumes DML vchannels, buffers growing segments, writes binlogs.

Each method of the ``DataNode`` service (``proto/datanode.proto``) takes and returns its
protobuf messages; failures are answered as statuses by one decorator.  One consumer thread
per watched vchannel (``ChannelWorker``), subscribed as ``datanode-{node}-{vchannel}`` and
positioned after the checkpoint the data coordinator sent.

Injected by the composition root: the message queue, object storage, the data coordinator's
client (``SaveBinlogPaths``, ``UpdateChannelCheckpoint``) and ``alloc_id(n)`` (first of
``n`` fresh ids: log ids and L0 segment ids).

While started, the node reports its memory (``memory``: the process' resident memory and the
machine's or cgroup's limit) to the data coordinator every ``memory_report_interval``
seconds (``ReportNodeMemory``): proxies refuse writes while a data node is past the memory
high water level (``milvus/proxy/quota.py``).

Stopping writes nothing: buffered rows are already durable in the message queue after the
channel checkpoint, and the next consumer of the channel replays them.  (Flushing on stop
would only make stops slower and still not cover a crash, which replay must handle anyway.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2, datanode_pb2, internal_pb2
from milvus.datanode.buffer import ChannelBuffer, Position, SyncPolicy
from milvus.datanode.channel import ChannelWorker, pchannel_of
from milvus.datanode.compactor import CompactionExecutor, Compactor
from milvus.datanode.params import DataNodeParams
from milvus.datanode.sync import Syncer, SyncObserver
from milvus.grpc_gen import schema_pb2
from milvus.mq.base import MQ
from milvus.mq.base import Position as MQPosition
from milvus.rpc.answers import rpc_answers
from milvus.schema import CollectionSchemaModel
from milvus.storage.base import ObjectStorage
from milvus.util.memory import MemoryProbe, process_memory
from milvus.util.tracing import NO_TRACING, Tracing

log = logging.getLogger(__name__)

SERVICE = datanode_pb2.DESCRIPTOR.services_by_name["DataNode"]
_OK = errors.OK


_answers = rpc_answers(
    SERVICE,
    ready=lambda self: self._serving,
    not_ready=lambda self: f"service not ready[datanode {self.node_id}]",
    log=log,
)


def subscription_name(node_id: int, vchannel: str) -> str:
    return f"datanode-{node_id}-{vchannel}"


class DataNode:
    name = "datanode"

    def __init__(
        self,
        mq: MQ,
        storage: ObjectStorage,
        datacoord: Any,
        *,
        alloc_id: Callable[[int], int],
        node_id: int = 1,
        params: DataNodeParams | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_sync: SyncObserver | None = None,
        tracing: Tracing = NO_TRACING,
        memory: MemoryProbe = process_memory,
    ):
        self.node_id = node_id
        self._memory = memory
        self._tracing = tracing
        self._on_sync = on_sync
        self._mq = mq
        self._storage = storage
        self._datacoord = datacoord
        self._alloc_id = alloc_id
        self._params = params or DataNodeParams()
        self._clock = clock
        self._lock = threading.Lock()
        self._workers: dict[str, ChannelWorker] = {}
        self._compactions = CompactionExecutor(Compactor(storage, alloc_id), clock)
        self._serving = False
        self._stopped = threading.Event()
        self._reporter: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._serving = True
        if self._reporter is not None:
            return
        self._stopped.clear()
        self._reporter = threading.Thread(target=self._report_memory_loop, name=f"datanode-{self.node_id}-memory",
                                          daemon=True)
        self._reporter.start()

    def stop(self) -> None:
        self._serving = False
        self._stopped.set()
        if self._reporter is not None:
            self._reporter.join()
            self._reporter = None
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.stop()
        self._compactions.stop()

    def health(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            dead = [v for v, w in self._workers.items() if not w.is_alive()]
            return self._serving and not dead, {"channels": sorted(self._workers), "dead": dead}

    def _report_memory_loop(self) -> None:
        while not self._stopped.is_set():
            self._report_memory()
            self._stopped.wait(self._params.memory_report_interval)

    def _report_memory(self) -> None:
        """Tell the data coordinator how much memory this node holds (flow control)."""
        try:
            used, total = self._memory()
            request = datacoord_pb2.ReportNodeMemoryRequest(memory=internal_pb2.NodeMemory(
                node_id=self.node_id, role=self.name, used_bytes=used, total_bytes=total))
            request.base.sourceID = self.node_id
            # bounded: an unreachable coordinator must not hold up the next report or the node's stop
            errors.check_status(self._datacoord.ReportNodeMemory(
                request, timeout=max(1.0, self._params.memory_report_interval)))
        except Exception as exc:  # noqa: BLE001 - reported again at the next interval
            log.debug("data node %d: memory report failed: %s", self.node_id, exc)

    @property
    def channels(self) -> list[str]:
        with self._lock:
            return sorted(self._workers)

    # ---- RPCs ----------------------------------------------------------------------------------

    def GetComponentStates(self, request: internal_pb2.GetComponentStatesRequest) -> internal_pb2.ComponentStates:
        state = internal_pb2.HEALTHY if self._serving else internal_pb2.INITIALIZING
        return internal_pb2.ComponentStates(
            state=internal_pb2.ComponentInfo(node_id=self.node_id, role="datanode", state=state), status=_OK,
        )

    @_answers
    def WatchDmChannel(self, request: datanode_pb2.WatchDmChannelRequest):
        """Consume the vchannel after its seek position; a channel already watched is left as is."""
        info = request.vchannel
        vchannel = info.channelName
        with self._lock:
            if vchannel in self._workers:
                return _OK
            worker = self._new_worker(request)
            self._workers[vchannel] = worker
        worker.start()
        log.info("data node %d watches %s from %r", self.node_id, vchannel, info.seek_position.msg_id)
        return _OK

    def _new_worker(self, request: datanode_pb2.WatchDmChannelRequest) -> ChannelWorker:
        info = request.vchannel
        vchannel = info.channelName
        if not request.schema:
            raise errors.ParameterMissing(f"WatchDmChannel {vchannel}: the collection schema is missing")
        try:
            pchannel = pchannel_of(vchannel)
        except ValueError as exc:
            raise errors.ParameterInvalid(str(exc)) from None
        pk_field = CollectionSchemaModel(schema_pb2.CollectionSchema.FromString(request.schema)).primary_field.name
        seek = info.seek_position
        start_id = self._mq.id_from_bytes(seek.msg_id) if seek.msg_id else None
        segment_positions: dict[int, Any] = {}
        delete_positions: dict[int, Any] = {}
        for segment in request.segments:
            if not segment.HasField("dml_position") or not segment.dml_position.msg_id:
                continue
            position = self._mq.id_from_bytes(segment.dml_position.msg_id)
            if segment.level == datacoord_pb2.SEGMENT_LEVEL_L0:
                current = delete_positions.get(segment.partition_id)
                if current is None or current < position:
                    delete_positions[segment.partition_id] = position
            else:
                segment_positions[segment.id] = position
        params = self._params
        buffer = ChannelBuffer(
            vchannel, Position(start_id, seek.timestamp),
            SyncPolicy(params.max_buffer_rows, params.max_buffer_size, params.max_buffer_age), self._clock,
            segment_positions=segment_positions, delete_positions=delete_positions,
            dropped_segments=info.dropped_segmentIds,
        )
        syncer = Syncer(vchannel, pk_field, self._storage, self._datacoord, self._alloc_id, self.node_id,
                        on_sync=self._on_sync)
        consumer = self._mq.subscribe(pchannel, subscription_name(self.node_id, vchannel), MQPosition.EARLIEST)
        try:
            consumer.seek(start_id if start_id is not None else MQPosition.EARLIEST)
        except Exception:
            consumer.close()
            raise
        return ChannelWorker(self._mq, consumer, buffer, syncer, self._datacoord, params, self.node_id, self._clock,
                             tracing=self._tracing)

    @_answers
    def UnwatchDmChannel(self, request: datanode_pb2.UnwatchDmChannelRequest):
        with self._lock:
            worker = self._workers.pop(request.channel_name, None)
        if worker is not None:
            worker.stop(drop=request.drop)
        return _OK

    @_answers
    def FlushSegments(self, request: datanode_pb2.FlushSegmentsRequest):
        """Flush the segments once tsafe reaches flush_ts (asynchronously; the data coordinator
        sees the result in SaveBinlogPaths and the channel checkpoint)."""
        with self._lock:
            worker = self._workers.get(request.channel_name)
        if worker is None:
            raise errors.ChannelNotFound(f"data node {self.node_id} does not watch {request.channel_name}")
        worker.request_flush(request.flush_ts, list(request.segmentIDs))
        return _OK

    @_answers
    def Compaction(self, request: datanode_pb2.CompactionPlan):
        """Start a compaction plan (asynchronously: its result is polled with
        ``GetCompactionResults``); a plan already known is left as is."""
        if not request.schema:
            raise errors.ParameterMissing(f"compaction plan {request.planID}: the collection schema is missing")
        self._compactions.submit(request)
        return _OK

    @_answers
    def GetCompactionResults(self, request: datanode_pb2.GetCompactionResultsRequest
                             ) -> datanode_pb2.GetCompactionResultsResponse:
        return datanode_pb2.GetCompactionResultsResponse(
            status=_OK, results=self._compactions.results(list(request.planIDs)))
