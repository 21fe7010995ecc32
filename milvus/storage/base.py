"""The object storage interface (Milvus' chunk manager): immutable blobs under string keys.

Every backend passes ``tests/contract/test_storage_contract.py``.  Keys are '/'-separated
paths relative to the configured root; a put is atomic (a reader sees the old object, the
new one, or nothing; never a torn object, even after a crash).
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass


class StorageError(Exception):
    """The object store failed or refused a request."""


class ObjectNotFound(StorageError, KeyError):
    """No object under that key."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid object key, else raise StorageError.

    A key is a non-empty '/'-separated relative path: no leading '/', no empty, '.' or '..'
    segment, no NUL.  Every backend enforces the same rule so a key valid on one is valid on all.
    """
    if not isinstance(key, str) or not key:
        raise StorageError(f"invalid object key {key!r}: empty")
    _check_segments(key, key.split("/"))
    return key


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start a valid key ('' and a trailing '/' allowed)."""
    if not isinstance(prefix, str):
        raise StorageError(f"invalid prefix {prefix!r}")
    if prefix:
        segments = prefix.split("/")
        # the last segment may be partial or empty (prefix ending in '/'); '.'/'..' are still
        # rejected there because no valid key has them as a whole segment before a '/'
        _check_segments(prefix, segments[:-1])
        if "\0" in segments[-1]:
            raise StorageError(f"invalid prefix {prefix!r}: NUL")
    return prefix


def _check_segments(text: str, segments: list[str]) -> None:
    for segment in segments:
        if segment in ("", ".", ".."):
            raise StorageError(f"invalid object key {text!r}: empty, '.' or '..' segment")
        if "\0" in segment:
            raise StorageError(f"invalid object key {text!r}: NUL")


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    mtime: float  # seconds since the epoch


class ObjectStorage(abc.ABC):
    @abc.abstractmethod
    def put(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The whole object; ObjectNotFound when absent."""

    @abc.abstractmethod
    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` (fewer at the end of the object)."""

    @abc.abstractmethod
    def stat(self, key: str) -> ObjectInfo: ...

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    @abc.abstractmethod
    def list(self, prefix: str, recursive: bool = True) -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix``, sorted by key.  Non-recursive listing
        stops at the next '/' after the prefix and yields only the objects at that level."""

    @abc.abstractmethod
    def remove(self, key: str) -> None:
        """Remove one object; no error when it is absent."""

    @abc.abstractmethod
    def remove_prefix(self, prefix: str) -> int:
        """Remove every object under ``prefix``; returns how many."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> ObjectStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
