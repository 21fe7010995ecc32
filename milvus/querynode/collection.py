"""What a query node holds for one collection: its schema, loaded partitions and shards."""

from __future__ import annotations

import threading

from milvus.errors import PartitionNotLoaded
from milvus.grpc_gen import schema_pb2
from milvus.querynode.pipeline import ChannelConsumer
from milvus.querynode.shard import Shard
from milvus.schema import CollectionSchemaModel


class CollectionState:
    def __init__(self, collection_id: int, schema: CollectionSchemaModel, schema_version: int = 0):
        self.collection_id = collection_id
        self.schema = schema
        self.schema_version = schema_version
        self._lock = threading.Lock()
        self._partitions: frozenset[int] | None = None  # None: every partition
        self._shards: dict[str, Shard] = {}
        self._consumers: dict[str, ChannelConsumer] = {}

    # ---- schema --------------------------------------------------------------------------

    def upgrade(self, schema_version: int, schema_bytes: bytes) -> bool:
        """Take the schema of ``schema_version`` when it is newer than the one held (never an
        older one): fields were added, so every segment gets their columns.  True when taken."""
        if schema_version <= self.schema_version or not schema_bytes:
            return False
        with self._lock:
            if schema_version <= self.schema_version:
                return False
            schema = CollectionSchemaModel(schema_pb2.CollectionSchema.FromString(schema_bytes))
            for shard in self._shards.values():
                shard.upgrade(schema.arrow_schema)
            self.schema, self.schema_version = schema, schema_version
            return True

    # ---- partitions ----------------------------------------------------------------------

    @property
    def partitions(self) -> frozenset[int] | None:
        """The loaded partitions; None when the whole collection is loaded."""
        with self._lock:
            return self._partitions

    def set_partitions(self, partitions: frozenset[int] | None) -> None:
        with self._lock:
            self._partitions = partitions

    def load_partitions(self, partitions: frozenset[int]) -> None:
        with self._lock:
            if self._partitions is not None:
                self._partitions = self._partitions | partitions

    def release_partitions(self, partitions: frozenset[int]) -> None:
        with self._lock:
            if self._partitions is not None:
                self._partitions = self._partitions - partitions

    def read_partitions(self, requested: list[int]) -> frozenset[int] | None:
        """The partitions a read covers: ``requested`` (each must be loaded) or every loaded one."""
        loaded = self.partitions
        if not requested:
            return loaded
        wanted = frozenset(requested)
        if loaded is not None:
            missing = sorted(wanted - loaded)
            if missing:
                raise PartitionNotLoaded(f"partition {missing[0]} of collection {self.collection_id} is not loaded")
        return wanted

    # ---- shards --------------------------------------------------------------------------

    def shard(self, channel: str) -> Shard | None:
        with self._lock:
            return self._shards.get(channel)

    def get_or_create_shard(self, channel: str, tsafe: int = 0) -> Shard:
        with self._lock:
            shard = self._shards.get(channel)
            if shard is None:
                shard = self._shards[channel] = Shard(self.collection_id, channel, tsafe)
            return shard

    def shards(self) -> dict[str, Shard]:
        with self._lock:
            return dict(self._shards)

    def consumer(self, channel: str) -> ChannelConsumer | None:
        with self._lock:
            return self._consumers.get(channel)

    def set_consumer(self, channel: str, consumer: ChannelConsumer) -> None:
        with self._lock:
            self._consumers[channel] = consumer

    def remove_consumer(self, channel: str) -> ChannelConsumer | None:
        with self._lock:
            return self._consumers.pop(channel, None)

    def is_watched(self, channel: str) -> bool:
        with self._lock:
            return channel in self._consumers

    def remove_shard(self, channel: str) -> tuple[Shard | None, ChannelConsumer | None]:
        with self._lock:
            return self._shards.pop(channel, None), self._consumers.pop(channel, None)

    def is_empty(self) -> bool:
        with self._lock:
            return not self._shards
