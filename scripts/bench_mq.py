"""Measure message-queue throughput: messages/s of 1 KiB payloads per backend.

    python scripts/bench_mq.py [--count 20000] [--pulsar-count 400] [--batch 500] [--only local,nats]

For each backend: ``send`` (one message per call, each acknowledged before the next),
``send_batch`` (``--batch`` messages per call), ``consume`` (receive only) and ``consume+ack``
(receive and cumulative ack of every message).  LocalMQ runs in a temporary directory with
fsync on (and once with it off); NATS and pulsar-lite are started on loopback.  pulsar-lite
loses messages once more than ~500 are queued for a consumer, so its counts stay small.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from milvus.localsvc import NatsService, PulsarLiteService, ServiceUnavailable  # noqa: E402
from milvus.mq import MQ, LocalMQ, Position  # noqa: E402
from milvus.mq.nats import NatsMQ  # noqa: E402
from milvus.mq.pulsar import PulsarMQ  # noqa: E402

PAYLOAD = bytes(range(256)) * 4  # 1 KiB


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:9.0f} msg/s"


def consume(mq: MQ, channel: str, count: int, ack: bool) -> float:
    with mq.subscribe(channel, f"bench-{uuid.uuid4().hex[:8]}", Position.EARLIEST) as consumer:
        start = time.perf_counter()
        for i in range(count):
            msg = consumer.receive(timeout=30)
            if msg is None:
                raise SystemExit(f"consume stalled after {i} of {count} messages")
            if ack:
                consumer.ack(msg)
        return time.perf_counter() - start


def bench(name: str, open_mq: Callable[[], MQ], count: int, batch: int) -> None:
    with open_mq() as mq:
        single = f"bench-single-{uuid.uuid4().hex[:8]}"
        batched = f"bench-batch-{uuid.uuid4().hex[:8]}"
        single_count = max(min(count // 4, 5000), 1)
        with mq.create_producer(single) as producer:
            start = time.perf_counter()
            for _ in range(single_count):
                producer.send(PAYLOAD)
            send_s = time.perf_counter() - start
        with mq.create_producer(batched) as producer:
            start = time.perf_counter()
            for done in range(0, count, batch):
                producer.send_batch([PAYLOAD] * min(batch, count - done))
            batch_s = time.perf_counter() - start
        consume_s = consume(mq, batched, count, ack=False)
        consume_ack_s = consume(mq, batched, count, ack=True)
    print(f"{name:14s} send {rate(single_count, send_s)} ({single_count})  "
          f"send_batch[{batch}] {rate(count, batch_s)}  consume {rate(count, consume_s)}  "
          f"consume+ack {rate(count, consume_ack_s)}  ({count} msgs)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--pulsar-count", type=int, default=400)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--only", default="local,nats,pulsar")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-mq-") as tmp:
        if "local" in only:
            bench("local (fsync)", lambda: LocalMQ(f"{tmp}/local-sync"), args.count, args.batch)
            bench("local (nosync)", lambda: LocalMQ(f"{tmp}/local-nosync", sync=False), args.count, args.batch)
        if "nats" in only:
            try:
                with NatsService(f"{tmp}/nats") as svc:
                    bench("nats", lambda: NatsMQ(svc.url), args.count, args.batch)
            except ServiceUnavailable as exc:
                print(f"nats: skipped ({exc})")
        if "pulsar" in only:
            try:
                with PulsarLiteService(f"{tmp}/pulsar") as svc:
                    bench("pulsar-lite", lambda: PulsarMQ(svc.url), args.pulsar_count,
                          min(args.batch, args.pulsar_count))
            except ServiceUnavailable as exc:
                print(f"pulsar: skipped ({exc})")


if __name__ == "__main__":
    main()
