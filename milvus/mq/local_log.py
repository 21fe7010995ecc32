"""The embedded backend's on-disk log: one directory per channel, append-only segment files.

Record layout (little endian)::

    u32 body length | u32 crc32(seq || body) | u64 seq | body
    body = u16 property count, then per property (u16 key length, key, u32 value length,
           value), all UTF-8, then the payload (the rest of the body)

Sequence numbers start at 1 and grow by one per record; a segment file is named after the
sequence number of its first record (``00000000000000000001.log``) and is never written again
once the next one exists.  A record is visible to readers only once it is durable (after the
fsync when ``sync``), so a reader never sees bytes that a crash could take back.  On open, the
last segment is scanned and a torn tail (short record, bad length, CRC or sequence mismatch)
is truncated away; earlier segments were fsynced before the next one was created.
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from milvus.mq.base import MQError

log = logging.getLogger(__name__)

HEADER = struct.Struct("<IIQ")  # body length, crc32, seq
_SEQ = struct.Struct("<Q")
_COUNT = struct.Struct("<H")
_KEY_LEN = struct.Struct("<H")
_VALUE_LEN = struct.Struct("<I")
MAX_BODY = 0xFFFFFFFF
SEGMENT_SUFFIX = ".log"
# every INDEX_STRIDE-th record's offset is remembered, so locating a sequence number reads
# at most INDEX_STRIDE headers
INDEX_STRIDE = 1024


def encode_body(payload: bytes, properties: Mapping[str, str]) -> bytes:
    parts = [_COUNT.pack(len(properties))]
    for key, value in properties.items():
        k, v = key.encode(), value.encode()
        if len(k) > 0xFFFF:
            raise MQError(f"property key too long ({len(k)} bytes)")
        parts += [_KEY_LEN.pack(len(k)), k, _VALUE_LEN.pack(len(v)), v]
    parts.append(payload)
    body = b"".join(parts)
    if len(body) > MAX_BODY:
        raise MQError(f"message too large ({len(body)} bytes)")
    return body


def encode_record(seq: int, body: bytes) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(_SEQ.pack(seq)))
    return HEADER.pack(len(body), crc, seq) + body


def decode_body(body: bytes) -> tuple[dict[str, str], bytes]:
    view = memoryview(body)
    (count,) = _COUNT.unpack_from(view, 0)
    pos = _COUNT.size
    props: dict[str, str] = {}
    for _ in range(count):
        (klen,) = _KEY_LEN.unpack_from(view, pos)
        pos += _KEY_LEN.size
        key = bytes(view[pos : pos + klen]).decode()
        pos += klen
        (vlen,) = _VALUE_LEN.unpack_from(view, pos)
        pos += _VALUE_LEN.size
        props[key] = bytes(view[pos : pos + vlen]).decode()
        pos += vlen
    return props, bytes(view[pos:])


def read_record(f: BinaryIO, expect_seq: int, limit: int | None = None) -> bytes | None:
    """The body of the record at ``f``'s position, or None when it is short or fails a check."""
    header = f.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    length, crc, seq = HEADER.unpack(header)
    if seq != expect_seq or (limit is not None and length > limit - HEADER.size):
        return None
    body = f.read(length)
    if len(body) < length or zlib.crc32(body, zlib.crc32(_SEQ.pack(seq))) != crc:
        return None
    return body


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ChannelLog:
    """One channel's segment files: appends (with group commit), recovery, positions.

    Thread-safe.  Lock order: ``_sync_lock`` before ``_write_lock``; ``_cond`` is taken alone.
    """

    def __init__(self, directory: Path, segment_bytes: int, sync: bool):
        self.directory = directory
        self._segment_bytes = segment_bytes
        self._sync = sync
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._cond = threading.Condition(threading.Lock())
        self._index_lock = threading.Lock()
        self._closed = False
        self._failed: BaseException | None = None
        directory.mkdir(parents=True, exist_ok=True)
        # first sequence number of each segment, ascending; only ever appended to
        self._segments: list[int] = sorted(
            int(p.name[: -len(SEGMENT_SUFFIX)])
            for p in directory.iterdir()
            if p.name.endswith(SEGMENT_SUFFIX) and p.name[: -len(SEGMENT_SUFFIX)].isdigit()
        )
        self._index: dict[int, list[int]] = {}
        if not self._segments:
            self._create_segment(1)
            next_seq = 1
            size = 0
        else:
            last = self._segments[-1]
            size, count = self._recover(last)
            next_seq = last + count
        self._active_first = self._segments[-1]
        self._fd = os.open(self._path(self._active_first), os.O_WRONLY | os.O_APPEND)
        self._active_size = size
        self._next_seq = next_seq
        self._written = self._synced = self._committed = next_seq - 1

    # --- positions -------------------------------------------------------------------
    @property
    def first_seq(self) -> int:
        return self._segments[0]

    @property
    def committed(self) -> int:
        """The last durable (visible) sequence number; ``first_seq - 1`` when empty."""
        return self._committed

    def segment_of(self, seq: int) -> int:
        i = bisect.bisect_right(self._segments, seq) - 1
        return self._segments[max(i, 0)]

    def path_of(self, segment: int) -> Path:
        return self._path(segment)

    def locate(self, seq: int) -> tuple[int, int]:
        """(segment, byte offset) of the committed record ``seq``."""
        segment = self.segment_of(seq)
        index = self._segment_index(segment)
        k = min((seq - segment) // INDEX_STRIDE, len(index) - 1)
        offset, cur = index[k], segment + k * INDEX_STRIDE
        if cur == seq:
            return segment, offset
        with open(self._path(segment), "rb") as f:
            f.seek(offset)
            while cur < seq:
                header = f.read(HEADER.size)
                if len(header) < HEADER.size:
                    raise MQError(f"{self.directory}: record {seq} missing from segment {segment}")
                length, _, got = HEADER.unpack(header)
                if got != cur:
                    raise MQError(f"{self.directory}: corrupt record {cur} in segment {segment}")
                offset += HEADER.size + length
                f.seek(offset)
                cur += 1
        return segment, offset

    def _segment_index(self, segment: int) -> list[int]:
        with self._index_lock:
            index = self._index.get(segment)
            if index is None:
                index = self._index[segment] = self._build_index(segment)
            return index

    def _build_index(self, segment: int) -> list[int]:
        """Offsets of every INDEX_STRIDE-th record of a closed segment (header scan)."""
        index: list[int] = []
        offset, seq = 0, segment
        with open(self._path(segment), "rb") as f:
            while True:
                header = f.read(HEADER.size)
                if len(header) < HEADER.size:
                    break
                length, _, got = HEADER.unpack(header)
                if got != seq:
                    break
                if (seq - segment) % INDEX_STRIDE == 0:
                    index.append(offset)
                offset += HEADER.size + length
                f.seek(offset)
                seq += 1
        return index or [0]

    # --- appending ---------------------------------------------------------------------
    def append(self, entries: Sequence[tuple[bytes, Mapping[str, str]]]) -> int:
        """Write records for ``entries``; return the first sequence number once all are durable."""
        bodies = [encode_body(payload, props) for payload, props in entries]
        with self._write_lock:
            self._check_writable()
            first = seq = self._next_seq
            buf = bytearray()
            new_index: list[int] = []
            try:
                for body in bodies:
                    record = encode_record(seq, body)
                    pending = self._active_size + len(buf)
                    if pending > 0 and pending + len(record) > self._segment_bytes:
                        self._write(buf)
                        self._index[self._active_first].extend(new_index)
                        buf, new_index = bytearray(), []
                        self._roll(seq)
                        pending = 0
                    if (seq - self._active_first) % INDEX_STRIDE == 0:
                        new_index.append(pending)
                    buf += record
                    seq += 1
                self._write(buf)
            except OSError as exc:
                # part of the batch may sit on disk: stop writing here; a reopen truncates a torn
                # tail (whole records of a failed batch may survive, as with any broker)
                self._failed = exc
                raise MQError(f"{self.directory}: write failed: {exc}") from exc
            self._index[self._active_first].extend(new_index)
            self._next_seq = seq
            self._written = last = seq - 1
        if self._sync:
            self._sync_through(last)
        else:
            self._publish(last)
        return first

    def _check_writable(self) -> None:
        if self._closed:
            raise MQError(f"{self.directory}: channel log is closed")
        if self._failed is not None:
            raise MQError(f"{self.directory}: an earlier write failed ({self._failed}); reopen the MQ")

    def _write(self, buf: bytearray) -> None:
        view = memoryview(buf)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
            self._active_size += n

    def _roll(self, first: int) -> None:
        if self._sync:
            os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        self._create_segment(first)
        self._fd = os.open(self._path(first), os.O_WRONLY | os.O_APPEND)
        self._active_first = first
        self._active_size = 0

    def _create_segment(self, first: int) -> None:
        fd = os.open(self._path(first), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        if self._sync:
            fsync_dir(self.directory)
        self._index[first] = []
        self._segments.append(first)

    def _sync_through(self, seq: int) -> None:
        """Group commit: one fsync covers every record written before it started."""
        with self._sync_lock:
            if self._synced >= seq:
                return
            with self._write_lock:
                self._check_writable()
                target = self._written
                fd = os.dup(self._fd)  # a concurrent roll may close self._fd
            try:
                os.fsync(fd)
            except OSError as exc:
                self._failed = exc
                raise MQError(f"{self.directory}: fsync failed: {exc}") from exc
            finally:
                os.close(fd)
            self._synced = target
        self._publish(target)

    def _publish(self, seq: int) -> None:
        with self._cond:
            if seq > self._committed:
                self._committed = seq
                self._cond.notify_all()

    # --- waiting -----------------------------------------------------------------------
    def wait_for(self, seq: int, deadline: float | None, stop: Callable[[], bool]) -> bool:
        """Block until record ``seq`` is visible; False on deadline, on ``stop()`` or on close."""
        with self._cond:
            while self._committed < seq:
                if self._closed or stop():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # --- recovery and lifecycle ------------------------------------------------------------
    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:020d}{SEGMENT_SUFFIX}"

    def _recover(self, segment: int) -> tuple[int, int]:
        """Validate the last segment; truncate a torn tail.  Returns (valid size, record count)."""
        path = self._path(segment)
        size = path.stat().st_size
        index: list[int] = []
        offset, count = 0, 0
        with open(path, "rb") as f:
            while offset < size:
                body = read_record(f, segment + count, limit=size - offset)
                if body is None:
                    break
                if count % INDEX_STRIDE == 0:
                    index.append(offset)
                offset += HEADER.size + len(body)
                count += 1
        if offset < size:
            log.warning("%s: dropping %d bytes of torn tail after record %d", path, size - offset,
                        segment + count - 1)
            fd = os.open(path, os.O_WRONLY)
            try:
                os.ftruncate(fd, offset)
                os.fsync(fd)
            finally:
                os.close(fd)
        self._index[segment] = index or [0]
        return offset, count

    def close(self) -> None:
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        self.wake()


class LogReader:
    """A sequential reader of one channel log, positioned by sequence number.  Not thread-safe."""

    def __init__(self, log: ChannelLog, next_seq: int):
        self._log = log
        self._file: BinaryIO | None = None
        self._segment = -1
        self.next_seq = max(next_seq, log.first_seq)

    def seek(self, next_seq: int) -> None:
        self._close_file()
        self.next_seq = max(next_seq, self._log.first_seq)

    def read(self) -> tuple[int, dict[str, str], bytes] | None:
        """The next visible record as (seq, properties, payload), or None if there is none yet."""
        seq = self.next_seq
        if seq > self._log.committed:
            return None
        segment = self._log.segment_of(seq)
        if self._file is None or segment != self._segment:
            offset = 0 if seq == segment else self._log.locate(seq)[1]
            self._close_file()
            self._file = open(self._log.path_of(segment), "rb")  # noqa: SIM115 - kept open across reads
            self._file.seek(offset)
            self._segment = segment
        body = read_record(self._file, seq)
        if body is None:
            raise MQError(f"{self._log.directory}: corrupt record {seq} in segment {segment}")
        self.next_seq = seq + 1
        props, payload = decode_body(body)
        return seq, props, payload

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._segment = -1

    def close(self) -> None:
        self._close_file()
