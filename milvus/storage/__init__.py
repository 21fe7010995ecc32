"""Object storage: the interface, a local-directory backend and an S3 (MinIO) backend."""

from __future__ import annotations

import os

from milvus.config import Config
from milvus.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    StorageError,
    check_key,
    check_prefix,
)
from milvus.storage.local import LocalStorage
from milvus.storage.minio import MinioStorage


def open_storage(config: Config) -> ObjectStorage:
    """The object storage that ``common.storageType`` selects."""
    kind = config["common.storageType"]
    if kind == "local":
        return LocalStorage(os.path.join(config["common.dataDir"], "storage"))
    if kind == "minio":
        return MinioStorage(
            config["minio.address"],
            config["minio.accessKeyID"],
            config["minio.secretAccessKey"],
            config["minio.bucketName"],
            config["minio.rootPath"],
            config["minio.useSSL"],
            config["minio.region"],
        )
    raise ValueError(f"unknown common.storageType {kind!r} (expected 'local' or 'minio')")


__all__ = [
    "LocalStorage",
    "MinioStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorage",
    "StorageError",
    "check_key",
    "check_prefix",
    "open_storage",
]
