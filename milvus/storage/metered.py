"""Object storage that records ``milvus_storage_*`` (operations, bytes, latency) around another."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from milvus.metrics.families import FAIL, SUCCESS, MilvusMetrics
from milvus.storage.base import ObjectInfo, ObjectNotFound, ObjectStorage

R = TypeVar("R")


class MeteredStorage(ObjectStorage):
    """Delegates every call to ``inner``; a missing object is an answer, not a failure."""

    def __init__(self, inner: ObjectStorage, metrics: MilvusMetrics):
        self.inner = inner
        self._m = metrics

    def _op(self, op: str, fn: Callable[[], R], size: Callable[[R], int] | None = None) -> R:
        started = time.perf_counter()
        try:
            result = fn()
        except ObjectNotFound:
            self._m.storage_op_count.labels(op, SUCCESS).inc()
            raise
        except BaseException:
            self._m.storage_op_count.labels(op, FAIL).inc()
            raise
        self._m.storage_op_count.labels(op, SUCCESS).inc()
        self._m.storage_latency.labels(op).observe((time.perf_counter() - started) * 1000.0)
        if size is not None:
            self._m.storage_bytes.labels(op).inc(size(result))
        return result

    def put(self, key: str, data: bytes) -> None:
        self._op("put", lambda: self.inner.put(key, data))
        self._m.storage_bytes.labels("put").inc(len(data))

    def get(self, key: str) -> bytes:
        return self._op("get", lambda: self.inner.get(key), len)

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        return self._op("get", lambda: self.inner.get_range(key, offset, length), len)

    def stat(self, key: str) -> ObjectInfo:
        return self._op("stat", lambda: self.inner.stat(key))

    def exists(self, key: str) -> bool:
        return self._op("stat", lambda: self.inner.exists(key))

    def list(self, prefix: str, recursive: bool = True) -> Iterator[ObjectInfo]:
        return iter(self._op("list", lambda: list(self.inner.list(prefix, recursive))))

    def remove(self, key: str) -> None:
        self._op("remove", lambda: self.inner.remove(key))

    def remove_prefix(self, prefix: str) -> int:
        return self._op("remove", lambda: self.inner.remove_prefix(prefix))

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
