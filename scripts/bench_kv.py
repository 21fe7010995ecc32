"""Measure meta-store throughput: puts/s, gets/s and txns/s of small values, per backend.

    python scripts/bench_kv.py [--puts 2000] [--gets 5000] [--threads 1]

Backends: LocalKV durable (synchronous=FULL, every put fsynced), LocalKV with
synchronous=NORMAL (survives kill -9, not power loss), and EtcdKV on an etcd started on
loopback (skipped when the etcd binary is not installed).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from milvus.kv import KV, Compare, LocalKV, Put  # noqa: E402
from milvus.kv.etcd import EtcdKV  # noqa: E402
from milvus.localsvc import EtcdService, ServiceUnavailable  # noqa: E402

VALUE = b"v" * 256


def rate(fn: Callable[[int], object], count: int, threads: int) -> float:
    start = time.perf_counter()
    if threads <= 1:
        for i in range(count):
            fn(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fn, range(count)))
    return count / (time.perf_counter() - start)


def bench(name: str, kv: KV, puts: int, gets: int, threads: int) -> None:
    put_rate = rate(lambda i: kv.put(f"bench/{i:08d}", VALUE), puts, threads)
    get_rate = rate(lambda i: kv.get(f"bench/{i % puts:08d}"), gets, threads)
    txn_rate = rate(
        lambda i: kv.txn([Compare.version(f"bench/{i:08d}", ">", 0)], [Put(f"bench/{i:08d}", VALUE)]),
        min(puts, 1000), threads,
    )
    range_rate = rate(lambda i: kv.range("bench/", limit=100), 200, threads)
    print(f"{name:<28} {put_rate:10.0f} puts/s {get_rate:10.0f} gets/s {txn_rate:10.0f} txns/s "
          f"{range_rate:8.0f} ranges(100)/s", flush=True)
    kv.delete_prefix("bench/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--puts", type=int, default=2000)
    parser.add_argument("--gets", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(f"{args.puts} puts, {args.gets} gets of {len(VALUE)}-byte values, {args.threads} thread(s)")
    with tempfile.TemporaryDirectory() as tmp:
        for durable in (True, False):
            with LocalKV(f"{tmp}/kv-{durable}.sqlite3", durable=durable) as kv:
                bench(f"LocalKV ({'FULL' if durable else 'NORMAL'})", kv, args.puts, args.gets, args.threads)
        svc = EtcdService(Path(tmp) / "etcd")
        try:
            svc.start()
        except ServiceUnavailable as exc:
            print(f"EtcdKV: skipped ({exc})")
            return
        try:
            with EtcdKV([svc.endpoint]) as kv:
                bench("EtcdKV (etcd on loopback)", kv, args.puts, args.gets, args.threads)
        finally:
            svc.stop()


if __name__ == "__main__":
    main()
