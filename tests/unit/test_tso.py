"""Hybrid timestamps and global IDs, persisted in the embedded meta store and in etcd."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from milvus.kv import KV, KVError, LocalKV, PrefixedKV
from milvus.kv.etcd import EtcdKV
from milvus.tso import MAX_LOGICAL, IDAllocator, TimestampOracle, compose_ts, parse_ts
from tests.conftest import wait_for


class Store:
    """One meta store of one test; ``open`` gives a new client of it (a "restarted process")."""

    def __init__(self, opener: Callable[[], tuple[KV, list[KV]]], concurrent_clients: bool):
        self._opener = opener
        # etcd serves many clients at once; the embedded file belongs to one client at a time
        self.concurrent_clients = concurrent_clients
        self._owned: list[KV] = []

    def open(self) -> KV:
        kv, owned = self._opener()
        self._owned.extend(owned)
        return kv

    def close(self) -> None:
        for kv in reversed(self._owned):
            kv.close()


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    wait_for(lambda: set(threading.enumerate()) <= before, timeout=10, message="the test's threads to end")


@pytest.fixture(params=["local", "etcd"])
def store(request, tmp_path) -> Iterator[Store]:
    if request.param == "local":
        path = str(tmp_path / "kv.sqlite3")

        def opener() -> tuple[KV, list[KV]]:
            kv = LocalKV(path, durable=False)
            return kv, [kv]
    else:
        endpoint = request.getfixturevalue("etcd_service").endpoint
        root = f"test-{uuid.uuid4().hex}/"

        def opener() -> tuple[KV, list[KV]]:
            inner = EtcdKV([endpoint])
            view = PrefixedKV(inner, root)
            return view, [inner, view]
    s = Store(opener, concurrent_clients=request.param == "etcd")
    yield s
    s.close()


@pytest.fixture
def kv(store: Store) -> KV:
    return store.open()


class FakeClock:
    def __init__(self, now_ms: int):
        self.now_ms = now_ms

    def __call__(self) -> float:
        return self.now_ms / 1000


T0 = 1_700_000_000_000  # ms


# ---- timestamp layout ------------------------------------------------------------------------


def test_compose_and_parse() -> None:
    assert compose_ts(T0, 0) == T0 << 18
    assert parse_ts(compose_ts(T0, 12345)) == (T0, 12345)
    assert parse_ts(compose_ts(T0, MAX_LOGICAL - 1)) == (T0, MAX_LOGICAL - 1)
    assert compose_ts(T0, MAX_LOGICAL - 1) < compose_ts(T0 + 1, 0)
    for bad in ((T0, MAX_LOGICAL), (T0, -1), (-1, 0)):
        with pytest.raises(ValueError):
            compose_ts(*bad)
    with pytest.raises(ValueError):
        parse_ts(-1)


# ---- the oracle -----------------------------------------------------------------------------


def test_alloc_follows_the_clock_and_increases(kv: KV) -> None:
    tso = TimestampOracle(kv)
    before = int(time.time() * 1000)
    stamps = [tso.alloc() for _ in range(2000)]
    after = int(time.time() * 1000)
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))
    physical, _ = parse_ts(stamps[0])
    assert before <= physical <= after


def test_batch_is_contiguous(kv: KV) -> None:
    tso = TimestampOracle(kv, clock=FakeClock(T0))
    first = tso.alloc(10)
    assert parse_ts(first) == (T0, 0)
    second = tso.alloc(5)
    assert second == first + 10
    assert tso.alloc() == second + 5


def test_mark_is_persisted_before_timestamps_beyond_it(kv: KV) -> None:
    clock = FakeClock(T0)
    tso = TimestampOracle(kv, save_interval=3.0, clock=clock)
    tso.alloc()
    assert int(kv.get("tso/timestamp").value) == T0 + 3000
    revision = kv.revision()
    clock.now_ms = T0 + 2999  # below the mark: no write to the store
    tso.alloc()
    assert kv.revision() == revision
    clock.now_ms = T0 + 3001
    ts = tso.alloc()
    assert parse_ts(ts)[0] == T0 + 3001
    assert int(kv.get("tso/timestamp").value) == T0 + 3001 + 3000


def test_restart_starts_above_the_persisted_mark(store: Store) -> None:
    clock = FakeClock(T0)
    kv = store.open()
    tso = TimestampOracle(kv, clock=clock)
    last = [tso.alloc() for _ in range(100)][-1]
    clock.now_ms = T0 + 1000
    last = tso.alloc()
    kv.close()  # the process stops

    kv = store.open()
    restarted = TimestampOracle(kv, clock=FakeClock(T0 + 1000))  # the same wall clock
    first = restarted.alloc()
    assert first > last
    assert parse_ts(first)[0] > T0 + 3000  # strictly above the mark the first run persisted
    kv.close()

    kv = store.open()
    again = TimestampOracle(kv, clock=FakeClock(T0 - 3_600_000))  # the clock went back an hour
    assert again.alloc() > first


def test_clock_going_backwards_while_running(kv: KV) -> None:
    clock = FakeClock(T0)
    tso = TimestampOracle(kv, clock=clock)
    stamps = [tso.alloc()]
    clock.now_ms = T0 - 60_000
    stamps += [tso.alloc() for _ in range(50)]
    clock.now_ms = T0 - 120_000
    stamps += [tso.alloc(3) for _ in range(50)]
    clock.now_ms = T0 + 1
    stamps.append(tso.alloc())
    assert all(a < b for a, b in zip(stamps, stamps[1:], strict=False))
    assert parse_ts(stamps[-2])[0] == T0  # held at the last physical time while the clock was behind
    assert parse_ts(stamps[-1]) == (T0 + 1, 0)


def test_logical_overflow_moves_to_the_next_millisecond(kv: KV) -> None:
    tso = TimestampOracle(kv, clock=FakeClock(T0))
    assert parse_ts(tso.alloc(MAX_LOGICAL - 1)) == (T0, 0)
    assert parse_ts(tso.alloc(2)) == (T0 + 1, 0)  # 2 do not fit in what is left of T0
    assert parse_ts(tso.alloc(MAX_LOGICAL)) == (T0 + 2, 0)
    assert parse_ts(tso.alloc()) == (T0 + 3, 0)
    for bad in (0, -1, MAX_LOGICAL + 1):
        with pytest.raises(ValueError):
            tso.alloc(bad)


def test_logical_overflow_beyond_the_mark_persists_a_new_one(kv: KV) -> None:
    tso = TimestampOracle(kv, save_interval=0.002, clock=FakeClock(T0))  # a 2 ms mark
    stamps = [tso.alloc(MAX_LOGICAL) for _ in range(5)]
    assert [parse_ts(ts)[0] for ts in stamps] == [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]
    assert int(kv.get("tso/timestamp").value) >= T0 + 4


def test_unique_across_threads(kv: KV) -> None:
    tso = TimestampOracle(kv)

    def work(seed: int) -> list[tuple[int, int]]:
        rng = random.Random(seed)
        out = []
        for _ in range(300):
            count = rng.randint(1, 5)
            out.append((tso.alloc(count), count))
        return out

    with ThreadPoolExecutor(8) as pool:
        per_thread = list(pool.map(work, range(8)))
    for batches in per_thread:
        assert all(a[0] < b[0] for a, b in zip(batches, batches[1:], strict=False))
    ranges = sorted(b for batches in per_thread for b in batches)
    for (start, count), (next_start, _) in zip(ranges, ranges[1:], strict=False):
        assert start + count <= next_start  # no two batches overlap


def test_a_second_oracle_on_the_key_fences_the_first(kv: KV) -> None:
    clock = FakeClock(T0)
    first = TimestampOracle(kv, save_interval=1.0, clock=clock)
    ts = first.alloc()
    second = TimestampOracle(kv, save_interval=1.0, clock=clock)  # e.g. a standby took over
    assert second.alloc() > ts
    clock.now_ms = T0 + 5000  # the first needs a new mark: its compare-and-swap fails
    with pytest.raises(KVError):
        first.alloc()
    assert second.alloc() > ts


def test_corrupt_mark_is_an_error(kv: KV) -> None:
    kv.put("tso/timestamp", b"garbage")
    with pytest.raises(KVError):
        TimestampOracle(kv)


# ---- the id allocator ----------------------------------------------------------------------------


def test_ids_are_increasing_half_open_ranges(kv: KV) -> None:
    ids = IDAllocator(kv, batch=100)
    assert ids.alloc() == (1, 2)
    assert ids.alloc(5) == (2, 7)
    start, end = ids.alloc(3)
    assert (start, end) == (7, 10)
    assert int(kv.get("idalloc/id").value) == 101  # one reservation of 100 so far
    revision = kv.revision()
    for _ in range(30):
        ids.alloc(3)
    assert kv.revision() == revision  # served from the local reservation
    for bad in (0, -2):
        with pytest.raises(ValueError):
            ids.alloc(bad)


def test_a_request_larger_than_the_batch(kv: KV) -> None:
    ids = IDAllocator(kv, batch=10)
    ids.alloc(4)
    start, end = ids.alloc(25)  # does not fit in what is left: a fresh range of 25
    assert end - start == 25
    assert start >= 5
    nxt, _ = ids.alloc()
    assert nxt >= end


def test_ids_increase_across_restarts(store: Store) -> None:
    kv = store.open()
    last = IDAllocator(kv, batch=50).alloc(7)[1]
    kv.close()
    kv = store.open()
    start, _ = IDAllocator(kv, batch=50).alloc()
    assert start >= last
    assert start == 51  # the unused part of the first reservation is skipped


def test_ids_unique_across_allocators_and_threads(store: Store) -> None:
    kv = store.open()
    allocators = [IDAllocator(kv, batch=7) for _ in range(4)]

    def work(n: int) -> list[int]:
        ids = allocators[n % 4]
        rng = random.Random(n)
        out: list[int] = []
        prev = 0
        for _ in range(150):
            start, end = ids.alloc(rng.randint(1, 9))
            assert start >= prev
            prev = end
            out.extend(range(start, end))
        return out

    with ThreadPoolExecutor(8) as pool:
        everything = [i for part in pool.map(work, range(8)) for i in part]
    assert len(everything) == len(set(everything))


def test_ids_unique_across_clients_of_one_store(store: Store) -> None:
    clients = [store.open(), store.open()] if store.concurrent_clients else [store.open()]
    allocators = [IDAllocator(kv, batch=5) for kv in clients for _ in range(2)]
    seen: list[int] = []
    for round_ in range(40):
        for ids in allocators:
            start, end = ids.alloc(1 + round_ % 3)
            seen.extend(range(start, end))
    assert len(seen) == len(set(seen))

