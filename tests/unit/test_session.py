"""Service discovery: the in-process registry and the meta-store one (embedded KV and etcd)."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import milvus
from milvus.kv import KV, KVError, LocalKV, PrefixedKV
from milvus.kv.etcd import EtcdKV
from milvus.session import (
    KVSessionRegistry,
    LocalSessionRegistry,
    Session,
    SessionEvent,
    SessionEventType,
    SessionRegistry,
    SessionWatch,
)
from tests.conftest import wait_for

ADDED, REMOVED = SessionEventType.ADDED, SessionEventType.REMOVED
TTL = 2.0  # etcd's smallest lease TTL
KEEPALIVE = 0.3
LOCAL_TTL = 0.6  # the embedded store keeps leases to the millisecond


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    wait_for(lambda: set(threading.enumerate()) <= before, timeout=10, message="the test's threads to end")


class Cluster:
    """Clients of one meta store; ``kv()`` is a new client (another "process" on etcd)."""

    def __init__(self, opener: Callable[[], KV], closers: list, ttl: float):
        self._opener = opener
        self._closers = closers
        self.ttl = ttl

    def kv(self) -> KV:
        return self._opener()

    def registry(self, kv: KV | None = None, **kwargs) -> KVSessionRegistry:
        kwargs.setdefault("ttl", self.ttl)
        kwargs.setdefault("keepalive_interval", self.ttl / 5)
        registry = KVSessionRegistry(kv or self.kv(), **kwargs)
        self._closers.append(registry)
        return registry

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer.close()


@pytest.fixture(params=["local", "etcd"])
def cluster(request, tmp_path) -> Iterator[Cluster]:
    closers: list = []
    if request.param == "local":
        kv = LocalKV(str(tmp_path / "kv.sqlite3"), durable=False)
        closers.append(kv)

        def opener() -> KV:
            return kv  # one process owns the embedded store
    else:
        endpoint = request.getfixturevalue("etcd_service").endpoint
        root = f"test-{uuid.uuid4().hex}/"

        def opener() -> KV:
            inner = EtcdKV([endpoint])
            view = PrefixedKV(inner, root)
            closers.extend([inner, view])
            return view
    c = Cluster(opener, closers, LOCAL_TTL if request.param == "local" else TTL)
    yield c
    c.close()


@pytest.fixture(params=["in-process", "kv-local", "kv-etcd"])
def registry(request, tmp_path) -> Iterator[SessionRegistry]:
    if request.param == "in-process":
        reg: SessionRegistry = LocalSessionRegistry()
        yield reg
        reg.close()
        return
    if request.param == "kv-local":
        kv: KV = LocalKV(str(tmp_path / "kv.sqlite3"), durable=False)
        closers: list = [kv]
    else:
        inner = EtcdKV([request.getfixturevalue("etcd_service").endpoint])
        kv = PrefixedKV(inner, f"test-{uuid.uuid4().hex}/")
        closers = [inner, kv]
    reg = KVSessionRegistry(kv, ttl=TTL, keepalive_interval=KEEPALIVE)
    yield reg
    reg.close()
    for closer in reversed(closers):
        closer.close()


def next_event(watch: SessionWatch, timeout: float = 10.0) -> SessionEvent:
    event = watch.get(timeout=timeout)
    assert event is not None, f"no session event within {timeout}s"
    return event


def ids(sessions: list[Session]) -> list[tuple[str, int]]:
    return [(s.role, s.server_id) for s in sessions]


# ---- the data ---------------------------------------------------------------------------------


def test_session_json_round_trip() -> None:
    session = Session("querynode", 7, "10.0.0.1:21123", "2.4.0", {"labels": ["a"], "port": 1})
    back = Session.from_json(session.to_json())
    assert back == session
    assert back.key == "querynode-7"
    assert Session("proxy", 1, "h:1").version == milvus.__version__


# ---- one suite for every registry ---------------------------------------------------------------


def test_register_and_list(registry: SessionRegistry) -> None:
    qn1 = registry.register("querynode", "127.0.0.1:1001", {"zone": "a"})
    dn = registry.register("datanode", "127.0.0.1:2001")
    qn2 = registry.register("querynode", "127.0.0.1:1002")
    assert len({qn1.server_id, dn.server_id, qn2.server_id}) == 3
    assert qn1.role == "querynode" and qn1.address == "127.0.0.1:1001" and qn1.extra == {"zone": "a"}
    assert qn1.version == milvus.__version__
    listed = registry.list()
    assert ids(listed) == sorted(ids([qn1, dn, qn2]))
    assert listed == sorted([qn1, dn, qn2], key=lambda s: (s.role, s.server_id))
    assert ids(registry.list("querynode")) == sorted(ids([qn1, qn2]))
    assert registry.list("indexnode") == []


def test_unregister(registry: SessionRegistry) -> None:
    a = registry.register("proxy", "h:1")
    b = registry.register("proxy", "h:2")
    registry.unregister(a)
    assert ids(registry.list()) == ids([b])
    registry.unregister(a)  # already gone: no error
    b.close()  # the session register returned unregisters itself
    assert registry.list() == []
    listed = registry.register("proxy", "h:3")
    registry.list()[0].close()  # a listed session is only data: closing it does nothing
    assert ids(registry.list()) == ids([listed])


def test_watch_sees_existing_then_added_and_removed(registry: SessionRegistry) -> None:
    old = registry.register("datanode", "h:1")
    with registry.watch() as watch:
        assert next_event(watch) == SessionEvent(ADDED, old)
        new = registry.register("querynode", "h:2", {"k": "v"})
        assert next_event(watch) == SessionEvent(ADDED, new)
        old.close()
        event = next_event(watch)
        assert event.type is REMOVED
        assert event.session == old  # the whole session, not just its key
        assert watch.get(timeout=0.1) is None


def test_watch_one_role_and_only_new_sessions(registry: SessionRegistry) -> None:
    registry.register("querynode", "h:0")
    with registry.watch("querynode", existing=False) as watch:
        registry.register("querynode_x", "h:1")  # a role whose name starts like the watched one
        registry.register("datanode", "h:2")
        qn = registry.register("querynode", "h:3")
        assert next_event(watch) == SessionEvent(ADDED, qn)
        registry.unregister(qn)
        assert next_event(watch) == SessionEvent(REMOVED, qn)
        assert watch.get(timeout=0.1) is None


def test_cancelled_watch_ends(registry: SessionRegistry) -> None:
    watch = registry.watch()
    watch.cancel()
    assert watch.get(timeout=1.0) is None
    watch.cancel()


def test_close_unregisters_everything(registry: SessionRegistry) -> None:
    registry.register("proxy", "h:1")
    registry.register("rootcoord", "h:2")
    watch = registry.watch(existing=False)
    registry.close()
    assert registry.list() == []
    # the registry's watches end (after any REMOVED events still queued)
    for _ in range(3):
        event = watch.get(timeout=5.0)
        if event is None:
            break
        assert event.type is REMOVED
    started = time.monotonic()
    assert watch.get(timeout=5.0) is None
    assert time.monotonic() - started < 1.0, "the watch did not end with its registry"
    watch.cancel()
    with pytest.raises(RuntimeError):
        registry.register("proxy", "h:3")


@pytest.mark.parametrize("role", ["", "Query", "query-node", "a/b", "1x"])
def test_bad_role_rejected(registry: SessionRegistry, role: str) -> None:
    with pytest.raises(ValueError):
        registry.register(role, "h:1")


def test_registered_from_many_threads_get_unique_ids(registry: SessionRegistry) -> None:
    out: list[Session] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(10):
            s = registry.register("querynode", f"h:{n}{i}")
            with lock:
                out.append(s)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({s.server_id for s in out}) == 40
    assert len(registry.list("querynode")) == 40


# ---- the meta-store registry --------------------------------------------------------------------


def test_kv_registry_needs_keepalive_below_ttl(cluster: Cluster) -> None:
    kv = cluster.kv()
    for ttl, interval in ((2.0, 2.0), (2.0, 0.0), (0.0, 0.1)):
        with pytest.raises(ValueError):
            KVSessionRegistry(kv, ttl=ttl, keepalive_interval=interval)


def test_kv_registries_share_one_cluster(cluster: Cluster) -> None:
    one, two = cluster.registry(), cluster.registry()
    with two.watch("querynode") as watch:
        a = one.register("querynode", "h:1")
        b = two.register("querynode", "h:2")
        c = one.register("datanode", "h:3")
        assert len({a.server_id, b.server_id, c.server_id}) == 3
        assert ids(one.list()) == ids(two.list()) == sorted(ids([a, b, c]))
        assert next_event(watch) == SessionEvent(ADDED, a)
        assert next_event(watch) == SessionEvent(ADDED, b)
        one.close()  # this "process" stops: its sessions go
        assert next_event(watch) == SessionEvent(REMOVED, a)
        assert ids(two.list()) == ids([b])


def test_kv_session_outlives_its_ttl_while_kept_alive(cluster: Cluster) -> None:
    registry = cluster.registry()
    session = registry.register("proxy", "h:1")
    with registry.watch(existing=False) as watch:
        # two TTLs: only the keepalives hold the key
        assert watch.get(timeout=2 * cluster.ttl) is None
    assert ids(registry.list()) == ids([session])


class StalledKeepalive:
    """A client of the store whose lease keepalives stop on request, as a hung or dead
    process's would; everything else goes to the real store."""

    def __init__(self, kv: KV):
        self._kv = kv
        self.stalled = threading.Event()

    def __getattr__(self, name: str):
        return getattr(self._kv, name)

    def keepalive(self, lease: int) -> float:
        if self.stalled.is_set():
            raise KVError("keepalive stalled")
        return self._kv.keepalive(lease)


def test_kv_session_expires_when_keepalives_stop(cluster: Cluster) -> None:
    lost: list[Session] = []
    stalled = StalledKeepalive(cluster.kv())
    dying = cluster.registry(stalled, on_lost=lost.append)  # type: ignore[arg-type]
    observer = cluster.registry()
    session = dying.register("querynode", "h:1")
    survivor = observer.register("querynode", "h:2")
    with observer.watch("querynode") as watch:
        assert {next_event(watch).session.server_id for _ in range(2)} == {session.server_id, survivor.server_id}
        stalled.stalled.set()
        event = next_event(watch, timeout=cluster.ttl + 8)
        assert event == SessionEvent(REMOVED, session)
    assert ids(observer.list()) == ids([survivor])
    # the dying registry notices it lost the session once a whole TTL passed without keepalive
    wait_for(lambda: lost, timeout=cluster.ttl + 8, message="on_lost")
    assert lost[0].key == session.key
    dying.close()  # revoking a lease that is gone is no error


CHILD = """
import sys, time
from milvus.kv import PrefixedKV
from milvus.kv.etcd import EtcdKV
from milvus.session import KVSessionRegistry

kv = PrefixedKV(EtcdKV([sys.argv[1]]), sys.argv[2])
registry = KVSessionRegistry(kv, ttl=float(sys.argv[3]), keepalive_interval=0.3)
session = registry.register("querynode", "127.0.0.1:21123", {"pid": 1})
print(session.server_id, flush=True)
time.sleep(600)
"""


def test_etcd_session_of_a_killed_process_disappears_after_its_ttl(etcd_service, tmp_path: Path) -> None:
    root = f"test-{uuid.uuid4().hex}/"
    inner = EtcdKV([etcd_service.endpoint])
    kv = PrefixedKV(inner, root)
    observer = KVSessionRegistry(kv, ttl=TTL, keepalive_interval=KEEPALIVE)
    env = dict(os.environ, PYTHONPATH=str(Path(milvus.__file__).parent.parent))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, etcd_service.endpoint, root, str(TTL)], stdout=subprocess.PIPE, env=env
    )
    try:
        with observer.watch("querynode") as watch:
            ready, _, _ = select.select([proc.stdout], [], [], 30.0)
            assert ready, "the child did not register"
            server_id = int(proc.stdout.readline())
            added = next_event(watch)
            assert added.type is ADDED and added.session.server_id == server_id
            # kept alive by the child well past its TTL
            assert watch.get(timeout=TTL + 1) is None
            proc.kill()
            proc.wait()
            removed = next_event(watch, timeout=TTL + 8)
            assert removed == SessionEvent(REMOVED, added.session)
        assert observer.list() == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        observer.close()
        kv.close()
        inner.close()
