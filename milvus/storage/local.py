"""Object storage in a local directory: one file per object, key = relative path.

A put writes a temporary file next to the target, fsyncs it, renames it over the target and
fsyncs the directory, so a reader (or a restart after a crash) sees the old object or the new
one, never a torn one.  Temporary files carry a reserved name prefix that no key may use;
listings skip them and ``remove_prefix`` deletes the stale ones a crashed put left behind.
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from milvus.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    ObjectStorage,
    StorageError,
    check_key,
    check_prefix,
)

TMP_PREFIX = ".tmp-put-"


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalStorage(ObjectStorage):
    """Objects as files under ``root`` (created if missing).  Thread-safe.

    Unlike S3, a key cannot be both an object and a prefix of other objects ('a' and 'a/b'):
    such a put fails with StorageError.
    """

    def __init__(self, root: str | os.PathLike[str], stale_tmp_after: float = 3600.0):
        self.root = os.path.abspath(os.fspath(root))
        # remove_prefix deletes temporary files this old (left by a put that crashed)
        self.stale_tmp_after = stale_tmp_after
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create storage root {self.root}: {exc}") from exc

    # ---- paths -----------------------------------------------------------------------------

    def _path(self, key: str) -> str:
        check_key(key)
        if any(segment.startswith(TMP_PREFIX) for segment in key.split("/")):
            raise StorageError(f"invalid object key {key!r}: {TMP_PREFIX!r} is reserved")
        return os.path.join(self.root, *key.split("/"))

    def _ensure_dir(self, directory: str) -> None:
        """Create ``directory`` and its missing parents, fsyncing each parent that gained one."""
        missing: list[str] = []
        current = directory
        while not os.path.isdir(current):
            missing.append(current)
            current = os.path.dirname(current)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                if not os.path.isdir(path):
                    raise
                continue
            _fsync_dir(os.path.dirname(path))

    # ---- writes ----------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        directory = os.path.dirname(path)
        if os.path.isdir(path):
            raise StorageError(f"cannot put {key!r}: other objects live under {key + '/'!r}")
        try:
            # a concurrent remove may prune the directory between mkdir and open: retry
            for attempt in range(5):
                tmp = os.path.join(directory, TMP_PREFIX + secrets.token_hex(8))
                try:
                    self._ensure_dir(directory)
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    break
                except FileNotFoundError:
                    if attempt == 4:
                        raise
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            _fsync_dir(directory)
        except (NotADirectoryError, FileExistsError, IsADirectoryError) as exc:
            raise StorageError(f"cannot put {key!r}: a parent of it is an object, or it is a prefix") from exc
        except OSError as exc:
            raise StorageError(f"cannot put {key!r}: {exc}") from exc

    def remove(self, key: str) -> None:
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError:
            return  # a prefix, not an object
        except PermissionError as exc:
            if os.path.isdir(path):  # some platforms answer EPERM for unlink(dir)
                return
            raise StorageError(f"cannot remove {key!r}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"cannot remove {key!r}: {exc}") from exc
        self._prune(os.path.dirname(path))

    def remove_prefix(self, prefix: str) -> int:
        keys = [info.key for info in self.list(prefix, recursive=True)]
        removed = 0
        for key in keys:
            try:
                os.unlink(self._path(key))
                removed += 1
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StorageError(f"cannot remove {key!r}: {exc}") from exc
        self._prune_tree(prefix)
        return removed

    def _prune(self, directory: str) -> None:
        """Remove ``directory`` and its parents up to (not including) the root while empty."""
        while directory != self.root and directory.startswith(self.root + os.sep):
            try:
                os.rmdir(directory)
            except OSError:
                return
            directory = os.path.dirname(directory)

    def _prune_tree(self, prefix: str) -> None:
        """Remove the directories whose key path starts with ``prefix`` once empty (stale
        temporary files left by a crashed put included), then the empty parents."""
        base_key, _, partial = prefix.rpartition("/")
        base = os.path.join(self.root, *base_key.split("/")) if base_key else self.root
        try:
            entries = list(os.scandir(base))
        except OSError:
            self._prune(base)
            return
        stale_before = time.time() - self.stale_tmp_after
        if not partial:
            self._remove_stale_tmp(base, stale_before)
        for entry in entries:
            if entry.name.startswith(partial) and entry.is_dir(follow_symlinks=False):
                for dirpath, _dirnames, _files in os.walk(entry.path, topdown=False):
                    self._remove_stale_tmp(dirpath, stale_before)
                    try:
                        os.rmdir(dirpath)
                    except OSError:
                        pass
        self._prune(base)

    @staticmethod
    def _remove_stale_tmp(directory: str, stale_before: float) -> None:
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    if entry.name.startswith(TMP_PREFIX) and entry.stat().st_mtime < stale_before:
                        os.unlink(entry.path)
        except OSError:
            pass

    # ---- reads -----------------------------------------------------------------------------

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc}") from exc

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise StorageError(f"invalid range offset={offset} length={length}")
        path = self._path(key)
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                return fh.read(length)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"cannot read {key!r}: {exc}") from exc

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"cannot stat {key!r}: {exc}") from exc
        if not os.path.isfile(path):
            raise ObjectNotFound(key)
        return ObjectInfo(key, st.st_size, st.st_mtime)

    def list(self, prefix: str, recursive: bool = True) -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        base_key, _, partial = prefix.rpartition("/")
        base = os.path.join(self.root, *base_key.split("/")) if base_key else self.root
        key_base = base_key + "/" if base_key else ""
        yield from self._walk(base, key_base, partial, recursive)

    def _walk(self, directory: str, key_base: str, partial: str, recursive: bool) -> Iterator[ObjectInfo]:
        """Objects in ``directory`` (key prefix ``key_base``) whose name starts with ``partial``.

        Entries are visited in the order of their key text, a directory counting as its name
        plus '/', so the depth-first walk yields keys already sorted.
        """
        try:
            with os.scandir(directory) as it:
                entries = []
                for entry in it:
                    if not entry.name.startswith(partial) or entry.name.startswith(TMP_PREFIX):
                        continue
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        continue
                    entries.append((entry.name + "/" if is_dir else entry.name, entry))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return
            raise StorageError(f"cannot list {directory}: {exc}") from exc
        entries.sort(key=lambda pair: pair[0])
        for sort_name, entry in entries:
            if sort_name.endswith("/"):
                if recursive:
                    yield from self._walk(entry.path, key_base + sort_name, "", True)
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while listing
            yield ObjectInfo(key_base + entry.name, st.st_size, st.st_mtime)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"LocalStorage({str(Path(self.root))!r})"
