"""Finding peers: the session directory (resolve, follow joins and leaves) and the client that
resolves its server through it (reconnects when the address moves, retries while unreachable)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from milvus._proto import internal_pb2, proxy_pb2
from milvus.cmd.peers import Peers
from milvus.rpc import GrpcServer, ResolvingClient, RpcError, service_handler
from milvus.session import LocalSessionRegistry, SessionDirectory
from tests.conftest import wait_for

SERVICE = proxy_pb2.DESCRIPTOR.services_by_name["Proxy"]


class FakeProxy:
    """Answers GetComponentStates with its own id, so a test sees which server answered."""

    def __init__(self, node_id: int):
        self.node_id = node_id

    def GetComponentStates(self, request):
        return internal_pb2.ComponentStates(state=internal_pb2.ComponentInfo(role="proxy", node_id=self.node_id))

    def InvalidateCollectionMetaCache(self, request):
        raise RuntimeError("not used")

    def GetChannelTimeTick(self, request):
        raise RuntimeError("not used")


def serve(node_id: int, port: int = 0) -> GrpcServer:
    server = GrpcServer("127.0.0.1", port, [service_handler(SERVICE, FakeProxy(node_id))], max_workers=2)
    server.start()
    return server


def who(client) -> int:
    return client.GetComponentStates(internal_pb2.GetComponentStatesRequest()).state.node_id


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    wait_for(lambda: {t for t in threading.enumerate() if not t.name.startswith(("grpc", "Thread-"))}
             <= before, timeout=10, message="the test's threads to end")


@pytest.fixture
def registry() -> Iterator[LocalSessionRegistry]:
    registry = LocalSessionRegistry()
    yield registry
    registry.close()


@pytest.fixture
def directory(registry) -> Iterator[SessionDirectory]:
    directory = SessionDirectory(registry, poll_interval=0.05)
    directory.start()
    yield directory
    directory.stop()


# ---- the registry hands out ids before registration -------------------------------------


def test_register_with_a_reserved_server_id(registry):
    server_id = registry.reserve_server_id()
    assert registry.reserve_server_id() != server_id
    session = registry.register("datanode", "127.0.0.1:1", server_id=server_id)
    assert session.server_id == server_id
    assert [s.server_id for s in registry.list("datanode")] == [server_id]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("datanode", "127.0.0.1:2", server_id=server_id)


# ---- the directory --------------------------------------------------------------------


def test_resolve_waits_for_a_session_and_picks_the_newest(registry, directory):
    assert directory.resolve("rootcoord", timeout=0.05) is None
    threading.Timer(0.1, lambda: registry.register("rootcoord", "127.0.0.1:1")).start()
    first = directory.resolve("rootcoord", timeout=5)
    assert first is not None and first.address == "127.0.0.1:1"
    # a restarted coordinator registers again before the old session expired: the new one wins
    registry.register("rootcoord", "127.0.0.1:2")
    wait_for(lambda: directory.resolve("rootcoord").address == "127.0.0.1:2", message="the newer session")
    first_session = next(s for s in registry.list("rootcoord") if s.address == "127.0.0.1:1")
    assert directory.get("rootcoord", first_session.server_id) is not None


def test_subscribe_replays_live_sessions_then_follows_joins_and_leaves(registry, directory):
    existing = registry.register("querynode", "127.0.0.1:1")
    registry.register("datanode", "127.0.0.1:9")
    wait_for(lambda: directory.sessions("querynode"), message="the directory to see the first node")
    events: queue.SimpleQueue = queue.SimpleQueue()
    subscription = directory.subscribe("querynode", lambda s: events.put(("added", s.server_id)),
                                       lambda s: events.put(("removed", s.server_id)))
    assert events.get(timeout=5) == ("added", existing.server_id)
    joined = registry.register("querynode", "127.0.0.1:2")
    assert events.get(timeout=5) == ("added", joined.server_id)
    existing.close()
    assert events.get(timeout=5) == ("removed", existing.server_id)
    subscription.cancel()
    registry.register("querynode", "127.0.0.1:3")
    time.sleep(0.2)  # a cancelled subscription hears nothing more (checked after a while)
    assert events.empty()


def test_a_failing_callback_does_not_end_the_subscription(registry, directory):
    seen: queue.SimpleQueue = queue.SimpleQueue()

    def added(session):
        seen.put(session.address)
        raise RuntimeError("boom")

    directory.subscribe("proxy", added, lambda s: None)
    registry.register("proxy", "a:1")
    registry.register("proxy", "b:2")
    assert {seen.get(timeout=5), seen.get(timeout=5)} == {"a:1", "b:2"}


# ---- the resolving client ---------------------------------------------------------------


def test_client_follows_the_session_to_a_new_address(registry, directory):
    old, new = serve(1), serve(2)
    try:
        session = registry.register("proxy", old.address)
        peers = Peers(directory, retry_timeout=5)
        client = peers.coordinator("proxy", SERVICE)
        assert who(client) == 1
        # the server dies and comes back elsewhere: its new session is picked up
        old.stop(0)
        session.close()
        registry.register("proxy", new.address)
        assert who(client) == 2
        assert client.address == new.address
        peers.close()
    finally:
        old.stop(0)
        new.stop(0)


def test_client_retries_while_unreachable_until_the_server_is_back(registry, directory):
    first = serve(1)
    port = first.port
    registry.register("proxy", first.address)
    client = ResolvingClient(SERVICE, lambda wait: directory.resolve("proxy", wait).address, retry_timeout=10)
    try:
        assert who(client) == 1
        first.stop(0)
        back: list[GrpcServer] = []
        threading.Timer(0.5, lambda: back.append(serve(3, port))).start()
        assert who(client) == 3  # retried on UNAVAILABLE until the restarted server answered
    finally:
        client.close()
        wait_for(lambda: back, message="the restarted server")
        back[0].stop(0)


def test_client_gives_up_after_the_retry_timeout(registry, directory):
    client = ResolvingClient(SERVICE, lambda wait: (s.address if (s := directory.resolve("proxy", wait)) else None),
                             name="proxy", retry_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(RpcError) as info:
            who(client)  # nobody registered
        assert info.value.code is grpc.StatusCode.UNAVAILABLE and "no proxy registered" in str(info.value)
        assert time.monotonic() - started < 3

        server = serve(1)
        port = server.port
        server.stop(0)
        registry.register("proxy", f"127.0.0.1:{port}")  # registered, but nobody listens
        with pytest.raises(RpcError) as info:
            who(client)
        assert info.value.code is grpc.StatusCode.UNAVAILABLE
    finally:
        client.close()


def test_peers_follow_nodes_with_a_client_each(registry, directory):
    servers = [serve(10), serve(20)]
    joined: dict[int, int] = {}
    left: queue.SimpleQueue = queue.SimpleQueue()
    peers = Peers(directory)
    try:
        first = registry.register("proxy", servers[0].address)
        nodes = peers.follow("proxy", SERVICE, lambda sid, client, _s: joined.__setitem__(sid, who(client)),
                             left.put)
        second = registry.register("proxy", servers[1].address)
        wait_for(lambda: len(joined) == 2, message="both nodes")
        assert joined == {first.server_id: 10, second.server_id: 20}
        assert who(nodes.get(second.server_id)) == 20
        first.close()
        assert left.get(timeout=5) == first.server_id
        assert nodes.get(first.server_id) is None
    finally:
        peers.close()
        for server in servers:
            server.stop(0)
