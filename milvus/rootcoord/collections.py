"""The root coordinator's collection RPCs: create, drop, truncate, rename and the
internal reads (a mixin of ``RootCoord``)."""

from __future__ import annotations

import logging

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.rootcoord import collection_spec as spec
from milvus.rootcoord.meta_table import (
    DEFAULT_DB,
    CollectionInfo,
    PartitionInfo,
    database_not_found,
)
from milvus.rootcoord.rpc import OK, answers
from milvus.schema.validate import validate_collection_name

log = logging.getLogger(__name__)


class CollectionRpcs:
    """Collections as a whole; their schema and properties change in ``CollectionChangeRpcs``."""

    @answers
    def CreateCollection(self, request: milvus_pb2.CreateCollectionRequest) -> common_pb2.Status:
        params = self._params
        schema = spec.stored_schema(request, params)
        shards = spec.shard_count(request, params)
        names = spec.partition_names(schema, request.num_partitions, params)
        spec.check_properties(request.properties)
        with self._ddl() as expired:
            db = self._meta.database(request.db_name)
            name = request.collection_name
            if self._meta.alias(db.id, name) is not None:
                raise errors.AliasCollectionNameConflict(
                    f"collection name [{name}] conflicts with an existing alias, please choose a unique name")
            ts = self._tso.alloc()
            coll = CollectionInfo(
                db_id=db.id, db_name=db.name, name=name, schema=schema.SerializeToString(deterministic=True),
                shards_num=shards, created_ts=ts, updated_ts=ts, consistency_level=request.consistency_level,
                properties=request.properties,
                partitions=[PartitionInfo(name=p, created_ts=ts) for p in names],
            )
            existing = self._meta.collection_by_name(db.id, name)
            if existing is not None:
                if spec.same_definition(existing, coll):
                    return OK  # creating the same collection again is a no-op, as in Milvus
                raise errors.AlreadyExists(f"create duplicate collection with different parameters, collection: {name}")
            if len(self._meta.collections(db.id)) >= params.max_collections_per_db:
                raise errors.CollectionNumLimitExceeded(
                    f"exceeded the limit number of collections[dbName={db.name}][limit={params.max_collections_per_db}]")
            if self._meta.collection_count() >= params.max_collections:
                raise errors.CollectionNumLimitExceeded(
                    f"exceeded the limit number of collections[limit={params.max_collections}]")
            coll.id = self._alloc_id()
            first, _ = self._ids.alloc(len(names))
            for offset, part in enumerate(coll.partitions):
                part.id, part.collection_id = first + offset, coll.id
            virtual, physical = self._channels.assign(coll.id, shards)
            coll.virtual_channels.extend(virtual)
            coll.physical_channels.extend(physical)
            try:
                self._meta.add_collection(coll)
            except BaseException:
                self._channels.release(physical)
                raise
            expired.append(self._expire(coll))
            log.info("created collection %s.%s (%d), shards %s", db.name, name, coll.id, virtual)
        return OK

    @answers
    def DropCollection(self, request: milvus_pb2.DropCollectionRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            name = request.collection_name
            if not self._meta.has_database(request.db_name or DEFAULT_DB):
                return OK
            db = self._meta.database(request.db_name)
            if self._meta.alias(db.id, name) is not None:
                raise errors.MilvusError(f"cannot drop the collection via alias = {name}")
            coll = self._meta.collection_by_name(db.id, name)
            if coll is None:
                return OK  # dropping is idempotent, as in Milvus
            aliases = self._meta.aliases_of(coll.id)
            if aliases:
                raise errors.MilvusError(
                    f"unable to drop the collection [{name}] because it has associated aliases {aliases}, "
                    "please remove all aliases before dropping the collection")
            expired.append(self._expire(coll))
            self._meta.mark_dropping(coll)
            log.info("dropping collection %s.%s (%d)", db.name, name, coll.id)
        self._drops.kick()
        return OK

    @answers
    def TruncateCollection(self, request: milvus_pb2.TruncateCollectionRequest) -> common_pb2.Status:
        """Every row written so far is gone: the collection's ``truncated_ts`` (a new timestamp)
        makes the query nodes hide the rows at or before it from every read at or after it,
        and a compaction drops them (schema, indexes, aliases and load state stay)."""
        with self._ddl() as expired:
            db = self._meta.database(request.db_name or DEFAULT_DB)
            if self._meta.alias(db.id, request.collection_name) is not None:
                raise errors.ParameterInvalid(f"cannot truncate the collection via alias = {request.collection_name}")
            coll = self._collection(db, request.collection_name)
            updated = self._alter(coll, expired, lambda copy, ts: setattr(copy, "truncated_ts", ts))
            log.info("truncated collection %s.%s (%d) at %d", db.name, coll.name, coll.id, updated.truncated_ts)
        try:
            self._release.truncated(coll.id, updated.truncated_ts)
        except Exception as exc:  # noqa: BLE001 - reads hide the rows; the next manual compaction drops them
            log.warning("compaction after truncating collection %d not started: %s", coll.id, exc)
        return OK

    @answers
    def HasCollection(self, request: milvus_pb2.HasCollectionRequest) -> milvus_pb2.BoolResponse:
        with self._lock:
            db_name = request.db_name or DEFAULT_DB
            found = self._meta.has_database(db_name) and self._meta.resolve(
                self._meta.database(db_name).id, request.collection_name) is not None
        return milvus_pb2.BoolResponse(status=OK, value=found)

    @answers
    def DescribeCollectionInternal(
        self, request: rootcoord_pb2.DescribeCollectionInternalRequest
    ) -> rootcoord_pb2.DescribeCollectionInternalResponse:
        with self._lock:
            coll = self._find(request.db_name, request.collection_name, request.collection_id)
            view = self._meta.view(coll)
        return rootcoord_pb2.DescribeCollectionInternalResponse(status=OK, collection=view)

    @answers
    def ShowCollectionsInternal(
        self, request: rootcoord_pb2.ShowCollectionsInternalRequest
    ) -> rootcoord_pb2.ShowCollectionsInternalResponse:
        with self._lock:
            db_id = self._meta.database(request.db_name).id if request.db_name else None
            views = [self._meta.view(c) for c in self._meta.collections(db_id)]
        return rootcoord_pb2.ShowCollectionsInternalResponse(status=OK, collections=views)

    @answers
    def RenameCollection(self, request: milvus_pb2.RenameCollectionRequest) -> common_pb2.Status:
        old_name, new_name = request.oldName, request.newName
        validate_collection_name(new_name, self._params.schema_limits)
        with self._ddl() as expired:
            db = self._meta.database(request.db_name)
            target_name = request.newDBName or db.name
            if not self._meta.has_database(target_name):
                raise database_not_found(target_name)
            target = self._meta.database(target_name)
            if self._meta.resolve(target.id, new_name) is not None:
                raise errors.AlreadyExists(
                    f"duplicated new collection name {target.name}:{new_name} with other collection name or alias")
            if self._meta.alias(db.id, old_name) is not None:
                raise errors.MilvusError(f"unsupported use an alias to rename collection, alias:{old_name}")
            coll = self._collection(db, old_name)
            if target.id != db.id and self._meta.aliases_of(coll.id):
                raise errors.MilvusError(
                    "fail to rename db name, must drop all aliases of this collection before rename")
            expired.append(self._expire(coll))
            renamed = CollectionInfo()
            renamed.CopyFrom(coll)
            renamed.name, renamed.db_id, renamed.db_name = new_name, target.id, target.name
            schema = spec.parse_schema(coll.schema)
            schema.name = new_name
            renamed.schema = schema.SerializeToString(deterministic=True)
            renamed.updated_ts = self._tso.alloc()
            self._meta.rename_collection(coll, renamed)
            expired.append(self._expire(renamed))
        return OK
