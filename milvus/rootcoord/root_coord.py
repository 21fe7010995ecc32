"""The root coordinator: databases, collections, partitions and aliases; clocks and IDs.

Each method of the ``RootCoord`` service takes and returns its protobuf messages.  Failures
are raised as ``milvus.errors`` exceptions inside and answered as statuses by one decorator
(``_answers``); nothing else catches.  DDL runs one at a time under one lock; reads take the
same lock, so they never see half of a change.  After a DDL that changes what a collection
name means, the proxies are told to drop their cached copy (outside the lock).

A dropped collection or partition is marked dropping in the meta and then finished outside
the lock: the query and data coordinators release what it had, then the meta forgets it
(``milvus.rootcoord.drops``; retried until done, resumed after a restart).

With a message queue it also merges the proxies' time ticks and sends them on the DML
channels (``milvus.rootcoord.timetick``); it sends nothing else on those channels.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from google.protobuf.message import DecodeError

from milvus import errors
from milvus._proto import internal_pb2, proxy_pb2, rootcoord_pb2
from milvus.config import Config
from milvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2
from milvus.kv.base import KV
from milvus.metastore import RootCoordCatalog
from milvus.metastore.rbac_catalog import RbacCatalog
from milvus.mq import MQ
from milvus.rootcoord import collection_spec as spec
from milvus.rootcoord.channels import DmlChannels
from milvus.rootcoord.drops import DropFinisher, ReleaseSteps
from milvus.rootcoord.meta_table import (
    DEFAULT_DB,
    AliasInfo,
    CollectionInfo,
    DatabaseInfo,
    MetaTable,
    PartitionInfo,
    collection_not_found,
    database_not_found,
)
from milvus.rootcoord.params import RootCoordParams
from milvus.rootcoord.rbac import Rbac
from milvus.rootcoord.timetick import UNCONFIRMED_GRACE, TickReport, TimeTickSync
from milvus.rpc.answers import rpc_answers
from milvus.schema import normalize_schema
from milvus.schema.validate import validate_collection_name, validate_collection_schema, validate_new_field
from milvus.tso import MAX_LOGICAL, IDAllocator, TimestampOracle, parse_ts
from milvus.util.retry_log import RetryLog

log = logging.getLogger(__name__)

SERVICE = rootcoord_pb2.DESCRIPTOR.services_by_name["RootCoord"]
_OK = errors.OK


_answers = rpc_answers(
    SERVICE,
    ready=lambda self: self._serving,
    not_ready=lambda self: "service not ready[rootcoord]",
    log=log,
)


# field type params AlterCollectionField may change (Milvus' list)
_ALTERABLE_FIELD_PARAMS = frozenset({"max_length", "max_capacity", "mmap.enabled"})


def _props(kvs: Iterable[common_pb2.KeyValuePair]) -> dict[str, str]:
    return {kv.key: kv.value for kv in kvs}


def _kv_list(props: dict[str, str]) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key=k, value=v) for k, v in props.items()]


def _merge_properties(current, updates, delete_keys) -> dict[str, str]:
    merged = _props(current)
    merged.update(_props(updates))
    for key in delete_keys:
        merged.pop(key, None)
    return merged


class RootCoord:
    """DDL, the timestamp oracle and the ID allocator of one cluster."""

    name = "rootcoord"

    def __init__(
        self,
        catalog: RootCoordCatalog,
        tso: TimestampOracle,
        ids: IDAllocator,
        params: RootCoordParams | None = None,
        proxies: Callable[[], Iterable[Any]] = tuple,
        mq: MQ | None = None,
        datacoord: Callable[[], Any] = lambda: None,
        querycoord: Callable[[], Any] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        rbac: RbacCatalog | None = None,
    ):
        """``proxies()`` gives the clients (Proxy service) to tell about changed collections;
        with ``mq`` the merged time ticks go to the DML channels (the proxy set comes from
        ``add_proxy`` / ``remove_proxy``, and nothing is sent before ``open_time_ticks``).
        ``datacoord()`` / ``querycoord()`` give the clients (DataCoord / QueryCoord services)
        that release what a dropped collection or partition had (None: no such coordinator)."""
        self._params = params or RootCoordParams()
        self._meta = MetaTable(catalog)
        self._rbac = Rbac(rbac or RbacCatalog(catalog.kv))
        self._tso = tso
        self._ids = ids
        self._proxies = proxies
        self._channels = DmlChannels(
            self._params.cluster_prefix, self._params.dml_channel_prefix, self._params.dml_channel_num
        )
        self._lock = threading.RLock()
        self._serving = False
        self._timetick = None if mq is None else TimeTickSync(
            mq, self._channels.in_use, self._tso.alloc, interval=self._params.time_tick_interval,
            unconfirmed_ttl=max(self._params.session_ttl, UNCONFIRMED_GRACE))
        self._release = ReleaseSteps(datacoord, querycoord, self._params.drop_call_timeout)
        self._finishing = threading.Lock()  # one finish_drops at a time
        # a drop failing for a while (a coordinator down) logs once, then a reminder now and then
        self._drop_log = RetryLog(log, self._params.drop_remind_interval, clock)
        self._drops = DropFinisher(self.finish_drops, self._params.drop_retry_interval, self._drop_log)

    @classmethod
    def from_config(cls, meta_kv: KV, config: Config, proxies: Callable[[], Iterable[Any]] = tuple,
                    mq: MQ | None = None, datacoord: Callable[[], Any] = lambda: None,
                    querycoord: Callable[[], Any] = lambda: None) -> RootCoord:
        """Built on ``meta_kv``, the meta store already rooted at the cluster's meta prefix."""
        return cls(
            RootCoordCatalog(meta_kv),
            TimestampOracle(meta_kv, save_interval=config["tso.saveInterval"]),
            IDAllocator(meta_kv, batch=config["idAllocator.batchSize"]),
            RootCoordParams.from_config(config),
            proxies,
            mq,
            datacoord,
            querycoord,
        )

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        self._rbac.start()
        with self._lock:
            self._meta.load()
            if not self._meta.has_database(DEFAULT_DB):
                self._meta.add_database(DatabaseInfo(id=self._alloc_id(), name=DEFAULT_DB, created_ts=self._tso.alloc()))
            for coll in [*self._meta.collections(), *self._meta.dropping()]:
                self._channels.acquire(coll.physical_channels)
            if self._timetick is not None:
                self._timetick.start()
            self._serving = True
        self._drops.start()  # resumes the drops a previous run left unfinished
        log.info("rootcoord started: %d databases, %d collections (%d being dropped)",
                 len(self._meta.databases()), self._meta.collection_count(), len(self._meta.dropping()))

    def stop(self) -> None:
        with self._lock:
            self._serving = False
        self._drops.stop()
        if self._timetick is not None:
            self._timetick.stop()

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self._serving, {"collections": self._meta.collection_count()} if self._serving else {}

    @property
    def pchannels(self) -> tuple[str, ...]:
        """Every physical DML channel of the pool."""
        return self._channels.names

    # ---- merged time ticks ----------------------------------------------------------

    def add_proxy(self, server_id: int, client: Any = None) -> None:
        """A proxy's session is live (``client``: its Proxy service, asked for fresh ticks)."""
        if self._timetick is not None:
            self._timetick.add_proxy(server_id, client)

    def remove_proxy(self, server_id: int) -> None:
        if self._timetick is not None:
            self._timetick.remove_proxy(server_id)

    def open_time_ticks(self, expect: Iterable[int] = ()) -> None:
        """The proxy set is known: merged ticks may be sent once each proxy in ``expect`` (the
        live sessions read from discovery) was added or removed."""
        if self._timetick is not None:
            self._timetick.open(expect)

    @property
    def time_ticks(self) -> TimeTickSync | None:
        return self._timetick

    @_answers
    def UpdateChannelTimeTick(self, request: rootcoord_pb2.ChannelTimeTickMsg) -> common_pb2.Status:
        if self._timetick is None:
            raise errors.Unimplemented("this root coordinator sends no time ticks (no message queue)")
        self._timetick.report(request.base.sourceID, TickReport.from_msg(request), request.immediate)
        return _OK

    # ---- finishing drops -------------------------------------------------------------

    def finish_drops(self) -> bool:
        """Release what each collection and partition being dropped had in the other
        coordinators, then forget it; True when none is left (a failed one waits for the
        next call, made every ``drop_retry_interval`` seconds while some are left)."""
        with self._finishing:
            with self._lock:
                colls = self._meta.dropping()
                parts = [(p, self._meta.collection_by_id(p.collection_id)) for p in self._meta.dropping_partitions()]
            dropping = {c.id for c in colls}
            retried = self._drop_log
            retried.retain([DropFinisher.ROUND, *(("partition", p.id) for p, _ in parts),
                            *(("collection", c.id) for c in colls)])
            left = 0
            for part, coll in parts:
                if part.collection_id in dropping:
                    continue  # the collection's drop releases it
                what = f"finish dropping partition {part.id} of collection {part.collection_id}"
                try:
                    self._release.partition(coll.db_id if coll is not None else 0, part)
                    with self._lock:
                        self._meta.remove_dropped_partition(part)
                except Exception as exc:  # noqa: BLE001 - retried at the next call
                    retried.failed(("partition", part.id), what, exc)
                    left += 1
                else:
                    retried.succeeded(("partition", part.id), what)
            for coll in colls:
                what = f"finish dropping collection {coll.name} ({coll.id})"
                try:
                    self._release.collection(coll)
                    with self._lock:
                        self._meta.remove_dropped(coll.id)
                        self._channels.release(coll.physical_channels)
                except Exception as exc:  # noqa: BLE001 - retried at the next call
                    retried.failed(("collection", coll.id), what, exc)
                    left += 1
                else:
                    if not retried.succeeded(("collection", coll.id), what):
                        log.info("finished dropping collection %s (%d)", coll.name, coll.id)
            return left == 0

    # ---- helpers --------------------------------------------------------------------

    def _alloc_id(self) -> int:
        return self._ids.alloc(1)[0]

    @contextmanager
    def _ddl(self) -> Iterator[list[proxy_pb2.InvalidateCollMetaCacheRequest]]:
        """Run one DDL alone; the invalidations it lists go to the proxies once it succeeded."""
        expired: list[proxy_pb2.InvalidateCollMetaCacheRequest] = []
        with self._lock:
            yield expired
        for request in expired:
            for proxy in self._proxies():
                try:
                    proxy.InvalidateCollectionMetaCache(request)
                except Exception:  # noqa: BLE001 - a proxy that cannot be told catches up on its own misses
                    log.warning("could not invalidate the collection cache of a proxy", exc_info=True)

    def _expire(self, coll: CollectionInfo, *, names: Iterable[str] = ()) -> proxy_pb2.InvalidateCollMetaCacheRequest:
        db = self._meta.database_by_id(coll.db_id).name
        return proxy_pb2.InvalidateCollMetaCacheRequest(
            db_name=db, collectionName=coll.name, collectionID=coll.id,
            aliases=[*self._meta.aliases_of(coll.id), *names],
        )

    def _collection(self, db: DatabaseInfo, name: str) -> CollectionInfo:
        coll = self._meta.resolve(db.id, name)
        if coll is None:
            raise collection_not_found(db.name, name)
        return coll

    def _find(self, db_name: str, name: str, collection_id: int = 0) -> CollectionInfo:
        """A collection by id (when no name is given) or by name or alias within a database."""
        if collection_id and not name:
            coll = self._meta.collection_by_id(collection_id)
            if coll is None:
                raise collection_not_found(None, collection_id)
            return coll
        return self._collection(self._meta.database(db_name), name)

    # ---- component, clocks, ids -----------------------------------------------------

    def GetComponentStates(self, request: internal_pb2.GetComponentStatesRequest) -> internal_pb2.ComponentStates:
        state = internal_pb2.HEALTHY if self._serving else internal_pb2.INITIALIZING
        return internal_pb2.ComponentStates(state=internal_pb2.ComponentInfo(role=self.name, state=state), status=_OK)

    @_answers
    def AllocTimestamp(self, request: rootcoord_pb2.AllocTimestampRequest) -> rootcoord_pb2.AllocTimestampResponse:
        count = request.count or 1
        if count > MAX_LOGICAL:
            raise errors.ParameterInvalid(f"count {count} exceeds {MAX_LOGICAL} timestamps per call: invalid parameter")
        return rootcoord_pb2.AllocTimestampResponse(status=_OK, timestamp=self._tso.alloc(count), count=count)

    @_answers
    def AllocID(self, request: rootcoord_pb2.AllocIDRequest) -> rootcoord_pb2.AllocIDResponse:
        count = request.count or 1
        start, _ = self._ids.alloc(count)
        return rootcoord_pb2.AllocIDResponse(status=_OK, ID=start, count=count)

    # ---- databases ------------------------------------------------------------------

    @_answers
    def CreateDatabase(self, request: milvus_pb2.CreateDatabaseRequest) -> common_pb2.Status:
        with self._ddl():
            name = request.db_name
            if not name:
                raise errors.DatabaseInvalidName("database name couldn't be empty: invalid database name[database=]")
            if self._meta.has_database(name):
                raise errors.AlreadyExists(f"database already exist: {name}")
            limit = self._params.max_databases
            if len(self._meta.databases()) >= limit:
                raise errors.DatabaseNumLimitExceeded(f"exceeded the limit number of database[limit={limit}]")
            self._meta.add_database(DatabaseInfo(
                id=self._alloc_id(), name=name, created_ts=self._tso.alloc(), properties=request.properties))
        return _OK

    @_answers
    def DropDatabase(self, request: milvus_pb2.DropDatabaseRequest) -> common_pb2.Status:
        with self._ddl():
            name = request.db_name
            if name == DEFAULT_DB:
                raise errors.MilvusError("can not drop default database")
            if not self._meta.has_database(name):
                return _OK  # dropping is idempotent, as in Milvus
            db = self._meta.database(name)
            if self._meta.collections(db.id):
                raise errors.MilvusError(f"database:{name} not empty, must drop all collections before drop database")
            self._meta.remove_database(db)
        return _OK

    @_answers
    def ListDatabases(self, request: milvus_pb2.ListDatabasesRequest) -> milvus_pb2.ListDatabasesResponse:
        with self._lock:
            dbs = self._meta.databases()
        return milvus_pb2.ListDatabasesResponse(
            status=_OK, db_names=[db.name for db in dbs], db_ids=[db.id for db in dbs],
            created_timestamp=[db.created_ts for db in dbs],
        )

    @_answers
    def DescribeDatabase(self, request: milvus_pb2.DescribeDatabaseRequest) -> milvus_pb2.DescribeDatabaseResponse:
        with self._lock:
            db = self._meta.database(request.db_name)
        return milvus_pb2.DescribeDatabaseResponse(
            status=_OK, db_name=db.name, dbID=db.id, created_timestamp=db.created_ts, properties=db.properties,
        )

    @_answers
    def AlterDatabase(self, request: milvus_pb2.AlterDatabaseRequest) -> common_pb2.Status:
        with self._ddl():
            db = self._meta.database(request.db_name)
            if request.properties and request.delete_keys:
                raise errors.ParameterInvalid(
                    "alter database requires either properties or deletekeys to modify or delete keys, "
                    "both cannot be provided at the same time: invalid parameter")
            updated = DatabaseInfo()
            updated.CopyFrom(db)
            del updated.properties[:]
            updated.properties.extend(_kv_list(_merge_properties(db.properties, request.properties, request.delete_keys)))
            self._meta.alter_database(updated)
        return _OK

    # ---- collections ----------------------------------------------------------------

    @_answers
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
                    return _OK  # creating the same collection again is a no-op, as in Milvus
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
        return _OK

    @_answers
    def DropCollection(self, request: milvus_pb2.DropCollectionRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            name = request.collection_name
            if not self._meta.has_database(request.db_name or DEFAULT_DB):
                return _OK
            db = self._meta.database(request.db_name)
            if self._meta.alias(db.id, name) is not None:
                raise errors.MilvusError(f"cannot drop the collection via alias = {name}")
            coll = self._meta.collection_by_name(db.id, name)
            if coll is None:
                return _OK  # dropping is idempotent, as in Milvus
            aliases = self._meta.aliases_of(coll.id)
            if aliases:
                raise errors.MilvusError(
                    f"unable to drop the collection [{name}] because it has associated aliases {aliases}, "
                    "please remove all aliases before dropping the collection")
            expired.append(self._expire(coll))
            self._meta.mark_dropping(coll)
            log.info("dropping collection %s.%s (%d)", db.name, name, coll.id)
        self._drops.kick()
        return _OK

    @_answers
    def TruncateCollection(self, request: milvus_pb2.TruncateCollectionRequest) -> common_pb2.Status:
        """Every row written so far is gone: the collection's ``truncated_ts`` (a new timestamp)
        makes the query nodes hide the rows at or before it from every read at or after it,
        and a compaction drops them (schema, indexes, aliases and load state stay)."""
        with self._ddl() as expired:
            db = self._meta.database(request.db_name or DEFAULT_DB)
            if self._meta.alias(db.id, request.collection_name) is not None:
                raise errors.ParameterInvalid(f"cannot truncate the collection via alias = {request.collection_name}")
            coll = self._collection(db, request.collection_name)
            updated = CollectionInfo()
            updated.CopyFrom(coll)
            updated.truncated_ts = updated.updated_ts = self._tso.alloc()
            self._meta.alter_collection(updated)
            expired.append(self._expire(updated))
            log.info("truncated collection %s.%s (%d) at %d", db.name, coll.name, coll.id, updated.truncated_ts)
        try:
            self._release.truncated(coll.id, updated.truncated_ts)
        except Exception as exc:  # noqa: BLE001 - reads hide the rows; the next manual compaction drops them
            log.warning("compaction after truncating collection %d not started: %s", coll.id, exc)
        return _OK

    @_answers
    def HasCollection(self, request: milvus_pb2.HasCollectionRequest) -> milvus_pb2.BoolResponse:
        with self._lock:
            db_name = request.db_name or DEFAULT_DB
            found = self._meta.has_database(db_name) and self._meta.resolve(
                self._meta.database(db_name).id, request.collection_name) is not None
        return milvus_pb2.BoolResponse(status=_OK, value=found)

    @_answers
    def DescribeCollectionInternal(
        self, request: rootcoord_pb2.DescribeCollectionInternalRequest
    ) -> rootcoord_pb2.DescribeCollectionInternalResponse:
        with self._lock:
            coll = self._find(request.db_name, request.collection_name, request.collection_id)
            view = self._meta.view(coll)
        return rootcoord_pb2.DescribeCollectionInternalResponse(status=_OK, collection=view)

    @_answers
    def ShowCollectionsInternal(
        self, request: rootcoord_pb2.ShowCollectionsInternalRequest
    ) -> rootcoord_pb2.ShowCollectionsInternalResponse:
        with self._lock:
            db_id = self._meta.database(request.db_name).id if request.db_name else None
            views = [self._meta.view(c) for c in self._meta.collections(db_id)]
        return rootcoord_pb2.ShowCollectionsInternalResponse(status=_OK, collections=views)

    @_answers
    def AlterCollection(self, request: milvus_pb2.AlterCollectionRequest) -> common_pb2.Status:
        if request.properties and request.delete_keys:
            raise errors.ParameterInvalid("can not provide properties and deletekeys at the same time: invalid parameter")
        spec.check_properties(request.properties)
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name, request.collectionID)
            updated = CollectionInfo()
            updated.CopyFrom(coll)
            del updated.properties[:]
            updated.properties.extend(
                _kv_list(_merge_properties(coll.properties, request.properties, request.delete_keys)))
            updated.updated_ts = self._tso.alloc()
            self._meta.alter_collection(updated)
            expired.append(self._expire(updated))
        return _OK

    @_answers
    def AlterCollectionField(self, request: milvus_pb2.AlterCollectionFieldRequest) -> common_pb2.Status:
        """Change a field's ``max_length`` (VarChar, or an array of VarChar), ``max_capacity``
        (array) or ``mmap.enabled``: the schema is checked again and its version moves on, so
        the proxies validate new rows by it."""
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name)
            schema = spec.parse_schema(coll.schema)
            field = next((f for f in schema.fields if f.name == request.field_name), None)
            if field is None:
                raise errors.ParameterInvalid(f"field not found[field={request.field_name}] in collection {coll.name}")
            params = {kv.key: kv.value for kv in field.type_params}
            for kv in request.properties:
                if kv.key not in _ALTERABLE_FIELD_PARAMS:
                    raise errors.ParameterInvalid(f"{kv.key} of field {field.name} cannot be altered: only "
                                                  f"{', '.join(sorted(_ALTERABLE_FIELD_PARAMS))}")
                params[kv.key] = kv.value
            for key in request.delete_keys:
                if key != "mmap.enabled":
                    raise errors.ParameterInvalid(f"{key} of field {field.name} cannot be deleted")
                params.pop(key, None)
            del field.type_params[:]
            field.type_params.extend(_kv_list(params))
            validate_collection_schema(schema, collection_name=coll.name, limits=self._params.schema_limits)
            updated = CollectionInfo()
            updated.CopyFrom(coll)
            updated.schema = schema.SerializeToString()
            updated.schema_version = coll.schema_version + 1
            updated.updated_ts = self._tso.alloc()
            self._meta.alter_collection(updated)
            expired.append(self._expire(updated))
        return _OK

    @_answers
    def AddCollectionField(self, request: milvus_pb2.AddCollectionFieldRequest) -> common_pb2.Status:
        """Add a nullable field (Milvus 2.6): checked as Milvus does, given the next field id
        and appended; the schema version moves on.  The proxies are told to forget the
        collection; the other roles learn the new schema from what reaches them next (see
        ``milvus.querynode.node``): rows written before it read the field's default or null."""
        field = schema_pb2.FieldSchema()
        try:
            field.ParseFromString(request.schema)
        except DecodeError:
            raise errors.ParameterInvalid("the field schema cannot be parsed: invalid parameter") from None
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name, request.collectionID)
            schema = spec.parse_schema(coll.schema)
            validate_new_field(schema, field, limits=self._params.schema_limits)
            field.fieldID = 0  # normalize_schema gives it the next free id
            schema.fields.append(field)
            schema = normalize_schema(schema)
            updated = CollectionInfo()
            updated.CopyFrom(coll)
            updated.schema = schema.SerializeToString(deterministic=True)
            updated.schema_version = coll.schema_version + 1
            updated.updated_ts = self._tso.alloc()
            self._meta.alter_collection(updated)
            expired.append(self._expire(updated))
            log.info("added field %s (%d) to collection %s (%d), schema version %d", field.name,
                     schema.fields[-1].fieldID, coll.name, coll.id, updated.schema_version)
        return _OK

    @_answers
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
        return _OK

    # ---- users, roles and privileges (milvus.rootcoord.rbac) -------------------------

    @_answers
    def CreateCredential(self, request):
        return self._rbac.create_credential(request)

    @_answers
    def UpdateCredential(self, request):
        return self._rbac.update_credential(request)

    @_answers
    def DeleteCredential(self, request):
        return self._rbac.delete_credential(request)

    @_answers
    def ListCredUsers(self, request):
        return self._rbac.list_cred_users(request)

    @_answers
    def CreateRole(self, request):
        return self._rbac.create_role(request)

    @_answers
    def DropRole(self, request):
        return self._rbac.drop_role(request)

    @_answers
    def AlterRole(self, request):
        return self._rbac.alter_role(request)

    @_answers
    def OperateUserRole(self, request):
        return self._rbac.operate_user_role(request)

    @_answers
    def SelectRole(self, request):
        return self._rbac.select_role(request)

    @_answers
    def SelectUser(self, request):
        return self._rbac.select_user(request)

    @_answers
    def OperatePrivilege(self, request):
        return self._rbac.operate_privilege(request)

    @_answers
    def SelectGrant(self, request):
        return self._rbac.select_grant(request)

    @_answers
    def OperatePrivilegeV2(self, request):
        return self._rbac.operate_privilege_v2(request)

    @_answers
    def CreatePrivilegeGroup(self, request):
        return self._rbac.create_privilege_group(request)

    @_answers
    def DropPrivilegeGroup(self, request):
        return self._rbac.drop_privilege_group(request)

    @_answers
    def ListPrivilegeGroups(self, request):
        return self._rbac.list_privilege_groups(request)

    @_answers
    def OperatePrivilegeGroup(self, request):
        return self._rbac.operate_privilege_group(request)

    @_answers
    def CheckCredential(self, request):
        return self._rbac.check_credential(request)

    @_answers
    def GetUserPolicy(self, request):
        return self._rbac.user_policy(request)

    # ---- partitions -----------------------------------------------------------------

    @staticmethod
    def _partition_key_mode(coll: CollectionInfo) -> bool:
        return any(f.is_partition_key for f in spec.parse_schema(coll.schema).fields)

    @_answers
    def CreatePartition(self, request: milvus_pb2.CreatePartitionRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name)
            if self._partition_key_mode(coll):
                raise errors.MilvusError("disable create partition if partition key mode is used")
            name = request.partition_name
            if any(p.name == name for p in coll.partitions):
                return _OK  # creating an existing partition is a no-op, as in Milvus
            limit = self._params.max_partitions
            if len(coll.partitions) >= limit:
                raise errors.MilvusError(
                    f"partition number ({len(coll.partitions)}) exceeds max configuration ({limit}), "
                    f"collection: {coll.name}")
            partition = PartitionInfo(id=self._alloc_id(), name=name, created_ts=self._tso.alloc(), collection_id=coll.id)
            self._meta.add_partition(coll, partition)
            expired.append(self._expire(coll))
        return _OK

    @_answers
    def DropPartition(self, request: milvus_pb2.DropPartitionRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name)
            name = request.partition_name
            if name == self._params.default_partition:
                raise errors.MilvusError("default partition cannot be deleted")
            if self._partition_key_mode(coll):
                raise errors.MilvusError("disable drop partition if partition key mode is used")
            partition = next((p for p in coll.partitions if p.name == name), None)
            if partition is None:
                return _OK  # dropping is idempotent, as in Milvus
            self._meta.mark_partition_dropping(coll, partition)
            expired.append(self._expire(coll))
        self._drops.kick()
        return _OK

    @_answers
    def HasPartition(self, request: milvus_pb2.HasPartitionRequest) -> milvus_pb2.BoolResponse:
        with self._lock:
            coll = self._find(request.db_name, request.collection_name)
            found = any(p.name == request.partition_name for p in coll.partitions)
        return milvus_pb2.BoolResponse(status=_OK, value=found)

    @_answers
    def ShowPartitions(self, request: milvus_pb2.ShowPartitionsRequest) -> milvus_pb2.ShowPartitionsResponse:
        with self._lock:
            coll = self._find(request.db_name, request.collection_name, request.collectionID)
            partitions = list(coll.partitions)
        if request.partition_names:
            by_name = {p.name: p for p in partitions}
            missing = [n for n in request.partition_names if n not in by_name]
            if missing:
                raise errors.PartitionNotFound(f"partition not found[partition={missing[0]}]")
            partitions = [by_name[n] for n in request.partition_names]
        return milvus_pb2.ShowPartitionsResponse(
            status=_OK,
            partition_names=[p.name for p in partitions],
            partitionIDs=[p.id for p in partitions],
            created_timestamps=[p.created_ts for p in partitions],
            created_utc_timestamps=[parse_ts(p.created_ts)[0] for p in partitions],
            inMemory_percentages=[0] * len(partitions),
        )

    # ---- aliases --------------------------------------------------------------------

    def _check_alias_target(self, db: DatabaseInfo, alias: str, collection_name: str) -> CollectionInfo:
        if self._meta.collection_by_name(db.id, alias) is not None:
            raise errors.AliasCollectionNameConflict(
                f"alias and collection name conflict[database={db.name}][alias={alias}]")
        coll = self._meta.collection_by_name(db.id, collection_name)
        if coll is None:
            raise collection_not_found(db.name, collection_name)
        return coll

    @_answers
    def CreateAlias(self, request: milvus_pb2.CreateAliasRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            db = self._meta.database(request.db_name)
            alias = request.alias
            coll = self._check_alias_target(db, alias, request.collection_name)
            existing = self._meta.alias(db.id, alias)
            if existing is not None:
                if existing.collection_id == coll.id:
                    return _OK  # the same alias again is a no-op, as in Milvus
                other = self._meta.collection_by_id(existing.collection_id)
                raise errors.AliasAlreadyExists(
                    f"{alias} is alias to another collection: {other.name if other else existing.collection_id}: "
                    f"alias already exist[database={db.name}][alias={alias}]")
            self._meta.add_alias(AliasInfo(name=alias, collection_id=coll.id, db_id=db.id, created_ts=self._tso.alloc()))
            expired.append(self._expire(coll))
        return _OK

    @_answers
    def AlterAlias(self, request: milvus_pb2.AlterAliasRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            db = self._meta.database(request.db_name)
            alias = request.alias
            coll = self._check_alias_target(db, alias, request.collection_name)
            existing = self._meta.alias(db.id, alias)
            if existing is None:
                raise errors.AliasNotFound(f"alias not found[database={db.name}][alias={alias}]")
            previous = self._meta.collection_by_id(existing.collection_id)
            self._meta.alter_alias(AliasInfo(name=alias, collection_id=coll.id, db_id=db.id, created_ts=self._tso.alloc()))
            if previous is not None:
                expired.append(self._expire(previous, names=[alias]))
            expired.append(self._expire(coll))
        return _OK

    @_answers
    def DropAlias(self, request: milvus_pb2.DropAliasRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            db = self._meta.database(request.db_name)
            existing = self._meta.alias(db.id, request.alias)
            if existing is None:
                # idempotent, as Milvus 2.4/2.5 (pymilvus' own alias example drops before creating)
                return _OK
            self._meta.remove_alias(existing)
            coll = self._meta.collection_by_id(existing.collection_id)
            if coll is not None:
                expired.append(self._expire(coll, names=[request.alias]))
        return _OK

    @_answers
    def DescribeAlias(self, request: milvus_pb2.DescribeAliasRequest) -> milvus_pb2.DescribeAliasResponse:
        with self._lock:
            db = self._meta.database(request.db_name)
            existing = self._meta.alias(db.id, request.alias)
            coll = self._meta.collection_by_id(existing.collection_id) if existing is not None else None
            if coll is None:
                raise errors.AliasNotFound(f"alias not found[database={db.name}][alias={request.alias}]")
        return milvus_pb2.DescribeAliasResponse(status=_OK, db_name=db.name, alias=request.alias, collection=coll.name)

    @_answers
    def ListAliases(self, request: milvus_pb2.ListAliasesRequest) -> milvus_pb2.ListAliasesResponse:
        with self._lock:
            db = self._meta.database(request.db_name)
            if request.collection_name:
                coll = self._meta.collection_by_name(db.id, request.collection_name)
                if coll is None:
                    raise collection_not_found(None, request.collection_name)
                aliases = self._meta.aliases_of(coll.id)
            else:
                aliases = [a.name for a in self._meta.aliases_in(db.id)]
        return milvus_pb2.ListAliasesResponse(
            status=_OK, db_name=db.name, collection_name=request.collection_name, aliases=aliases)
