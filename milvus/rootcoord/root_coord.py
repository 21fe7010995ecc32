"""The root coordinator: databases, collections, partitions and aliases; clocks and IDs.

Each method of the ``RootCoord`` service takes and returns its protobuf messages.  The RPCs
live by concern in mixins (``databases``, ``collections``, ``collection_changes``,
``partitions``, ``aliases``, ``rbac_rpcs``); this module holds the state they share, the
lifecycle, the time ticks, the finishing of drops, clocks and IDs.  Failures are raised as
``milvus.errors`` exceptions inside and answered as statuses by one decorator
(``milvus.rootcoord.rpc.answers``); nothing else catches.  DDL runs one at a time under one
lock; reads take the same lock, so they never see half of a change.  After a DDL that changes what a collection
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

from milvus import errors
from milvus._proto import internal_pb2, proxy_pb2, rootcoord_pb2
from milvus.config import Config
from milvus.grpc_gen import common_pb2
from milvus.kv.base import KV
from milvus.metastore import RootCoordCatalog
from milvus.metastore.rbac_catalog import RbacCatalog
from milvus.mq import MQ
from milvus.rootcoord.aliases import AliasRpcs
from milvus.rootcoord.channels import DmlChannels
from milvus.rootcoord.collection_changes import CollectionChangeRpcs
from milvus.rootcoord.collections import CollectionRpcs
from milvus.rootcoord.databases import DatabaseRpcs
from milvus.rootcoord.drops import DropFinisher, ReleaseSteps
from milvus.rootcoord.meta_table import (
    DEFAULT_DB,
    CollectionInfo,
    DatabaseInfo,
    MetaTable,
    collection_not_found,
)
from milvus.rootcoord.params import RootCoordParams
from milvus.rootcoord.partitions import PartitionRpcs
from milvus.rootcoord.rbac import Rbac
from milvus.rootcoord.rbac_rpcs import RbacRpcs
from milvus.rootcoord.rpc import OK, SERVICE, answers
from milvus.rootcoord.timetick import UNCONFIRMED_GRACE, TickReport, TimeTickSync
from milvus.tso import MAX_LOGICAL, IDAllocator, TimestampOracle
from milvus.util.retry_log import RetryLog

log = logging.getLogger(__name__)

__all__ = ["SERVICE", "RootCoord"]

class RootCoord(DatabaseRpcs, CollectionRpcs, CollectionChangeRpcs, PartitionRpcs, AliasRpcs, RbacRpcs):
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

    @answers
    def UpdateChannelTimeTick(self, request: rootcoord_pb2.ChannelTimeTickMsg) -> common_pb2.Status:
        if self._timetick is None:
            raise errors.Unimplemented("this root coordinator sends no time ticks (no message queue)")
        self._timetick.report(request.base.sourceID, TickReport.from_msg(request), request.immediate)
        return OK

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

    def _alter(self, coll: CollectionInfo, expired: list[proxy_pb2.InvalidateCollMetaCacheRequest],
               change: Callable[[CollectionInfo, int], None]) -> CollectionInfo:
        """Store a changed copy of ``coll`` (``change(copy, ts)`` edits it; ``updated_ts``
        becomes ``ts``, a new timestamp) and list the proxies' invalidation of it."""
        updated = CollectionInfo()
        updated.CopyFrom(coll)
        ts = self._tso.alloc()
        change(updated, ts)
        updated.updated_ts = ts
        self._meta.alter_collection(updated)
        expired.append(self._expire(updated))
        return updated

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
        return internal_pb2.ComponentStates(state=internal_pb2.ComponentInfo(role=self.name, state=state), status=OK)

    @answers
    def AllocTimestamp(self, request: rootcoord_pb2.AllocTimestampRequest) -> rootcoord_pb2.AllocTimestampResponse:
        count = request.count or 1
        if count > MAX_LOGICAL:
            raise errors.ParameterInvalid(f"count {count} exceeds {MAX_LOGICAL} timestamps per call: invalid parameter")
        return rootcoord_pb2.AllocTimestampResponse(status=OK, timestamp=self._tso.alloc(count), count=count)

    @answers
    def AllocID(self, request: rootcoord_pb2.AllocIDRequest) -> rootcoord_pb2.AllocIDResponse:
        count = request.count or 1
        start, _ = self._ids.alloc(count)
        return rootcoord_pb2.AllocIDResponse(status=OK, ID=start, count=count)
