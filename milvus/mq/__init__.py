"""Message queues: a broker-neutral producer/consumer API (``base``) and one module per broker.

``open_mq(config)`` picks the backend named by ``mq.type``.
"""

from __future__ import annotations

from milvus.config import Config
from milvus.mq.base import MQ, Consumer, Message, MessageID, MQError, Position, Producer
from milvus.mq.local import LocalMQ
from milvus.mq.nats import NatsMQ
from milvus.mq.pulsar import PulsarMQ

__all__ = [
    "MQ",
    "Consumer",
    "LocalMQ",
    "MQError",
    "Message",
    "MessageID",
    "NatsMQ",
    "Position",
    "Producer",
    "PulsarMQ",
    "open_mq",
]

MQ_TYPES = ("local", "nats", "pulsar")


def open_mq(config: Config) -> MQ:
    """The message queue backend that ``config["mq.type"]`` names, connected/opened."""
    kind = config["mq.type"]
    if kind == "local":
        return LocalMQ(f"{config['common.dataDir']}/mq", config["localMQ.segmentBytes"],
                       config["localMQ.syncWrites"])
    if kind == "nats":
        return NatsMQ(config["nats.url"], config["nats.maxMessageSize"])
    if kind == "pulsar":
        return PulsarMQ(config["pulsar.address"], config["pulsar.tenant"], config["pulsar.namespace"],
                        config["pulsar.maxMessageSize"])
    raise ValueError(f"unknown mq.type {kind!r}: expected one of {', '.join(MQ_TYPES)}")
