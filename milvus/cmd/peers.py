"""How one role process reaches the others: clients resolved through the session directory.

A coordinator (one active instance per cluster) is reached through a ``ResolvingClient``:
its address is looked up in the live sessions on use, followed when a restarted instance
registers a new one, and a call retries while it is unreachable.  Nodes (many per role, each
a session of its own) are followed with ``follow``: a client per live session, handed to the
callbacks as sessions come and go, closed when they leave.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor as _descriptor

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.rpc import GrpcClient, ResolvingClient
from milvus.session import Session, SessionDirectory, Subscription

log = logging.getLogger(__name__)

ROOTCOORD_SERVICE = rootcoord_pb2.DESCRIPTOR.services_by_name["RootCoord"]

NodeAdded = Callable[[int, Any, Session], None]
NodeRemoved = Callable[[int], None]


class Peers:
    """The clients one process holds to the others; ``close`` ends them all."""

    def __init__(self, directory: SessionDirectory, *, retry_timeout: float = 60.0, call_timeout: float = 60.0):
        self._directory = directory
        self._retry_timeout = retry_timeout
        self._call_timeout = call_timeout
        self._lock = threading.Lock()
        self._clients: list[Any] = []
        self._subscriptions: list[Subscription] = []
        self._rootcoord: ResolvingClient | None = None

    def coordinator(self, role: str, service: _descriptor.ServiceDescriptor) -> ResolvingClient:
        """A client of ``role`` (its newest live session), following it when it moves."""

        def resolve(wait: float) -> str | None:
            session = self._directory.resolve(role, wait)
            return session.address if session is not None else None

        client = ResolvingClient(service, resolve, name=role, timeout=self._call_timeout,
                                 retry_timeout=self._retry_timeout)
        with self._lock:
            self._clients.append(client)
        return client

    # ---- the root coordinator's clocks and ids --------------------------------------------

    @property
    def rootcoord(self) -> ResolvingClient:
        if self._rootcoord is None:
            self._rootcoord = self.coordinator("rootcoord", ROOTCOORD_SERVICE)
        return self._rootcoord

    def alloc_id(self, count: int = 1) -> int:
        """The first of ``count`` fresh cluster-wide ids."""
        response = self.rootcoord.AllocID(rootcoord_pb2.AllocIDRequest(count=count))
        errors.check_status(response.status)
        return response.ID

    def alloc_ts(self, count: int = 1) -> int:
        """The first of ``count`` fresh timestamps from the TSO."""
        response = self.rootcoord.AllocTimestamp(rootcoord_pb2.AllocTimestampRequest(count=count))
        errors.check_status(response.status)
        return response.timestamp

    def collection_schema(self, collection_id: int) -> bytes:
        return collection_schema(self.rootcoord, collection_id)

    # ---- nodes ----------------------------------------------------------------------------

    def follow(self, role: str, service: _descriptor.ServiceDescriptor, on_added: NodeAdded,
               on_removed: NodeRemoved, timeout: float | None = None) -> NodeClients:
        """Tell ``on_added(server_id, client, session)`` about every live session of ``role``
        (now and as they register) and ``on_removed(server_id)`` as they leave; the client is
        closed after ``on_removed`` returned."""
        nodes = NodeClients(service, on_added, on_removed, self._call_timeout if timeout is None else timeout)
        subscription = self._directory.subscribe(role, nodes.added, nodes.removed)
        with self._lock:
            self._subscriptions.append(subscription)
            self._clients.append(nodes)
        return nodes

    def unfollow(self) -> None:
        """Stop telling the callbacks about joins and leaves (the clients stay usable)."""
        with self._lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.cancel()

    def close(self) -> None:
        self.unfollow()
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()


class NodeClients:
    """A client per live session of one role, kept current by a directory subscription."""

    def __init__(self, service: _descriptor.ServiceDescriptor, on_added: NodeAdded, on_removed: NodeRemoved,
                 timeout: float):
        self._service = service
        self._on_added = on_added
        self._on_removed = on_removed
        self._timeout = timeout
        self._lock = threading.Lock()
        self._clients: dict[int, tuple[str, GrpcClient]] = {}

    def added(self, session: Session) -> None:
        client = GrpcClient.connect(session.address, self._service, self._timeout)
        with self._lock:
            old = self._clients.get(session.server_id)
            self._clients[session.server_id] = (session.address, client)
        if old is not None:
            old[1].close()
        self._on_added(session.server_id, client, session)

    def removed(self, session: Session) -> None:
        with self._lock:
            entry = self._clients.pop(session.server_id, None)
        if entry is None:
            return
        try:
            self._on_removed(session.server_id)
        finally:
            entry[1].close()

    def get(self, server_id: int) -> GrpcClient | None:
        with self._lock:
            entry = self._clients.get(server_id)
        return entry[1] if entry is not None else None

    def all(self) -> list[GrpcClient]:
        with self._lock:
            return [client for _, client in self._clients.values()]

    def close(self) -> None:
        with self._lock:
            entries, self._clients = list(self._clients.values()), {}
        for _, client in entries:
            client.close()


def collection_schema(rootcoord: Any, collection_id: int) -> bytes:
    """The serialized schema the root coordinator (a client of it) has for the collection now."""
    response = rootcoord.DescribeCollectionInternal(
        rootcoord_pb2.DescribeCollectionInternalRequest(collection_id=collection_id))
    errors.check_status(response.status)
    return response.collection.schema
