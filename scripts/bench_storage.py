"""Measure object storage throughput: MB/s of 8 MiB puts/gets and small-object ops/s.

    python scripts/bench_storage.py [--big 24] [--small 1000] [--threads 1]

Runs against a LocalStorage in a temporary directory and a MinioStorage on a nanio server
started on loopback (skipped when nanio is not installed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from milvus.localsvc import NanioService, ServiceUnavailable  # noqa: E402
from milvus.storage import LocalStorage, ObjectStorage  # noqa: E402
from milvus.storage.minio import MinioStorage  # noqa: E402

MiB = 1 << 20


def timed(fn: Callable[[int], object], count: int, threads: int) -> float:
    start = time.perf_counter()
    if threads <= 1:
        for i in range(count):
            fn(i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fn, range(count)))
    return time.perf_counter() - start


def bench(name: str, store: ObjectStorage, big: int, small: int, threads: int) -> None:
    blob = os.urandom(8 * MiB)
    tiny = os.urandom(1024)
    store.remove_prefix("bench/")
    put_big = timed(lambda i: store.put(f"bench/big/{i}", blob), big, threads)
    get_big = timed(lambda i: store.get(f"bench/big/{i}"), big, threads)
    put_small = timed(lambda i: store.put(f"bench/small/{i:06d}", tiny), small, threads)
    get_small = timed(lambda i: store.get(f"bench/small/{i:06d}"), small, threads)
    stat_small = timed(lambda i: store.stat(f"bench/small/{i:06d}"), small, threads)
    start = time.perf_counter()
    listed = sum(1 for _ in store.list("bench/small/"))
    list_s = time.perf_counter() - start
    start = time.perf_counter()
    store.remove_prefix("bench/")
    remove_s = time.perf_counter() - start
    mb = big * 8
    print(f"{name:6s} threads={threads}  8 MiB put {mb / put_big:7.1f} MB/s  get {mb / get_big:7.1f} MB/s | "
          f"1 KiB put {small / put_small:7.0f} ops/s  get {small / get_small:7.0f} ops/s  "
          f"stat {small / stat_small:7.0f} ops/s | list {listed} keys {listed / list_s:7.0f} keys/s  "
          f"remove_prefix {(small + big) / remove_s:7.0f} keys/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", type=int, default=24, help="number of 8 MiB objects")
    parser.add_argument("--small", type=int, default=1000, help="number of 1 KiB objects")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        with LocalStorage(Path(tmp) / "local") as local:
            for threads in args.threads:
                bench("local", local, args.big, args.small, threads)
        service = NanioService(Path(tmp) / "nanio")
        try:
            service.start()
        except ServiceUnavailable as exc:
            print(f"minio  skipped: {exc}")
            return
        try:
            with MinioStorage(service.address, service.access_key, service.secret_key, "bench", "files") as s3:
                for threads in args.threads:
                    bench("minio", s3, args.big, args.small, threads)
        finally:
            service.stop()


if __name__ == "__main__":
    main()
