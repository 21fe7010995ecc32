"""Active-standby coordinators (``{role}.enableActiveStandby``): a second instance of a
coordinator waits and takes over when the lease of the active one expires.

Each instance campaigns for ``session/{role}`` in the meta store (``milvus.session.Election``).
Until it holds the key it is a standby: its gRPC server answers every call with a retryable
ServiceNotReady (``GetComponentStates``: state STANDBY), its session is not registered (so
nobody resolves it), and its ``/healthz`` is healthy with ``active_standby: standby``.  Once it
holds the key it waits (bounded by the session TTL) for the previous active's session to leave,
builds and starts the role exactly as a freshly started coordinator does (which recovers its
state from the meta store: the TSO resumes above its persisted high-water mark), serves, and
registers its session; clients following the role's sessions move to it and retry meanwhile.
An active instance whose lease could not be renewed stops its process (a standby may already
serve): the launcher's supervisor restarts it, as a standby.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from google.protobuf import descriptor as _descriptor

from milvus import errors
from milvus._proto import internal_pb2
from milvus.cmd.lifecycle import Component
from milvus.cmd.roles import RoleContext, meta_root
from milvus.kv import PrefixedKV
from milvus.rpc import GrpcServer, service_handler
from milvus.rpc.server import message_class
from milvus.session import Election, Session

log = logging.getLogger(__name__)

# the setting that makes each coordinator an active-standby candidate (Milvus' names)
STANDBY_KEYS: Mapping[str, str] = MappingProxyType({
    "rootcoord": "rootCoord.enableActiveStandby",
    "datacoord": "dataCoord.enableActiveStandby",
    "querycoord": "queryCoord.enableActiveStandby",
})
STANDBY = "standby"
ACTIVE = "active"


def enabled(role: str, config: Any) -> bool:
    key = STANDBY_KEYS.get(role)
    return key is not None and bool(config[key])


class StandbyAnswers:
    """Every method of ``service`` as a standby answers it: GetComponentStates says STANDBY,
    every other call is refused with ServiceNotReady (retryable: the caller resolves again)."""

    def __init__(self, service: _descriptor.ServiceDescriptor, role: str, node_id: int):
        self._role = role
        self._node_id = node_id
        for method in service.methods:
            if method.name == "GetComponentStates":
                setattr(self, method.name, self._states)
            else:
                setattr(self, method.name, self._refuse(message_class(method.output_type)))

    def _states(self, _request: Any) -> internal_pb2.ComponentStates:
        return internal_pb2.ComponentStates(
            state=internal_pb2.ComponentInfo(node_id=self._node_id, role=self._role, state=internal_pb2.STANDBY),
            status=errors.OK)

    def _refuse(self, response_cls: type) -> Callable[[Any], Any]:
        def answer(_request: Any) -> Any:
            return errors.error_response(response_cls, errors.ServiceNotReady(
                f"{self._role} {self._node_id} is a standby, not the active instance"))

        return answer


class ActiveStandby:
    """Wraps a coordinator's ``RoleService`` (``inner``): started only once this instance is
    elected; a lifecycle component standing in for it under the same name."""

    def __init__(self, context: RoleContext, inner: Component, service: _descriptor.ServiceDescriptor):
        self.name = inner.name
        self._context = context
        self._inner = inner
        self._service = service
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: GrpcServer | None = None
        self._election: Election | None = None
        self._thread: threading.Thread | None = None
        self._announce: Callable[[], None] = lambda: None
        self._active = False
        self.took_over_at: float | None = None  # time.monotonic() when it became active

    @property
    def active(self) -> bool:
        return self._active

    def start(self) -> None:
        ctx = self._context
        config = ctx.config
        self._announce = ctx.defer_session()
        server = GrpcServer(ctx.grpc_host, ctx.grpc_port,
                            [service_handler(self._service, StandbyAnswers(self._service, ctx.role, ctx.server_id))],
                            name=f"{self.name}-standby")
        server.start()
        self._server = server
        value = Session(ctx.role, ctx.server_id, f"{ctx.advertise_host}:{server.port}").to_json()
        self._election = Election(
            PrefixedKV(ctx.kv, meta_root(config)), ctx.role, value, ttl=config["common.session.ttl"],
            keepalive_interval=config["common.session.keepaliveInterval"], on_lost=self._lost,
            retry_interval=min(1.0, config["common.session.ttl"] / 3))
        self._thread = threading.Thread(target=self._run, name=f"{self.name}-campaign", daemon=True)
        self._thread.start()
        log.info("%s %d: standby, campaigning for the active role", self.name, ctx.server_id)

    def _run(self) -> None:
        election = self._election
        assert election is not None
        if not election.campaign(stop=self._stop):
            return
        try:
            self._wait_for_predecessor()
            with self._lock:
                if self._stop.is_set():
                    return
                server, self._server = self._server, None
            if server is not None:
                server.stop(grace=0.5)  # the role's own server binds the port next
            began = time.monotonic()
            self._inner.start()  # builds the role: recovers its state from the meta store
            self._active = True
            self.took_over_at = time.monotonic()
            self._announce()
            log.info("%s %d: active after %.2fs of recovery", self.name, self._context.server_id,
                     self.took_over_at - began)
        except Exception as exc:  # noqa: BLE001 - the process stops; a standby takes over
            log.exception("%s could not take over", self.name)
            self._context.request_stop(f"{self.name} could not become active: {exc}")

    def _wait_for_predecessor(self) -> None:
        """Until the previous active's session left (its lease ends with the election's), so
        that clients resolve this instance as soon as it registers; bounded by the TTL."""
        ctx = self._context
        deadline = time.monotonic() + ctx.config["common.session.ttl"] + 1.0
        while ctx.sessions.sessions(ctx.role) and time.monotonic() < deadline:
            if self._stop.wait(0.05):
                return

    def _lost(self) -> None:
        self._context.request_stop(f"{self.name} lost the active role (its lease expired)")

    def stop(self) -> None:
        self._stop.set()
        election = self._election
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()  # a take-over in progress finishes first
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop(grace=0.5)
        try:
            if self._active:
                self._inner.stop()
        finally:
            self._active = False
            if election is not None:
                election.close()  # resigns: a standby takes over at once

    def health(self) -> tuple[bool, dict[str, Any]]:
        if self._active:
            ok, detail = self._inner.health()
            return ok, {**detail, "active_standby": ACTIVE}
        server = self._server
        if server is None:
            return False, {"error": "not started"}
        return True, {"active_standby": STANDBY, "ports": [server.port]}
