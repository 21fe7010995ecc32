"""What the data path needs to know about a collection: its cached info, schema model,
partitions and channels, resolved once per request."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from milvus import errors
from milvus._proto import datacoord_pb2, rootcoord_pb2
from milvus.grpc_gen import schema_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.meta_cache import MetaCache
from milvus.schema import CollectionSchemaModel


@dataclass(frozen=True)
class Collection:
    info: rootcoord_pb2.CollectionInfo
    schema: CollectionSchemaModel

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def vchannels(self) -> list[str]:
        return list(self.info.virtual_channels)

    @property
    def pchannel_of(self) -> dict[str, str]:
        return dict(zip(self.info.virtual_channels, self.info.physical_channels, strict=True))

    def partition_id(self, name: str) -> int:
        for partition in self.info.partitions:
            if partition.name == name:
                return partition.id
        raise errors.PartitionNotFound(f"partition not found[partition={name}]")

    def partition_ids(self, names: Iterable[str]) -> list[int]:
        return [self.partition_id(name) for name in names]


class Collections:
    """Resolves collections through the meta cache and makes sure the data coordinator
    watches their channels before the first write (``WatchChannels`` is idempotent)."""

    def __init__(self, cache: MetaCache, datacoord: Caller, default_partition: str = "_default",
                 on_channels: Callable[[Iterable[str]], None] = lambda _: None):
        self._cache = cache
        self._datacoord = datacoord
        self.default_partition = default_partition
        self._on_channels = on_channels
        self._lock = threading.Lock()
        self._models: dict[tuple[int, int], CollectionSchemaModel] = {}
        self._watched: set[int] = set()

    def get(self, db: str, name: str) -> Collection:
        info = self._cache.get(db, name)
        key = (info.id, info.schema_version)
        with self._lock:
            model = self._models.get(key)
        if model is None:
            model = CollectionSchemaModel(schema_pb2.CollectionSchema.FromString(info.schema))
            with self._lock:
                self._models[key] = model
        self._on_channels(info.physical_channels)
        return Collection(info, model)

    def ensure_watched(self, coll: Collection) -> None:
        with self._lock:
            if coll.id in self._watched:
                return
        self._datacoord("WatchChannels", datacoord_pb2.WatchChannelsRequest(
            collectionID=coll.id, channelNames=coll.vchannels, schema=coll.info.schema, dbID=coll.info.db_id))
        with self._lock:
            self._watched.add(coll.id)

    def forget(self, collection_id: int) -> None:
        with self._lock:
            self._watched.discard(collection_id)
