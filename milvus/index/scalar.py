"""Scalar indexes: STL_SORT, INVERTED, BITMAP and Trie over one segment's scalar column.

Every type is built the same way (``build_scalar``): the column's non-null values sorted
(stable, so equal values keep row order; NaN last) beside their row offsets, in one Arrow IPC
file.  Loading derives each type's own structure:

* STL_SORT: the sorted values and their rows; a range is a slice found by ``searchsorted``.
* Trie: the same over strings; a ``like 'abc%'`` prefix is the slice [abc, abd).
* INVERTED: the distinct values, each with its posting list (CSR offsets into the rows).
* BITMAP: the distinct values, each with a packed bitmap of its rows (low cardinality).

``ScalarIndex.mask(pred)`` answers a simple leaf predicate of the filter plan on its field
(``field op const``, a range, ``in [..]``, a prefix ``like``) with exactly the rows the column
scan gives, or None when it cannot (the caller scans).  Null rows are never in a mask.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.errors import ParameterInvalid
from milvus.expr import plan as p
from milvus.grpc_gen import schema_pb2 as spb

SCALAR_TYPES = ("STL_SORT", "INVERTED", "BITMAP", "Trie")
# field types a scalar index is built for (others, Array and JSON, are filtered by scanning)
INDEXED_FIELD_TYPES = frozenset({spb.Bool, spb.Int8, spb.Int16, spb.Int32, spb.Int64, spb.Float, spb.Double,
                                 spb.VarChar, spb.String})
DATA_FILE = "scalar.arrow"
META_FILE = "meta.json"
FORMAT_VERSION = 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def build_scalar(index_type: str, column: pa.ChunkedArray | pa.Array, *, field_type: int) -> dict[str, bytes]:
    """The files of a scalar index over ``column`` (the segment's values in row order)."""
    if index_type not in SCALAR_TYPES:
        raise ParameterInvalid(f"index type {index_type} is not a scalar index")
    if field_type not in INDEXED_FIELD_TYPES:
        raise ParameterInvalid(f"scalar index {index_type} is not built for field type {p.type_name(field_type)}")
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    rows = np.flatnonzero(np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool))
    values = column.take(pa.array(rows, type=pa.int64()))
    order = pc.sort_indices(values).to_numpy()  # stable; NaN after the numbers
    table = pa.table({"value": values.take(pa.array(order)), "row": pa.array(rows[order], type=pa.int64())})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    meta = {"format": FORMAT_VERSION, "index_type": index_type, "kind": "scalar", "field_type": field_type,
            "num_rows": len(column), "files": [DATA_FILE]}
    return {DATA_FILE: sink.getvalue().to_pybytes(), META_FILE: json.dumps(meta, sort_keys=True).encode()}


def _numpy_values(values: pa.Array, kind: str) -> np.ndarray:
    if kind == p.STRING:
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
    out = values.to_numpy(zero_copy_only=False)
    return out.astype(np.int64, copy=False) if kind == p.INT else out


class ScalarIndex:
    """A loaded scalar index: ``keys`` sorted; subclasses turn a slice of keys into rows."""

    def __init__(self, meta: Mapping[str, Any], values: np.ndarray, rows: np.ndarray):
        self.meta = dict(meta)
        self.kind = p.kind_of(int(meta["field_type"]))
        self.is_float32 = int(meta["field_type"]) == spb.Float
        nan = np.isnan(values) if self.kind == p.FLOAT else np.zeros(len(values), dtype=bool)
        self.nan_rows = rows[nan]  # NaN compares false, except !=
        self._init(values[~nan], rows[~nan])

    @property
    def index_type(self) -> str:
        return self.meta["index_type"]

    @property
    def num_rows(self) -> int:
        return int(self.meta["num_rows"])

    metric = ""  # not a vector index: never used for search

    def _init(self, values: np.ndarray, rows: np.ndarray) -> None:
        raise NotImplementedError

    keys: np.ndarray

    def _rows(self, lo: int, hi: int, out: np.ndarray) -> None:
        """Set ``out`` at the rows of keys[lo:hi]."""
        raise NotImplementedError

    def memory_bytes(self) -> int:
        return int(sum(getattr(v, "nbytes", 0) for v in vars(self).values()))

    def close(self) -> None:
        pass

    # ---- predicates -----------------------------------------------------------------

    def _key(self, value: Any) -> Any:
        """``value`` as the scan compares it with the column, or None when it cannot be used."""
        kind = self.kind
        if kind == p.STRING:
            return value if type(value) is str else None
        if kind == p.BOOL:
            return value if type(value) is bool else None
        if kind == p.INT:
            if type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
                return value
            return None
        if type(value) not in (int, float):
            return None
        with np.errstate(over="ignore"):
            return np.float32(value) if self.is_float32 else np.float64(value)

    def _bounds(self, op: str, key: Any) -> list[tuple[int, int]]:
        n = len(self.keys)
        if self.kind == p.FLOAT and np.isnan(key):
            return [(0, n)] if op == "!=" else []
        left = int(np.searchsorted(self.keys, key, side="left"))
        right = int(np.searchsorted(self.keys, key, side="right"))
        return {"==": [(left, right)], "!=": [(0, left), (right, n)], "<": [(0, left)], "<=": [(0, right)],
                ">": [(right, n)], ">=": [(left, n)]}[op]

    def _mask(self, ranges: Iterable[tuple[int, int]], nan: bool = False) -> np.ndarray:
        out = np.zeros(self.num_rows, dtype=bool)
        for lo, hi in ranges:
            if hi > lo:
                self._rows(lo, hi, out)
        if nan and len(self.nan_rows):
            out[self.nan_rows] = True
        return out

    def mask(self, pred: p.Pred) -> np.ndarray | None:
        """Rows where ``pred`` (a leaf on this index's field) is true, or None to scan."""
        col = getattr(pred, "col", None)
        if col is None or col.is_json or col.is_element or col.kind != self.kind:
            return None
        if isinstance(pred, p.Cmp):
            key = self._key(pred.value)
            if key is None or pred.op not in ("==", "!=", "<", "<=", ">", ">="):
                return None
            return self._mask(self._bounds(pred.op, key), nan=pred.op == "!=")
        if isinstance(pred, p.Between):
            lo_key, hi_key = self._key(pred.lower), self._key(pred.upper)
            if lo_key is None or hi_key is None:
                return None
            (a, _), = self._bounds(">=" if pred.lower_inclusive else ">", lo_key) or [(0, 0)]
            (_, b), = self._bounds("<=" if pred.upper_inclusive else "<", hi_key) or [(0, 0)]
            return self._mask([(a, b)])
        if isinstance(pred, p.In):
            keys = [self._key(v) for v in pred.values]
            if any(k is None for k in keys):
                return None
            return self._mask(r for k in set(keys) for r in self._bounds("==", k))
        if isinstance(pred, p.Like) and self.kind == p.STRING:
            prefix = like_prefix(pred.pattern)
            if prefix is None:
                return None
            text, exact = prefix
            if exact:
                return self._mask(self._bounds("==", text))
            lo = int(np.searchsorted(self.keys, text, side="left")) if text else 0
            hi = len(self.keys)
            if text and ord(text[-1]) < 0x10FFFF:
                hi = int(np.searchsorted(self.keys, text[:-1] + chr(ord(text[-1]) + 1), side="left"))
            elif text:
                return None
            return self._mask([(lo, hi)])
        return None


def like_prefix(pattern: str) -> tuple[str, bool] | None:
    """(text, exact) for a pattern that is a literal (exact) or a literal then one trailing
    ``%`` (prefix); None for any other pattern."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                return None
            out.append(pattern[i + 1])
            i += 2
            continue
        if ch == "%":
            return ("".join(out), False) if i == len(pattern) - 1 else None
        if ch == "_":
            return None
        out.append(ch)
        i += 1
    return "".join(out), True


class SortedIndex(ScalarIndex):
    """STL_SORT and Trie: every value sorted, with its row."""

    def _init(self, values: np.ndarray, rows: np.ndarray) -> None:
        self.keys = values
        self.rows = rows

    def _rows(self, lo: int, hi: int, out: np.ndarray) -> None:
        out[self.rows[lo:hi]] = True


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of sorted ``values`` and CSR offsets of their runs."""
    if not len(values):
        return values[:0], np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
    return values[starts], np.append(starts, len(values)).astype(np.int64)


class InvertedIndex(ScalarIndex):
    """INVERTED: distinct value -> posting list of rows."""

    def _init(self, values: np.ndarray, rows: np.ndarray) -> None:
        self.keys, self.offsets = _distinct(values)
        self.postings = rows

    def _rows(self, lo: int, hi: int, out: np.ndarray) -> None:
        out[self.postings[self.offsets[lo]:self.offsets[hi]]] = True


class BitmapIndex(ScalarIndex):
    """BITMAP: distinct value -> packed bitmap of its rows."""

    def _init(self, values: np.ndarray, rows: np.ndarray) -> None:
        self.keys, offsets = _distinct(values)
        bits = np.zeros((len(self.keys), self.num_rows), dtype=bool)
        for i in range(len(self.keys)):
            bits[i, rows[offsets[i]:offsets[i + 1]]] = True
        self.bitmaps = np.packbits(bits, axis=1)

    def _rows(self, lo: int, hi: int, out: np.ndarray) -> None:
        packed = np.bitwise_or.reduce(self.bitmaps[lo:hi], axis=0)
        out |= np.unpackbits(packed, count=self.num_rows).astype(bool)


_CLASSES: dict[str, type[ScalarIndex]] = {"STL_SORT": SortedIndex, "Trie": SortedIndex, "INVERTED": InvertedIndex,
                                          "BITMAP": BitmapIndex}


def load_scalar(meta: Mapping[str, Any], data: bytes) -> ScalarIndex:
    table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
    kind = p.kind_of(int(meta["field_type"]))
    values = _numpy_values(table.column("value").combine_chunks(), kind)
    rows = table.column("row").to_numpy()
    return _CLASSES[meta["index_type"]](meta, values, rows)
