"""The NATS JetStream backend (nats-py, driven from a private event-loop thread).

* Channel ``c`` is the stream ``escape_name(c)`` (file storage) holding the one subject
  ``milvus-mq.<escaped>``; the message id is the stream sequence number.
* Properties travel as one JSON header (``Milvus-Props``), so any string keys and values work.
* A subscription is a durable pull consumer (explicit, cumulative acks: ``AckPolicy.ALL``; no
  ack timeout redelivery; no limit on unacked messages).  EARLIEST creates it with
  ``DeliverPolicy.ALL``; LATEST with ``BY_START_SEQUENCE`` at the stream's last sequence + 1
  (like ``NEW``, but it can be reset later).
* Repositioning (seek, and resuming an existing subscription after its ack floor, which drops
  whatever was delivered but not acked) uses the consumer reset API (ADR-60, nats-server 2.14+);
  on older servers, or when the target is below the consumer's start sequence, the durable
  consumer is deleted and created again at the target sequence.  Either way the server keeps
  the new position as the subscription's ack floor.
* Each consumer pulls into its own inbox: first a no-wait pull of up to 256 messages, then,
  when nothing is there, a long pull of one message that expires with the receive timeout.
  Every reposition makes a fresh inbox, so nothing pulled before it can arrive after it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import api

from milvus.mq._loop import LoopThread
from milvus.mq._names import check_properties, escape_name
from milvus.mq.base import MQ, Consumer, Message, MessageID, MQError, Position, Producer, SequenceMessageID

log = logging.getLogger(__name__)

T = TypeVar("T")

PROPS_HEADER = "Milvus-Props"
SUBJECT_PREFIX = "milvus-mq."
PULL_BATCH = 256
LONG_POLL_S = 5.0  # longest single server-side wait of a pull request
# room kept under the server's max_payload for the protocol headers (expected-stream etc.)
HEADER_RESERVE = 512
ACK_WAIT_S = 365 * 24 * 3600.0  # redelivery only happens through an explicit reposition
_STATUS = "Status"
# pull statuses that end a request (100 is a heartbeat); any other status is an error.
# 409 "Message Size Exceeds MaxBytes" ends a request whose byte budget is spent: a pull asks
# for at least twice the server's max_payload, so one message alone always fits.
_END_STATUSES = ("100", "404", "408", "409")
_FATAL_409 = ("Consumer Deleted",)
_ERRORS = (nats.errors.Error, TimeoutError, OSError)


class NatsMessageID(SequenceMessageID):
    __slots__ = ()
    TAG = b"N"


@dataclass(frozen=True)
class _NatsMessage(Message):
    ack_subject: str = field(default="", repr=False, compare=False)
    # the inbox it came through; acks from before a reposition are moot (the server ignores
    # them without answering)
    generation: int = field(default=0, repr=False, compare=False)


_generations = itertools.count(1)


def _seq_of(message_id: MessageID) -> int:
    if not isinstance(message_id, NatsMessageID):
        raise MQError(f"not a NatsMQ message id: {message_id!r}")
    return message_id.seq


def _encode_headers(props: Mapping[str, str]) -> dict[str, str] | None:
    if not props:
        return None
    # ensure_ascii escapes control characters and non-ASCII: the header stays one ASCII line
    return {PROPS_HEADER: json.dumps(props, ensure_ascii=True, separators=(",", ":"))}


def _headers_size(headers: Mapping[str, str] | None) -> int:
    if not headers:
        return 0
    return len("NATS/1.0\r\n\r\n") + sum(len(k) + len(v) + 4 for k, v in headers.items())


class _Channel:
    def __init__(self, name: str):
        self.name = name
        self.stream = escape_name(name)
        self.subject = SUBJECT_PREFIX + self.stream


class NatsProducer(Producer):
    def __init__(self, mq: NatsMQ, channel: _Channel):
        self._mq = mq
        self._ch = channel
        self._closed = False

    def _encode(self, payloads: Sequence[bytes], properties: Sequence[Mapping[str, str] | None] | None
                ) -> list[tuple[bytes, dict[str, str] | None]]:
        props = list(properties) if properties is not None else [None] * len(payloads)
        if len(props) != len(payloads):
            raise MQError(f"{len(payloads)} payloads but {len(props)} property maps")
        out = []
        for payload, pr in zip(payloads, props, strict=True):
            data = bytes(payload)
            headers = _encode_headers(check_properties(pr))
            size = len(data) + _headers_size(headers)
            if size > self._mq.max_message_size:
                raise MQError(f"message of {size} bytes exceeds max_message_size {self._mq.max_message_size}")
            out.append((data, headers))
        return out

    def send(self, payload: bytes, properties: Mapping[str, str] | None = None) -> MessageID:
        return self.send_batch([payload], [properties])[0]

    def send_batch(
        self, payloads: Sequence[bytes], properties: Sequence[Mapping[str, str] | None] | None = None
    ) -> list[MessageID]:
        """Publish all messages back to back and wait for every server ack (one round trip)."""
        if self._closed:
            raise MQError(f"producer of {self._ch.name!r} is closed")
        encoded = self._encode(payloads, properties)
        if not encoded:
            return []
        seqs = self._mq._call(self._publish(encoded))
        if any(a >= b for a, b in zip(seqs, seqs[1:], strict=False)):
            raise MQError(f"JetStream acked a batch out of order: {seqs}")
        return [NatsMessageID(s) for s in seqs]

    async def _publish(self, encoded: list[tuple[bytes, dict[str, str] | None]]) -> list[int]:
        await self._mq._ensure_stream(self._ch)
        try:
            return await self._publish_once(encoded)
        except nats.js.errors.NoStreamResponseError:
            # the stream was deleted behind our back (by another client): create it again
            self._mq._streams.discard(self._ch.stream)
            await self._mq._ensure_stream(self._ch)
            return await self._publish_once(encoded)

    async def _publish_once(self, encoded: list[tuple[bytes, dict[str, str] | None]]) -> list[int]:
        js = self._mq._js
        if len(encoded) == 1:
            data, headers = encoded[0]
            ack = await js.publish(self._ch.subject, data, stream=self._ch.stream, headers=headers)
            return [ack.seq]
        # each publish_async call hands its message to the connection before returning, so the
        # server sees (and numbers) them in this order
        futures = [
            await js.publish_async(self._ch.subject, data, stream=self._ch.stream, headers=headers)
            for data, headers in encoded
        ]
        acks = await asyncio.wait_for(asyncio.gather(*futures), self._mq._timeout)
        return [ack.seq for ack in acks]

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._mq._forget_producer(self)


class NatsConsumer(Consumer):
    def __init__(self, mq: NatsMQ, channel: _Channel, subscription: str):
        self.channel = channel.name
        self.subscription = subscription
        self._mq = mq
        self._ch = channel
        self._durable = escape_name(subscription)
        self._state_lock = threading.Lock()
        self._receiving: concurrent.futures.Future[tuple[int, list[Message]]] | None = None
        self._ready: deque[Message] = deque()  # pulled, not yet returned by receive (thread side)
        self._closed = False
        # loop-side state (touched only on the event loop)
        self._sub: Any = None
        self._inbox_prefix = ""
        self._inbox: deque[Msg] = deque()
        self._arrived: asyncio.Event | None = None
        self._next_seq = 1  # the smallest stream sequence still to deliver
        self._acked = 0
        self._request_no = 0
        self._generation = 0
        self._steady: asyncio.Event | None = None  # cleared while a seek swaps the inbox

    # --- loop side ---------------------------------------------------------------------
    async def _open(self, initial_position: Position) -> None:
        jsm = self._mq._jsm
        await self._mq._ensure_stream(self._ch)
        try:
            await jsm.consumer_info(self._ch.stream, self._durable)
        except nats.js.errors.NotFoundError:
            if initial_position is Position.EARLIEST:
                start = 1
            else:
                start = (await jsm.stream_info(self._ch.stream)).state.last_seq + 1
            await self._create(start)
        else:
            # drop deliveries that were never acked: resume right after the ack floor
            start = await self._reposition(None)
        await self._new_inbox(start)

    async def _create(self, start: int) -> None:
        config = api.ConsumerConfig(
            name=self._durable,
            durable_name=self._durable,
            deliver_policy=api.DeliverPolicy.ALL if start <= 1 else api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=None if start <= 1 else start,
            ack_policy=api.AckPolicy.ALL,
            ack_wait=ACK_WAIT_S,
            max_deliver=-1,
            max_ack_pending=-1,
            filter_subject=self._ch.subject,
            replay_policy=api.ReplayPolicy.INSTANT,
        )
        await self._mq._jsm.add_consumer(self._ch.stream, config)

    async def _reposition(self, start: int | None) -> int:
        """Make ``start`` (None: ack floor + 1) the next delivery and the new ack floor + 1."""
        jsm = self._mq._jsm
        if self._mq._can_reset:
            try:
                reset = await jsm.reset_consumer(self._ch.stream, self._durable, seq=start)
                return reset.reset_seq
            except nats.js.errors.ConsumerInvalidResetError:
                pass  # below the consumer's start sequence: create it again below
        if start is None:
            info = await jsm.consumer_info(self._ch.stream, self._durable)
            start = info.ack_floor.stream_seq + 1
        try:
            await jsm.delete_consumer(self._ch.stream, self._durable)
        except nats.js.errors.NotFoundError:
            pass
        await self._create(start)
        return start

    async def _new_inbox(self, next_seq: int) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        nc = self._mq._nc
        self._inbox.clear()
        self._arrived = asyncio.Event()
        self._inbox_prefix = nc.new_inbox()
        inbox, arrived = self._inbox, self._arrived

        async def on_message(msg: Msg) -> None:
            inbox.append(msg)
            arrived.set()

        self._sub = await nc.subscribe(
            self._inbox_prefix + ".*", cb=on_message,
            pending_msgs_limit=64 * PULL_BATCH, pending_bytes_limit=8 * self._mq._max_pull_bytes,
        )
        self._next_seq = next_seq
        self._acked = next_seq - 1
        self._generation = next(_generations)

    async def _pull(self, batch: int, expires: float | None) -> str:
        self._request_no += 1
        reply = f"{self._inbox_prefix}.{self._request_no}"
        request: dict[str, Any] = {"batch": batch, "max_bytes": self._mq._max_pull_bytes}
        if expires is None:
            request["no_wait"] = True
        else:
            request["expires"] = int(expires * 1e9)
        subject = f"{self._mq._js._prefix}.CONSUMER.MSG.NEXT.{self._ch.stream}.{self._durable}"
        await self._mq._nc.publish(subject, json.dumps(request).encode(), reply=reply)
        return reply

    def _take(self, request: str | None) -> tuple[Msg | None, bool]:
        """Pop the next deliverable message; also report whether ``request`` has ended."""
        ended = False
        while self._inbox:
            msg = self._inbox.popleft()
            status = msg.headers.get(_STATUS) if msg.headers else None
            if status:
                description = (msg.headers or {}).get("Description", "")
                if status not in _END_STATUSES or any(d in description for d in _FATAL_409):
                    raise MQError(f"pull from {self.channel!r}/{self.subscription!r}: {status} {description}")
                if msg.subject == request and status != "100":  # 100: heartbeat
                    ended = True
                continue
            seq = msg.metadata.sequence.stream
            if seq < self._next_seq:
                continue  # delivered before
            self._next_seq = seq + 1
            return msg, ended
        return None, ended

    async def _wait(self, arrived: asyncio.Event, timeout: float) -> None:
        if timeout <= 0:
            return
        arrived.clear()
        try:
            await asyncio.wait_for(arrived.wait(), timeout)
        except TimeoutError:
            pass

    async def _receive(self, timeout: float | None) -> tuple[int, list[Message]]:
        """The next message plus any others already pulled, tagged with the inbox generation."""
        first = await self._receive_one(timeout)
        batch = [] if first is None else [first]
        while first is not None:
            try:
                msg, _ = self._take(None)
            except MQError:
                break  # hand over what was taken (it is past _next_seq); the next pull fails again
            if msg is None:
                break
            batch.append(self._to_message(msg))
        return self._generation, batch

    async def _receive_one(self, timeout: float | None) -> Message | None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + max(timeout, 0.0)
        grace = 0.5
        while True:
            if self._steady is not None and not self._steady.is_set():
                await self._steady.wait()  # a seek is swapping the inbox
            if self._sub is None:
                raise MQError(f"consumer {self.subscription!r} of {self.channel!r} has no position "
                              "(a seek failed): subscribe again")
            generation, arrived = self._generation, self._arrived
            assert arrived is not None
            msg, _ = self._take(None)
            if msg is not None:
                return self._to_message(msg)
            # what the server has right now, up to PULL_BATCH messages
            request = await self._pull(PULL_BATCH, None)
            remaining = float("inf") if deadline is None else deadline - loop.time()
            end = loop.time() + min(self._mq._timeout, max(remaining, 1.0))
            while generation == self._generation:
                msg, ended = self._take(request)
                if msg is not None:
                    return self._to_message(msg)
                if ended or loop.time() >= end:
                    break
                await self._wait(arrived, end - loop.time())
            if generation != self._generation:
                continue  # seek: start over on the new inbox
            # nothing there: one long pull that expires with the deadline
            remaining = LONG_POLL_S if deadline is None else deadline - loop.time()
            if remaining <= 0.001:
                return None
            expires = min(remaining, LONG_POLL_S)
            request = await self._pull(1, expires)
            end = loop.time() + expires + grace
            while generation == self._generation:
                msg, ended = self._take(request)
                if msg is not None:
                    return self._to_message(msg)
                now = loop.time()
                if ended or now >= end or (deadline is not None and now >= deadline):
                    break
                wait = end - now if deadline is None else min(end, deadline) - now
                await self._wait(arrived, wait)
            if deadline is not None and loop.time() >= deadline and generation == self._generation:
                msg, _ = self._take(None)
                return None if msg is None else self._to_message(msg)

    def _to_message(self, msg: Msg) -> Message:
        props: dict[str, str] = {}
        if msg.headers and PROPS_HEADER in msg.headers:
            props = json.loads(msg.headers[PROPS_HEADER])
        return _NatsMessage(self.channel, msg.data, NatsMessageID(msg.metadata.sequence.stream), props,
                            ack_subject=msg.reply, generation=self._generation)

    async def _ack(self, seq: int, ack_subject: str, generation: int) -> None:
        if seq <= self._acked or generation != self._generation:
            return
        await self._mq._nc.request(ack_subject, b"+ACK", timeout=self._mq._timeout)
        self._acked = max(self._acked, seq)

    async def _seek(self, position: MessageID | Position) -> None:
        if self._steady is None:
            self._steady = asyncio.Event()
        self._steady.clear()  # a concurrent receive pulls nothing until the new inbox is there
        try:
            if position is Position.EARLIEST:
                start = 1
            elif position is Position.LATEST:
                start = (await self._mq._jsm.stream_info(self._ch.stream)).state.last_seq + 1
            else:
                start = _seq_of(position) + 1
            self._generation = next(_generations)  # acks and pulls of the old inbox are moot
            if self._arrived is not None:
                self._arrived.set()  # wake a waiting receive: it starts over on the new inbox
            if self._sub is not None:  # nothing pulled for the old position may arrive afterwards
                sub, self._sub = self._sub, None
                await sub.unsubscribe()
            start = await self._reposition(start)
            await self._new_inbox(start)
        finally:
            self._steady.set()

    async def _shutdown(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            try:
                await sub.unsubscribe()
            except nats.errors.Error:  # connection already closed
                pass

    # --- thread side -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise MQError(f"consumer {self.subscription!r} of {self.channel!r} is closed")

    def receive(self, timeout: float | None = None) -> Message | None:
        with self._state_lock:
            self._check_open()
            if self._ready:
                return self._ready.popleft()
            if self._receiving is not None:
                raise MQError("receive is already running on this consumer in another thread")
            future = self._receiving = self._mq._loop.submit(self._receive(timeout))
        try:
            generation, batch = future.result()
        except concurrent.futures.CancelledError:
            return None  # closed under us
        except _ERRORS as exc:
            raise MQError(f"receive from {self.channel!r} failed: {exc!r}") from exc
        finally:
            with self._state_lock:
                self._receiving = None
        if not batch:
            return None
        with self._state_lock:
            # a seek that ran after this batch was pulled dropped what it pulled ahead
            if generation == self._generation and not self._closed:
                self._ready.extend(batch[1:])
        return batch[0]

    def ack(self, message: Message) -> None:
        self._check_open()
        if message.channel != self.channel or not isinstance(message, _NatsMessage):
            raise MQError(f"message {message.id!r} was not received from {self.channel!r}")
        self._mq._call(self._ack(_seq_of(message.id), message.ack_subject, message.generation))

    def seek(self, position: MessageID | Position) -> None:
        self._check_open()
        if not isinstance(position, Position):
            _seq_of(position)
        with self._state_lock:
            self._ready.clear()
        self._mq._call(self._seek(position))
        with self._state_lock:
            # drop what a receive racing the seek kept from the old position; keep what one
            # that ran after it pulled from the new inbox (its messages are past _next_seq:
            # dropped, they would never be delivered)
            current = self._generation
            kept = [m for m in self._ready if getattr(m, "generation", None) == current]
            self._ready.clear()
            self._ready.extend(kept)

    def close(self) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            receiving = self._receiving
            self._ready.clear()
        if receiving is not None:
            receiving.cancel()
        try:
            self._mq._call(self._shutdown())
        except (MQError, RuntimeError) as exc:
            log.warning("closing consumer %r of %r: %s", self.subscription, self.channel, exc)
        self._mq._forget_consumer(self)


class NatsMQ(MQ):
    """A NATS JetStream client; one connection, one event-loop thread, both ended by ``close``."""

    def __init__(self, url: str, max_message_size: int = 1024 * 1024, *, request_timeout: float = 10.0,
                 connect_timeout: float = 5.0, consumer_reset: bool | None = None):
        """``consumer_reset``: reposition consumers with the reset API (None: when the server has
        it, 2.14+); False deletes and recreates them, as on older servers."""
        self._timeout = request_timeout
        self._lock = threading.RLock()
        self._producers: set[NatsProducer] = set()
        self._consumers: dict[tuple[str, str], NatsConsumer] = {}
        self._streams: set[str] = set()
        self._closed = False
        self._loop = LoopThread("nats-mq")
        try:
            self._nc = self._loop.run(
                nats.connect(url, name="milvus-mq", connect_timeout=connect_timeout,
                             max_reconnect_attempts=-1, error_cb=self._on_error),
                timeout=connect_timeout * 3,
            )
        except (*_ERRORS, concurrent.futures.TimeoutError) as exc:
            self._loop.stop()
            raise MQError(f"cannot connect to NATS at {url}: {exc!r}") from exc
        self._js = self._nc.jetstream(timeout=request_timeout)
        self._jsm = self._nc.jsm(timeout=request_timeout)
        version = self._nc.connected_server_version
        supported = (version.major, version.minor) >= (2, 14) and hasattr(self._jsm, "reset_consumer")
        self._can_reset = supported if consumer_reset is None else consumer_reset and supported
        server_max = self._nc.max_payload
        self._max_message_size = min(max_message_size, server_max - HEADER_RESERVE)
        self._max_pull_bytes = max(8 * 1024 * 1024, 2 * server_max)

    @staticmethod
    async def _on_error(exc: Exception) -> None:
        log.warning("nats: %r", exc)

    @property
    def max_message_size(self) -> int:
        return self._max_message_size

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the loop; broker failures become MQError."""
        if self._closed:
            coro.close()
            raise MQError("NatsMQ is closed")
        try:
            return self._loop.run(coro)
        except nats.js.errors.APIError as exc:
            raise MQError(f"JetStream: {exc}") from exc
        except _ERRORS as exc:
            raise MQError(f"NATS: {exc!r}") from exc

    async def _ensure_stream(self, channel: _Channel) -> None:
        if channel.stream in self._streams:
            return
        try:
            await self._jsm.stream_info(channel.stream)
        except nats.js.errors.NotFoundError:
            config = api.StreamConfig(
                name=channel.stream, subjects=[channel.subject], storage=api.StorageType.FILE,
                retention=api.RetentionPolicy.LIMITS, discard=api.DiscardPolicy.OLD,
            )
            try:
                await self._jsm.add_stream(config)
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != 10058:  # stream name already in use: created concurrently
                    raise
        self._streams.add(channel.stream)

    def create_producer(self, channel: str) -> Producer:
        ch = _Channel(channel)
        self._call(self._ensure_stream(ch))
        producer = NatsProducer(self, ch)
        with self._lock:
            self._producers.add(producer)
        return producer

    def subscribe(self, channel: str, subscription: str,
                  initial_position: Position = Position.LATEST) -> Consumer:
        ch = _Channel(channel)
        with self._lock:
            key = (channel, subscription)
            if key in self._consumers:
                raise MQError(f"subscription {subscription!r} of {channel!r} already has a consumer")
            consumer = NatsConsumer(self, ch, subscription)
            self._consumers[key] = consumer
        try:
            self._call(consumer._open(initial_position))
        except BaseException:
            with self._lock:
                self._consumers.pop(key, None)
            raise
        return consumer

    def unsubscribe(self, channel: str, subscription: str) -> None:
        with self._lock:
            consumer = self._consumers.get((channel, subscription))
        if consumer is not None:
            consumer.close()
        self._call(self._delete_consumer(_Channel(channel), escape_name(subscription)))

    async def _delete_consumer(self, channel: _Channel, durable: str) -> None:
        try:
            await self._jsm.delete_consumer(channel.stream, durable)
        except nats.js.errors.NotFoundError:
            pass

    def latest_id(self, channel: str) -> MessageID | None:
        return self._call(self._latest(_Channel(channel)))

    async def _latest(self, channel: _Channel) -> MessageID | None:
        try:
            info = await self._jsm.stream_info(channel.stream)
        except nats.js.errors.NotFoundError:
            return None
        if not info.state.messages:
            return None
        return NatsMessageID(info.state.last_seq)

    def id_from_bytes(self, data: bytes) -> MessageID:
        return NatsMessageID.from_bytes(data)

    def delete_channel(self, channel: str) -> None:
        ch = _Channel(channel)
        with self._lock:
            consumers = [c for (name, _), c in self._consumers.items() if name == channel]
            producers = [p for p in self._producers if p._ch.name == channel]
        for consumer in consumers:
            consumer.close()
        for producer in producers:
            producer.close()
        self._call(self._delete_stream(ch))

    async def _delete_stream(self, channel: _Channel) -> None:
        self._streams.discard(channel.stream)
        try:
            await self._jsm.delete_stream(channel.stream)
        except nats.js.errors.NotFoundError:
            pass

    def _forget_producer(self, producer: NatsProducer) -> None:
        with self._lock:
            self._producers.discard(producer)

    def _forget_consumer(self, consumer: NatsConsumer) -> None:
        with self._lock:
            key = (consumer.channel, consumer.subscription)
            if self._consumers.get(key) is consumer:
                del self._consumers[key]

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            consumers, producers = list(self._consumers.values()), list(self._producers)
        for consumer in consumers:
            consumer.close()
        for producer in producers:
            producer.close()
        with self._lock:
            self._closed = True
        try:
            self._loop.run(self._nc.close(), timeout=self._timeout)
        except (*_ERRORS, concurrent.futures.TimeoutError) as exc:
            log.warning("closing the NATS connection: %r", exc)
        finally:
            self._loop.stop()
