"""The infrastructure backends a process opens, picked by the config: the meta store
(``metastore.type``), the message queue (``mq.type``) and object storage
(``common.storageType``).

Only the chosen backend's module is imported, here where it is chosen: the client libraries
of the remote ones are large (the Pulsar C++ client, nats, minio/urllib3, the etcd gRPC
stubs: about 17 MB resident together) and a standalone on the embedded store, log and
directory uses none of them.
"""

from __future__ import annotations

import os
from pathlib import Path

from milvus.config import Config
from milvus.kv import KV, LocalKV
from milvus.mq import MQ, LocalMQ
from milvus.storage import LocalStorage, ObjectStorage

KV_TYPES = ("local", "etcd")
MQ_TYPES = ("local", "nats", "pulsar")
STORAGE_TYPES = ("local", "minio")


def open_kv(config: Config) -> KV:
    """The meta store named by ``metastore.type``: the embedded SQLite file (``local``, for
    standalone) or an etcd cluster (``etcd``)."""
    kind = str(config["metastore.type"]).strip().lower()
    if kind == "local":
        path = Path(config["common.dataDir"]) / "meta" / "kv.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return LocalKV(str(path))
    if kind == "etcd":
        from milvus.kv.etcd import EtcdKV

        return EtcdKV(list(config["etcd.endpoints"]), float(config["etcd.requestTimeout"]))
    raise ValueError(
        f"unknown metastore.type {config['metastore.type']!r}: expected one of {', '.join(KV_TYPES)}"
    )


def open_mq(config: Config) -> MQ:
    """The message queue backend that ``mq.type`` names, connected/opened."""
    kind = config["mq.type"]
    if kind == "local":
        return LocalMQ(f"{config['common.dataDir']}/mq", config["localMQ.segmentBytes"],
                       config["localMQ.syncWrites"])
    if kind == "nats":
        from milvus.mq.nats import NatsMQ

        return NatsMQ(config["nats.url"], config["nats.maxMessageSize"])
    if kind == "pulsar":
        from milvus.mq.pulsar import PulsarMQ

        return PulsarMQ(config["pulsar.address"], config["pulsar.tenant"], config["pulsar.namespace"],
                        config["pulsar.maxMessageSize"])
    raise ValueError(f"unknown mq.type {kind!r}: expected one of {', '.join(MQ_TYPES)}")


def open_storage(config: Config) -> ObjectStorage:
    """The object storage that ``common.storageType`` selects."""
    kind = config["common.storageType"]
    if kind == "local":
        return LocalStorage(os.path.join(config["common.dataDir"], "storage"))
    if kind == "minio":
        from milvus.storage.minio import MinioStorage

        return MinioStorage(
            config["minio.address"],
            config["minio.accessKeyID"],
            config["minio.secretAccessKey"],
            config["minio.bucketName"],
            config["minio.rootPath"],
            config["minio.useSSL"],
            config["minio.region"],
        )
    raise ValueError(f"unknown common.storageType {kind!r} (expected one of {', '.join(STORAGE_TYPES)})")
