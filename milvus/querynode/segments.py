"""Segments a query node serves: growing (rows appended from the channel) and sealed (rows
loaded from insert logs).  Readers work on a ``SegmentView``: the rows present when it was
taken, with per-column numpy/Arrow forms cached on the segment and reused while they fit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa

from milvus.grpc_gen import schema_pb2
from milvus.querynode.deletes import SegmentDeletes
from milvus.querynode.distance import DenseVectors
from milvus.querynode.filters import MaskCache
from milvus.querynode.vectors import SparseMatrix, dense_matrix, sparse_matrix, valid_rows
from milvus.schema import TIMESTAMP_FIELD, FieldInfo
from milvus.schema.evolve import (
    conform_batch,
    conform_table,
    is_newer_field,
    needs_upgrade,
    same_shape,
    union_schema,
)
from milvus.schema.model import FIELD_ID_KEY
from milvus.schema.vectors import one_array

# a growing segment folds its batches into one once it holds this many
_MAX_CHUNKS = 16


class _ColumnCache:
    """Derived forms of a segment's columns for its first ``n`` rows, extended as rows arrive."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Any, tuple[int, Any]] = {}

    def get(self, key: Any, table: pa.Table, build: Callable[[pa.Table], Any],
            concat: Callable[[Any, Any], Any] | None = None) -> Any:
        n = table.num_rows
        with self._lock:
            item = self._items.get(key)
        if item is not None and item[0] == n:
            return item[1]
        if item is not None and item[0] < n and concat is not None:
            value = concat(item[1], build(table.slice(item[0], n - item[0])))
        else:
            value = build(table)
        with self._lock:
            current = self._items.get(key)
            if current is None or current[0] <= n:
                self._items[key] = (n, value)
        return value


def _concat_arrays(a: pa.Array, b: pa.Array) -> pa.Array:
    return pa.concat_arrays([a, b])


def _concat_dense(a: DenseVectors, b: DenseVectors) -> DenseVectors:
    out = DenseVectors(np.concatenate([a.matrix, b.matrix]))
    for name in ("sq_norms", "norms", "popcounts"):  # keep what was computed already
        if name in a.__dict__:
            out.__dict__[name] = np.concatenate([a.__dict__[name], getattr(b, name)])
    return out


def _concat_sparse(a: tuple[SparseMatrix, np.ndarray], b: tuple[SparseMatrix, np.ndarray]):
    ma, mb = a[0], b[0]
    indptr = np.concatenate([ma.indptr, mb.indptr[1:] + ma.indptr[-1]])
    matrix = SparseMatrix(indptr, np.concatenate([ma.indices, mb.indices]), np.concatenate([ma.values, mb.values]))
    return matrix, np.concatenate([a[1], b[1] + ma.num_rows])


def _column(table: pa.Table, name: str) -> pa.Array:
    return one_array(table.column(name))  # the column itself when it is one chunk: no copy


class SegmentView:
    """The rows of a segment at one moment (immutable)."""

    def __init__(self, segment: Segment, table: pa.Table):
        self.segment = segment
        self.table = table

    @property
    def segment_id(self) -> int:
        return self.segment.segment_id

    @property
    def partition_id(self) -> int:
        return self.segment.partition_id

    @property
    def sealed(self) -> bool:
        return self.segment.sealed

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def _cached(self, key: Any, build: Callable[[pa.Table], Any], concat: Callable[[Any, Any], Any] | None) -> Any:
        return self.segment.cache.get(key, self.table, build, concat)

    def derived(self, key: Any, build: Callable[[pa.Table], Any],
                concat: Callable[[Any, Any], Any] | None = None) -> Any:
        """A value readers derive from the view's rows (``build(table)``), cached on the segment
        like the columns' forms (``concat(old, build(new rows))`` extends it as rows arrive)."""
        return self._cached(("derived", key), build, concat)

    def ts(self) -> np.ndarray:
        return self._cached(TIMESTAMP_FIELD, lambda t: _column(t, TIMESTAMP_FIELD).to_numpy(),
                            lambda a, b: np.concatenate([a, b]))

    def pk(self, name: str) -> pa.Array:
        return self._cached(("pk", name), lambda t: _column(t, name), _concat_arrays)

    def dense(self, info: FieldInfo) -> DenseVectors:
        return self._cached(("dense", info.name), lambda t: DenseVectors(dense_matrix(t.column(info.name),
                                                                                     info.data_type)),
                            _concat_dense)

    def sparse(self, info: FieldInfo) -> tuple[SparseMatrix, np.ndarray]:
        """The sparse column in CSR form and, for every stored value, its row."""
        def build(t: pa.Table) -> tuple[SparseMatrix, np.ndarray]:
            m = sparse_matrix(t.column(info.name))
            return m, m.row_ids()
        return self._cached(("sparse", info.name), build, _concat_sparse)

    def vector_valid(self, info: FieldInfo) -> np.ndarray:
        return self._cached(("valid", info.name), lambda t: valid_rows(t.column(info.name)),
                            lambda a, b: np.concatenate([a, b]))


class Segment:
    sealed: bool = False

    def __init__(self, segment_id: int, collection_id: int, partition_id: int, channel: str):
        self.segment_id = segment_id
        self.collection_id = collection_id
        self.partition_id = partition_id
        self.channel = channel
        self.cache = _ColumnCache()
        self.deletes = SegmentDeletes(partition_id)  # the deletes applied to its rows so far

    def view(self) -> SegmentView:
        raise NotImplementedError

    @property
    def num_rows(self) -> int:
        raise NotImplementedError

    def upgrade(self, schema: pa.Schema) -> None:
        """The collection gained fields: the rows get ``schema``'s missing columns (their
        default or null); columns ``schema`` lacks stay.  Values already there never change,
        so forms cached from them stay right."""
        raise NotImplementedError


class GrowingSegment(Segment):
    """Rows appended from the channel, as Arrow record batches of the stored schema."""

    sealed = False

    def __init__(self, segment_id: int, collection_id: int, partition_id: int, channel: str,
                 schema: pa.Schema | None = None):
        """``schema``: the collection's stored schema as the node knows it (None: the first
        batch's)."""
        super().__init__(segment_id, collection_id, partition_id, channel)
        self._lock = threading.Lock()
        self._batches: list[pa.RecordBatch] = []
        self._rows = 0
        self._schema = schema

    def append(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        with self._lock:
            if self._schema is None:
                self._schema = batch.schema
            elif not same_shape(batch.schema, self._schema):
                # rows of another schema version: one schema for the whole segment, the union
                # (a newer batch's added column is kept, older rows read its default or null)
                if needs_upgrade(self._schema, batch.schema):
                    self._upgrade(union_schema([self._schema, batch.schema]))
                batch = conform_batch(batch, self._schema)
            self._batches.append(batch)
            self._rows += batch.num_rows

    def upgrade(self, schema: pa.Schema) -> None:
        with self._lock:
            current = self._schema
            if current is None:
                self._schema = schema
            elif any(name not in current.names or is_newer_field(current.field(name), schema.field(name))
                     for name in schema.names):
                self._upgrade(union_schema([current, schema]))

    def _upgrade(self, schema: pa.Schema) -> None:
        self._batches = [conform_batch(b, schema) for b in self._batches]
        self._schema = schema

    @property
    def num_rows(self) -> int:
        with self._lock:
            return self._rows

    def view(self) -> SegmentView:
        with self._lock:
            batches = list(self._batches)
        if len(batches) > _MAX_CHUNKS:
            # fold the batches into one outside the lock (appends go on meanwhile)
            merged = pa.Table.from_batches(batches).combine_chunks().to_batches()
            if merged:
                with self._lock:
                    head = self._batches[:len(batches)]
                    if len(head) == len(batches) and all(a is b for a, b in zip(head, batches, strict=True)):
                        self._batches[:len(batches)] = merged
                batches = merged
        if not batches:
            return SegmentView(self, pa.table({TIMESTAMP_FIELD: pa.array([], pa.uint64())}))
        return SegmentView(self, pa.Table.from_batches(batches))


class SealedSegment(Segment):
    """Rows loaded from a flushed segment's insert logs (immutable), and the indexes of its
    fields (``milvus.querynode.indexes.SegmentIndex`` by field id), replaced as a whole; the
    masks of the filters read last (``filter_masks``)."""

    sealed = True

    def __init__(self, segment_id: int, collection_id: int, partition_id: int, channel: str, table: pa.Table,
                 indexes: Mapping[int, Any] | None = None, backfilled: frozenset[str] = frozenset()):
        """``backfilled``: columns some of whose rows predate their field (filled with its
        default or null here, absent from the insert logs an index of the field was built from)."""
        super().__init__(segment_id, collection_id, partition_id, channel)
        self._table = table.combine_chunks()
        self._indexes: Mapping[int, Any] = MappingProxyType({})
        self.backfilled = backfilled
        self.filter_masks = MaskCache()
        self.set_indexes(indexes or {})

    def upgrade(self, schema: pa.Schema) -> None:
        table = self._table
        missing = frozenset(name for name in schema.names if name not in table.column_names
                            or is_newer_field(table.schema.field(name), schema.field(name)))
        if missing:
            self._table = conform_table(table, union_schema([table.schema, schema])).combine_chunks()
            self.backfilled = self.backfilled | missing

    @property
    def indexes(self) -> Mapping[int, Any]:
        return self._indexes

    def set_indexes(self, indexes: Mapping[int, Any]) -> None:
        """Swap in a new set of indexes (one assignment: readers see the old set or this one).
        A vector column that an index also stores (FLAT, HNSW on L2/IP) is then served from
        the index's copy, so the segment keeps its raw vectors once, not twice."""
        shared = _share_index_vectors(self._table, indexes)
        if shared is not self._table:
            self._table = shared
            self.cache = _ColumnCache()  # forms derived from the replaced column would pin it
        self._indexes = MappingProxyType(dict(indexes))

    @property
    def num_rows(self) -> int:
        return self._table.num_rows

    def view(self) -> SegmentView:
        return SegmentView(self, self._table)


def _share_index_vectors(table: pa.Table, indexes: Mapping[int, Any]) -> pa.Table:
    """``table`` with each float vector column that an index of ``indexes`` stores verbatim
    (same rows, same values: checked) replaced by a zero-copy view of the index's vectors."""
    positions = {}
    for i, fld in enumerate(table.schema):
        field_id = (fld.metadata or {}).get(FIELD_ID_KEY)
        if field_id is not None and field_id.isdigit():
            positions[int(field_id)] = i
    for field_id, entry in indexes.items():
        index, pos = getattr(entry, "index", None), positions.get(field_id)
        stored = getattr(index, "stored_vectors", None)
        if stored is None or pos is None:
            continue
        column = table.column(pos)
        kind = column.type
        if (not pa.types.is_fixed_size_list(kind) or kind.value_type != pa.float32() or column.null_count
                or column.num_chunks != 1 or not len(column)):
            continue
        buffer = stored()
        if buffer is None or buffer.size != len(column) * kind.list_size * 4:
            continue
        current = column.chunk(0)
        if current.values.buffers()[1] is not None and current.values.buffers()[1].address == buffer.address:
            continue  # shared already
        mine = np.frombuffer(buffer, dtype=np.float32)
        if not np.array_equal(mine, dense_matrix(current, schema_pb2.FloatVector).ravel()):
            continue  # the index was built over other rows: keep the column
        values = pa.Array.from_buffers(pa.float32(), len(mine), [None, buffer])
        table = table.set_column(pos, table.schema.field(pos), pa.FixedSizeListArray.from_arrays(values, type=kind))
    return table
