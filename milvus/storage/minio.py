"""Object storage on MinIO or any S3 service, through the ``minio`` client.

Every key is stored as ``{root_path}/{key}`` in one bucket (created when missing).  S3 makes
a single PUT and a completed multipart upload atomic, so readers never see a torn object.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from milvus.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    StorageError,
    check_key,
    check_prefix,
)

MiB = 1 << 20
# objects above this size go up as a multipart upload in parts of this size (S3's minimum)
PART_SIZE = 5 * MiB
# S3 DeleteObjects accepts at most 1000 keys per request
DELETE_BATCH = 1000

_NOT_FOUND = {"NoSuchKey", "NoSuchObject"}
_EXISTS = {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}


@contextmanager
def _s3_errors(what: str, key: str | None = None) -> Iterator[None]:
    """Translate client errors: a missing object -> ObjectNotFound, anything else -> StorageError."""
    try:
        yield
    except S3Error as exc:
        if key is not None and exc.code in _NOT_FOUND:
            raise ObjectNotFound(key) from None
        raise StorageError(f"{what}: {exc.code}: {exc.message}") from exc
    except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise StorageError(f"{what}: {exc}") from exc


class MinioStorage(ObjectStorage):
    """Objects in ``bucket`` under ``root_path`` on the S3 endpoint ``address`` (host:port)."""

    def __init__(
        self,
        address: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        root_path: str,
        secure: bool = False,
        region: str = "",
        timeout: float = 60.0,
    ):
        self.bucket = bucket
        self.root_path = root_path.strip("/")
        self._root = self.root_path + "/" if self.root_path else ""
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 10.0), read=timeout),
            maxsize=16,
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
        )
        self._client = Minio(
            address,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region or None,
            http_client=self._http,
        )
        try:
            self._ensure_bucket()
        except BaseException:
            self._http.clear()
            raise

    def _ensure_bucket(self) -> None:
        with _s3_errors(f"cannot open bucket {self.bucket!r}"):
            if self._client.bucket_exists(self.bucket):
                return
            try:
                self._client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code not in _EXISTS:  # another process created it first
                    raise

    def _name(self, key: str) -> str:
        return self._root + check_key(key)

    # ---- writes ----------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        name = self._name(key)
        size = len(data)
        with _s3_errors(f"cannot put {key!r}"):
            # one PUT up to PART_SIZE, a multipart upload (3 parts in flight) above it
            self._client.put_object(self.bucket, name, io.BytesIO(data), size, part_size=PART_SIZE)

    def remove(self, key: str) -> None:
        name = self._name(key)
        try:
            with _s3_errors(f"cannot remove {key!r}"):
                self._client.remove_object(self.bucket, name)  # S3 answers success for a missing key
        except StorageError:
            # some servers (nanio) fail to delete a key that is only a prefix of other objects
            if not self.exists(key):
                return
            raise

    def remove_prefix(self, prefix: str) -> int:
        removed = 0
        batch: list[str] = []
        for info in self.list(prefix, recursive=True):
            batch.append(self._root + info.key)
            if len(batch) == DELETE_BATCH:
                removed += self._delete_batch(batch)
                batch = []
        if batch:
            removed += self._delete_batch(batch)
        return removed

    def _delete_batch(self, names: list[str]) -> int:
        with _s3_errors("cannot remove objects"):
            errors = list(self._client.remove_objects(self.bucket, (DeleteObject(n) for n in names)))
        failed = [e for e in errors if e.code not in _NOT_FOUND]
        if failed:
            first = failed[0]
            raise StorageError(
                f"cannot remove {len(failed)} of {len(names)} objects; first: {first.name}: {first.code} {first.message}"
            )
        return len(names) - len(errors)

    # ---- reads -----------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        name = self._name(key)
        with _s3_errors(f"cannot get {key!r}", key):
            response = self._client.get_object(self.bucket, name)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise StorageError(f"invalid range offset={offset} length={length}")
        name = self._name(key)
        if length == 0:  # the client reads length 0 as "to the end"
            self.stat(key)
            return b""
        with _s3_errors(f"cannot get {key!r}", key):
            try:
                return self._read_range(name, offset, length)
            except S3Error as exc:
                # S3 clamps a range running past the end, but answers InvalidRange for one that
                # starts at or past it; some servers refuse both (InvalidArgument): clamp here
                if exc.code not in ("InvalidRange", "InvalidArgument"):
                    raise
            size = self._client.stat_object(self.bucket, name).size or 0
            if offset >= size:
                return b""
            return self._read_range(name, offset, min(length, size - offset))

    def _read_range(self, name: str, offset: int, length: int) -> bytes:
        response = self._client.get_object(self.bucket, name, offset=offset, length=length)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def stat(self, key: str) -> ObjectInfo:
        name = self._name(key)
        with _s3_errors(f"cannot stat {key!r}", key):
            st = self._client.stat_object(self.bucket, name)
        return ObjectInfo(key, st.size or 0, st.last_modified.timestamp() if st.last_modified else 0.0)

    def list(self, prefix: str, recursive: bool = True) -> Iterator[ObjectInfo]:
        full = self._root + check_prefix(prefix)
        cut = len(self._root)
        with _s3_errors(f"cannot list {prefix!r}"):
            for obj in self._client.list_objects(self.bucket, prefix=full, recursive=recursive):
                if obj.is_dir:
                    continue  # a common prefix of a one-level listing
                key = obj.object_name[cut:]
                # some servers (nanio) return deeper objects for a prefix ending mid-segment
                if not recursive and "/" in key[len(prefix):]:
                    continue
                mtime = obj.last_modified.timestamp() if obj.last_modified else 0.0
                yield ObjectInfo(key, obj.size or 0, mtime)

    def close(self) -> None:
        self._http.clear()

    def __repr__(self) -> str:
        return f"MinioStorage(bucket={self.bucket!r}, root_path={self.root_path!r})"
