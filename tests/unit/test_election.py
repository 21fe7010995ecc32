"""Active-standby election in the meta store (embedded KV and etcd): one holder at a time, a
standby takes over when the holder resigns or its lease expires, the holder learns it lost.
A standby coordinator's answers (STANDBY, ServiceNotReady), which coordinator clients retry."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from pymilvus.grpc_gen import common_pb2

from milvus import errors
from milvus._proto import internal_pb2, rootcoord_pb2
from milvus.cmd.active_standby import StandbyAnswers
from milvus.kv import KV, KVError, LocalKV, PrefixedKV
from milvus.kv.etcd import EtcdKV
from milvus.rootcoord import SERVICE as ROOTCOORD_SERVICE
from milvus.rpc import GrpcServer, ResolvingClient, service_handler
from milvus.session import Election, KVSessionRegistry, SessionDirectory
from tests.conftest import wait_for


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    wait_for(lambda: set(threading.enumerate()) <= before, timeout=10, message="the test's threads to end")


class Store:
    """Clients of one meta store; ``kv()`` is another client (another "process" on etcd)."""

    def __init__(self, opener: Callable[[], KV], ttl: float):
        self._opener = opener
        self.ttl = ttl
        self.closers: list = []

    def kv(self) -> KV:
        return self._opener()

    def election(self, value: bytes, kv: KV | None = None, **kwargs) -> Election:
        kwargs.setdefault("ttl", self.ttl)
        kwargs.setdefault("keepalive_interval", self.ttl / 5)
        kwargs.setdefault("retry_interval", 0.2)
        election = Election(kv or self.kv(), "rootcoord", value, **kwargs)
        self.closers.append(election)
        return election

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer.close()


@pytest.fixture(params=["local", "etcd"])
def store(request, tmp_path) -> Iterator[Store]:
    closers: list = []
    if request.param == "local":
        kv = LocalKV(str(tmp_path / "kv.sqlite3"), durable=False)
        closers.append(kv)

        def opener() -> KV:
            return kv
        ttl = 0.6
    else:
        endpoint = request.getfixturevalue("etcd_service").endpoint
        root = f"test-{uuid.uuid4().hex}/"

        def opener() -> KV:
            inner = EtcdKV([endpoint])
            view = PrefixedKV(inner, root)
            closers.extend([inner, view])
            return view
        ttl = 2.0  # etcd's smallest lease TTL
    s = Store(opener, ttl)
    yield s
    s.close()
    for closer in reversed(closers):
        closer.close()


class FailingKeepalives:
    """A meta store client whose keepalives and reads fail once ``partitioned`` is set (the
    holder is cut off); everything else goes to ``inner``."""

    def __init__(self, inner: KV):
        self._inner = inner
        self.partitioned = threading.Event()

    def keepalive(self, lease: int) -> float:
        if self.partitioned.is_set():
            raise KVError("unreachable (test)")
        return self._inner.keepalive(lease)

    def get(self, key: str):
        if self.partitioned.is_set():
            raise KVError("unreachable (test)")
        return self._inner.get(key)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


def test_only_one_candidate_holds_the_key(store):
    a = store.election(b"a")
    b = store.election(b"b")
    assert a.try_acquire()
    assert not b.try_acquire()
    assert a.is_leader and not b.is_leader
    assert b.leader() == b"a"
    assert a.try_acquire()  # holding already: still True, nothing changes
    assert not b.campaign(timeout=0.5)
    assert a.is_leader and b.leader() == b"a"


def test_concurrent_candidates_elect_exactly_one(store):
    candidates = [store.election(f"c{i}".encode()) for i in range(4)]
    won: list[Election] = []
    stop = threading.Event()
    lock = threading.Lock()

    def run(e: Election) -> None:
        if e.campaign(stop=stop):
            with lock:
                won.append(e)

    threads = [threading.Thread(target=run, args=(e,)) for e in candidates]
    for t in threads:
        t.start()
    wait_for(lambda: won, timeout=10, message="a leader")
    time.sleep(store.ttl)  # the others keep campaigning meanwhile and must not win
    stop.set()
    for t in threads:
        t.join(timeout=10)
    assert len(won) == 1
    assert candidates[0].leader() == won[0]._value


def test_a_standby_takes_over_when_the_active_resigns(store):
    a = store.election(b"a")
    b = store.election(b"b")
    assert a.campaign(timeout=5)
    took_over = threading.Event()
    t = threading.Thread(target=lambda: b.campaign(timeout=30) and took_over.set())
    t.start()
    try:
        time.sleep(0.3)
        assert not took_over.is_set()
        began = time.monotonic()
        a.resign()
        assert took_over.wait(10)
        assert time.monotonic() - began < store.ttl  # at the delete event, not at a lease expiry
        assert b.is_leader and not a.is_leader and a.leader() == b"b"
    finally:
        t.join(timeout=30)


def test_a_standby_takes_over_when_the_active_s_lease_expires_and_the_active_is_told(store):
    cut_off = FailingKeepalives(store.kv())
    lost = threading.Event()
    a = store.election(b"a", kv=cut_off, on_lost=lost.set)
    b = store.election(b"b")
    assert a.campaign(timeout=5)
    cut_off.partitioned.set()  # "kill -9": no more keepalives, no revoke
    began = time.monotonic()
    assert b.campaign(timeout=store.ttl * 5 + 10)
    assert time.monotonic() - began >= store.ttl * 0.5  # only once the lease ran out
    assert lost.wait(store.ttl * 3 + 5)
    assert not a.is_leader and b.is_leader
    assert b.leader() == b"b"


def test_campaign_ends_when_stopped_or_closed(store):
    a = store.election(b"a")
    b = store.election(b"b")
    assert a.campaign(timeout=5)
    stop = threading.Event()
    results: list[bool] = []
    t = threading.Thread(target=lambda: results.append(b.campaign(stop=stop)))
    t.start()
    time.sleep(0.3)
    stop.set()
    t.join(timeout=10)
    assert results == [False]
    t = threading.Thread(target=lambda: results.append(b.campaign()))
    t.start()
    time.sleep(0.3)
    b.close()
    t.join(timeout=10)
    assert results == [False, False]
    assert not b.try_acquire()  # a closed candidate never wins
    a.resign()
    assert not b.try_acquire() and b.leader() is None


def test_the_election_key_is_not_a_session_the_directory_lists(store):
    kv = store.kv()
    registry = KVSessionRegistry(kv, ttl=store.ttl, keepalive_interval=store.ttl / 5)
    directory = SessionDirectory(registry, poll_interval=0.1)
    directory.start()
    try:
        a = store.election(b'{"role": "rootcoord"}', kv=kv)
        assert a.try_acquire()
        session = registry.register("rootcoord", "127.0.0.1:1")
        wait_for(lambda: directory.resolve("rootcoord") is not None, timeout=10, message="the session")
        assert [s.server_id for s in registry.list("rootcoord")] == [session.server_id]
        assert directory.resolve("rootcoord").address == "127.0.0.1:1"
    finally:
        directory.stop()
        registry.close()


# ---- a standby's answers, and clients retrying them ---------------------------------------


def _server(impl: object) -> GrpcServer:
    server = GrpcServer("127.0.0.1", 0, [service_handler(ROOTCOORD_SERVICE, impl)], max_workers=4)
    server.start()
    return server


def test_a_standby_answers_standby_and_clients_retry_until_the_active_one_answers():
    standby = StandbyAnswers(ROOTCOORD_SERVICE, "rootcoord", 7)
    states = standby.GetComponentStates(internal_pb2.GetComponentStatesRequest())
    assert states.state.state == internal_pb2.STANDBY and states.status.code == 0
    refused = standby.AllocID(rootcoord_pb2.AllocIDRequest(count=1))
    assert refused.status.code == errors.ServiceNotReady.code
    assert refused.status.error_code == common_pb2.ErrorCode.NotReadyServe

    active = StandbyAnswers(ROOTCOORD_SERVICE, "rootcoord", 8)
    active.AllocID = lambda request: rootcoord_pb2.AllocIDResponse(status=errors.OK, ID=42, count=request.count)
    servers = [_server(standby), _server(active)]
    asked: list[float] = []

    def resolve(_wait: float) -> str:
        # the standby first (as a client holding a stale address); the active one later
        asked.append(time.monotonic())
        return servers[0].address if len(asked) < 3 else servers[1].address

    client = ResolvingClient(ROOTCOORD_SERVICE, resolve, retry_timeout=10)
    try:
        answer = client.AllocID(rootcoord_pb2.AllocIDRequest(count=1))
        assert answer.status.code == 0 and answer.ID == 42
        assert len(asked) == 3
        # with nobody active, the not-ready answer comes back once the retry time is spent
        give_up = ResolvingClient(ROOTCOORD_SERVICE, lambda _w: servers[0].address, retry_timeout=0.3)
        began = time.monotonic()
        assert give_up.AllocID(rootcoord_pb2.AllocIDRequest(count=1)).status.code == errors.ServiceNotReady.code
        assert 0.25 <= time.monotonic() - began < 5
        give_up.close()
    finally:
        client.close()
        for server in servers:
            server.stop(0)


def test_a_not_ready_passed_on_from_a_node_is_answered_at_once():
    """Only the coordinator's own not-ready is retried, not one it relays from a node."""
    relay = StandbyAnswers(ROOTCOORD_SERVICE, "rootcoord", 9)
    relay.AllocID = lambda request: rootcoord_pb2.AllocIDResponse(
        status=errors.to_status(errors.ServiceNotReady("service not ready[querynode 3]")))
    server = _server(relay)
    client = ResolvingClient(ROOTCOORD_SERVICE, lambda _w: server.address, name="rootcoord", retry_timeout=10)
    try:
        began = time.monotonic()
        answer = client.AllocID(rootcoord_pb2.AllocIDRequest(count=1))
        assert answer.status.code == errors.ServiceNotReady.code and "querynode" in answer.status.reason
        assert time.monotonic() - began < 3
    finally:
        client.close()
        server.stop(0)
