"""The Apache Pulsar backend (pulsar-client).

* Channel ``c`` is the topic ``persistent://<tenant>/<namespace>/c``; producers do not batch, so
  a message id is (ledger, entry) and ids of one topic order by (ledger, entry, batch index).
* A subscription is an Exclusive subscription (one consumer at a time); acks are cumulative.
* ``seek`` replaces the client consumer rather than repositioning a live one, which also works
  around pulsar-lite (shared/notes/infra.md), whose seek on a live consumer does not restart
  dispatch and whose seek to earliest/latest breaks the subscription for good:
  seek(EARLIEST/LATEST) unsubscribes and subscribes again with that initial position (so for
  a moment the topic lacks the subscription: on a topic without retention, messages only it
  held may be trimmed then; pulsar-lite also misbehaves after a seek to the topic's first id);
  seek(id) moves the subscription's cursor with Pulsar's ``seek`` (inclusive: the message at
  the id comes again), closes the consumer and subscribes again, then acks the id cumulatively
  (so the saved position is after it) and drops it, which gives the contract's "first message
  after id".  A consumer drops any message at or before the last one it returned
  (redeliveries after a reconnect), anything a replaced client consumer still gives, and acks
  of messages it has not returned since the last seek (received before it: the seek decided
  the saved position).  A receive blocked in another thread goes on with the new consumer.
* Not worked around: pulsar-lite loses and duplicates messages of a backlog of more than a few
  hundred (its flow control; a smaller receiver queue does not help), so replaying a long
  backlog on it is unreliable; consuming as messages arrive is fine.
* Acks are sent by the client in the background (grouped); ``close`` flushes them.
* ``latest_id`` asks the broker through a throw-away subscription (the Python client's reader
  cannot); ``delete_channel`` needs the broker's admin REST endpoint (``admin_url``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence

import pulsar
from pulsar.exceptions import AlreadyClosed, PulsarException, Timeout

from milvus.mq._names import check_properties
from milvus.mq.base import MQ, Consumer, Message, MessageID, MQError, Position, Producer

log = logging.getLogger(__name__)

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_\-=:.]+$")


class PulsarMessageID(MessageID):
    __slots__ = ("msg_id",)

    def __init__(self, msg_id: pulsar.MessageId):
        self.msg_id = msg_id

    def to_bytes(self) -> bytes:
        return self.msg_id.serialize()

    def _key(self) -> tuple:
        m = self.msg_id
        return (m.ledger_id(), m.entry_id(), m.batch_index())

    def __repr__(self) -> str:
        return f"PulsarMessageID{self._key()}"


def _msg_id_of(message_id: MessageID) -> pulsar.MessageId:
    if not isinstance(message_id, PulsarMessageID):
        raise MQError(f"not a PulsarMQ message id: {message_id!r}")
    return message_id.msg_id


def _props_size(props: Mapping[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode()) for k, v in props.items())


class PulsarProducer(Producer):
    def __init__(self, mq: PulsarMQ, channel: str, producer: pulsar.Producer):
        self._mq = mq
        self._channel = channel
        self._producer = producer
        self._closed = False

    def _encode(self, payloads: Sequence[bytes], properties: Sequence[Mapping[str, str] | None] | None
                ) -> list[tuple[bytes, dict[str, str]]]:
        if self._closed:
            raise MQError(f"producer of {self._channel!r} is closed")
        props = list(properties) if properties is not None else [None] * len(payloads)
        if len(props) != len(payloads):
            raise MQError(f"{len(payloads)} payloads but {len(props)} property maps")
        out = []
        for payload, pr in zip(payloads, props, strict=True):
            data, checked = bytes(payload), check_properties(pr)
            size = len(data) + _props_size(checked)
            if size > self._mq.max_message_size:
                raise MQError(f"message of {size} bytes exceeds max_message_size {self._mq.max_message_size}")
            out.append((data, checked))
        return out

    def send(self, payload: bytes, properties: Mapping[str, str] | None = None) -> MessageID:
        ((data, props),) = self._encode([payload], [properties])
        try:
            return PulsarMessageID(self._producer.send(data, properties=props))
        except PulsarException as exc:
            raise MQError(f"send to {self._channel!r} failed: {exc}") from exc

    def send_batch(
        self, payloads: Sequence[bytes], properties: Sequence[Mapping[str, str] | None] | None = None
    ) -> list[MessageID]:
        """Pipeline every message with send_async, flush, then wait for all broker receipts."""
        encoded = self._encode(payloads, properties)
        if not encoded:
            return []
        ids: list[pulsar.MessageId | None] = [None] * len(encoded)
        failures: list[str] = []
        remaining = [len(encoded)]
        done = threading.Condition()

        def callback_for(i: int):
            def callback(result: pulsar.Result, msg_id: pulsar.MessageId) -> None:
                with done:
                    if result == pulsar.Result.Ok:
                        ids[i] = msg_id
                    else:
                        failures.append(f"message {i}: {result}")
                    remaining[0] -= 1
                    if remaining[0] == 0:
                        done.notify_all()
            return callback

        try:
            for i, (data, props) in enumerate(encoded):
                self._producer.send_async(data, callback_for(i), properties=props)
            self._producer.flush()
        except PulsarException as exc:
            raise MQError(f"send to {self._channel!r} failed: {exc}") from exc
        with done:
            if not done.wait_for(lambda: remaining[0] == 0, self._mq._send_timeout_s + 5):
                raise MQError(f"send to {self._channel!r}: no receipt for {remaining[0]} messages")
        if failures:
            raise MQError(f"send to {self._channel!r} failed: {'; '.join(failures[:5])}")
        return [PulsarMessageID(m) for m in ids]  # type: ignore[arg-type]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._producer.close()
        except PulsarException as exc:
            log.warning("closing producer of %r: %s", self._channel, exc)
        self._mq._forget_producer(self)


class PulsarConsumer(Consumer):
    """One subscription's consumer; ``seek`` replaces the client consumer underneath it (see the
    module docstring), so every use of ``_raw`` reads it under ``_lock``."""

    def __init__(self, mq: PulsarMQ, channel: str, subscription: str, consumer: pulsar.Consumer):
        self.channel = channel
        self.subscription = subscription
        self._mq = mq
        self._raw = consumer
        self._lock = threading.Lock()
        # held for a whole seek (the replacement of _raw): receive waits on it when its client
        # consumer was closed under it, ack and close wait on it so they never use a closing one
        self._seek_lock = threading.Lock()
        self._generation = 0  # bumped by every seek: what an older client consumer gives is dropped
        # the position of the last message returned, or of seek(id): anything at or before it
        # that arrives (a redelivery after a reconnect, the message at the id after Pulsar's
        # inclusive seek) is dropped, so receive keeps channel order
        self._last: tuple | None = None
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise MQError(f"consumer {self.subscription!r} of {self.channel!r} is closed")

    def _current(self) -> tuple[pulsar.Consumer, int]:
        with self._lock:
            return self._raw, self._generation

    def receive(self, timeout: float | None = None) -> Message | None:
        self._check_open()
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            raw, generation = self._current()
            try:
                if deadline is None:
                    msg = raw.receive()
                else:
                    ms = int((deadline - time.monotonic()) * 1000)
                    msg = raw.receive(max(ms, 1))
            except Timeout:
                return None
            except PulsarException as exc:
                if self._closed:
                    return None
                if self._replaced(generation, deadline):
                    continue
                if isinstance(exc, AlreadyClosed):
                    raise MQError(f"consumer {self.subscription!r} of {self.channel!r} was closed") from None
                raise MQError(f"receive from {self.channel!r} failed: {exc}") from exc
            mid = PulsarMessageID(msg.message_id())
            key = mid._key()
            with self._lock:
                if generation != self._generation:
                    continue  # given by a consumer a seek replaced: the new one has it if it is due
                if self._last is not None and key <= self._last:
                    continue
                self._last = key
            return Message(self.channel, msg.data(), mid, dict(msg.properties()))

    def _replaced(self, generation: int, deadline: float | None) -> bool:
        """After the client consumer failed under a receive: wait for a seek in progress, then
        say whether a seek replaced that consumer (the receive goes on with the new one)."""
        wait = -1 if deadline is None else max(deadline - time.monotonic(), 0.0)
        if self._seek_lock.acquire(timeout=wait):
            self._seek_lock.release()
        with self._lock:
            return generation != self._generation and not self._closed

    def ack(self, message: Message) -> None:
        self._check_open()
        if message.channel != self.channel:
            raise MQError(f"message of channel {message.channel!r} acked on {self.channel!r}")
        msg_id = _msg_id_of(message.id)
        with self._seek_lock:
            with self._lock:
                raw, last = self._raw, self._last
            if last is None or message.id._key() > last:
                # not returned since the last seek (received before it): the seek decided the
                # saved position, and this ack must not move it past messages still to come
                return
            try:
                raw.acknowledge_cumulative(msg_id)
            except PulsarException as exc:
                raise MQError(f"ack on {self.channel!r} failed: {exc}") from exc

    def seek(self, position: MessageID | Position) -> None:
        """Reposition by replacing the client consumer (pulsar-lite's seek on a live consumer
        does not restart dispatch, and its seek to earliest/latest breaks the subscription):

        * EARLIEST / LATEST: unsubscribe and subscribe again with that initial position;
        * an id: ``seek`` the subscription's cursor to it (inclusive), close the consumer and
          subscribe again (delivery starts at the id), then acknowledge the id and drop it, so
          the saved position and the next message are both after it.
        """
        self._check_open()
        if isinstance(position, Position):
            target, skip = None, None
        else:
            target, skip = _msg_id_of(position), position._key()
        with self._seek_lock:
            self._check_open()
            with self._lock:
                old = self._raw
                self._generation += 1  # what old gives from now on is dropped
            try:
                if target is None:
                    old.unsubscribe()
                else:
                    old.seek(target)
            except PulsarException as exc:  # old is still the consumer, where it was
                raise MQError(f"seek on {self.channel!r} failed: {exc}") from exc
            with self._lock:
                self._generation += 1  # a receive that read the first bump must not keep old's messages
                self._last = skip
            try:
                old.close()
            except PulsarException as exc:
                log.warning("closing consumer %r of %r for a seek: %s", self.subscription, self.channel, exc)
            initial = position if target is None else Position.EARLIEST
            new = self._mq._raw_subscribe(self.channel, self.subscription, initial)  # type: ignore[arg-type]
            with self._lock:
                self._raw = new
            if target is not None:
                try:
                    new.acknowledge_cumulative(target)
                except PulsarException as exc:
                    raise MQError(f"seek on {self.channel!r} failed: {exc}") from exc

    def _unsubscribe(self) -> None:
        with self._seek_lock:
            raw, _ = self._current()
            try:
                raw.unsubscribe()
            except PulsarException as exc:
                raise MQError(f"unsubscribe {self.subscription!r} of {self.channel!r} failed: {exc}") from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._seek_lock:
            raw, _ = self._current()
            try:
                raw.close()
            except PulsarException as exc:
                log.warning("closing consumer %r of %r: %s", self.subscription, self.channel, exc)
        self._mq._forget_consumer(self)


class PulsarMQ(MQ):
    """A Pulsar client; ``admin_url`` (http://host:8080) is only needed by ``delete_channel``."""

    def __init__(self, url: str, tenant: str = "public", namespace: str = "default",
                 max_message_size: int = 5 * 1024 * 1024, *, admin_url: str | None = None,
                 operation_timeout_s: int = 30, send_timeout_s: int = 30):
        self._tenant = tenant
        self._namespace = namespace
        self._max_message_size = max_message_size
        self._admin_url = admin_url.rstrip("/") if admin_url else None
        self._send_timeout_s = send_timeout_s
        self._lock = threading.RLock()
        self._producers: set[PulsarProducer] = set()
        self._consumers: dict[tuple[str, str], PulsarConsumer] = {}
        self._closed = False
        try:
            # the C++ console logger, not a Python one: with a Python logger the client can abort
            # the process at exit ("terminate called without an active exception",
            # apache/pulsar-client-python#256); we saw it once in a few dozen runs here
            self._client = pulsar.Client(url, operation_timeout_seconds=operation_timeout_s,
                                         logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Warn))
        except (PulsarException, ValueError) as exc:
            raise MQError(f"cannot create a Pulsar client for {url}: {exc}") from exc

    @property
    def max_message_size(self) -> int:
        return self._max_message_size

    def _topic(self, channel: str) -> str:
        if not isinstance(channel, str) or not _TOPIC_NAME.match(channel):
            raise MQError(f"invalid channel name {channel!r} for Pulsar (letters, digits, _ - = : . only)")
        return f"persistent://{self._tenant}/{self._namespace}/{channel}"

    def _check_open(self) -> None:
        if self._closed:
            raise MQError("PulsarMQ is closed")

    def create_producer(self, channel: str) -> Producer:
        self._check_open()
        try:
            raw = self._client.create_producer(
                self._topic(channel), batching_enabled=False, block_if_queue_full=True,
                send_timeout_millis=self._send_timeout_s * 1000,
            )
        except PulsarException as exc:
            raise MQError(f"cannot create a producer for {channel!r}: {exc}") from exc
        producer = PulsarProducer(self, channel, raw)
        with self._lock:
            self._producers.add(producer)
        return producer

    def subscribe(self, channel: str, subscription: str,
                  initial_position: Position = Position.LATEST) -> Consumer:
        self._check_open()
        key = (channel, subscription)
        with self._lock:
            if key in self._consumers:
                raise MQError(f"subscription {subscription!r} of {channel!r} already has a consumer")
        raw = self._raw_subscribe(channel, subscription, initial_position)
        consumer = PulsarConsumer(self, channel, subscription, raw)
        with self._lock:
            self._consumers[key] = consumer
        return consumer

    def _raw_subscribe(self, channel: str, subscription: str, initial_position: Position) -> pulsar.Consumer:
        position = (pulsar.InitialPosition.Earliest if initial_position is Position.EARLIEST
                    else pulsar.InitialPosition.Latest)
        try:
            return self._client.subscribe(
                self._topic(channel), subscription, consumer_type=pulsar.ConsumerType.Exclusive,
                initial_position=position,
            )
        except PulsarException as exc:
            raise MQError(f"cannot subscribe {subscription!r} to {channel!r}: {exc}") from exc

    def unsubscribe(self, channel: str, subscription: str) -> None:
        self._check_open()
        with self._lock:
            consumer = self._consumers.get((channel, subscription))
        if consumer is None:
            consumer = PulsarConsumer(self, channel, subscription,
                                      self._raw_subscribe(channel, subscription, Position.LATEST))
        try:
            consumer._unsubscribe()
        finally:
            consumer.close()

    def latest_id(self, channel: str) -> MessageID | None:
        self._check_open()
        probe = self._raw_subscribe(channel, f"milvus-latest-id-{uuid.uuid4().hex}", Position.LATEST)
        try:
            msg_id = probe.get_last_message_id()
        except PulsarException as exc:
            raise MQError(f"latest_id of {channel!r} failed: {exc}") from exc
        finally:
            try:
                probe.unsubscribe()
            except PulsarException as exc:
                log.warning("dropping the probe subscription of %r: %s", channel, exc)
            probe.close()
        if msg_id.ledger_id() < 0 or msg_id.entry_id() < 0:
            return None
        return PulsarMessageID(msg_id)

    def id_from_bytes(self, data: bytes) -> MessageID:
        try:
            return PulsarMessageID(pulsar.MessageId.deserialize(data))
        except Exception as exc:  # the binding raises assorted errors on bad input
            raise MQError(f"not a PulsarMQ message id: {data!r}") from exc

    def delete_channel(self, channel: str) -> None:
        self._check_open()
        topic = self._topic(channel)
        if self._admin_url is None:
            raise MQError("PulsarMQ.delete_channel needs admin_url (the broker's admin REST endpoint)")
        with self._lock:
            consumers = [c for (name, _), c in self._consumers.items() if name == channel]
            producers = [p for p in self._producers if p._channel == channel]
        for consumer in consumers:
            consumer.close()
        for producer in producers:
            producer.close()
        path = "/".join(urllib.parse.quote(part, safe="") for part in (self._tenant, self._namespace, channel))
        request = urllib.request.Request(f"{self._admin_url}/admin/v2/persistent/{path}?force=true",
                                         method="DELETE")
        try:
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - configured admin endpoint
                pass
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise MQError(f"deleting {topic} failed: HTTP {exc.code} {exc.reason}") from exc
        except OSError as exc:
            raise MQError(f"deleting {topic} failed: {exc}") from exc

    def _forget_producer(self, producer: PulsarProducer) -> None:
        with self._lock:
            self._producers.discard(producer)

    def _forget_consumer(self, consumer: PulsarConsumer) -> None:
        with self._lock:
            key = (consumer.channel, consumer.subscription)
            if self._consumers.get(key) is consumer:
                del self._consumers[key]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            consumers, producers = list(self._consumers.values()), list(self._producers)
        for consumer in consumers:
            consumer.close()
        for producer in producers:
            producer.close()
        try:
            self._client.close()
        except PulsarException as exc:
            log.warning("closing the Pulsar client: %s", exc)
