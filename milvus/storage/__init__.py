"""Object storage: the interface, a local-directory backend (``LocalStorage``) and an S3 backend
(``milvus.storage.minio.MinioStorage``, imported only where it is used);
``milvus.cmd.backends.open_storage`` picks one from the config."""

from __future__ import annotations

from milvus.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    StorageError,
    check_key,
    check_prefix,
)
from milvus.storage.local import LocalStorage

__all__ = [
    "LocalStorage",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStorage",
    "StorageError",
    "check_key",
    "check_prefix",
]
