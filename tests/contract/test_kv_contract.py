"""The meta-store contract: every KV backend passes these tests unchanged.

Backends: the embedded SQLite store (``local``), the same behind ``PrefixedKV`` with keys
outside its root in the file (``prefixed-local``), and a real etcd on loopback (``etcd``),
seen through a ``PrefixedKV`` with a fresh root per test so that tests never see each
other's keys.  Tests never assume absolute revisions: other writers may share a store.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from milvus.cmd.backends import open_kv
from milvus.config import Config
from milvus.kv import (
    KV,
    CompactedError,
    Compare,
    Delete,
    Event,
    EventType,
    Get,
    KVError,
    LocalKV,
    PrefixedKV,
    Put,
    Watch,
)
from milvus.kv.etcd import EtcdKV
from milvus.localsvc import EtcdService
from tests.conftest import _start, wait_for

# etcd raises any TTL below its minimum (2 s with the default heartbeat) to that minimum and
# checks expiry every 500 ms: expiry tests allow for both.
SHORT_TTL = 1.0
EXPIRY_WAIT = 15.0
EVENT_WAIT = 10.0


@dataclass
class Backend:
    name: str
    kv: KV  # what the tests use
    owner: KV  # the store that owns the connection (``kv`` itself or the store under it)
    compact: Callable[[int], None]  # forget the history before a revision


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    wait_for(lambda: not [t for t in threading.enumerate() if t not in before and t.is_alive()],
             timeout=10, message="the test's threads to end")


@pytest.fixture(params=["local", "prefixed-local", "etcd"])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "local":
        store = LocalKV(str(tmp_path / "kv.sqlite3"))
        yield Backend("local", store, store, store.compact)
        store.close()
    elif request.param == "prefixed-local":
        store = LocalKV(str(tmp_path / "kv.sqlite3"))
        outside = {"by-dev/meta": b"sibling", "by-dev/meta0/x": b"next", "by-dev/kv/x": b"other", "a": b"top"}
        for key, value in outside.items():
            store.put(key, value)
        view = PrefixedKV(store, "by-dev/meta/")
        yield Backend("prefixed-local", view, store, store.compact)
        view.close()
        # the view neither touched the keys around it nor closed its store
        try:
            remaining = {key: store.get(key).value for key in outside}
        except KVError:  # the test closed the store on purpose
            remaining = outside
        assert remaining == outside
        store.close()
    else:
        etcd = request.getfixturevalue("etcd_service")
        client = EtcdKV([etcd.endpoint], timeout=5.0)
        root = f"contract-{uuid.uuid4().hex}/"
        view = PrefixedKV(client, root)
        yield Backend("etcd", view, client, client.compact)
        view.close()
        try:
            client.delete_prefix(root)
        except KVError:
            pass  # the test closed the client on purpose
        client.close()


@pytest.fixture
def kv(backend: Backend) -> KV:
    return backend.kv


def next_event(watch: Watch, timeout: float = EVENT_WAIT) -> Event:
    event = watch.get(timeout=timeout)
    assert event is not None, f"no event within {timeout}s"
    return event


def events(watch: Watch, count: int) -> list[tuple[EventType, str, bytes]]:
    return [(e.type, e.key, e.value) for e in (next_event(watch) for _ in range(count))]


# ---- get / put / delete ------------------------------------------------------------------


def test_get_put_delete(kv: KV):
    assert kv.get("a") is None
    rev = kv.put("a", b"1")
    got = kv.get("a")
    assert got is not None and got.key == "a" and got.value == b"1" and got.mod_revision == rev
    kv.put("a", b"2")
    assert kv.get("a").value == b"2"
    assert kv.delete("a") is True
    assert kv.get("a") is None
    assert kv.delete("a") is False


def test_values_are_bytes_exactly(kv: KV):
    blob = bytes(range(256)) * 4
    kv.put("bin", blob)
    kv.put("empty", b"")
    assert kv.get("bin").value == blob
    assert kv.get("empty").value == b""


def test_delete_prefix(kv: KV):
    for key in ["p/1", "p/2", "p/3/x", "p0", "q/1"]:
        kv.put(key, b"v")
    assert kv.delete_prefix("p/") == 3
    assert [x.key for x in kv.range("")] == ["p0", "q/1"]
    assert kv.delete_prefix("p/") == 0


# ---- range ------------------------------------------------------------------------------


def test_range_is_sorted_by_key_and_limited(kv: KV):
    keys = ["r/b", "r/a/2", "r/c", "r/a/1", "r/a", "r/é", "r/Z", "r/z"]
    for key in keys:
        kv.put(key, key.encode())
    kv.put("r", b"not under r/")
    kv.put("s/a", b"other prefix")
    found = kv.range("r/")
    assert [x.key for x in found] == sorted(keys, key=str.encode)
    assert all(x.value == x.key.encode() for x in found)
    assert [x.key for x in kv.range("r/", limit=3)] == sorted(keys, key=str.encode)[:3]
    assert [x.key for x in kv.range("r/a")] == ["r/a", "r/a/1", "r/a/2"]
    assert kv.range("nothing/") == []


def test_range_with_empty_prefix_sees_every_key(kv: KV):
    for key in ["x", "y/1", "\u00ff"]:
        kv.put(key, b"v")
    assert [x.key for x in kv.range("")] == ["x", "y/1", "\u00ff"]


# ---- revisions ----------------------------------------------------------------------------


def test_each_write_advances_the_revision_by_one(kv: KV):
    start = kv.revision()
    r1 = kv.put("k", b"1")
    assert r1 == start + 1 == kv.revision()
    r2 = kv.put("k", b"2")
    assert r2 == r1 + 1
    first = kv.get("k")
    assert (first.create_revision, first.mod_revision, first.version) == (r1, r2, 2)
    assert kv.delete("missing") is False
    assert kv.revision() == r2  # a delete that removed nothing is no write
    assert kv.delete("k") is True
    assert kv.revision() == r2 + 1
    r4 = kv.put("k", b"again")
    again = kv.get("k")
    assert (again.create_revision, again.mod_revision, again.version) == (r4, r4, 1)


def test_delete_prefix_is_one_revision(kv: KV):
    for key in ["d/1", "d/2", "d/3"]:
        kv.put(key, b"v")
    before = kv.revision()
    kv.delete_prefix("d/")
    assert kv.revision() == before + 1


# ---- transactions -------------------------------------------------------------------------


def test_txn_success_branch_with_get_responses(kv: KV):
    rev = kv.put("t/a", b"1")
    kv.put("t/b", b"2")
    result = kv.txn(
        [Compare.value("t/a", "==", b"1"), Compare.mod_revision("t/a", "==", rev),
         Compare.version("t/a", "==", 1), Compare.create_revision("t/a", "==", rev)],
        [Put("t/c", b"3"), Get("t/a"), Get("t/", prefix=True), Delete("t/b"), Get("t/missing")],
        [Put("t/failed", b"x")],
    )
    assert result.succeeded
    assert result.revision == kv.revision()
    put_resp, get_a, get_all, deleted, missing = result.responses
    assert put_resp is None
    assert [x.key for x in get_a] == ["t/a"] and get_a[0].value == b"1"
    # a Get sees the writes made before it in the same transaction
    assert [(x.key, x.value) for x in get_all] == [("t/a", b"1"), ("t/b", b"2"), ("t/c", b"3")]
    assert deleted == 1
    assert missing == []
    assert kv.get("t/b") is None and kv.get("t/failed") is None
    assert kv.get("t/c").mod_revision == result.revision


def test_txn_failure_branch(kv: KV):
    kv.put("f/a", b"1")
    kv.put("f/b", b"2")
    before = kv.revision()
    result = kv.txn(
        [Compare.value("f/a", "==", b"1"), Compare.value("f/a", "==", b"other")],
        [Put("g/success", b"x")],
        [Put("g/failure", b"y"), Get("f/a"), Delete("f/", prefix=True)],
    )
    assert not result.succeeded
    assert result.revision == before + 1
    assert result.responses[0] is None
    assert [x.value for x in result.responses[1]] == [b"1"]
    assert result.responses[2] == 2
    assert kv.range("f/") == []
    assert [x.key for x in kv.range("g/")] == ["g/failure"]


def test_limits_match_etcd_defaults(kv: KV):
    # etcd's --max-txn-ops (128) and --max-request-bytes (1.5 MiB)
    assert kv.txn([], [Put(f"lim/{i:03d}", b"v") for i in range(128)]).succeeded
    with pytest.raises(KVError):
        kv.txn([], [Put(f"lim/{i:03d}", b"w") for i in range(129)])
    with pytest.raises(KVError):
        kv.put("lim/big", b"x" * (1600 * 1024))
    kv.put("lim/fits", b"x" * (1024 * 1024))
    assert len(kv.get("lim/fits").value) == 1024 * 1024
    assert kv.get("lim/big") is None and kv.get("lim/000").value == b"v"


def test_txn_refuses_writing_one_key_twice(kv: KV):
    with pytest.raises(KVError):
        kv.txn([], [Put("dup/a", b"1"), Put("dup/a", b"2")])
    with pytest.raises(KVError):
        kv.txn([], [Delete("dup/", prefix=True), Put("dup/a", b"1")])
    assert kv.range("dup/") == []


def test_txn_writes_share_one_revision(kv: KV):
    kv.put("s/old", b"v")
    before = kv.revision()
    result = kv.txn([], [Put("s/x", b"1"), Put("s/y", b"2"), Delete("s/old")])
    assert result.succeeded and result.revision == before + 1
    assert kv.get("s/x").mod_revision == kv.get("s/y").mod_revision == result.revision


def test_txn_without_writes_does_not_advance(kv: KV):
    kv.put("n/a", b"v")
    before = kv.revision()
    result = kv.txn([Compare.absent("n/a")], [Put("n/a", b"w")], [Get("n/a"), Delete("n/missing")])
    assert not result.succeeded
    assert result.responses[1] == 0
    assert kv.revision() == before == result.revision
    assert kv.txn([], []).succeeded


def test_compare_on_missing_key_and_operators(kv: KV):
    assert kv.txn([Compare.absent("c/k"), Compare.version("c/k", "==", 0),
                   Compare.mod_revision("c/k", "==", 0)], []).succeeded
    # as in etcd, no value comparison holds on a missing key, not even with b""
    for op in ["==", "!=", "<", ">"]:
        assert not kv.txn([Compare.value("c/k", op, b"")], []).succeeded, op
    kv.put("c/k", b"b")
    kv.put("c/k", b"b")
    holds = [
        Compare.version("c/k", ">", 1), Compare.version("c/k", "<", 3), Compare.version("c/k", "!=", 1),
        Compare.value("c/k", ">", b"a"), Compare.value("c/k", "<", b"c"), Compare.create_revision("c/k", ">", 0),
        Compare.mod_revision("c/k", "<", kv.revision() + 1),
    ]
    for cmp in holds:
        assert kv.txn([cmp], []).succeeded, cmp
    fails = [Compare.absent("c/k"), Compare.version("c/k", "<", 2), Compare.value("c/k", "!=", b"b")]
    for cmp in fails:
        assert not kv.txn([cmp], []).succeeded, cmp


def test_cas(kv: KV):
    assert kv.cas("lock", 0, b"mine")
    assert not kv.cas("lock", 0, b"theirs")
    current = kv.get("lock")
    assert kv.cas("lock", current.mod_revision, b"updated")
    assert not kv.cas("lock", current.mod_revision, b"stale")
    assert kv.get("lock").value == b"updated"


def test_concurrent_writers_lose_no_update(kv: KV):
    threads_n, increments = 4, 15
    kv.put("counter", b"0")
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(increments):
                while True:
                    current = kv.get("counter")
                    if kv.cas("counter", current.mod_revision, str(int(current.value) + 1).encode()):
                        break
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert not errors
    assert int(kv.get("counter").value) == threads_n * increments
    assert kv.get("counter").version == threads_n * increments + 1


# ---- leases -------------------------------------------------------------------------------


def test_put_with_unknown_lease_fails(kv: KV):
    with pytest.raises(KVError):
        kv.put("l/k", b"v", lease=123456789)
    with pytest.raises(KVError):
        kv.txn([], [Put("l/k", b"v", lease=123456789)])
    assert kv.get("l/k") is None


def test_lease_expiry_deletes_its_keys_with_events(kv: KV):
    lease = kv.grant_lease(SHORT_TTL)
    with kv.watch_prefix("e/") as watch:
        kv.put("e/a", b"1", lease=lease)
        kv.put("e/b", b"2", lease=lease)
        kv.put("e/kept", b"3")
        assert kv.get("e/a").lease == lease and kv.get("e/kept").lease == 0
        assert [e.type for e in (next_event(watch) for _ in range(3))] == [EventType.PUT] * 3
        deletes = [next_event(watch, EXPIRY_WAIT) for _ in range(2)]
    assert [(e.type, e.key) for e in deletes] == [(EventType.DELETE, "e/a"), (EventType.DELETE, "e/b")]
    assert deletes[0].mod_revision == deletes[1].mod_revision  # one revision for the whole lease
    assert [x.key for x in kv.range("e/")] == ["e/kept"]
    with pytest.raises(KVError):
        kv.keepalive(lease)


def test_keepalive_keeps_keys(kv: KV):
    lease = kv.grant_lease(2.0)
    kv.put("ka/k", b"v", lease=lease)
    until = time.monotonic() + 4.0  # twice the TTL
    while time.monotonic() < until:
        assert kv.keepalive(lease) >= 2.0
        assert kv.get("ka/k") is not None, "the key expired although its lease was kept alive"
        time.sleep(0.4)
    wait_for(lambda: kv.get("ka/k") is None, timeout=EXPIRY_WAIT, message="the key to expire")


def test_revoke_deletes_keys_at_once(kv: KV):
    lease = kv.grant_lease(60)
    other = kv.grant_lease(60)
    kv.put("rv/a", b"1", lease=lease)
    kv.put("rv/b", b"2", lease=lease)
    kv.put("rv/c", b"3", lease=other)
    with kv.watch_prefix("rv/") as watch:
        before = kv.revision()
        kv.revoke_lease(lease)
        assert kv.revision() == before + 1
        assert [x.key for x in kv.range("rv/")] == ["rv/c"]
        assert events(watch, 2) == [(EventType.DELETE, "rv/a", b""), (EventType.DELETE, "rv/b", b"")]
    kv.revoke_lease(lease)  # already gone: no error
    with pytest.raises(KVError):
        kv.keepalive(lease)
    with pytest.raises(KVError):
        kv.put("rv/d", b"v", lease=lease)
    kv.revoke_lease(other)
    assert kv.range("rv/") == []


def test_put_moves_a_key_between_leases(kv: KV):
    lease = kv.grant_lease(60)
    kv.put("mv/k", b"v", lease=lease)
    kv.put("mv/k", b"v2")  # no lease any more
    kv.revoke_lease(lease)
    assert kv.get("mv/k").value == b"v2"


# ---- watch --------------------------------------------------------------------------------


def test_watch_delivers_live_events_in_order(kv: KV):
    with kv.watch_prefix("w/") as watch:
        assert watch.get(timeout=0.05) is None
        revs = [kv.put(f"w/{i % 3}", str(i).encode()) for i in range(20)]
        kv.delete("w/0")
        kv.txn([], [Put("w/t1", b"a"), Put("w/t2", b"b")])
        kv.delete_prefix("w/t")
        got = [next_event(watch) for _ in range(25)]
    assert [(e.type, e.key, e.value) for e in got[:20]] == [
        (EventType.PUT, f"w/{i % 3}", str(i).encode()) for i in range(20)
    ]
    assert [e.mod_revision for e in got[:20]] == revs
    assert [(e.type, e.key) for e in got[20:]] == [
        (EventType.DELETE, "w/0"), (EventType.PUT, "w/t1"), (EventType.PUT, "w/t2"),
        (EventType.DELETE, "w/t1"), (EventType.DELETE, "w/t2"),
    ]
    revisions = [e.mod_revision for e in got]
    assert revisions == sorted(revisions)
    assert got[21].mod_revision == got[22].mod_revision


def test_watch_is_isolated_by_prefix(kv: KV):
    with kv.watch_prefix("iso/a/") as wa, kv.watch_prefix("iso/b/") as wb:
        kv.put("iso/a/1", b"a")
        kv.put("iso/b/1", b"b")
        kv.put("iso/ab", b"neither")
        kv.put("iso/a/2", b"a2")
        assert events(wa, 2) == [(EventType.PUT, "iso/a/1", b"a"), (EventType.PUT, "iso/a/2", b"a2")]
        assert events(wb, 1) == [(EventType.PUT, "iso/b/1", b"b")]
        assert wa.get(timeout=0.2) is None and wb.get(timeout=0.05) is None


def test_watch_from_start_revision_replays_history_then_live(kv: KV):
    first = kv.put("h/a", b"1")
    kv.put("other/x", b"not watched")
    kv.put("h/b", b"2")
    kv.delete("h/a")
    with kv.watch_prefix("h/", start_revision=first) as watch:
        kv.put("h/c", b"3")
        got = [next_event(watch) for _ in range(4)]
    assert [(e.type, e.key, e.value) for e in got] == [
        (EventType.PUT, "h/a", b"1"), (EventType.PUT, "h/b", b"2"), (EventType.DELETE, "h/a", b""),
        (EventType.PUT, "h/c", b"3"),
    ]
    assert got[0].mod_revision == first
    assert [e.mod_revision for e in got] == sorted(e.mod_revision for e in got)


def test_watch_resumes_after_the_last_seen_revision(kv: KV):
    with kv.watch_prefix("res/") as watch:
        kv.put("res/1", b"a")
        seen = next_event(watch)
    kv.put("res/2", b"b")  # while nobody watched
    kv.put("res/3", b"c")
    with kv.watch_prefix("res/", start_revision=seen.mod_revision + 1) as watch:
        assert events(watch, 2) == [(EventType.PUT, "res/2", b"b"), (EventType.PUT, "res/3", b"c")]
        assert watch.get(timeout=0.2) is None


def test_watch_from_a_future_revision_skips_earlier_events(kv: KV):
    start = kv.revision() + 3
    with kv.watch_prefix("fut/", start_revision=start) as watch:
        for i in range(4):
            kv.put("fut/k", str(i).encode())
        got = next_event(watch)
        assert (got.value, got.mod_revision) == (b"2", start)


def test_watch_of_compacted_history_raises(backend: Backend):
    kv = backend.kv
    old = kv.put("cp/a", b"1")
    kv.put("cp/a", b"2")
    now = kv.put("cp/a", b"3")
    backend.compact(now)
    with pytest.raises(CompactedError):
        kv.watch_prefix("cp/", start_revision=old)
    with kv.watch_prefix("cp/", start_revision=now) as watch:
        assert next_event(watch).value == b"3"


def test_iterating_a_watch_ends_when_cancelled(kv: KV):
    watch = kv.watch_prefix("it/")
    kv.put("it/1", b"a")
    kv.put("it/2", b"b")
    seen = []
    for event in watch:
        seen.append(event.key)
        if len(seen) == 2:
            watch.cancel()
    assert seen == ["it/1", "it/2"]
    assert watch.get(timeout=0.01) is None


def test_close_ends_watches(backend: Backend):
    kv = backend.kv
    watch = kv.watch_prefix("cl/")
    kv.put("cl/1", b"a")
    assert next_event(watch).key == "cl/1"
    kv.close()
    started = time.monotonic()
    assert watch.get(timeout=EVENT_WAIT) is None
    assert time.monotonic() - started < EVENT_WAIT / 2


def test_closing_the_store_ends_watches(backend: Backend):
    watch = backend.kv.watch_prefix("cs/")
    backend.owner.close()
    started = time.monotonic()
    assert watch.get(timeout=EVENT_WAIT) is None
    assert time.monotonic() - started < EVENT_WAIT / 2
    with pytest.raises(KVError):
        backend.kv.get("cs/x")


# ---- failures of the store (etcd only: the embedded store cannot become unreachable) ------


def test_etcd_failure_surfaces_as_kv_error(tmp_path):
    svc = _start(EtcdService(tmp_path / "etcd"))
    client = EtcdKV([svc.endpoint], timeout=2.0)
    try:
        watch = client.watch_prefix("f/")
        client.put("f/1", b"a")
        assert next_event(watch).key == "f/1"
        svc.kill()
        with pytest.raises(KVError):
            watch.get(timeout=EVENT_WAIT)
        with pytest.raises(KVError):
            watch.get(timeout=0.01)  # the watch stays failed
        started = time.monotonic()
        with pytest.raises(KVError):
            client.get("f/1")
        with pytest.raises(KVError):
            client.grant_lease(5)
        assert time.monotonic() - started < 10
    finally:
        client.close()
        svc.stop()


# ---- the factory ---------------------------------------------------------------------------


def test_open_kv_picks_the_backend_from_config(tmp_path):
    config = Config.load(overrides={"metastore.type": "local", "common.dataDir": str(tmp_path / "data")})
    with open_kv(config) as kv:
        assert isinstance(kv, LocalKV)
        kv.put("k", b"v")
    assert (tmp_path / "data" / "meta" / "kv.sqlite3").is_file()
    with open_kv(config) as kv:
        assert kv.get("k").value == b"v"
    config = Config.load(overrides={"metastore.type": "etcd", "etcd.endpoints": ["127.0.0.1:1"],
                                    "etcd.requestTimeout": 1.0})
    with open_kv(config) as kv:
        assert isinstance(kv, EtcdKV)
    with pytest.raises(ValueError, match="metastore.type"):
        open_kv(Config.load(overrides={"metastore.type": "zookeeper"}))
