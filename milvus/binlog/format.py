"""Parquet insert/delta logs and PK stats (see the package docstring)."""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from milvus.util.hashing import hash_int64


def insert_log_key(collection: int, partition: int, segment: int, log_id: int) -> str:
    return f"insert_log/{collection}/{partition}/{segment}/{log_id}.parquet"


def delta_log_key(collection: int, partition: int, segment: int, log_id: int) -> str:
    return f"delta_log/{collection}/{partition}/{segment}/{log_id}.parquet"


def stats_log_key(collection: int, partition: int, segment: int, log_id: int) -> str:
    return f"stats_log/{collection}/{partition}/{segment}/{log_id}.json"


def _to_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    # vectors compress poorly; keep encoding cheap and reads fast
    pq.write_table(table, sink, compression="zstd", compression_level=1, use_dictionary=False,
                   write_statistics=["_ts", "_row_id", "pk"])
    return sink.getvalue()


def write_insert_log(table: pa.Table | pa.RecordBatch) -> bytes:
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    return _to_parquet(table)


def read_insert_log(data: bytes, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(pa.BufferReader(data), columns=columns)


def write_delta_log(pks: pa.Array | np.ndarray | list, timestamps: pa.Array | np.ndarray | list) -> bytes:
    pk_arr = pks if isinstance(pks, pa.Array) else pa.array(pks)
    ts_arr = pa.array(timestamps, type=pa.uint64())
    if len(pk_arr) != len(ts_arr):
        raise ValueError("delta log: pks and timestamps differ in length")
    return _to_parquet(pa.table({"pk": pk_arr, "_ts": ts_arr}))


def read_delta_log(data: bytes) -> tuple[pa.Array, np.ndarray]:
    table = pq.read_table(pa.BufferReader(data))
    return table.column("pk").combine_chunks(), table.column("_ts").to_numpy()


def _key_hashes(pks: np.ndarray | list) -> np.ndarray:
    arr = np.asarray(pks)
    if arr.dtype.kind in "iu":
        return hash_int64(arr.astype(np.int64))
    return np.fromiter((zlib.crc32(str(p).encode()) | (zlib.adler32(str(p).encode()) << 32) for p in arr),
                       dtype=np.uint64, count=len(arr))


@dataclass
class PKStats:
    """Min/max and a bloom filter (k hashes derived from one 64-bit hash) over a segment's keys."""

    min: int | str | None
    max: int | str | None
    bits: np.ndarray  # uint8 bitmap
    k: int = 4

    @classmethod
    def build(cls, pks: np.ndarray | list, bits_per_key: int = 10, k: int = 4) -> PKStats:
        arr = np.asarray(pks)
        nbits = max(64, int(len(arr) * bits_per_key))
        nbits = (nbits + 7) // 8 * 8
        stats = cls(min=None, max=None, bits=np.zeros(nbits // 8, dtype=np.uint8), k=k)
        if len(arr):
            if arr.dtype.kind in "iu":
                stats.min, stats.max = int(arr.min()), int(arr.max())
            else:
                values = [str(v) for v in arr]
                stats.min, stats.max = min(values), max(values)
            pos = stats._positions(arr)
            np.bitwise_or.at(stats.bits, pos >> 3, (1 << (pos & 7)).astype(np.uint8))
        return stats

    def _positions(self, pks: np.ndarray | list) -> np.ndarray:
        h = _key_hashes(pks)
        h1 = h & np.uint64(0xFFFFFFFF)
        h2 = (h >> np.uint64(32)) | np.uint64(1)
        nbits = np.uint64(len(self.bits) * 8)
        with np.errstate(over="ignore"):
            pos = np.stack([(h1 + np.uint64(i) * h2) % nbits for i in range(self.k)], axis=-1)
        return pos.astype(np.int64).ravel()

    def might_contain(self, pks: np.ndarray | list) -> np.ndarray:
        """A bool per key: False means certainly absent."""
        arr = np.asarray(pks)
        if len(arr) == 0 or self.min is None:
            return np.zeros(len(arr), dtype=bool)
        pos = self._positions(arr)
        hit = (self.bits[pos >> 3] >> (pos & 7).astype(np.uint8)) & 1
        return hit.reshape(len(arr), self.k).all(axis=1)

    def to_bytes(self) -> bytes:
        return json.dumps({"min": self.min, "max": self.max, "k": self.k, "bits": self.bits.tobytes().hex()}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PKStats:
        obj = json.loads(data)
        return cls(min=obj["min"], max=obj["max"], k=obj["k"], bits=np.frombuffer(bytes.fromhex(obj["bits"]), dtype=np.uint8).copy())


def log_paths(groups) -> list[str]:
    """The distinct object keys of ``FieldBinlog`` groups (a segment's binlogs or deltalogs), in order."""
    paths: list[str] = []
    for group in groups:
        for binlog in group.binlogs:
            if binlog.log_path and binlog.log_path not in paths:
                paths.append(binlog.log_path)
    return paths


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` (an insert log) with ``schema``'s columns: missing ones are null (rows written
    before the field was added), others cast to the current type."""
    arrays = []
    for fld in schema:
        if fld.name in table.column_names:
            col = table.column(fld.name)
            arrays.append(col.cast(fld.type) if col.type != fld.type else col)
        else:
            arrays.append(pa.chunked_array([pa.nulls(table.num_rows, fld.type)]))
    return pa.Table.from_arrays(arrays, schema=schema)
