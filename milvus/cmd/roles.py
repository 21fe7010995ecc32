"""What one ``milvus run ROLE`` process runs, assembled from the config.

Start order: the metrics/health server (so probes see "starting"), the meta store, the
message queue, object storage, discovery (this process's server id, the cluster's sessions),
the role's own components, and last the session (the process is announced only once it can
serve).  Stop runs in reverse.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

import milvus
from milvus.cmd.backends import open_kv, open_mq, open_storage
from milvus.cmd.lifecycle import Component, Runner
from milvus.config import Config
from milvus.kv import KV, PrefixedKV
from milvus.metrics import MetricsRegistry, MetricsServer
from milvus.mq import MQ
from milvus.mq.metered import MeteredMQ
from milvus.session import KVSessionRegistry, LocalSessionRegistry, Session, SessionDirectory, SessionRegistry
from milvus.storage import ObjectStorage
from milvus.storage.metered import MeteredStorage
from milvus.util.tracing import NO_TRACING, Tracing, open_tracing

log = logging.getLogger(__name__)

ROLES = ("standalone", "proxy", "rootcoord", "datacoord", "querycoord", "datanode", "querynode", "indexnode")

# the config key of the gRPC port each role serves on
PORT_KEYS: Mapping[str, str] = MappingProxyType({
    "standalone": "proxy.port",
    "proxy": "proxy.port",
    "rootcoord": "rootCoord.port",
    "datacoord": "dataCoord.port",
    "querycoord": "queryCoord.port",
    "datanode": "dataNode.port",
    "querynode": "queryNode.port",
    "indexnode": "indexNode.port",
})

class _Closeable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Closeable)


class Resource(Generic[T]):
    """A component owning one infrastructure client: opened on start, closed on stop.

    ``probe`` (optional) is called with the client by ``health`` and raises when it is
    not usable.
    """

    def __init__(self, name: str, opener: Callable[[], T], probe: Callable[[T], object] | None = None):
        self.name = name
        self._opener = opener
        self._probe = probe
        self._value: T | None = None

    @property
    def value(self) -> T:
        if self._value is None:
            raise RuntimeError(f"{self.name} is not open")
        return self._value

    def start(self) -> None:
        self._value = self._opener()

    def stop(self) -> None:
        value, self._value = self._value, None
        if value is not None:
            value.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self._value is None:
            return False, {"error": "not open"}
        if self._probe is not None:
            try:
                self._probe(self._value)
            except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
                return False, {"error": repr(exc)}
        return True, {}


class Discovery:
    """Opens service discovery early (before the role's components): reserves this process's
    server id and mirrors the cluster's sessions (``directory``), so the role can be built
    with its id and find its peers; the session itself is announced last (``SessionComponent``).

    ``make_registry(on_lost)`` builds the registry; ``on_lost`` is called when a session of
    this process expired behind its back (the cluster no longer sees it).
    """

    name = "discovery"

    def __init__(self, make_registry: Callable[[Callable[[Session], None]], SessionRegistry],
                 on_lost: Callable[[Session], None]):
        self._make_registry = make_registry
        self._on_lost = on_lost
        self._registry: SessionRegistry | None = None
        self._directory: SessionDirectory | None = None
        self.server_id: int | None = None

    @property
    def registry(self) -> SessionRegistry:
        if self._registry is None:
            raise RuntimeError("discovery is not started")
        return self._registry

    @property
    def directory(self) -> SessionDirectory:
        if self._directory is None:
            raise RuntimeError("discovery is not started")
        return self._directory

    def start(self) -> None:
        registry = self._make_registry(self._on_lost)
        try:
            self.server_id = registry.reserve_server_id()
            directory = SessionDirectory(registry)
            directory.start()
        except BaseException:
            registry.close()
            raise
        self._registry, self._directory = registry, directory

    def stop(self) -> None:
        directory, self._directory = self._directory, None
        registry, self._registry = self._registry, None
        if directory is not None:
            directory.stop()
        if registry is not None:
            registry.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self._registry is None:
            return False, {"error": "not started"}
        return True, {"server_id": self.server_id}


@dataclass
class RoleContext:
    """What a role's components are built from.  The infrastructure clients and discovery
    are open from the moment those components start (they start after them).

    A component serving the role's gRPC service calls ``serving_on`` with the port it bound
    (``grpc_port`` may be 0): the session announces that address.
    """

    role: str
    config: Config
    metrics: MetricsRegistry
    grpc_host: str
    grpc_port: int
    advertise_host: str
    _kv: Resource[KV]
    _mq: Resource[MQ]
    _storage: Resource[ObjectStorage]
    _discovery: Discovery
    tracing: Tracing = NO_TRACING
    bound_port: int | None = None
    session_extra: dict[str, Any] = field(default_factory=dict)
    # ask the process to stop because something broke (set by ``build_process``)
    request_stop: Callable[[str], None] = lambda _reason: None
    _session: SessionComponent | None = None

    @property
    def kv(self) -> KV:
        """The meta store (the whole store: wrap it in a PrefixedKV under ``meta_root``)."""
        return self._kv.value

    @property
    def mq(self) -> MQ:
        return self._mq.value

    @property
    def storage(self) -> ObjectStorage:
        return self._storage.value

    @property
    def server_id(self) -> int:
        """This process's id in the cluster (its session's ``server_id``)."""
        server_id = self._discovery.server_id
        if server_id is None:
            raise RuntimeError("discovery is not started")
        return server_id

    @property
    def sessions(self) -> SessionDirectory:
        """The cluster's live sessions, to resolve and follow peers."""
        return self._discovery.directory

    @property
    def advertise_address(self) -> str:
        """The address this process's session announces."""
        return f"{self.advertise_host}:{self.bound_port if self.bound_port is not None else self.grpc_port}"

    def serving_on(self, port: int, **extra: Any) -> None:
        """The role's gRPC service is bound to ``port``; ``extra`` goes into the session."""
        self.bound_port = port
        self.session_extra.update(extra)

    def defer_session(self) -> Callable[[], None]:
        """Do not announce this process when the session component starts; announce it when
        the returned function is called (an active-standby coordinator, once it is active)."""
        if self._session is None:
            raise RuntimeError("no session component")
        self._session.defer()
        return self._session.announce


ComponentFactory = Callable[[RoleContext], Component]

# the hook where each role's own components (its core logic and gRPC service) are added,
# in start order
ROLE_COMPONENTS: Mapping[str, tuple[ComponentFactory, ...]] = MappingProxyType({role: () for role in ROLES})


class SessionComponent:
    """Announces this process in service discovery on start (with the reserved server id and
    the address its service is bound to) and withdraws it on stop."""

    name = "session"

    def __init__(self, context: RoleContext):
        self._context = context
        self.role = context.role
        self._session: Session | None = None
        self._lost = False
        self._deferred = False
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def server_id(self) -> int | None:
        return self._session.server_id if self._session is not None else None

    @property
    def address(self) -> str:
        return self._context.advertise_address

    def lost(self, session: Session) -> None:
        """Discovery found this session expired behind our back."""
        if self._session is not None and session.key == self._session.key:
            self._lost = True

    def defer(self) -> None:
        """``start`` will not register: ``announce`` will (called before ``start``)."""
        self._deferred = True

    def start(self) -> None:
        if not self._deferred:
            self.announce()

    def announce(self) -> None:
        """Register the session (once; not after ``stop``)."""
        ctx = self._context
        with self._lock:
            if self._session is not None or self._stopped:
                return
            self._session = ctx._discovery.registry.register(
                self.role, self.address, dict(ctx.session_extra), server_id=ctx.server_id)
        log.info("registered session %s at %s", self._session.key, self.address)

    def stop(self) -> None:
        with self._lock:
            session, self._session = self._session, None
            self._stopped = True
        if session is not None:
            session.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self._session is None and self._deferred and not self._stopped:
            return True, {"standby": True}
        if self._session is None:
            return False, {"error": "not registered"}
        detail = {"server_id": self._session.server_id, "address": self._session.address}
        if self._lost:
            return False, {**detail, "error": "session lost"}
        return True, detail


class _Drain:
    """Stopped first (added last): the roles' graceful drain (a query node's channels moving
    elsewhere) runs while the session is still registered and the role still serves."""

    name = "drain"

    def __init__(self, components: list[Any]):
        self._components = components

    def start(self) -> None:
        pass

    def stop(self) -> None:
        for component in self._components:
            component.drain()

    def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {}


def advertise_host(bind_host: str) -> str:
    """The host other processes reach a server bound on ``bind_host`` at."""
    if bind_host not in ("", "0.0.0.0", "::"):
        return bind_host
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


@dataclass
class RoleProcess:
    role: str
    runner: Runner
    metrics_server: MetricsServer
    session: SessionComponent
    context: RoleContext

    @property
    def grpc_address(self) -> str:
        return self.context.advertise_address

    def ready_message(self) -> str:
        return f"milvus {self.role} ready: grpc={self.grpc_address} metrics={self.metrics_server.address}"


def meta_root(config: Config) -> str:
    """The prefix of every metadata key of this cluster (``by-dev/meta/``)."""
    return f"{config['etcd.rootPath']}/{config['etcd.metaSubPath']}/"


def _session_registry(
    role: str, config: Config, kv: Resource[KV]
) -> Callable[[Callable[[Session], None]], SessionRegistry]:
    def local(_on_lost: Callable[[Session], None]) -> SessionRegistry:
        return LocalSessionRegistry()

    def in_meta_store(on_lost: Callable[[Session], None]) -> SessionRegistry:
        return KVSessionRegistry(
            PrefixedKV(kv.value, meta_root(config)),
            ttl=config["common.session.ttl"],
            keepalive_interval=config["common.session.keepaliveInterval"],
            on_lost=on_lost,
        )

    return local if role == "standalone" else in_meta_store


def build_process(
    role: str,
    config: Config,
    role_components: Mapping[str, tuple[ComponentFactory, ...]] = ROLE_COMPONENTS,
) -> RoleProcess:
    """Everything ``milvus run ROLE`` runs, not yet started."""
    if role not in PORT_KEYS:
        raise ValueError(f"unknown role {role!r} (expected one of {', '.join(ROLES)})")
    registry = MetricsRegistry(role, milvus.__version__)
    runner = Runner(role, config["common.gracefulStopTimeout"])
    metrics_server = MetricsServer(registry, config["metrics.address"], config["metrics.port"], runner.health)
    kv: Resource[KV] = Resource("kv", lambda: open_kv(config), probe=lambda client: client.revision())
    mq: Resource[MQ] = Resource("mq", lambda: MeteredMQ(open_mq(config), registry.milvus))
    storage: Resource[ObjectStorage] = Resource(
        "storage", lambda: MeteredStorage(open_storage(config), registry.milvus))
    grpc_host = config["grpc.address"]
    grpc_port = config[PORT_KEYS[role]]
    session: SessionComponent | None = None

    def lost(session_lost: Session) -> None:
        if session is not None:
            session.lost(session_lost)
        runner.request_stop(f"session {session_lost.key} lost", failure=True)

    discovery = Discovery(_session_registry(role, config, kv), on_lost=lost)
    tracing = open_tracing(config, role)
    context = RoleContext(role, config, registry, grpc_host, grpc_port, advertise_host(grpc_host), kv, mq, storage,
                          discovery, tracing)
    session = SessionComponent(context)
    context._session = session
    context.request_stop = lambda reason: runner.request_stop(reason, failure=True)

    runner.add(tracing)  # stopped last: flushes the spans of everything stopped before it
    runner.add(metrics_server)
    runner.add(kv)
    runner.add(mq)
    runner.add(storage)
    runner.add(discovery)
    for factory in role_components.get(role, ()):
        runner.add(factory(context))
    runner.add(session)
    runner.add(_Drain([c for c in runner.components if callable(getattr(c, "drain", None))]))
    return RoleProcess(role, runner, metrics_server, session, context)
