"""JSON values of one column at one path, typed into NumPy/Arrow arrays.

Decoding JSON is the one per-row step of filter evaluation: a JSON column is decoded once
per evaluation (all rows in a single ``json.loads`` call over the joined documents), each
path is walked once (a list comprehension), and every comparison after that is vectorised
over the typed arrays built here.
"""

from __future__ import annotations

import json
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.expr.values import INT64_MAX, INT64_MIN

MISSING, NULL, BOOL, INT, FLOAT, STR, ARRAY, OBJECT = range(8)
NUMBERS = (INT, FLOAT)

_ABSENT = object()  # a path that leads nowhere
_KINDS = {bool: BOOL, int: INT, float: FLOAT, str: STR, list: ARRAY, dict: OBJECT, type(None): NULL}
_KIND_OF = {**_KINDS, object: MISSING}


def to_float(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def decode_column(column: pa.Array) -> list:
    """The decoded documents of a binary JSON column (None for a null row or bad JSON)."""
    n = len(column)
    if n == 0:
        return []
    if column.null_count:
        column = pc.fill_null(column, pa.scalar(b"null", column.type))
    try:
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, n], pa.int32()), column), b",")[0]
        docs = json.loads(b"[" + joined.as_py() + b"]")
        if len(docs) == n:
            return docs
    except (ValueError, UnicodeDecodeError, RecursionError):
        pass
    out = []
    for r in column.to_pylist():  # some document is not valid JSON: decode one by one
        try:
            out.append(json.loads(r))
        except (ValueError, UnicodeDecodeError, RecursionError):
            out.append(None)
    return out


def _index(token: str) -> int | None:
    """A JSON pointer token as an array index (canonical decimal), else None."""
    if token.isdigit() and (token == "0" or token[0] != "0") and token.isascii():
        return int(token)
    return None


def walk(doc: object, path: tuple[str, ...]) -> object:
    """The value at ``path`` (JSON pointer semantics), or the ``_ABSENT`` marker."""
    for token in path:
        kind = type(doc)
        if kind is dict:
            doc = doc.get(token, _ABSENT)  # type: ignore[union-attr]
            if doc is _ABSENT:
                return _ABSENT
        elif kind is list:
            i = _index(token)
            if i is None or i >= len(doc):  # type: ignore[arg-type]
                return _ABSENT
            doc = doc[i]  # type: ignore[index]
        else:
            return _ABSENT
    return doc


class JsonValues:
    """Typed views of a list of JSON values (``raw``); ``_ABSENT`` entries are MISSING."""

    def __init__(self, raw: list):
        self.raw = raw
        n = len(raw)
        types = list(map(type, raw))
        distinct = set(types)
        if len(distinct) == 1:
            kind = np.full(n, _KINDS.get(types[0], MISSING), dtype=np.int8)
        else:
            kind = np.fromiter(map(_KIND_OF.__getitem__, types), dtype=np.int8, count=n)
        self._ints: np.ndarray | None = None
        if int in distinct:
            pos = None if len(distinct) == 1 else np.flatnonzero(kind == INT)
            subset = raw if pos is None else [raw[i] for i in pos.tolist()]
            try:
                values = np.array(subset, dtype=np.int64)
            except OverflowError:  # beyond int64: a float, as simdjson reads it
                big = [i for i, x in zip(range(n) if pos is None else pos.tolist(), subset, strict=True)
                       if not INT64_MIN <= x <= INT64_MAX]
                kind[big] = FLOAT
                pos = np.flatnonzero(kind == INT)
                values = np.array([raw[i] for i in pos.tolist()], dtype=np.int64)
            if pos is None:
                self._ints = values
            else:
                self._ints = np.zeros(n, dtype=np.int64)
                self._ints[pos] = values
        self.kind = kind
        self.kinds = frozenset(np.unique(kind).tolist()) if len(distinct) > 1 else frozenset([int(kind[0])] if n else [])

    def __len__(self) -> int:
        return len(self.raw)

    def rows(self, *kinds: int) -> np.ndarray:
        if len(kinds) == 1:
            return self.kind == kinds[0]
        return np.isin(self.kind, kinds)

    def _subset(self, kinds: tuple[int, ...]) -> tuple[np.ndarray | None, list]:
        """(positions or None for all rows, their raw values)."""
        if self.kinds <= set(kinds):
            return None, self.raw
        pos = np.flatnonzero(np.isin(self.kind, kinds))
        raw = self.raw
        return pos, [raw[i] for i in pos.tolist()]

    def _fill(self, kinds: tuple[int, ...], dtype, convert=None) -> np.ndarray:
        pos, values = self._subset(kinds)
        if convert is not None:
            values = [convert(x) for x in values]
        array = np.array(values, dtype=dtype) if values else np.zeros(0, dtype=dtype)
        if pos is None:
            return array
        out = np.zeros(len(self.raw), dtype=dtype)
        out[pos] = array
        return out

    @property
    def ints(self) -> np.ndarray:
        if self._ints is None:
            self._ints = np.zeros(len(self.raw), dtype=np.int64)
        return self._ints

    @cached_property
    def floats(self) -> np.ndarray:
        """Every number as float64 (integers converted)."""
        if not self.kinds & {INT, FLOAT}:
            return np.zeros(len(self.raw), dtype=np.float64)
        return self._fill(NUMBERS, np.float64, to_float if FLOAT in self.kinds else None)

    @cached_property
    def bools(self) -> np.ndarray:
        if BOOL not in self.kinds:
            return np.zeros(len(self.raw), dtype=bool)
        return self._fill((BOOL,), bool)

    @cached_property
    def strs(self) -> pa.Array:
        """Strings (null where the value is not a string)."""
        if STR not in self.kinds:
            return pa.nulls(len(self.raw), pa.string())
        if self.kinds == {STR}:
            return pa.array(self.raw, type=pa.string())
        return pa.array([x if type(x) is str else None for x in self.raw], type=pa.string())

    @cached_property
    def lengths(self) -> np.ndarray:
        """The length of array values (-1 elsewhere)."""
        out = np.full(len(self.raw), -1, dtype=np.int64)
        pos = np.flatnonzero(self.kind == ARRAY)
        if len(pos):
            raw = self.raw
            out[pos] = np.fromiter((len(raw[i]) for i in pos), dtype=np.int64, count=len(pos))
        return out

    @cached_property
    def elements(self) -> tuple[JsonValues, np.ndarray]:
        """The elements of every array value, and the row each belongs to."""
        pos = np.flatnonzero(self.kind == ARRAY)
        raw = self.raw
        flat = [x for i in pos.tolist() for x in raw[i]]
        parent = np.repeat(pos, self.lengths[pos]) if len(pos) else np.zeros(0, dtype=np.int64)
        return JsonValues(flat), parent.astype(np.int64)


def values_at(docs: list, path: tuple[str, ...]) -> JsonValues:
    if not path:
        return JsonValues(docs)
    if len(path) == 1:
        key = path[0]
        index = _index(key)
        if index is None:
            return JsonValues([d.get(key, _ABSENT) if type(d) is dict else _ABSENT for d in docs])
    return JsonValues([walk(d, path) for d in docs])
