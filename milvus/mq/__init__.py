"""Message queues: a broker-neutral producer/consumer API (``base``) and one module per broker.

Brokers: the embedded log (``LocalMQ``), NATS JetStream (``milvus.mq.nats``) and Pulsar
(``milvus.mq.pulsar``), the last two imported only where they are used;
``milvus.cmd.backends.open_mq`` picks one from the config.
"""

from __future__ import annotations

from milvus.mq.base import MQ, Consumer, Message, MessageID, MQError, Position, Producer
from milvus.mq.local import LocalMQ

__all__ = [
    "MQ",
    "Consumer",
    "LocalMQ",
    "MQError",
    "Message",
    "MessageID",
    "Position",
    "Producer",
]
