"""The proxy role's logic: the front door's state (meta cache, DDL) and its internal service.

It talks to the root coordinator only through a client with the ``RootCoord`` service's
methods (a ``GrpcClient`` in a cluster, a ``LocalClient`` in one process).  The public
protocol is translated by ``milvus.proxy.service``; this module raises ``milvus.errors``.
"""

from __future__ import annotations

import logging
import platform
from dataclasses import dataclass
from typing import Any

import milvus
from milvus import errors
from milvus._proto import internal_pb2, proxy_pb2, rootcoord_pb2
from milvus.config import Config
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.mq import MQ
from milvus.proxy.access import RBAC_WRITES, AccessControl
from milvus.proxy.callers import Caller
from milvus.proxy.channel_writer import ChannelWriter
from milvus.proxy.collections import Collections
from milvus.proxy.compaction import Compactions
from milvus.proxy.ddl import Ddl, RootCoordCaller
from milvus.proxy.dml import Dml
from milvus.proxy.dql import Dql, DqlParams
from milvus.proxy.imports import Imports
from milvus.proxy.indexes import Indexes
from milvus.proxy.load import Loads
from milvus.proxy.meta_cache import MetaCache
from milvus.proxy.quota import QuotaCenter, QuotaParams
from milvus.proxy.resource_groups import ResourceGroups
from milvus.proxy.schema_changes import SchemaChanges
from milvus.proxy.snapshots import Snapshots
from milvus.proxy.system_info import SystemInfo
from milvus.proxy.validate import NameRules
from milvus.rpc.health import component_states, unhealthy_reason
from milvus.storage.base import ObjectStorage

log = logging.getLogger(__name__)

DEFAULT_DB = "default"
# the Milvus release whose public API this server speaks (what GetVersion reports)
API_VERSION = "v2.5.0"


@dataclass(frozen=True)
class ProxyParams:
    max_name_length: int = 255
    deploy_mode: str = "STANDALONE"  # or CLUSTER, as Milvus reports it
    time_tick_interval: float = 0.2
    default_partition: str = "_default"
    dql: DqlParams = DqlParams()
    quota: QuotaParams = QuotaParams()
    authorization_enabled: bool = False
    access_cache_seconds: float = 5.0

    @classmethod
    def from_config(cls, config: Config, deploy_mode: str = "STANDALONE") -> ProxyParams:
        return cls(
            max_name_length=config["proxy.maxNameLength"], deploy_mode=deploy_mode,
            time_tick_interval=config["proxy.timeTickInterval"],
            default_partition=config["common.defaultPartitionName"],
            dql=DqlParams(graceful_time_ms=config["common.gracefulTime"],
                          retention_seconds=config["common.retentionDuration"], max_topk=config["proxy.maxTopK"]),
            quota=QuotaParams.from_config(config),
            authorization_enabled=config["common.security.authorizationEnabled"],
            access_cache_seconds=config["proxy.accessCacheSeconds"],
        )


@dataclass
class DataPath:
    """The proxy's write and read path: set up when the proxy has its data-path peers."""

    collections: Collections
    writer: ChannelWriter
    dml: Dml
    dql: Dql
    loads: Loads
    indexes: Indexes
    compactions: Compactions
    quota: QuotaCenter
    imports: Imports
    snapshots: Snapshots
    groups: ResourceGroups
    schema_changes: SchemaChanges


class Proxy:
    name = "proxy"

    def __init__(self, rootcoord: Any, params: ProxyParams | None = None, *, datacoord: Any = None,
                 querycoord: Any = None, querynode: Any = None, mq: MQ | None = None, node_id: int = 0,
                 storage: ObjectStorage | None = None):
        """``rootcoord``, ``datacoord`` and ``querycoord`` are clients with those services'
        methods; ``querynode(node_id, address)`` gives a QueryNode client; ``mq`` carries the
        DML channels; ``storage`` is the cluster's object storage, where bulk insert files are
        read from.  Without the data-path peers the proxy serves DDL only."""
        self.params = params or ProxyParams()
        self._rootcoord = RootCoordCaller(rootcoord)
        self.cache = MetaCache(self._fetch_collection)
        self.names = NameRules(self.params.max_name_length)
        self.ddl = Ddl(self._rootcoord, self.cache, self.names)
        self.access = AccessControl(self._rootcoord, self.params.authorization_enabled,
                                    self.params.access_cache_seconds)
        self._data: DataPath | None = None
        # what CheckHealth asks: each coordinator, which reports its nodes
        self._coordinators = [(role, client) for role, client in
                              (("rootcoord", rootcoord), ("datacoord", datacoord), ("querycoord", querycoord))
                              if client is not None]
        if datacoord is not None and querycoord is not None and querynode is not None and mq is not None:
            self._data = self._data_path(rootcoord, datacoord, querycoord, querynode, mq, node_id, storage)
        self._serving = False
        self._node_id = node_id
        self.system_info = SystemInfo(self._own_state, self.params.deploy_mode, self._coordinators)

    def rbac(self, method: str, request: Any) -> Any:
        """A users, roles or privileges request, passed to the root coordinator (which keeps
        them); after a change this proxy's access checks ask again."""
        response = self._rootcoord(method, request)
        if method in RBAC_WRITES:
            self.access.forget()
        return response

    def _data_path(self, rootcoord: Any, datacoord: Any, querycoord: Any, querynode: Any, mq: MQ,
                   node_id: int, storage: ObjectStorage | None) -> DataPath:
        root = Caller(rootcoord, "rootcoord")
        data = Caller(datacoord, "datacoord")
        query = Caller(querycoord, "querycoord")
        writer = ChannelWriter(mq, self.alloc_timestamp, self._report_time_tick,
                               interval=self.params.time_tick_interval, source_id=node_id)
        collections = Collections(self.cache, data, self.params.default_partition, on_channels=writer.activate)
        indexes = Indexes(collections, data, query, self.names)
        dql = Dql(collections, query, querynode, writer, self.alloc_timestamp, self.params.dql,
                  search_metric=indexes.search_metric, bm25_params=indexes.bm25_params)
        quota = QuotaCenter(self.params.quota, data, query)
        dml = Dml(collections, root, data, writer, mq.max_message_size, dql.matching_pks, quota=quota,
                  stored_rows=dql.stored_rows)
        imports = Imports(collections, dml, root, data, storage, node_id=node_id)
        loads = Loads(collections, data, query, writer)
        snapshots = Snapshots(collections, self.ddl, dml, indexes, loads, root, data, storage, node_id=node_id)
        return DataPath(collections, writer, dml, dql, loads, indexes, Compactions(collections, data), quota, imports,
                        snapshots, ResourceGroups(collections, query, self.names),
                        SchemaChanges(self.ddl, self.cache, collections, indexes))

    @property
    def data(self) -> DataPath:
        if self._data is None:
            raise errors.Unimplemented("this proxy serves DDL only (no data path configured)")
        return self._data

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        if self._data is not None:
            self._data.writer.start()
            self._data.imports.start()
            self._data.snapshots.start()
        self._serving = True

    def stop(self) -> None:
        self._serving = False
        if self._data is not None:
            self._data.imports.stop()  # before the writer: its last batch may still be inserting
            self._data.snapshots.stop()
            self._data.writer.stop()
        self.cache.clear()

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self._serving, {"cached_collections": len(self.cache)}

    def check_serving(self) -> None:
        if not self._serving:
            raise errors.ServiceNotReady("service not ready[proxy]")

    # ---- connection and server info -------------------------------------------------

    def server_info(self) -> common_pb2.ServerInfo:
        return common_pb2.ServerInfo(
            build_tags=API_VERSION,
            git_commit=f"milvus-py {milvus.__version__}",
            go_version=f"Python {platform.python_version()}",
            deploy_mode=self.params.deploy_mode,
            reserved={"server": "milvus-py", "version": milvus.__version__},
        )

    def connect(self, db: str, client: common_pb2.ClientInfo) -> int:
        """Check the client's database exists; the identifier its later calls carry."""
        names = self._rootcoord("ListDatabases", milvus_pb2.ListDatabasesRequest()).db_names
        if db not in names:
            raise errors.DatabaseNotFound(f"database not found[database={db}]")
        identifier = self._rootcoord("AllocTimestamp", rootcoord_pb2.AllocTimestampRequest(count=1)).timestamp
        log.info("client connected: sdk=%s %s host=%s user=%s db=%s id=%d", client.sdk_type,
                 client.sdk_version, client.host, client.user, db, identifier)
        return identifier & ((1 << 63) - 1)

    def version(self) -> str:
        return API_VERSION

    def check_health(self) -> list[str]:
        """Why the cluster is not healthy (empty when it is): one reason per unhealthy role,
        asking every coordinator and the nodes each coordinator knows, as Milvus words it."""
        if not self._serving:
            return [f"role proxy[nodeID: {self._node_id}] is unhealthy, reason: not serving"]
        reasons = []
        for role, client in self._coordinators:
            states = component_states(role, 0, client)
            infos = [states.state, *states.subcomponent_states]
            reasons += [reason for reason in map(unhealthy_reason, infos) if reason is not None]
        return reasons

    def partition_loaded(self, db: str, collection: str, partition: str) -> bool:
        """Whether the query side has the partition loaded (False on a DDL-only proxy)."""
        return self._data.loads.partition_loaded(db, collection, partition) if self._data is not None else False

    def quota_states(self) -> list[tuple[str, str]]:
        """(``QuotaState`` name, reason) of what holds writes back now (``QuotaCenter``)."""
        return self._data.quota.quota_states() if self._data is not None else []

    def alloc_timestamp(self) -> int:
        return self._rootcoord("AllocTimestamp", rootcoord_pb2.AllocTimestampRequest(count=1)).timestamp

    def _report_time_tick(self, tick: rootcoord_pb2.ChannelTimeTickMsg) -> None:
        self._rootcoord("UpdateChannelTimeTick", tick)

    def loaded_percentages(self, collection_ids: list[int]) -> dict[int, int]:
        """Loading progress (percent) of the loaded ones among ``collection_ids``."""
        return self._data.loads.loaded_percentages(collection_ids) if self._data is not None else {}

    # ---- the meta cache -------------------------------------------------------------

    def _fetch_collection(self, db: str, name: str, collection_id: int) -> rootcoord_pb2.CollectionInfo:
        request = rootcoord_pb2.DescribeCollectionInternalRequest(
            db_name=db, collection_name=name, collection_id=collection_id)
        return self._rootcoord("DescribeCollectionInternal", request).collection

    # ---- the internal Proxy service -------------------------------------------------

    def GetComponentStates(self, request: internal_pb2.GetComponentStatesRequest) -> internal_pb2.ComponentStates:
        return internal_pb2.ComponentStates(state=self._own_state(), status=errors.OK)

    def _own_state(self) -> internal_pb2.ComponentInfo:
        state = internal_pb2.HEALTHY if self._serving else internal_pb2.INITIALIZING
        return internal_pb2.ComponentInfo(role=self.name, state=state, node_id=self._node_id)

    def InvalidateCollectionMetaCache(self, request: proxy_pb2.InvalidateCollMetaCacheRequest) -> common_pb2.Status:
        db = request.db_name or DEFAULT_DB
        self.cache.invalidate(db, [request.collectionName, *request.aliases], request.collectionID)
        return errors.OK

    def GetChannelTimeTick(self, request: proxy_pb2.GetChannelTimeTickRequest) -> proxy_pb2.GetChannelTimeTickResponse:
        """A fresh time tick (the root coordinator asks: a reader waits on a merged tick)."""
        try:
            return proxy_pb2.GetChannelTimeTickResponse(status=errors.OK, tick=self.data.writer.fresh_tick())
        except Exception as exc:  # noqa: BLE001 - answered as a status
            return errors.error_response(proxy_pb2.GetChannelTimeTickResponse, exc)
