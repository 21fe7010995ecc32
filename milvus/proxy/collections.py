"""What the data path needs to know about a collection: its cached info, schema model,
partitions and channels, resolved once per request."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import pyarrow as pa

from milvus import errors
from milvus._proto import datacoord_pb2, rootcoord_pb2
from milvus.grpc_gen import schema_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.meta_cache import MetaCache
from milvus.schema import CollectionSchemaModel, FieldInfo, OutputFields, resolve_output_fields
from milvus.schema.analyzer import STANDARD, Analyzer
from milvus.schema.analyzer_params import field_analyzer

_OUTPUTS_MAX = 64  # output field lists remembered per collection
# Milvus' answer to a partition named in a request on a partition-key collection
KEY_MODE_PARTITION_NAMES = "not support manually specifying the partition names if partition key mode is used"


@dataclass(frozen=True)
class Collection:
    info: rootcoord_pb2.CollectionInfo
    schema: CollectionSchemaModel
    # output field list -> its resolution (the schema never changes under one Collection)
    _outputs: dict[tuple[str, ...], OutputFields] = field(default_factory=dict, init=False, repr=False,
                                                           compare=False)
    _analyzers: dict[str, Analyzer] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @cached_property
    def id_field(self) -> str:
        """The ``IDs`` field its primary keys travel in: ``str_id`` or ``int_id``."""
        pk_type = self.schema.primary_field.arrow_type
        return "str_id" if pa.types.is_string(pk_type) or pa.types.is_large_string(pk_type) else "int_id"

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

    @cached_property
    def partition_key(self) -> str | None:
        """The name of the partition key field, None when the collection has none."""
        return next((f.name for f in self.schema.fields if f.is_partition_key), None)

    @cached_property
    def key_partitions(self) -> list[int]:
        """A partition-key collection's partition ids in the order of their ``_{i}`` suffix
        (``{default}_0``, ``{default}_1``, ...): a key's partition is ``hash(key) % len``."""
        numbered = []
        for partition in self.info.partitions:
            suffix = partition.name.rsplit("_", 1)[-1]
            if suffix.isdigit():
                numbered.append((int(suffix), partition.id))
        if not numbered:
            raise errors.PartitionNotFound(f"collection {self.name} has no partitions for its partition key")
        return [pid for _, pid in sorted(numbered)]

    def bm25_analyzer(self, output: FieldInfo) -> Analyzer:
        """The analyzer of the input field of the BM25 function that fills ``output``
        (remembered: the schema never changes under one Collection)."""
        analyzer = self._analyzers.get(output.name)
        if analyzer is None:
            producer = self.schema.producer(output.name)
            source = self.schema.field(producer.input_names[0]) if producer is not None else None
            analyzer = field_analyzer(source.type_params) if source is not None else STANDARD
            self._analyzers[output.name] = analyzer
        return analyzer

    def anns_field(self, name: str) -> FieldInfo | None:
        """The vector field a search names, or its only vector field when it names none; None
        when there is no such field (the query node answers why)."""
        if name:
            info = self.schema.get_field(name)
            return info if info is not None and info.is_vector else None
        vectors = self.schema.vector_fields
        return vectors[0] if len(vectors) == 1 else None

    def output_fields(self, names: Sequence[str]) -> OutputFields:
        """``resolve_output_fields`` of the schema, remembered per list of names (treat the
        answer as read-only: it is shared)."""
        key = tuple(names)
        out = self._outputs.get(key)
        if out is None:
            out = resolve_output_fields(self.schema, key)
            if len(self._outputs) < _OUTPUTS_MAX:
                self._outputs[key] = out
        return out


class Collections:
    """Resolves collections through the meta cache and makes sure the data coordinator
    watches their channels before the first write (``WatchChannels`` is idempotent).

    When the data coordinator answers that a collection or one of its partitions is not found
    (it was dropped, and this proxy missed the invalidation), the collection is forgotten here
    (``not_found``): the next request resolves the name again instead of retrying what is gone."""

    def __init__(self, cache: MetaCache, datacoord: Caller, default_partition: str = "_default",
                 on_channels: Callable[[Iterable[str]], None] = lambda _: None):
        self._cache = cache
        self._datacoord = datacoord
        self.default_partition = default_partition
        self._on_channels = on_channels
        self._lock = threading.Lock()
        self._models: dict[tuple[int, int], CollectionSchemaModel] = {}
        # collection id -> the Collection last made, reused while the cache answers the same info object
        self._resolved: dict[int, Collection] = {}
        self._watched: set[int] = set()

    def get(self, db: str, name: str) -> Collection:
        info = self._cache.get(db, name)
        coll = self._resolved.get(info.id)
        if coll is None or coll.info is not info:
            coll = self._make(info)
        self._on_channels(info.physical_channels)
        return coll

    def get_by_id(self, collection_id: int) -> Collection:
        info = self._cache.get_by_id(collection_id)
        coll = self._resolved.get(info.id)
        return coll if coll is not None and coll.info is info else self._make(info)

    def _make(self, info: rootcoord_pb2.CollectionInfo) -> Collection:
        key = (info.id, info.schema_version)
        with self._lock:
            model = self._models.get(key)
        if model is None:
            model = CollectionSchemaModel(schema_pb2.CollectionSchema.FromString(info.schema))
            with self._lock:
                self._models[key] = model
        coll = Collection(info, model)
        with self._lock:
            self._resolved[info.id] = coll
        return coll

    def ensure_watched(self, coll: Collection) -> None:
        with self._lock:
            if coll.id in self._watched:
                return
        try:
            self._datacoord("WatchChannels", datacoord_pb2.WatchChannelsRequest(
                collectionID=coll.id, channelNames=coll.vchannels, schema=coll.info.schema, dbID=coll.info.db_id))
        except errors.MilvusError as exc:
            self.not_found(coll, exc)
            raise
        with self._lock:
            self._watched.add(coll.id)

    def not_found(self, coll: Collection, exc: errors.MilvusError) -> None:
        """``exc`` is what the data coordinator answered about ``coll``: when it says the
        collection (or a partition of it) is not found (dropped), forget the collection's
        cached info and raise CollectionNotFound (PartitionNotFound); else return."""
        if exc.code == errors.PartitionNotFound.code:
            self.forget(coll.id)  # its partitions are read again on the next request
            raise errors.PartitionNotFound(exc.message) from None
        if exc.code != errors.CollectionNotFound.code:
            return
        self.forget(coll.id)
        raise errors.CollectionNotFound(f"collection not found[collection={coll.name}]: it was dropped") from None

    def forget(self, collection_id: int) -> None:
        """Forget everything known of the collection: its cached info, that it is watched."""
        with self._lock:
            self._watched.discard(collection_id)
            self._resolved.pop(collection_id, None)
        self._cache.invalidate(collection_id=collection_id)
