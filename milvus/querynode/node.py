"""The QueryNode service (proto/querynode.proto): the logic object, transport-free.

It serves growing segments of the vchannels it watches (consumed from the MQ from the
watch's seek position) and sealed segments loaded from object storage, applies deletes,
and answers searches and queries at a timestamp.  Every RPC answers a status; errors are
mapped in one place (``_answer``).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from milvus import errors
from milvus._proto import datacoord_pb2, internal_pb2, querynode_pb2
from milvus.binlog import conform, log_paths, read_delta_log, read_insert_log
from milvus.grpc_gen import common_pb2, schema_pb2
from milvus.index import bm25
from milvus.index.memory import release_free_memory
from milvus.mq.base import MQ
from milvus.querynode.collection import CollectionState
from milvus.querynode.delegator import (
    Delegator,
    QueryPart,
    SearchPart,
    WorkerFailed,
    merge_query,
    merge_search,
    query_part,
    search_part,
)
from milvus.querynode.deletes import ALL_PARTITIONS
from milvus.querynode.filters import FilterCompiler
from milvus.querynode.indexes import load_segment_indexes
from milvus.querynode.pipeline import ChannelConsumer
from milvus.querynode.query import count, query
from milvus.querynode.read import (
    FilterCache,
    ReadSet,
    SegmentRows,
    output_table,
    prepare_read,
    prepare_segments_read,
    table_to_ipc,
)
from milvus.querynode.search import PlanSettingsCache, SearchPlan, bm25_stats, make_plan, search
from milvus.querynode.segments import SealedSegment
from milvus.querynode.shard import Location, Shard
from milvus.querynode.vectors import sparse_placeholders
from milvus.rpc.answers import rpc_answers
from milvus.schema import CollectionSchemaModel, arrow_to_ids
from milvus.schema.evolve import concat_versions, holds
from milvus.storage.base import ObjectStorage
from milvus.util.memory import MemoryProbe, process_memory
from milvus.util.tracing import NO_TRACING, Tracing

log = logging.getLogger(__name__)


SERVICE = querynode_pb2.DESCRIPTOR.services_by_name["QueryNode"]
# The methods that read only this node's segments and never call another node (a leader's
# reads of its workers' segments): a server runs them on a worker pool of their own, so they
# never queue behind Search / Query calls that wait on other nodes' answers (GrpcServer's
# leaf_methods).
WORKER_METHODS = frozenset({"SearchSegments", "QuerySegments"})
_VIEW_RETRIES = 3  # reads of a leader whose view moved while a worker answered


_answers = rpc_answers(
    SERVICE,
    ready=lambda self: self._state == internal_pb2.HEALTHY or self._draining,  # serves while draining
    not_ready=lambda self: f"service not ready[querynode {self.node_id}]",
    log=log,
)


def _is_l0(info: datacoord_pb2.SegmentInfo) -> bool:
    """An L0 segment holds only deletes (delta logs), for every partition of its channel."""
    return info.level == datacoord_pb2.SEGMENT_LEVEL_L0 or (not info.binlogs and bool(info.deltalogs))


class QueryNode:
    """``mq`` and ``storage`` are the cluster's message queue and object storage;
    ``filter_compiler`` evaluates filter expressions (see ``querynode.filters``);
    ``read_timeout`` bounds the wait for tsafe; ``peer(node_id, address)`` gives a client of
    another query node (a leader reads the segments its view has there: ``delegator``)."""

    name = "querynode"

    def __init__(self, node_id: int, mq: MQ, storage: ObjectStorage, *,
                 filter_compiler: FilterCompiler | None = None, read_timeout: float = 10.0,
                 subscription_prefix: str = "by-dev", local_dir: Path | None = None,
                 tracing: Tracing = NO_TRACING, memory: MemoryProbe = process_memory,
                 peer: Callable[[int, str], Any] | None = None):
        """``local_dir`` holds the files of disk-resident indexes while they are mapped (the
        system's temporary directory when None); ``tracing`` spans the applying of traced
        DML envelopes; ``memory`` measures the node's memory, reported with its distribution
        (flow control: proxies refuse writes while a query node is past its high water level)."""
        self.node_id = node_id
        self._memory = memory
        self._tracing = tracing
        self._local_dir = local_dir
        self._mq = mq
        self._storage = storage
        self._filter_compiler = FilterCache(filter_compiler) if filter_compiler is not None else None
        self._plan_settings = PlanSettingsCache()
        self._read_timeout = read_timeout
        self._subscription_prefix = subscription_prefix
        self._lock = threading.Lock()
        self._collections: dict[int, CollectionState] = {}
        self._state = internal_pb2.INITIALIZING
        self._draining = False  # STOPPING but still serving while the coordinator moves channels away
        self._delegator = Delegator(node_id, peer, read_timeout)

    # ---- lifetime ------------------------------------------------------------------------

    def start(self) -> None:
        if self._local_dir is not None and self._local_dir.exists():
            shutil.rmtree(self._local_dir, ignore_errors=True)  # files of a previous run
        self._state = internal_pb2.HEALTHY

    def stop(self) -> None:
        self._state = internal_pb2.STOPPING
        self._draining = False
        with self._lock:
            collections, self._collections = list(self._collections.values()), {}
        for state in collections:
            for channel in state.shards():
                self._drop_shard(state, channel, unsubscribe=False)
        self._delegator.close()

    def drain(self, timeout: float) -> bool:
        """Graceful stop (scale-in): say STOPPING (``GetComponentStates``), so that the query
        coordinator moves what this node serves to other nodes while it goes on serving, and
        wait until nothing is served here any more (at most ``timeout`` seconds); True when
        drained.  The coordinator lets go of channels that have nowhere to go."""
        self._draining = True
        self._state = internal_pb2.STOPPING
        deadline = time.monotonic() + timeout
        waiter = threading.Event()
        while True:
            with self._lock:
                if not self._collections:
                    return True
            if time.monotonic() >= deadline:
                log.warning("querynode %d stops with data still served (not moved within %.1fs)", self.node_id,
                            timeout)
                return False
            waiter.wait(0.1)

    def health(self) -> tuple[bool, dict[str, Any]]:
        with self._lock:
            states = list(self._collections.values())
        channels = sum(state.is_watched(ch) for state in states for ch in state.shards())
        return self._state == internal_pb2.HEALTHY, {"node_id": self.node_id, "collections": len(states),
                                                     "channels": channels}

    # ---- helpers -------------------------------------------------------------------------

    def _collection(self, collection_id: int) -> CollectionState:
        with self._lock:
            state = self._collections.get(collection_id)
        if state is None:
            raise errors.CollectionNotLoaded(f"collection {collection_id} is not loaded on query node {self.node_id}")
        return state

    def _ensure_collection(self, collection_id: int, schema_bytes: bytes, schema_version: int = 0) -> CollectionState:
        with self._lock:
            state = self._collections.get(collection_id)
            if state is None:
                if not schema_bytes:
                    raise errors.ParameterMissing(
                        f"collection {collection_id}: the first request must carry the schema")
                schema = CollectionSchemaModel(schema_pb2.CollectionSchema.FromString(schema_bytes))
                state = self._collections[collection_id] = CollectionState(collection_id, schema, schema_version)
                return state
        self._learn_schema(state, schema_version, schema_bytes)
        return state

    def _learn_schema(self, state: CollectionState, schema_version: int, schema_bytes: bytes) -> None:
        """Schema changes (AddCollectionField) reach a query node with what it is asked next,
        no separate message: the proxies' reads carry the schema and its version from their
        meta cache (which the root coordinator invalidates before the DDL answers), and the
        query coordinator's loads and watches the one it described.  A newer version is taken,
        an older one ignored.  Rows need no schema to arrive: inserts and insert logs carry
        their columns, and a node with an older schema keeps the columns it does not know."""
        if state.upgrade(schema_version, schema_bytes):
            log.info("querynode %d: collection %d at schema version %d, fields %s", self.node_id,
                     state.collection_id, schema_version, [f.name for f in state.schema.fields])

    def _read_state(self, request: querynode_pb2.ShardRequest) -> CollectionState:
        state = self._collection(request.collectionID)
        self._learn_schema(state, request.schema_version, request.schema)
        return state

    def _drop_shard(self, state: CollectionState, channel: str, unsubscribe: bool = True) -> None:
        shard, consumer = state.remove_shard(channel)
        if consumer is not None:
            consumer.stop(unsubscribe=unsubscribe)
        if shard is not None:
            shard.close()

    def _forget_if_empty(self, state: CollectionState) -> None:
        with self._lock:
            if state.is_empty() and self._collections.get(state.collection_id) is state:
                del self._collections[state.collection_id]

    def _subscription(self, channel: str) -> str:
        return f"{self._subscription_prefix}-querynode-{self.node_id}-{channel}"

    # ---- RPCs: distribution --------------------------------------------------------------

    def GetComponentStates(self, request: internal_pb2.GetComponentStatesRequest) -> internal_pb2.ComponentStates:
        info = internal_pb2.ComponentInfo(node_id=self.node_id, role="querynode", state=self._state)
        return internal_pb2.ComponentStates(state=info, status=errors.OK)

    @_answers
    def WatchDmChannel(self, request: querynode_pb2.QWatchDmChannelRequest) -> common_pb2.Status:
        info = request.vchannel
        if not info.channelName:
            raise errors.ParameterMissing("WatchDmChannel: no channel name")
        state = self._ensure_collection(info.collectionID, request.schema, request.schema_version)
        if state.is_watched(info.channelName):
            return errors.OK
        state.set_partitions(frozenset(request.partitionIDs) if request.partitionIDs else None)
        shard = state.get_or_create_shard(info.channelName, info.seek_position.timestamp)
        shard.tsafe.advance(info.seek_position.timestamp)
        shard.exclude([*info.flushedSegmentIds, *info.dropped_segmentIds])
        positions = {}
        for segment in request.unflushed_segments:
            if segment.insert_channel == info.channelName and segment.binlogs and segment.HasField("dml_position"):
                self._load_growing(state, segment)
                positions[segment.id] = segment.dml_position
        position = info.seek_position if info.HasField("seek_position") else None
        consumer = ChannelConsumer(self._mq, shard, state.schema, self._subscription(info.channelName), position,
                                   positions, tracing=self._tracing)
        consumer.start()
        state.set_consumer(info.channelName, consumer)
        log.info("querynode %d watches %s from %s", self.node_id, info.channelName,
                 position.msg_id.hex() if position and position.msg_id else "the earliest message")
        return errors.OK

    @_answers
    def UnwatchDmChannel(self, request: querynode_pb2.QUnwatchDmChannelRequest) -> common_pb2.Status:
        with self._lock:
            state = self._collections.get(request.collectionID)
        if state is None:
            return errors.OK
        shard = state.shard(request.channel_name)
        if shard is not None and shard.has_sealed_segments():
            # sealed segments of the channel stay (the coordinator releases them): only the
            # channel's consumer and growing rows go
            consumer = state.remove_consumer(request.channel_name)
            if consumer is not None:
                consumer.stop(unsubscribe=True)
            shard.drop_growing()
        else:
            self._drop_shard(state, request.channel_name)
        self._forget_if_empty(state)
        return errors.OK

    @_answers
    def SyncDistribution(self, request: querynode_pb2.SyncDistributionRequest) -> common_pb2.Status:
        state = self._collection(request.collectionID)
        shard = state.shard(request.channel)
        if shard is None or not state.is_watched(request.channel):
            raise errors.ChannelNotFound(f"channel {request.channel} is not watched by query node {self.node_id}")
        pk_type = state.schema.primary_field.arrow_type
        for loc in request.sealed:
            # the delta logs of segments read elsewhere hide rows here too, before the switch
            if loc.node_id != self.node_id and loc.deltalogs and not shard.deltas_read(loc.segmentID):
                scope = loc.partitionID if loc.partitionID > 0 else ALL_PARTITIONS
                for path in log_paths(loc.deltalogs):
                    pks, ts = read_delta_log(self._read(path))
                    shard.delete_read_back(pks.cast(pk_type) if pks.type != pk_type else pks, ts, scope)
                shard.mark_deltas_read(loc.segmentID)
        shard.sync_view([Location(s.segmentID, s.partitionID, s.node_id, s.address, s.num_rows,
                                  tuple(s.compaction_from)) for s in request.sealed], self.node_id,
                        request.dropped)
        return errors.OK

    @_answers
    def LoadSegments(self, request: querynode_pb2.LoadSegmentsRequest) -> common_pb2.Status:
        state = self._ensure_collection(request.collectionID, request.schema, request.schema_version)
        indexes: dict[int, list[datacoord_pb2.IndexFilePathInfo]] = {}
        for index_info in request.index_infos:
            indexes.setdefault(index_info.segmentID, []).append(index_info)
        # deletes first: a sealed segment must never serve rows an L0 delete already hides
        for info in sorted(request.segments, key=lambda s: not _is_l0(s)):
            self._load_segment(state, info, indexes.get(info.id, []))
        release_free_memory()  # the read buffers and index files are garbage now
        return errors.OK

    def _read_rows(self, state: CollectionState, info: datacoord_pb2.SegmentInfo) -> tuple[pa.Table, frozenset[str]]:
        """A segment's rows by the node's schema, and the columns some rows of which predate
        their field (filled).  Columns of a newer schema than the node's are kept (the schema
        that names them arrives with the next read or load)."""
        arrow_schema = state.schema.arrow_schema
        parts = [read_insert_log(self._read(path)) for path in log_paths(info.binlogs)]
        names = {n for part in parts for n in part.column_names} - set(arrow_schema.names)
        backfilled = frozenset({*(f.name for f in arrow_schema for part in parts if not holds(part.schema, f)),
                                *(n for n in names for part in parts if n not in part.column_names)})
        tables = [conform(part, arrow_schema, keep_extra=True) for part in parts]
        return (concat_versions(tables) if tables else arrow_schema.empty_table()), backfilled

    def _read_segment(self, state: CollectionState, shard: Shard, info: datacoord_pb2.SegmentInfo
                      ) -> tuple[pa.Table, frozenset[str]]:
        """The rows of a segment's insert logs (``_read_rows``); its delta logs go to the shard's deletes."""
        table, backfilled = self._read_rows(state, info)
        # an L0 segment holds one partition's deletes (-1: deletes of every partition)
        scope = info.partition_id if info.partition_id > 0 else ALL_PARTITIONS
        pk_type = state.schema.primary_field.arrow_type
        for path in log_paths(info.deltalogs):
            pks, ts = read_delta_log(self._read(path))
            shard.delete_read_back(pks.cast(pk_type) if pks.type != pk_type else pks, ts, scope)
        return table, backfilled

    def _load_growing(self, state: CollectionState, info: datacoord_pb2.SegmentInfo) -> None:
        """Rows an unflushed segment already has in binlogs, as the start of its growing copy."""
        shard = state.get_or_create_shard(info.insert_channel)
        table, _ = self._read_segment(state, shard, info)
        for batch in table.to_batches():
            shard.insert(info.id, info.partition_id, batch)

    def _load_segment(self, state: CollectionState, info: datacoord_pb2.SegmentInfo,
                      index_infos: list[datacoord_pb2.IndexFilePathInfo]) -> None:
        if not info.insert_channel:
            raise errors.ParameterMissing(f"segment {info.id} has no insert channel")
        shard = state.get_or_create_shard(info.insert_channel)
        segment = shard.sealed(info.id)
        if segment is not None:
            # served already: swap in the indexes asked for (the rows stay)
            current = segment.indexes
            wanted = load_segment_indexes(self._storage, index_infos, segment.num_rows, current, self._local_dir)
            if {f: i.build_id for f, i in wanted.items()} != {f: i.build_id for f, i in current.items()}:
                segment.set_indexes(wanted)
                log.info("querynode %d searches segment %d with index builds %s", self.node_id, info.id,
                         sorted(i.build_id for i in wanted.values()))
            return
        table, backfilled = self._read_segment(state, shard, info)
        segment = SealedSegment(info.id, state.collection_id, info.partition_id, info.insert_channel, table,
                                backfilled=backfilled)
        segment.set_indexes(load_segment_indexes(self._storage, index_infos, segment.num_rows, {}, self._local_dir))
        if not shard.add_sealed(segment, replaces=info.compaction_from):
            log.info("querynode %d skips segment %d: a compaction result it serves replaced it", self.node_id,
                     info.id)
            return
        log.info("querynode %d loaded segment %d (%d rows, index builds %s) of %s%s", self.node_id, info.id,
                 table.num_rows, sorted(i.build_id for i in segment.indexes.values()), info.insert_channel,
                 f" replacing {list(info.compaction_from)}" if info.compaction_from else "")

    def _read(self, path: str) -> bytes:
        try:
            return self._storage.get(path)
        except KeyError:
            raise errors.IoKeyNotFound(f"object {path} does not exist") from None

    @_answers
    def ReleaseSegments(self, request: querynode_pb2.ReleaseSegmentsRequest) -> common_pb2.Status:
        with self._lock:
            state = self._collections.get(request.collectionID)
        if state is None:
            return errors.OK
        for channel, shard in state.shards().items():
            shard.release_sealed(request.segmentIDs)
            if not state.is_watched(channel) and not shard.has_sealed_segments() and not shard.segments():
                self._drop_shard(state, channel)
        self._forget_if_empty(state)
        return errors.OK

    @_answers
    def LoadPartitions(self, request: querynode_pb2.QLoadPartitionsRequest) -> common_pb2.Status:
        self._collection(request.collectionID).load_partitions(frozenset(request.partitionIDs))
        return errors.OK

    @_answers
    def ReleasePartitions(self, request: querynode_pb2.QReleasePartitionsRequest) -> common_pb2.Status:
        with self._lock:
            state = self._collections.get(request.collectionID)
        if state is not None:
            state.release_partitions(frozenset(request.partitionIDs))
        return errors.OK

    @_answers
    def GetDataDistribution(self, request: querynode_pb2.GetDataDistributionRequest
                            ) -> querynode_pb2.GetDataDistributionResponse:
        used, total = self._memory()
        resp = querynode_pb2.GetDataDistributionResponse(status=errors.OK, node_id=self.node_id)
        resp.memory.CopyFrom(internal_pb2.NodeMemory(node_id=self.node_id, role=self.name, used_bytes=used,
                                                     total_bytes=total))
        with self._lock:
            collections = list(self._collections.values())
        for state in collections:
            partitions = state.partitions
            for channel, shard in state.shards().items():
                if state.is_watched(channel):
                    out = resp.channels.add(channel_name=channel, collectionID=state.collection_id,
                                            tsafe=shard.tsafe.get(), partitionIDs=sorted(partitions or ()),
                                            serviceable=shard.synced, delete_rows=len(shard.deletes))
                    for loc in shard.view():
                        out.leader_view.add(segmentID=loc.segment_id, partitionID=loc.partition_id,
                                            node_id=loc.node_id, address=loc.address, num_rows=loc.num_rows,
                                            compaction_from=loc.compaction_from)
                for ref in shard.refs():
                    resp.segments.add(id=ref.segment_id, collectionID=state.collection_id,
                                      partitionID=ref.partition_id, channel=channel, num_rows=ref.num_rows,
                                      sealed=ref.sealed, index_build_ids=ref.index_build_ids)
        return resp

    # ---- RPCs: reads ---------------------------------------------------------------------

    def _output_names(self, schema: CollectionSchemaModel, field_ids: Iterable[int]) -> list[str]:
        names: list[str] = []
        for field_id in field_ids:
            try:
                name = schema.field_by_id(field_id).name
            except Exception:  # noqa: BLE001 - SchemaError: unknown id
                raise errors.ParameterInvalid(f"output field id {field_id} does not exist") from None
            if name not in names:
                names.append(name)
        return names

    def _prepare(self, state: CollectionState, request: querynode_pb2.ShardRequest) -> ReadSet:
        return prepare_read(state, request, self._filter_compiler, self._read_timeout)

    @staticmethod
    def _gather_table(schema: CollectionSchemaModel, names: list[str], rows: list[SegmentRows],
                      segment: np.ndarray, offset: np.ndarray) -> pa.Table | None:
        if not names:
            return None
        segments = np.unique(segment)
        if len(segments) == 1:  # the hits of one segment: its offsets in hit order already
            return output_table(schema, names, [(rows[int(segments[0])].view, offset)])
        hits, positions = [], []
        for s in segments:
            pos = np.flatnonzero(segment == s)
            hits.append((rows[int(s)].view, offset[pos]))
            positions.append(pos)
        order = np.argsort(np.concatenate(positions)) if positions else None
        return output_table(schema, names, hits, order)

    def _gather(self, schema: CollectionSchemaModel, names: list[str], rows: list[SegmentRows],
                segment: np.ndarray, offset: np.ndarray) -> bytes:
        table = self._gather_table(schema, names, rows, segment, offset)
        return table_to_ipc(table) if table is not None else b""

    @staticmethod
    def _refuse_segments(request: querynode_pb2.ShardRequest, method: str) -> None:
        if request.segment_ids:
            raise errors.ParameterInvalid(
                f"{method} reads the channels this node leads and takes no segment_ids: a read of given "
                f"segments is {method}Segments")

    def _segments_read(self, state: CollectionState, request: querynode_pb2.ShardRequest, method: str) -> ReadSet:
        """The rows of a leader's read of given segments: never anything of another node."""
        if not request.segment_ids:
            raise errors.ParameterMissing(f"{method} names no segment_ids")
        return prepare_segments_read(state, request, self._filter_compiler)

    def _delegated(self, state: CollectionState, request: querynode_pb2.ShardRequest, answer: Callable[[ReadSet], Any]):
        """``answer(read)`` for a read of the channels this node leads.  A read whose worker
        lost segments while the view moved them is done again on the new view."""
        for attempt in range(_VIEW_RETRIES):
            read = self._prepare(state, request)
            try:
                return answer(read)
            except WorkerFailed as exc:
                moved = any((shard := state.shard(part.channel)) is None or shard.view_version != part.view_version
                            for part in read.remote)
                if not (exc.stale and moved) or attempt + 1 == _VIEW_RETRIES:
                    raise
                log.info("querynode %d reads again: the leader view moved (%s)", self.node_id, exc.message)
        raise AssertionError("unreachable")

    def _search_plan(self, request: querynode_pb2.ShardRequest) -> tuple[CollectionState, SearchPlan, list[str]]:
        state = self._read_state(request)
        plan = make_plan(state.schema, request.anns_field, request.metric_type, request.placeholder_group,
                         request.topk, request.search_params, self._plan_settings)
        if plan.metric == bm25.BM25:
            k1, b = (request.bm25_k1, request.bm25_b) if request.bm25_k1 > 0 else (bm25.DEFAULT_K1, bm25.DEFAULT_B)
            plan = replace(plan, params={**plan.params, bm25.K1: k1, bm25.B: b, bm25.AVGDL: request.bm25_avgdl})
        return state, plan, self._output_names(state.schema, request.output_field_ids)

    @_answers
    def Search(self, request: querynode_pb2.ShardRequest) -> querynode_pb2.ShardSearchResults:
        self._refuse_segments(request, "Search")
        state, plan, names = self._search_plan(request)
        return self._delegated(state, request, lambda read: self._lead_search(request, plan, state.schema, names, read))

    def _lead_search(self, request: querynode_pb2.ShardRequest, plan: SearchPlan, schema: CollectionSchemaModel,
                     names: list[str], read: ReadSet) -> querynode_pb2.ShardSearchResults:
        if plan.metric == bm25.BM25 and request.bm25_avgdl <= 0:
            request, plan = self._bm25_weighted(request, plan, read)
        return self._search(request, plan, schema, names, read)

    def _bm25_weighted(self, request: querynode_pb2.ShardRequest, plan: SearchPlan,
                       read: ReadSet) -> tuple[querynode_pb2.ShardRequest, SearchPlan]:
        """A BM25 search's request and plan with its terms weighed by their idf and the average
        row length of every segment this read covers, here and on the workers."""
        futures = self._delegator.send("BM25StatsSegments", request, read) if read.remote else ()
        terms = bm25.query_terms(plan.queries)  # type: ignore[arg-type]
        parts = [bm25_stats(view, plan.field).only(terms) for view in read.views]
        parts += [bm25.Stats(r.num_rows, r.total_length, np.asarray(r.terms, np.uint32), np.asarray(r.row_counts, np.int64))
                  for r in self._delegator.gather(futures)]
        stats = bm25.add(parts).only(terms)
        avgdl = bm25.avgdl(stats)
        queries = bm25.weigh_queries(plan.queries, stats)  # type: ignore[arg-type]
        weighted = querynode_pb2.ShardRequest()
        weighted.CopyFrom(request)
        weighted.bm25_avgdl = avgdl
        weighted.placeholder_group = sparse_placeholders(queries)
        return weighted, replace(plan, queries=queries, params={**plan.params, bm25.AVGDL: avgdl})

    @_answers
    def BM25StatsSegments(self, request: querynode_pb2.ShardRequest) -> querynode_pb2.BM25Stats:
        """A leader's question for the BM25 statistics of the sealed segments
        ``request.segment_ids`` on this node, for the terms of its queries."""
        state, plan, _ = self._search_plan(request)
        if plan.metric != bm25.BM25:
            raise errors.ParameterInvalid(f"BM25StatsSegments is for BM25 searches, this one is {plan.metric}")
        read = self._segments_read(state, request, "BM25StatsSegments")
        terms = bm25.query_terms(plan.queries)  # type: ignore[arg-type]
        stats = bm25.add([bm25_stats(view, plan.field).only(terms) for view in read.views]).only(terms)
        return querynode_pb2.BM25Stats(status=errors.OK, num_rows=stats.num_rows, total_length=stats.total_length,
                                       terms=stats.terms.tolist(), row_counts=stats.row_counts.tolist(),
                                       deletes_held=read.deletes_held)

    @_answers
    def SearchSegments(self, request: querynode_pb2.ShardRequest) -> querynode_pb2.ShardSearchResults:
        """A leader's search of the sealed segments ``request.segment_ids`` on this node."""
        state, plan, names = self._search_plan(request)
        return self._search(request, plan, state.schema, names, self._segments_read(state, request, "SearchSegments"))

    def _search(self, request: querynode_pb2.ShardRequest, plan: SearchPlan, schema: CollectionSchemaModel,
                names: list[str], read: ReadSet) -> querynode_pb2.ShardSearchResults:
        futures = self._delegator.send("SearchSegments", request, read) if read.remote else ()
        hits = search(plan, read.segments, schema.primary_field.name)
        if not futures:
            return querynode_pb2.ShardSearchResults(
                status=errors.OK,
                num_queries=plan.nq,
                top_k=plan.topk,
                ids=arrow_to_ids(hits.pk_values),
                scores=hits.scores.tolist(),
                topks=hits.topks.tolist(),
                arrow_fields=self._gather(schema, names, hits.segment_rows, hits.segment, hits.offset),
                metric_type=plan.metric,
                read_ts=read.read_ts,
                deletes_held=read.deletes_held,
            )
        pk_type = schema.primary_field.arrow_type
        mine = SearchPart(hits.pks, hits.scores, hits.topks,
                          self._gather_table(schema, names, hits.segment_rows, hits.segment, hits.offset))
        parts = [mine, *(search_part(r, pk_type) for r in self._delegator.gather(futures))]
        merged = merge_search(parts, plan.nq, plan.topk, plan.metric, names)
        return querynode_pb2.ShardSearchResults(
            status=errors.OK, num_queries=plan.nq, top_k=plan.topk, ids=arrow_to_ids(merged.pks),
            scores=merged.scores.tolist(), topks=merged.topks.tolist(),
            arrow_fields=table_to_ipc(merged.table) if merged.table is not None else b"",
            metric_type=plan.metric, read_ts=read.read_ts)

    @_answers
    def Query(self, request: querynode_pb2.ShardRequest) -> querynode_pb2.ShardQueryResults:
        self._refuse_segments(request, "Query")
        state = self._read_state(request)
        names = self._output_names(state.schema, request.output_field_ids)
        return self._delegated(state, request, lambda read: self._query(request, state.schema, names, read))

    @_answers
    def QuerySegments(self, request: querynode_pb2.ShardRequest) -> querynode_pb2.ShardQueryResults:
        """A leader's query of the sealed segments ``request.segment_ids`` on this node."""
        state = self._read_state(request)
        names = self._output_names(state.schema, request.output_field_ids)
        return self._query(request, state.schema, names, self._segments_read(state, request, "QuerySegments"))

    def _query(self, request: querynode_pb2.ShardRequest, schema: CollectionSchemaModel, names: list[str],
               read: ReadSet) -> querynode_pb2.ShardQueryResults:
        futures = self._delegator.send("QuerySegments", request, read) if read.remote else ()
        if request.count_only:
            total = count(read.segments) + sum(r.count for r in self._delegator.gather(futures))
            return querynode_pb2.ShardQueryResults(status=errors.OK, count=total, read_ts=read.read_ts,
                                                   deletes_held=read.deletes_held)
        pk = schema.primary_field
        worker = bool(request.segment_ids)
        limit = request.limit + max(request.offset, 0) if futures and request.limit > 0 else request.limit
        hits = query(read.segments, pk.name, pk.arrow_type, limit, 0 if futures else request.offset)
        if not futures:
            return querynode_pb2.ShardQueryResults(
                status=errors.OK,
                ids=arrow_to_ids(hits.pks),
                arrow_fields=self._gather(schema, names, hits.segment_rows, hits.segment, hits.offset),
                count=len(hits.pks),
                read_ts=read.read_ts,
                timestamps=hits.ts.tolist() if worker else (),
                deletes_held=read.deletes_held,
            )
        mine = QueryPart(hits.pks, hits.ts, self._gather_table(schema, names, hits.segment_rows, hits.segment,
                                                                hits.offset))
        parts = [mine, *(query_part(r, pk.arrow_type) for r in self._delegator.gather(futures))]
        merged = merge_query(parts, request.limit, request.offset, names)
        return querynode_pb2.ShardQueryResults(
            status=errors.OK, ids=arrow_to_ids(merged.pks),
            arrow_fields=table_to_ipc(merged.table) if merged.table is not None else b"",
            count=len(merged.pks), read_ts=read.read_ts)
