"""Each role in a process of its own (``milvus run ROLE``): the composition root of a cluster.

A role process builds its logic object once the infrastructure and discovery are open,
starts it, serves its internal service over gRPC on the role's port (0: any free port; the
session announces the bound one), and reaches its peers through the session directory
(``milvus.cmd.peers``): coordinators through clients that follow their session, nodes as
their sessions come and go (DataCoord's data and index nodes, QueryCoord's query nodes,
RootCoord's proxies).  The wiring of each logic object mirrors ``standalone.build_cluster``.  The proxy also serves the public MilvusService on ``proxy.port``.

Stop runs in reverse: stop following peers, stop the servers, stop the logic (its background
work may still call its peers), close the clients.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import grpc

from milvus import errors
from milvus._proto import proxy_pb2
from milvus.cmd import active_standby, observe
from milvus.cmd.lifecycle import Component
from milvus.cmd.peers import Peers
from milvus.cmd.roles import ComponentFactory, RoleContext, meta_root
from milvus.datacoord import SERVICE as DATACOORD_SERVICE
from milvus.datacoord import DataCoord, DataCoordParams, IndexServiceParams
from milvus.datanode import SERVICE as DATANODE_SERVICE
from milvus.datanode import DataNode, DataNodeParams
from milvus.expr import compile_filter
from milvus.indexnode import SERVICE as INDEXNODE_SERVICE
from milvus.indexnode import IndexNode
from milvus.kv import PrefixedKV
from milvus.proxy import MilvusServiceAdapter, Proxy, ProxyParams
from milvus.querycoord import SERVICE as QUERYCOORD_SERVICE
from milvus.querycoord import QueryCoord
from milvus.querynode import SERVICE as QUERYNODE_SERVICE
from milvus.querynode import WORKER_METHODS as QUERYNODE_WORKER_METHODS
from milvus.querynode import QueryNode
from milvus.rootcoord import SERVICE as ROOTCOORD_SERVICE
from milvus.rootcoord import RootCoord
from milvus.rpc import GrpcClient, GrpcServer, WrapInterceptor, service_handler
from milvus.rpc.pool import active_workers

log = logging.getLogger(__name__)

PROXY_SERVICE = proxy_pb2.DESCRIPTOR.services_by_name["Proxy"]
# a proxy telling (or a coordinator asking) one node must not stall on a dead one for long
NODE_CALL_TIMEOUT = 30.0


@dataclass
class Served:
    """What a role's builder returns: the logic, its internal service, what to follow."""

    logic: Any  # start() / stop() / health()
    handlers: list[grpc.GenericRpcHandler]
    # called once the internal service is announced-ready: start following peers
    follow: Callable[[], None] = lambda: None
    # the proxy's public MilvusService, on the role's port (the internal service then goes
    # on ``internal_port``)
    public: list[grpc.GenericRpcHandler] = field(default_factory=list)
    internal_port: int = 0
    # a graceful stop's first step, while the role still serves and follows its peers (a
    # query node waits for its channels to move elsewhere)
    drain: Callable[[], object] = lambda: None
    # methods of the internal service that never call another server: served on a worker pool
    # of their own (``GrpcServer``'s leaf_methods), never queued behind calls waiting on peers
    leaf_methods: frozenset[str] = frozenset()


Builder = Callable[[RoleContext, Peers], Served]


class RoleService:
    """One role's logic served over gRPC, wired to its peers; a lifecycle component."""

    def __init__(self, context: RoleContext, name: str, build: Builder):
        self.name = name
        self._context = context
        self._build = build
        self._peers: Peers | None = None
        self._logic: Any = None
        self._servers: list[GrpcServer] = []
        self._collector: observe.RoleStateCollector | None = None
        self._drain: Callable[[], object] = lambda: None

    def start(self) -> None:
        ctx = self._context
        config = ctx.config
        self._peers = Peers(ctx.sessions, retry_timeout=config["common.rpc.retryTimeout"])
        try:
            served = self._build(ctx, self._peers)
            served.logic.start()
            self._logic = served.logic
            self._drain = served.drain
            max_recv, max_send = config["grpc.serverMaxRecvSize"], config["grpc.serverMaxSendSize"]
            trace_wrap = ctx.tracing.server_wrap(self.name)
            traced = [WrapInterceptor(trace_wrap)] if trace_wrap is not None else []
            if served.public:
                public = GrpcServer(ctx.grpc_host, ctx.grpc_port, served.public, max_recv=max_recv,
                                    max_send=max_send, name=f"{self.name}-public", interceptors=traced,
                                    active_workers=active_workers(config["proxy.grpc.activeWorkers"]))
                public.start()
                self._servers.append(public)
                internal_port = served.internal_port
            else:
                internal_port = ctx.grpc_port
            internal = GrpcServer(ctx.grpc_host, internal_port, served.handlers, max_recv=max_recv,
                                  max_send=max_send, name=self.name,
                                  interceptors=[*traced, observe.internal_interceptor(ctx.metrics, self.name)],
                                  leaf_methods=served.leaf_methods)
            internal.start()
            self._servers.append(internal)
            extra = {"public_port": self._servers[0].port} if served.public else {}
            ctx.serving_on(internal.port, **extra)
            self._collector = observe.observe_role(ctx.metrics, self.name, served.logic, ctx.server_id)
            served.follow()
        except BaseException:
            self.stop()
            raise

    def drain(self) -> None:
        """The graceful stop's first step (once), while the role still serves."""
        drain, self._drain = self._drain, lambda: None
        try:
            drain()
        except Exception:  # noqa: BLE001 - stop regardless
            log.exception("%s: graceful drain failed", self.name)

    def stop(self) -> None:
        self.drain()
        collector, self._collector = self._collector, None
        if collector is not None:
            observe.unobserve(self._context.metrics, collector)
        peers, self._peers = self._peers, None
        if peers is not None:
            peers.unfollow()  # no more joins/leaves reach the logic
        servers, self._servers = self._servers, []
        for server in reversed(servers):
            server.stop(grace=1.0)
        logic, self._logic = self._logic, None
        try:
            if logic is not None:
                logic.stop()
        finally:
            if peers is not None:
                peers.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self._logic is None:
            return False, {"error": "not started"}
        ok, detail = self._logic.health()
        return ok, {**detail, "ports": [server.port for server in self._servers]}


# ---- the roles -----------------------------------------------------------------------------


def _rootcoord(ctx: RoleContext, peers: Peers) -> Served:
    proxies: dict[int, Any] = {}
    lock = threading.Lock()

    def current_proxies() -> list[Any]:
        with lock:
            return list(proxies.values())

    def proxy_added(server_id: int, client: Any, _session: Any) -> None:
        with lock:
            proxies[server_id] = client
        rootcoord.add_proxy(server_id, client)

    def proxy_removed(server_id: int) -> None:
        with lock:
            proxies.pop(server_id, None)
        rootcoord.remove_proxy(server_id)

    def follow() -> None:
        peers.follow("proxy", PROXY_SERVICE, proxy_added, proxy_removed, timeout=NODE_CALL_TIMEOUT)
        # merged time ticks wait until every proxy live now was told (added, or removed since)
        rootcoord.open_time_ticks([session.server_id for session in ctx.sessions.sessions("proxy")])

    datacoord = peers.coordinator("datacoord", DATACOORD_SERVICE)
    querycoord = peers.coordinator("querycoord", QUERYCOORD_SERVICE)
    rootcoord = RootCoord.from_config(PrefixedKV(ctx.kv, meta_root(ctx.config)), ctx.config, proxies=current_proxies,
                                      mq=ctx.mq, datacoord=lambda: datacoord, querycoord=lambda: querycoord)
    return Served(rootcoord, [service_handler(ROOTCOORD_SERVICE, rootcoord)], follow=follow)


def _datacoord(ctx: RoleContext, peers: Peers) -> Served:
    config = ctx.config
    index_params = IndexServiceParams(min_rows=config["indexCoord.segment.minSegmentNumRowsToEnableIndex"],
                                      check_interval=config["dataCoord.index.checkInterval"])
    datacoord = DataCoord(
        PrefixedKV(ctx.kv, meta_root(config)), alloc_id=peers.alloc_id, alloc_ts=peers.alloc_ts,
        params=DataCoordParams.from_config(config), storage=ctx.storage, node_id=ctx.server_id,
        index_params=index_params, describe_schema=peers.collection_schema,
    )

    def follow() -> None:
        # before the first registers: the channels (and builds) of the others are theirs, not orphans
        datacoord.expect_data_nodes([session.server_id for session in ctx.sessions.sessions("datanode")])
        datacoord.expect_index_nodes([session.server_id for session in ctx.sessions.sessions("indexnode")])
        peers.follow("datanode", DATANODE_SERVICE,
                     lambda server_id, client, _session: datacoord.add_data_node(server_id, client),
                     datacoord.remove_data_node, timeout=NODE_CALL_TIMEOUT)
        peers.follow("indexnode", INDEXNODE_SERVICE,
                     lambda server_id, client, _session: datacoord.add_index_node(server_id, client),
                     datacoord.remove_index_node, timeout=NODE_CALL_TIMEOUT)

    return Served(datacoord, [service_handler(DATACOORD_SERVICE, datacoord)], follow=follow)


def _querycoord(ctx: RoleContext, peers: Peers) -> Served:
    querycoord = QueryCoord(
        PrefixedKV(ctx.kv, meta_root(ctx.config)),
        datacoord=peers.coordinator("datacoord", DATACOORD_SERVICE),
        rootcoord=peers.rootcoord, alloc_id=peers.alloc_id, check_interval=0.2, node_id=ctx.server_id,
        auto_balance=ctx.config["queryCoord.autoBalance"], await_nodes=True,
    )

    def follow() -> None:
        # the checker waits for these: before they are added, their replicas would look dead
        querycoord.expect_nodes([session.server_id for session in ctx.sessions.sessions("querynode")])
        peers.follow("querynode", QUERYNODE_SERVICE,
                     lambda server_id, client, session: querycoord.add_node(server_id, client, session.address),
                     querycoord.remove_node)

    return Served(querycoord, [service_handler(QUERYCOORD_SERVICE, querycoord)], follow=follow)


def _datanode(ctx: RoleContext, peers: Peers) -> Served:
    datanode = DataNode(ctx.mq, ctx.storage, peers.coordinator("datacoord", DATACOORD_SERVICE),
                        alloc_id=peers.alloc_id, node_id=ctx.server_id,
                        params=DataNodeParams.from_config(ctx.config), on_sync=observe.on_sync(ctx.metrics),
                        tracing=ctx.tracing)
    return Served(datanode, [service_handler(DATANODE_SERVICE, datanode)])


def _querynode(ctx: RoleContext, peers: Peers) -> Served:
    config = ctx.config
    others = _PeerNodes()  # the other query nodes: a shard leader reads segments its view has there
    querynode = QueryNode(ctx.server_id, ctx.mq, ctx.storage, filter_compiler=compile_filter,
                          read_timeout=config["queryNode.readTimeout"], subscription_prefix=config["etcd.rootPath"],
                          local_dir=Path(config["common.dataDir"]) / f"querynode-{ctx.server_id}",
                          tracing=ctx.tracing, peer=others)
    return Served(querynode, [service_handler(QUERYNODE_SERVICE, querynode)],
                  follow=lambda: peers.follow("querynode", QUERYNODE_SERVICE, others.added, others.removed),
                  drain=lambda: querynode.drain(config["queryNode.gracefulStopTimeout"]),
                  leaf_methods=QUERYNODE_WORKER_METHODS)


class _PeerNodes:
    """Clients of the live query nodes by server id, as their sessions come and go."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[int, Any] = {}

    def added(self, server_id: int, client: Any, _session: Any) -> None:
        with self._lock:
            self._clients[server_id] = client

    def removed(self, server_id: int) -> None:
        with self._lock:
            self._clients.pop(server_id, None)

    def __call__(self, node_id: int, _address: str) -> Any:
        with self._lock:
            client = self._clients.get(node_id)
        if client is None:
            raise errors.NodeNotFound(f"query node {node_id} has no live session")
        return client


def _indexnode(ctx: RoleContext, peers: Peers) -> Served:
    indexnode = IndexNode(ctx.server_id, ctx.storage, workers=ctx.config["indexNode.scheduler.buildParallel"],
                          on_build=observe.on_build(ctx.metrics))
    return Served(indexnode, [service_handler(INDEXNODE_SERVICE, indexnode)])


class _QueryNodeClients:
    """The proxy's query node clients, one per node at the address the query coordinator
    names; a node's client is closed when its session leaves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[int, tuple[str, Any]] = {}

    def __call__(self, node_id: int, address: str) -> Any:
        with self._lock:
            entry = self._clients.get(node_id)
            if entry is not None and entry[0] == address:
                return entry[1]
            client = GrpcClient.connect(address, QUERYNODE_SERVICE)
            self._clients[node_id] = (address, client)
        if entry is not None:
            entry[1].close()
        return client

    def removed(self, server_id: int) -> None:
        with self._lock:
            entry = self._clients.pop(server_id, None)
        if entry is not None:
            entry[1].close()

    def stop(self) -> None:
        with self._lock:
            entries, self._clients = list(self._clients.values()), {}
        for _, client in entries:
            client.close()


def _proxy(ctx: RoleContext, peers: Peers) -> Served:
    querynodes = _QueryNodeClients()
    proxy = Proxy(
        peers.rootcoord, ProxyParams.from_config(ctx.config, deploy_mode="CLUSTER"),
        datacoord=peers.coordinator("datacoord", DATACOORD_SERVICE),
        querycoord=peers.coordinator("querycoord", QUERYCOORD_SERVICE),
        querynode=querynodes, mq=ctx.mq, node_id=ctx.server_id, storage=ctx.storage,
    )
    return Served(
        _ProxyLogic(proxy, querynodes), [service_handler(PROXY_SERVICE, proxy)],
        follow=lambda: peers.follow("querynode", QUERYNODE_SERVICE, lambda *_: None, querynodes.removed),
        public=[MilvusServiceAdapter(proxy, observe.public_metrics(ctx.metrics, ctx.server_id)).handler()],
        internal_port=ctx.config["proxy.internalPort"],
    )


class _ProxyLogic:
    def __init__(self, proxy: Proxy, querynodes: _QueryNodeClients):
        self.proxy = proxy
        self._querynodes = querynodes

    def start(self) -> None:
        self.proxy.start()

    def stop(self) -> None:
        self.proxy.stop()
        self._querynodes.stop()

    def health(self) -> tuple[bool, dict[str, Any]]:
        return self.proxy.health()


_BUILDERS: Mapping[str, Builder] = MappingProxyType({
    "rootcoord": _rootcoord,
    "datacoord": _datacoord,
    "querycoord": _querycoord,
    "datanode": _datanode,
    "querynode": _querynode,
    "indexnode": _indexnode,
    "proxy": _proxy,
})


_COORDINATOR_SERVICES = MappingProxyType({
    "rootcoord": ROOTCOORD_SERVICE, "datacoord": DATACOORD_SERVICE, "querycoord": QUERYCOORD_SERVICE})


def _factory(role: str) -> ComponentFactory:
    def make(context: RoleContext) -> Component:
        service = RoleService(context, role, _BUILDERS[role])
        if active_standby.enabled(role, context.config):
            return active_standby.ActiveStandby(context, service, _COORDINATOR_SERVICES[role])
        return service

    return make


# what ``milvus run ROLE`` adds to the infrastructure for each role of a cluster
CLUSTER_COMPONENTS: Mapping[str, tuple[ComponentFactory, ...]] = MappingProxyType(
    {role: (_factory(role),) for role in _BUILDERS})
