"""The message queue interface: named channels, producers, consumers with subscriptions.

Every backend passes the same contract suite (``tests/contract/test_mq_contract.py``):

* A channel is an ordered, durable log of messages (payload bytes + string properties).
  ``Producer.send`` returns only once the broker holds the message durably, and returns its
  ``MessageID``; ``send_batch`` does the same for many messages at once, in order.
* Message ids of one channel are totally ordered (``<`` works) and serialisable
  (``to_bytes``/``MQ.id_from_bytes``), so a position can be saved in the meta store.
* A consumer belongs to a subscription; subscriptions on the same channel are independent
  (each sees every message).  A new subscription starts at EARLIEST or LATEST; an existing
  one resumes after its last acknowledged message.  ``ack`` is cumulative-safe: acking a
  message means the subscription will not see it again after a restart.  A subscription has
  one consumer at a time (a second ``subscribe`` through the same MQ raises MQError).
* ``seek(id)`` repositions the consumer so that the next message received is the first one
  *after* ``id``; ``seek(EARLIEST)`` goes back to the start, ``seek(LATEST)`` skips to messages
  sent after the seek.  The subscription's saved position moves too (as if everything before
  the new position, and nothing after it, had been acknowledged).
* ``receive(timeout)`` returns the next message in channel order, or None on timeout or when
  another thread closes the consumer.
"""

from __future__ import annotations

import abc
import enum
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class MQError(Exception):
    """The broker failed or refused a request."""


class Position(enum.Enum):
    EARLIEST = "earliest"
    LATEST = "latest"


class MessageID(abc.ABC):
    """An opaque, ordered, serialisable position in one channel."""

    @abc.abstractmethod
    def to_bytes(self) -> bytes: ...

    @abc.abstractmethod
    def _key(self) -> tuple: ...

    def __lt__(self, other: MessageID) -> bool:
        return self._key() < other._key()

    def __le__(self, other: MessageID) -> bool:
        return self._key() <= other._key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessageID) and type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class SequenceMessageID(MessageID):
    """An id that is the message's sequence number in its channel (the embedded log, NATS
    JetStream), serialised as a one-byte backend tag and the number."""

    __slots__ = ("seq",)
    TAG: bytes = b"?"
    _PACKED = struct.Struct(">cQ")

    def __init__(self, seq: int):
        self.seq = seq

    def to_bytes(self) -> bytes:
        return self._PACKED.pack(self.TAG, self.seq)

    @classmethod
    def from_bytes(cls, data: bytes) -> SequenceMessageID:
        if len(data) != cls._PACKED.size or data[:1] != cls.TAG:
            raise MQError(f"not a {cls.__name__}: {data!r}")
        return cls(cls._PACKED.unpack(data)[1])

    def _key(self) -> tuple:
        return (self.seq,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.seq})"


@dataclass(frozen=True)
class Message:
    channel: str
    payload: bytes
    id: MessageID
    properties: Mapping[str, str] = field(default_factory=dict)


class Producer(abc.ABC):
    @abc.abstractmethod
    def send(self, payload: bytes, properties: Mapping[str, str] | None = None) -> MessageID: ...

    def send_batch(
        self, payloads: Sequence[bytes], properties: Sequence[Mapping[str, str] | None] | None = None
    ) -> list[MessageID]:
        """Send many messages in order; backends override this with a real batched write."""
        props = properties or [None] * len(payloads)
        return [self.send(p, pr) for p, pr in zip(payloads, props, strict=True)]

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Consumer(abc.ABC):
    channel: str
    subscription: str

    @abc.abstractmethod
    def receive(self, timeout: float | None = None) -> Message | None: ...

    @abc.abstractmethod
    def ack(self, message: Message) -> None: ...

    @abc.abstractmethod
    def seek(self, position: MessageID | Position) -> None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Stop consuming; the subscription (and its acked position) stays."""

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MQ(abc.ABC):
    """A broker client.  Thread-safe; producers and consumers it made are closed by ``close``."""

    @abc.abstractmethod
    def create_producer(self, channel: str) -> Producer: ...

    @abc.abstractmethod
    def subscribe(
        self, channel: str, subscription: str, initial_position: Position = Position.LATEST
    ) -> Consumer: ...

    @abc.abstractmethod
    def unsubscribe(self, channel: str, subscription: str) -> None:
        """Forget a subscription and its acked position."""

    @abc.abstractmethod
    def latest_id(self, channel: str) -> MessageID | None:
        """The id of the last message in the channel, or None when it is empty."""

    @abc.abstractmethod
    def id_from_bytes(self, data: bytes) -> MessageID: ...

    @property
    @abc.abstractmethod
    def max_message_size(self) -> int:
        """The largest message a send accepts: payload plus encoded properties, in bytes.

        Larger sends raise MQError; callers that pack many records into one message split by it.
        """

    @abc.abstractmethod
    def delete_channel(self, channel: str) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> MQ:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
