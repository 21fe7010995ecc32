"""A client of a role whose address can change: resolved on use, reconnected when it moves.

``resolve(wait)`` names the address to call now (waiting up to ``wait`` seconds for one to
exist, e.g. until the role's session registers); the client connects to it and follows it
when it changes (a restarted coordinator registers a new address).  A call that finds the
server unreachable (gRPC UNAVAILABLE) is retried with backoff, on a fresh connection to
whatever address resolves then, until ``retry_timeout`` has passed; so is a call the server
itself answered ServiceNotReady (a coordinator that is a standby, or still starting or
stopping: the active instance registers soon; a not-ready it passes on from one of its nodes
is answered at once).  Other failures are raised at once.  Same methods as ``GrpcClient``: callers cannot tell the difference.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import descriptor as _descriptor

from milvus import errors
from milvus.rpc.client import GrpcClient, RpcError

log = logging.getLogger(__name__)

Resolve = Callable[[float], "str | None"]
Connect = Callable[[str, _descriptor.ServiceDescriptor, float], Any]

_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 1.0


class ResolvingClient:
    def __init__(self, service: _descriptor.ServiceDescriptor, resolve: Resolve, *, name: str = "",
                 timeout: float = 60.0, retry_timeout: float = 60.0, connect: Connect = GrpcClient.connect):
        """``timeout``: the default deadline of one attempt; ``retry_timeout``: how long a call
        keeps trying while the server is unreachable or not registered."""
        self._service = service
        self._resolve = resolve
        self._name = name or service.name
        self._timeout = timeout
        self._retry_timeout = retry_timeout
        self._connect = connect
        self._lock = threading.Lock()
        self._address: str | None = None
        self._client: Any = None
        self._closed = False
        for method in service.methods:
            setattr(self, method.name, self._bind(method.name))

    @property
    def address(self) -> str | None:
        """The address of the current connection (None before the first call or after a failure)."""
        return self._address

    def _current(self, wait: float) -> Any:
        address = self._resolve(max(0.0, wait))
        with self._lock:
            if self._closed:
                raise RpcError(self._name, grpc.StatusCode.CANCELLED, "client closed")
            if address is None:
                return None
            if self._client is None or address != self._address:
                old = self._client
                self._client = self._connect(address, self._service, self._timeout)
                if self._address is not None and address != self._address:
                    log.info("%s moved from %s to %s", self._name, self._address, address)
                self._address = address
                if old is not None:
                    old.close()
            return self._client

    def _reset(self, client: Any) -> None:
        """Drop ``client`` (if still current) so that the next attempt connects afresh."""
        with self._lock:
            if self._client is not client:
                return
            self._client = None
            self._address = None
        client.close()

    def _bind(self, method: str) -> Callable[..., Any]:
        def call(request: Any, timeout: float | None = None) -> Any:
            # a call given its own timeout (a health probe) gives up retrying within it too
            retry_for = self._retry_timeout if timeout is None else min(timeout, self._retry_timeout)
            deadline = time.monotonic() + retry_for
            backoff = _FIRST_BACKOFF
            while True:
                client = self._current(deadline - time.monotonic())
                if client is None:
                    raise RpcError(method, grpc.StatusCode.UNAVAILABLE,
                                   f"no {self._name} registered after {retry_for}s")
                try:
                    response = getattr(client, method)(request, timeout=timeout)
                    left = deadline - time.monotonic()
                    if not _not_ready(response, self._name) or left <= 0:
                        return response
                    log.debug("%s.%s: %s is not ready; retrying", self._name, method, self._address)
                    self._reset(client)
                    time.sleep(min(backoff, left))
                    backoff = min(backoff * 2, _MAX_BACKOFF)
                    continue
                except RpcError as exc:
                    # CANCELLED: another caller replaced the connection under this call
                    moved = exc.code is grpc.StatusCode.CANCELLED and client is not self._client
                    if exc.code is not grpc.StatusCode.UNAVAILABLE and not moved:
                        raise
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                    log.debug("%s.%s unavailable (%s); retrying", self._name, method, exc.detail)
                    self._reset(client)
                    time.sleep(min(backoff, left))
                    backoff = min(backoff * 2, _MAX_BACKOFF)

        call.__name__ = method
        return call

    def close(self) -> None:
        with self._lock:
            self._closed = True
            client, self._client, self._address = self._client, None, None
        if client is not None:
            client.close()


def _not_ready(response: Any, role: str) -> bool:
    """Whether ``response`` (a status, or a message with one) says that the server, ``role``
    itself (named in the reason), does not serve now."""
    status = response if hasattr(response, "error_code") else getattr(response, "status", None)
    return (getattr(status, "code", 0) == errors.ServiceNotReady.code
            and role.lower() in getattr(status, "reason", "").lower())
