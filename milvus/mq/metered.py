"""A broker client that records ``milvus_msgstream_*`` (produce / consume counts, bytes and
produce latency) around another."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from milvus.metrics.families import FAIL, SUCCESS, MilvusMetrics
from milvus.mq.base import MQ, Consumer, Message, MessageID, Position, Producer


class _MeteredProducer(Producer):
    def __init__(self, inner: Producer, metrics: MilvusMetrics):
        self.inner = inner
        self._m = metrics

    def _record(self, started: float, count: int, size: int, ok: bool) -> None:
        self._m.msgstream_op_count.labels("produce", SUCCESS if ok else FAIL).inc(count)
        if ok:
            self._m.msgstream_bytes.labels("produce").inc(size)
            self._m.msgstream_latency.labels("produce").observe((time.perf_counter() - started) * 1000.0)

    def send(self, payload: bytes, properties: Mapping[str, str] | None = None) -> MessageID:
        started = time.perf_counter()
        try:
            message_id = self.inner.send(payload, properties)
        except BaseException:
            self._record(started, 1, 0, False)
            raise
        self._record(started, 1, len(payload), True)
        return message_id

    def send_batch(
        self, payloads: Sequence[bytes], properties: Sequence[Mapping[str, str] | None] | None = None
    ) -> list[MessageID]:
        started = time.perf_counter()
        try:
            ids = self.inner.send_batch(payloads, properties)
        except BaseException:
            self._record(started, len(payloads), 0, False)
            raise
        self._record(started, len(payloads), sum(len(p) for p in payloads), True)
        return ids

    def close(self) -> None:
        self.inner.close()


class _MeteredConsumer(Consumer):
    def __init__(self, inner: Consumer, metrics: MilvusMetrics):
        self.inner = inner
        self.channel = inner.channel
        self.subscription = inner.subscription
        self._m = metrics

    def receive(self, timeout: float | None = None) -> Message | None:
        try:
            message = self.inner.receive(timeout)
        except BaseException:
            self._m.msgstream_op_count.labels("consume", FAIL).inc()
            raise
        if message is not None:
            self._m.msgstream_op_count.labels("consume", SUCCESS).inc()
            self._m.msgstream_bytes.labels("consume").inc(len(message.payload))
        return message

    def ack(self, message: Message) -> None:
        self.inner.ack(message)

    def seek(self, position: MessageID | Position) -> None:
        self.inner.seek(position)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class MeteredMQ(MQ):
    def __init__(self, inner: MQ, metrics: MilvusMetrics):
        self.inner = inner
        self._m = metrics

    def create_producer(self, channel: str) -> Producer:
        return _MeteredProducer(self.inner.create_producer(channel), self._m)

    def subscribe(self, channel: str, subscription: str, initial_position: Position = Position.LATEST) -> Consumer:
        return _MeteredConsumer(self.inner.subscribe(channel, subscription, initial_position), self._m)

    def unsubscribe(self, channel: str, subscription: str) -> None:
        self.inner.unsubscribe(channel, subscription)

    def latest_id(self, channel: str) -> MessageID | None:
        return self.inner.latest_id(channel)

    def id_from_bytes(self, data: bytes) -> MessageID:
        return self.inner.id_from_bytes(data)

    @property
    def max_message_size(self) -> int:
        return self.inner.max_message_size

    def delete_channel(self, channel: str) -> None:
        self.inner.delete_channel(channel)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
