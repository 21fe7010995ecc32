"""The target: what a loaded collection should be served from, as the data coordinator and
root coordinator see it now — every vchannel (with its checkpoint), the flushed segments
(L0 included) to serve sealed, and the unflushed ones a channel watch starts from."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2, querycoord_pb2, rootcoord_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectionTarget:
    collection_id: int
    schema: bytes
    channels: dict[str, datacoord_pb2.VchannelInfo]
    sealed: dict[int, datacoord_pb2.SegmentInfo]  # flushed segments of the loaded partitions
    unflushed: dict[str, list[datacoord_pb2.SegmentInfo]] = field(default_factory=dict)
    # the finished index builds of sealed segments (what a node should search them with)
    indexes: dict[int, list[datacoord_pb2.IndexFilePathInfo]] = field(default_factory=dict)
    collection: rootcoord_pb2.CollectionInfo = field(default_factory=rootcoord_pb2.CollectionInfo)

    @property
    def schema_version(self) -> int:
        return self.collection.schema_version

    def sealed_of(self, channel: str) -> list[datacoord_pb2.SegmentInfo]:
        return [s for s in self.sealed.values() if s.insert_channel == channel]

    def index_builds(self, segment_id: int) -> frozenset[int]:
        return frozenset(i.buildID for i in self.indexes.get(segment_id, ()))


def check(status: Any, what: str) -> None:
    """Raise the error a failed call to another role answered (``what`` says which call)."""
    if status.code != 0 or status.error_code != 0:
        exc = errors.from_status(status)
        exc.message = f"{what}: {status.reason}"
        exc.args = (exc.message,)
        raise exc


class TargetManager:
    """Fetches and keeps each loaded collection's current target."""

    def __init__(self, datacoord: Any, rootcoord: Any):
        self._datacoord = datacoord
        self._rootcoord = rootcoord
        self._lock = threading.Lock()
        self._targets: dict[int, CollectionTarget] = {}
        self._schemas: dict[int, rootcoord_pb2.CollectionInfo] = {}

    def describe(self, collection_id: int, refresh: bool = False) -> rootcoord_pb2.CollectionInfo:
        with self._lock:
            cached = self._schemas.get(collection_id)
        if cached is not None and not refresh:
            return cached
        resp = self._rootcoord.DescribeCollectionInternal(
            rootcoord_pb2.DescribeCollectionInternalRequest(collection_id=collection_id))
        check(resp.status, f"describe collection {collection_id}")
        with self._lock:
            cached = self._schemas.get(collection_id)
            if cached is not None and cached.schema_version > resp.collection.schema_version:
                return cached  # never back to an older schema
            self._schemas[collection_id] = resp.collection
        return resp.collection

    def refresh(self, info: querycoord_pb2.CollectionLoadInfo) -> CollectionTarget:
        """The collection's target now.  Its schema is described again each time (fields may
        have been added: loads and watches must carry the current schema, or a node that
        starts serving the collection would not know them); when the root coordinator cannot
        say, the schema known before serves."""
        try:
            collection = self.describe(info.collectionID, refresh=True)
        except Exception as exc:  # noqa: BLE001 - the segments still move; the schema catches up
            with self._lock:
                collection = self._schemas.get(info.collectionID)
            if collection is None:
                raise
            log.warning("schema of collection %d not refreshed: %s", info.collectionID, exc)
        partitions = list(info.partitionIDs) if info.load_type == querycoord_pb2.LOAD_PARTITIONS else []
        resp = self._datacoord.GetRecoveryInfo(datacoord_pb2.GetRecoveryInfoRequest(
            collectionID=info.collectionID, partitionIDs=partitions))
        check(resp.status, f"recovery info of collection {info.collectionID}")
        channels = {c.channelName: c for c in resp.channels}
        for vchannel in collection.virtual_channels:
            if vchannel not in channels:  # not checkpointed yet: from the start of the channel
                channels[vchannel] = datacoord_pb2.VchannelInfo(collectionID=info.collectionID, channelName=vchannel)
        wanted = set(partitions)
        sealed: dict[int, datacoord_pb2.SegmentInfo] = {}
        unflushed: dict[str, list[datacoord_pb2.SegmentInfo]] = {}
        for segment in resp.segments:
            if wanted and segment.partition_id not in wanted and segment.partition_id > 0:
                continue
            if segment.state == datacoord_pb2.FLUSHED:
                sealed[segment.id] = segment
            elif segment.state in (datacoord_pb2.GROWING, datacoord_pb2.SEALED, datacoord_pb2.FLUSHING):
                unflushed.setdefault(segment.insert_channel, []).append(segment)
        indexes = self._indexes(info.collectionID, sealed) if sealed else {}
        target = CollectionTarget(info.collectionID, collection.schema, channels, sealed, unflushed, indexes,
                                  collection)
        with self._lock:
            self._targets[info.collectionID] = target
        return target

    def _indexes(self, collection_id: int, sealed: dict[int, datacoord_pb2.SegmentInfo]
                 ) -> dict[int, list[datacoord_pb2.IndexFilePathInfo]]:
        """The finished index builds of the sealed segments; when the data coordinator cannot
        say, the previous target's (indexes only speed searches up: serving goes on)."""
        out: dict[int, list[datacoord_pb2.IndexFilePathInfo]] = {}
        try:
            resp = self._datacoord.GetIndexInfos(datacoord_pb2.GetIndexInfosRequest(collectionID=collection_id))
            check(resp.status, f"index infos of collection {collection_id}")
        except Exception as exc:  # noqa: BLE001 - keep serving with what was known
            log.warning("index infos of collection %d not refreshed: %s", collection_id, exc)
            previous = self.get(collection_id)
            return {s: i for s, i in previous.indexes.items() if s in sealed} if previous is not None else {}
        for index_info in resp.infos:
            if index_info.segmentID in sealed:
                out.setdefault(index_info.segmentID, []).append(index_info)
        return out

    def get(self, collection_id: int) -> CollectionTarget | None:
        with self._lock:
            return self._targets.get(collection_id)

    def put(self, target: CollectionTarget, replacing: CollectionTarget) -> None:
        """Keep ``target`` instead of ``replacing`` (unless a refresh replaced that already)."""
        with self._lock:
            if self._targets.get(target.collection_id) is replacing:
                self._targets[target.collection_id] = target

    def remove(self, collection_id: int) -> None:
        with self._lock:
            self._targets.pop(collection_id, None)
            self._schemas.pop(collection_id, None)
