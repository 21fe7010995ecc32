"""Parquet insert/delta logs and PK stats (see the package docstring)."""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from milvus.schema.evolve import column_index, conform_table
from milvus.util.hashing import hash_int64


def insert_log_key(collection: int, partition: int, segment: int, log_id: int) -> str:
    return f"insert_log/{collection}/{partition}/{segment}/{log_id}.parquet"


def delta_log_key(collection: int, partition: int, segment: int, log_id: int) -> str:
    return f"delta_log/{collection}/{partition}/{segment}/{log_id}.parquet"


def stats_log_key(collection: int, partition: int, segment: int, log_id: int) -> str:
    return f"stats_log/{collection}/{partition}/{segment}/{log_id}.json"


# An insert log stores a fixed-size list of fixed-width values (FloatVector's
# ``fixed_size_list<float32>[dim]``) as ``fixed_size_binary`` of the same bytes, marked with
# this field-metadata key (the value type's name): Parquet writes a list column value by value
# with repetition levels, a binary column as whole rows.  20k x 128 floats alone: write 44 -> 6 ms,
# read 48 -> 3 ms (with the vectors uncompressed, below).  ``read_insert_log`` turns it back.
_PACKED_LIST = b"milvus.packed_list"


def _leaf_paths(name: str, typ: pa.DataType) -> list[str]:
    """The Parquet column paths of an Arrow field (lists as ``name.list.element``)."""
    if pa.types.is_struct(typ):
        return [p for i in range(typ.num_fields) for p in _leaf_paths(f"{name}.{typ.field(i).name}", typ.field(i).type)]
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        return _leaf_paths(f"{name}.list.element", typ.value_type)
    return [name]


def _compression(schema: pa.Schema) -> dict[str, str]:
    """zstd (level 1) for every column but fixed-size binary ones: vectors barely compress
    (random float mantissas) and decompressing them was most of a load's read time."""
    return {path: "none" if pa.types.is_fixed_size_binary(f.type) else "zstd"
            for f in schema for path in _leaf_paths(f.name, f.type)}


def _to_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    codecs = _compression(table.schema)
    pq.write_table(table, sink, compression=codecs,
                   compression_level={path: 1 for path, codec in codecs.items() if codec == "zstd"},
                   use_dictionary=False, write_statistics=["_ts", "_row_id", "pk"])
    return sink.getvalue()


def _packable(typ: pa.DataType) -> bool:
    return pa.types.is_fixed_size_list(typ) and (pa.types.is_integer(typ.value_type)
                                                 or pa.types.is_floating(typ.value_type))


def _pack(arr: pa.Array) -> pa.Array | None:
    """A fixed-size list array as fixed-size binary over the same buffers (no copy); None when
    its values are not one plain buffer (nulls or an offset inside the values)."""
    values = arr.values  # the whole child, not sliced by arr.offset
    if values.offset != 0 or values.null_count:
        return None
    typ = arr.type
    width = typ.list_size * typ.value_type.bit_width // 8
    return pa.Array.from_buffers(pa.binary(width), len(arr), [arr.buffers()[0], values.buffers()[1]],
                                 offset=arr.offset)


def _unpack(arr: pa.Array, typ: pa.DataType) -> pa.Array:
    """The inverse of ``_pack``: fixed-size binary rows viewed as ``typ`` (a fixed-size list)."""
    validity, data = arr.buffers()
    values = pa.Array.from_buffers(typ.value_type, (arr.offset + len(arr)) * typ.list_size, [None, data])
    return pa.Array.from_buffers(typ, len(arr), [validity], offset=arr.offset, children=[values])


def _packed_table(table: pa.Table) -> pa.Table:
    """``table`` with its packable list columns packed (a column whose chunks cannot all be
    packed stays a list column: correct, only slower)."""
    columns, fields = [], []
    for fld, col in zip(table.schema, table.columns, strict=True):
        if _packable(fld.type):
            chunks = [_pack(chunk) for chunk in col.chunks]
            if all(c is not None for c in chunks):
                meta = dict(fld.metadata or {})
                meta[_PACKED_LIST] = str(fld.type.value_type).encode()
                fld = pa.field(fld.name, pa.binary(fld.type.list_size * fld.type.value_type.bit_width // 8),
                               fld.nullable, meta)
                col = pa.chunked_array(chunks, type=fld.type)
        columns.append(col)
        fields.append(fld)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def _unpacked_table(table: pa.Table) -> pa.Table:
    """A read insert log with its packed columns back as fixed-size lists."""
    if not any(f.metadata and _PACKED_LIST in f.metadata for f in table.schema):
        return table
    columns, fields = [], []
    for fld, col in zip(table.schema, table.columns, strict=True):
        meta = fld.metadata or {}
        if _PACKED_LIST in meta and pa.types.is_fixed_size_binary(fld.type):
            value_type = pa.type_for_alias(meta[_PACKED_LIST].decode())
            typ = pa.list_(value_type, fld.type.byte_width * 8 // value_type.bit_width)
            rest = {k: v for k, v in meta.items() if k != _PACKED_LIST}
            fld = pa.field(fld.name, typ, fld.nullable, rest or None)
            col = pa.chunked_array([_unpack(chunk, typ) for chunk in col.chunks], type=typ)
        columns.append(col)
        fields.append(fld)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def write_insert_log(table: pa.Table | pa.RecordBatch) -> bytes:
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    return _to_parquet(_packed_table(table))


def read_insert_log(data: bytes, columns: list[str] | None = None) -> pa.Table:
    return _unpacked_table(pq.read_table(pa.BufferReader(data), columns=columns))


def insert_log_column(data: bytes, name: str, field_id: int = 0) -> pa.ChunkedArray | None:
    """One column of an insert log: the field ``name`` (with id ``field_id`` when given);
    None when the log predates the field (it lacks the column, or holds under that name a
    dropped field's, another id)."""
    if column_index(pq.read_schema(pa.BufferReader(data)), name, field_id or None) < 0:
        return None
    return read_insert_log(data, columns=[name]).column(name)


def insert_log_rows(data: bytes) -> int:
    return pq.read_metadata(pa.BufferReader(data)).num_rows


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


def conform(table: pa.Table, schema: pa.Schema, *, keep_extra: bool = False) -> pa.Table:
    """``table`` (an insert log) with ``schema``'s columns: missing ones read the field's default
    or null (rows written before the field was added), others cast to the current type; with
    ``keep_extra`` the columns of a newer schema than ``schema`` are kept after them."""
    return conform_table(table, schema, keep_extra=keep_extra)
