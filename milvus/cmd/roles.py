"""What one ``milvus run ROLE`` process runs, assembled from the config.

Start order: the metrics/health server (so probes see "starting"), the meta store, the
message queue, object storage, the role's own components, and last the session (the
process is announced only once it can serve).  Stop runs in reverse.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

import milvus
from milvus.cmd.lifecycle import Component, Runner
from milvus.config import Config
from milvus.kv import KV, PrefixedKV, open_kv
from milvus.metrics import MetricsRegistry, MetricsServer
from milvus.mq import MQ, open_mq
from milvus.session import KVSessionRegistry, LocalSessionRegistry, Session, SessionRegistry
from milvus.storage import ObjectStorage, open_storage

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


@dataclass
class RoleContext:
    """What a role's components are built from.  The infrastructure clients are open
    from the moment those components start (they start after the infrastructure)."""

    role: str
    config: Config
    metrics: MetricsRegistry
    grpc_host: str
    grpc_port: int
    advertise_address: str
    _kv: Resource[KV]
    _mq: Resource[MQ]
    _storage: Resource[ObjectStorage]

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


ComponentFactory = Callable[[RoleContext], Component]

# the hook where each role's own components (its core logic and gRPC service) are added,
# in start order
ROLE_COMPONENTS: Mapping[str, tuple[ComponentFactory, ...]] = MappingProxyType({role: () for role in ROLES})


class SessionComponent:
    """Registers this process in service discovery on start and unregisters it on stop.

    ``make_registry(on_lost)`` builds the registry; ``on_lost`` is called when the session
    expired behind this process' back (the cluster no longer sees it).
    """

    name = "session"

    def __init__(self, make_registry: Callable[[Callable[[Session], None]], SessionRegistry], role: str,
                 address: str, on_lost: Callable[[Session], None]):
        self._make_registry = make_registry
        self.role = role
        self.address = address
        self._on_lost = on_lost
        self._registry: SessionRegistry | None = None
        self._session: Session | None = None
        self._lost = False

    @property
    def server_id(self) -> int | None:
        return self._session.server_id if self._session is not None else None

    def _lost_session(self, session: Session) -> None:
        self._lost = True
        self._on_lost(session)

    def start(self) -> None:
        self._registry = self._make_registry(self._lost_session)
        self._session = self._registry.register(self.role, self.address)
        log.info("registered session %s at %s", self._session.key, self.address)

    def stop(self) -> None:
        session, self._session = self._session, None
        registry, self._registry = self._registry, None
        if session is not None:
            session.close()
        if registry is not None:
            registry.close()

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self._session is None:
            return False, {"error": "not registered"}
        detail = {"server_id": self._session.server_id, "address": self.address}
        if self._lost:
            return False, {**detail, "error": "session lost"}
        return True, detail


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
    grpc_address: str

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
    mq: Resource[MQ] = Resource("mq", lambda: open_mq(config))
    storage: Resource[ObjectStorage] = Resource("storage", lambda: open_storage(config))
    grpc_host = config["grpc.address"]
    grpc_port = config[PORT_KEYS[role]]
    address = f"{advertise_host(grpc_host)}:{grpc_port}"
    context = RoleContext(role, config, registry, grpc_host, grpc_port, address, kv, mq, storage)
    session = SessionComponent(
        _session_registry(role, config, kv), role, address,
        on_lost=lambda lost: runner.request_stop(f"session {lost.key} lost", failure=True),
    )

    runner.add(metrics_server)
    runner.add(kv)
    runner.add(mq)
    runner.add(storage)
    for factory in role_components.get(role, ()):
        runner.add(factory(context))
    runner.add(session)
    return RoleProcess(role, runner, metrics_server, session, address)
