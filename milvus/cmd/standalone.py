"""Every role in one process (``milvus run standalone``), on one meta store, message queue and
object storage, talking through in-process clients (``LocalClient``): the composition root.

Start order: RootCoord, DataCoord, QueryCoord (coordinators), DataNode, QueryNode, IndexNode
(nodes, each registered with its coordinator once started), the Proxy, and last the gRPC server of
the public MilvusService on ``proxy.port``.  Stop runs in reverse.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import milvus
from milvus import errors
from milvus._proto import proxy_pb2, querynode_pb2, rootcoord_pb2
from milvus.cmd import observe
from milvus.cmd.lifecycle import Component
from milvus.cmd.peers import collection_schema
from milvus.cmd.roles import ROLE_COMPONENTS, ComponentFactory, RoleContext, meta_root
from milvus.config import Config
from milvus.datacoord import SERVICE as DATACOORD_SERVICE
from milvus.datacoord import DataCoord, DataCoordParams, IndexServiceParams
from milvus.datanode import SERVICE as DATANODE_SERVICE
from milvus.datanode import DataNode, DataNodeParams
from milvus.expr import compile_filter
from milvus.indexnode import SERVICE as INDEXNODE_SERVICE
from milvus.indexnode import IndexNode
from milvus.kv import KV, PrefixedKV
from milvus.metrics import MetricsRegistry
from milvus.mq import MQ
from milvus.proxy import MilvusServiceAdapter, Proxy, ProxyParams
from milvus.querycoord.coord import SERVICE as QUERYCOORD_SERVICE
from milvus.querycoord.coord import QueryCoord
from milvus.querynode import QueryNode
from milvus.rootcoord import SERVICE as ROOTCOORD_SERVICE
from milvus.rootcoord import RootCoord
from milvus.rpc import GrpcServer, LocalClient, WrapInterceptor
from milvus.rpc.pool import active_workers
from milvus.storage import ObjectStorage
from milvus.util.tracing import NO_TRACING, Tracing, chain

log = logging.getLogger(__name__)

PROXY_SERVICE = proxy_pb2.DESCRIPTOR.services_by_name["Proxy"]
QUERYNODE_SERVICE = querynode_pb2.DESCRIPTOR.services_by_name["QueryNode"]
DATA_NODE_ID = 1
QUERY_NODE_ID = 1
INDEX_NODE_ID = 1


class LocalQueryNodes:
    """The query nodes of this process by id, reached through in-process clients by the
    proxy and by each other (a shard leader reads sealed segments on other nodes): the one
    every standalone has, and those ``add`` starts (several replicas or resource groups on
    one machine)."""

    def __init__(self, make: Callable[[int], QueryNode], client: Callable[[QueryNode], Any]):
        self._make = make
        self._client = client
        self._lock = threading.Lock()
        self._clients: dict[int, Any] = {}
        self._added: dict[int, QueryNode] = {}

    def put(self, node: QueryNode) -> Any:
        client = self._client(node)
        with self._lock:
            self._clients[node.node_id] = client
        return client

    def __call__(self, node_id: int, _address: str = "") -> Any:
        with self._lock:
            client = self._clients.get(node_id)
        if client is None:
            raise errors.NodeNotFound(f"query node {node_id} is not in this process")
        return client

    def add(self, node_id: int) -> QueryNode:
        with self._lock:
            if node_id in self._clients:
                raise errors.ParameterInvalid(f"query node {node_id} is already in this process")
        node = self._make(node_id)
        node.start()
        with self._lock:
            self._added[node_id] = node
        self.put(node)
        return node

    def remove(self, node_id: int) -> QueryNode | None:
        with self._lock:
            self._clients.pop(node_id, None)
            return self._added.pop(node_id, None)

    def added(self) -> list[int]:
        with self._lock:
            return sorted(self._added)


@dataclass
class Cluster:
    """The roles of one standalone process, built but not started."""

    config: Config
    rootcoord: RootCoord
    datacoord: DataCoord
    querycoord: QueryCoord
    datanode: DataNode
    querynode: QueryNode
    indexnode: IndexNode
    proxy: Proxy
    server: GrpcServer
    metrics: MetricsRegistry | None = None
    querynodes: LocalQueryNodes | None = None
    _started: list[str] = field(default_factory=list)
    _collectors: list[observe.RoleStateCollector] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self) -> None:
        steps = [
            ("rootcoord", self.rootcoord.start),
            ("datacoord", self.datacoord.start),
            ("querycoord", self.querycoord.start),
            ("datanode", self._start_datanode),
            ("querynode", self._start_querynode),
            ("indexnode", self._start_indexnode),
            ("proxy", self.proxy.start),
            ("server", self.server.start),
        ]
        try:
            for name, start in steps:
                start()
                self._started.append(name)
        except BaseException:
            self.stop()
            raise
        if self.metrics is not None:
            self._collectors = [
                observe.observe_role(self.metrics, "rootcoord", self.rootcoord),
                observe.observe_role(self.metrics, "datacoord", self.datacoord),
                observe.observe_role(self.metrics, "querynode", self.querynode, QUERY_NODE_ID),
                observe.observe_role(self.metrics, "indexnode", self.indexnode, INDEX_NODE_ID),
                observe.observe_role(self.metrics, "proxy", self.proxy, 0),
            ]

    def _start_datanode(self) -> None:
        self.datanode.start()
        self.datacoord.add_data_node(DATA_NODE_ID, LocalClient(self.datanode, DATANODE_SERVICE))

    def _start_querynode(self) -> None:
        self.querynode.start()
        if self.querynodes is not None:
            self.querynodes.put(self.querynode)
        self.querycoord.add_node(QUERY_NODE_ID, LocalClient(self.querynode, QUERYNODE_SERVICE), "local")

    def add_query_node(self, node_id: int) -> QueryNode:
        """Another query node in this process, started and registered with the query
        coordinator (it joins a resource group like any node that comes up)."""
        if self.querynodes is None:
            raise errors.Unimplemented("this cluster runs one query node")
        node = self.querynodes.add(node_id)
        self.querycoord.add_node(node_id, LocalClient(node, QUERYNODE_SERVICE), f"local-{node_id}")
        return node

    def remove_query_node(self, node_id: int) -> None:
        """An added query node leaves the cluster: the coordinator forgets it, then it stops."""
        self.querycoord.remove_node(node_id)
        node = self.querynodes.remove(node_id) if self.querynodes is not None else None
        if node is not None:
            node.stop()

    def _stop_querynodes(self) -> None:
        for node_id in self.querynodes.added() if self.querynodes is not None else ():
            node = self.querynodes.remove(node_id)
            if node is not None:
                node.stop()
        self.querynode.stop()

    def _start_indexnode(self) -> None:
        self.indexnode.start()
        self.datacoord.add_index_node(INDEX_NODE_ID, LocalClient(self.indexnode, INDEXNODE_SERVICE))

    def stop(self) -> None:
        collectors, self._collectors = self._collectors, []
        for collector in collectors:
            if self.metrics is not None:
                observe.unobserve(self.metrics, collector)
        stops = {
            "server": lambda: self.server.stop(grace=1.0),
            "proxy": self.proxy.stop,
            "indexnode": self.indexnode.stop,
            "querynode": self._stop_querynodes,
            "datanode": self.datanode.stop,
            "querycoord": self.querycoord.stop,
            "datacoord": self.datacoord.stop,
            "rootcoord": self.rootcoord.stop,
        }
        while self._started:
            name = self._started.pop()
            try:
                stops[name]()
            except Exception:  # noqa: BLE001 - keep stopping the rest
                log.exception("stopping %s failed", name)

    def health(self) -> tuple[bool, dict[str, Any]]:
        detail: dict[str, Any] = {}
        healthy = len(self._started) == 8
        for role in (self.datacoord, self.querycoord, self.datanode, self.querynode, self.indexnode, self.proxy):
            ok, info = role.health()
            detail[role.name] = info
            healthy = healthy and ok
        return healthy, detail


def build_cluster(config: Config, kv: KV, mq: MQ, storage: ObjectStorage, host: str, port: int,
                  max_workers: int = 16, metrics: MetricsRegistry | None = None,
                  tracing: Tracing = NO_TRACING) -> Cluster:
    """Every role on ``kv`` (the whole store; roles use the ``meta_root`` prefix), ``mq`` and
    ``storage``; the public service on ``host:port`` (0: any free port).  ``metrics`` (the
    process's registry; a private one when None) gets every role's metrics; ``tracing``
    makes a span of every public call and of every call between roles."""
    if metrics is None:
        metrics = MetricsRegistry("standalone", milvus.__version__)

    def local(impl: Any, service: Any, role: str) -> LocalClient:
        return LocalClient(impl, service, wrap=chain(tracing.local_wrap(role), observe.internal_wrap(metrics, role)))

    meta_kv = PrefixedKV(kv, meta_root(config))
    proxy_clients: list[Any] = []
    # the coordinators that release what a dropped collection had are built below: the
    # root coordinator asks for them only once started
    rootcoord = RootCoord.from_config(meta_kv, config, proxies=lambda: proxy_clients, mq=mq,
                                      datacoord=lambda: data, querycoord=lambda: query)
    root = local(rootcoord, ROOTCOORD_SERVICE, "rootcoord")

    def alloc_id(count: int) -> int:
        return root.AllocID(rootcoord_pb2.AllocIDRequest(count=count)).ID

    def alloc_ts(count: int = 1) -> int:
        return root.AllocTimestamp(rootcoord_pb2.AllocTimestampRequest(count=count)).timestamp

    index_params = IndexServiceParams(min_rows=config["indexCoord.segment.minSegmentNumRowsToEnableIndex"],
                                      check_interval=config["dataCoord.index.checkInterval"])
    datacoord = DataCoord(meta_kv, alloc_id=alloc_id, alloc_ts=alloc_ts, params=DataCoordParams.from_config(config),
                          storage=storage, index_params=index_params,
                          describe_schema=lambda collection_id: collection_schema(root, collection_id))
    data = local(datacoord, DATACOORD_SERVICE, "datacoord")
    querycoord = QueryCoord(meta_kv, datacoord=data, rootcoord=root, alloc_id=alloc_id, check_interval=0.2,
                            auto_balance=config["queryCoord.autoBalance"], await_nodes=True)
    querycoord.expect_nodes([QUERY_NODE_ID])  # started after the coordinator: no round drops it meanwhile
    query = local(querycoord, QUERYCOORD_SERVICE, "querycoord")
    datanode = DataNode(mq, storage, data, alloc_id=alloc_id, node_id=DATA_NODE_ID,
                        params=DataNodeParams.from_config(config), on_sync=observe.on_sync(metrics),
                        tracing=tracing)
    def new_querynode(node_id: int) -> QueryNode:
        return QueryNode(node_id, mq, storage, filter_compiler=compile_filter,
                         read_timeout=config["queryNode.readTimeout"], subscription_prefix=config["etcd.rootPath"],
                         local_dir=Path(config["common.dataDir"]) / f"querynode-{node_id}",
                         tracing=tracing, peer=querynodes)

    querynodes = LocalQueryNodes(new_querynode, lambda node: local(node, QUERYNODE_SERVICE, "querynode"))
    querynode = new_querynode(QUERY_NODE_ID)
    indexnode = IndexNode(INDEX_NODE_ID, storage, workers=config["indexNode.scheduler.buildParallel"],
                          on_build=observe.on_build(metrics), on_done=datacoord.indexes.trigger)
    proxy = Proxy(root, ProxyParams.from_config(config), datacoord=data,
                  querycoord=query, querynode=querynodes, mq=mq, storage=storage)
    proxy_clients.append(local(proxy, PROXY_SERVICE, "proxy"))
    rootcoord.add_proxy(0, proxy_clients[-1])  # the only proxy: the merged ticks are its own
    rootcoord.open_time_ticks()
    adapter = MilvusServiceAdapter(proxy, observe.public_metrics(metrics, 0))
    trace_wrap = tracing.server_wrap("proxy")
    server = GrpcServer(host, port, [adapter.handler()], max_workers=max_workers, name="proxy",
                        active_workers=active_workers(config["proxy.grpc.activeWorkers"]),
                        interceptors=[WrapInterceptor(trace_wrap)] if trace_wrap is not None else [])
    return Cluster(config, rootcoord, datacoord, querycoord, datanode, querynode, indexnode, proxy, server, metrics,
                   querynodes)


class StandaloneRoles:
    """The standalone roles as one lifecycle component: built on start, once the context's
    meta store, message queue and object storage are open."""

    name = "standalone-roles"

    def __init__(self, context: RoleContext):
        self._context = context
        self.cluster: Cluster | None = None

    def start(self) -> None:
        ctx = self._context
        self.cluster = build_cluster(ctx.config, ctx.kv, ctx.mq, ctx.storage, ctx.grpc_host, ctx.grpc_port,
                                     metrics=ctx.metrics, tracing=ctx.tracing)
        self.cluster.start()

    def stop(self) -> None:
        cluster, self.cluster = self.cluster, None
        if cluster is not None:
            cluster.stop()

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self.cluster is None:
            return False, {"error": "not started"}
        return self.cluster.health()


def _standalone(context: RoleContext) -> Component:
    return StandaloneRoles(context)


# what ``milvus run ROLE`` adds to the infrastructure: every role's components
COMPONENTS: Mapping[str, tuple[ComponentFactory, ...]] = MappingProxyType(
    {**ROLE_COMPONENTS, "standalone": (_standalone,)})
