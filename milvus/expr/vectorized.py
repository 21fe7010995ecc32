"""The fast evaluator: a plan over an Arrow table, column at a time with NumPy and
``pyarrow.compute`` (semantics in ``milvus.expr.plan``).

Every predicate yields a ``Tri``: ``value`` (true rows; false where null) and ``valid``
(rows that are not null; None when all are).  The only per-row Python work is JSON
decoding and walking JSON paths (see ``milvus.expr.jsoncol``), done once per column and
path per evaluation.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.expr import jsoncol as jc
from milvus.expr import plan as p
from milvus.expr.values import json_equal

_NP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_PC = {"==": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal, ">": pc.greater,
       ">=": pc.greater_equal}


def f32(value) -> np.float32:
    with np.errstate(over="ignore"):
        return np.float32(value)


class Tri(NamedTuple):
    value: np.ndarray
    valid: np.ndarray | None


def _mask(result: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A bool Arrow result as numpy (null -> False)."""
    if result.null_count:
        result = pc.fill_null(result, False)
    return np.asarray(result.to_numpy(zero_copy_only=False), dtype=bool)


def c_div(a: np.ndarray, b: int) -> np.ndarray:
    """int64 division truncating toward zero (C), wrapping on overflow."""
    if b == -1:
        return np.negative(a)
    q = a // b
    fix = (a - q * b != 0) & ((a < 0) != (b < 0))
    return q + fix


def c_mod(a: np.ndarray, b: int) -> np.ndarray:
    if b == -1:
        return np.zeros_like(a)
    return a - c_div(a, b) * b


def _arith(op: str, x: np.ndarray, operand) -> np.ndarray:
    if op == "+":
        return x + operand
    if op == "-":
        return x - operand
    if op == "*":
        return x * operand
    if x.dtype.kind == "i":
        return c_div(x, operand) if op == "/" else c_mod(x, operand)
    return x / operand


def canonical_like(pattern: str) -> str:
    """``pattern`` with every escape spelled ``\\c`` and no lone trailing backslash."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1] if i + 1 < len(pattern) else "\\"
            out.append("\\" + nxt)
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class Evaluator:
    """``indexes``: scalar indexes by column name (``milvus.index.scalar.ScalarIndex``, built
    over exactly these rows); a simple leaf on an indexed column asks its index for the mask
    (``mask(pred)``, None when it cannot answer) instead of scanning the column."""

    def __init__(self, table: pa.Table, indexes: Mapping[str, Any] | None = None):
        self.table = table
        self.n = table.num_rows
        self.indexes = indexes or {}
        self._arrays: dict[str, pa.Array | None] = {}
        self._docs: dict[str, tuple[list, np.ndarray | None]] = {}
        self._json: dict[tuple[str, tuple[str, ...]], jc.JsonValues] = {}

    # ---- columns --------------------------------------------------------------------

    def array(self, name: str) -> pa.Array | None:
        if name not in self._arrays:
            if name in self.table.column_names:
                column = self.table.column(name)
                self._arrays[name] = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
            else:  # a segment written before the field existed: all null
                self._arrays[name] = None
        return self._arrays[name]

    def valid(self, name: str) -> np.ndarray | None:
        arr = self.array(name)
        if arr is None:
            return np.zeros(self.n, dtype=bool)
        if not arr.null_count:
            return None
        return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)

    def numbers(self, col: p.Column) -> np.ndarray:
        """A numeric or bool scalar column as numpy (nulls hold 0)."""
        arr = self.array(col.name)
        if arr is None:
            return np.zeros(self.n, dtype=np.float32 if col.is_float32 else np.int64 if col.kind == p.INT
                            else np.float64 if col.kind == p.FLOAT else bool)
        if arr.null_count:
            arr = pc.fill_null(arr, False if col.kind == p.BOOL else 0)
        values = arr.to_numpy(zero_copy_only=False)
        return values.astype(np.int64, copy=False) if col.kind == p.INT else values

    def strings(self, col: p.Column) -> pa.Array:
        arr = self.array(col.name)
        return pa.nulls(self.n, pa.string()) if arr is None else arr

    def docs(self, name: str) -> tuple[list, np.ndarray | None]:
        if name not in self._docs:
            arr = self.array(name)
            if arr is None:
                self._docs[name] = ([None] * self.n, np.zeros(self.n, dtype=bool))
            else:
                self._docs[name] = (jc.decode_column(arr), self.valid(name))
        return self._docs[name]

    def json(self, col: p.Column) -> tuple[jc.JsonValues, np.ndarray | None]:
        docs, valid = self.docs(col.name)
        key = (col.name, col.path)
        if key not in self._json:
            self._json[key] = jc.values_at(docs, col.path)
        return self._json[key], valid

    def element(self, col: p.Column) -> tuple[np.ndarray | pa.Array, np.ndarray, np.ndarray | None]:
        """Element ``col.index`` of every array: (values, present, valid).  Numeric values
        come as numpy (0 where absent), strings as Arrow (null where absent)."""
        arr = self.array(col.name)
        index = col.index or 0
        kind = p.kind_of(col.element_type)
        if arr is None:
            empty = pa.nulls(self.n, pa.string()) if kind == p.STRING else np.zeros(self.n)
            return empty, np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool)
        offsets = np.asarray(arr.offsets.to_numpy(), dtype=np.int64)
        lengths = np.diff(offsets)
        valid = self.valid(col.name)
        present = lengths > index
        if valid is not None:
            present &= valid
        child = arr.values
        positions = np.where(present, offsets[:-1] + index, 0)
        if kind == p.STRING:
            take = pa.array(positions, mask=~present, type=pa.int64())
            return child.take(take), present, valid
        if len(child) == 0:
            values = np.zeros(self.n, dtype=child.type.to_pandas_dtype())
        else:
            values = child.to_numpy(zero_copy_only=False)[positions]
        return values, present, valid

    # ---- entry ----------------------------------------------------------------------

    def run(self, pred: p.Pred) -> np.ndarray:
        return self.eval(pred).value

    def eval(self, pred: p.Pred) -> Tri:
        method = getattr(self, f"_eval_{type(pred).__name__}")
        return method(pred)

    def _indexed(self, pred: p.Pred) -> Tri | None:
        """``pred`` answered by its column's scalar index, when there is one that can."""
        if not self.indexes:
            return None
        index = self.indexes.get(pred.col.name)  # type: ignore[attr-defined]
        mask = None if index is None else index.mask(pred)
        if mask is None:
            return None
        return self._tri(mask, self.valid(pred.col.name))  # type: ignore[attr-defined]

    def _tri(self, value: np.ndarray, valid: np.ndarray | None) -> Tri:
        if valid is not None:
            value = value & valid
        return Tri(value, valid)

    # ---- logic ----------------------------------------------------------------------

    def _eval_Const(self, pred: p.Const) -> Tri:
        return Tri(np.full(self.n, pred.value, dtype=bool), None)

    def _eval_Not(self, pred: p.Not) -> Tri:
        inner = self.eval(pred.item)
        value = ~inner.value
        if inner.valid is not None:
            value &= inner.valid
        return Tri(value, inner.valid)

    def _eval_And(self, pred: p.And) -> Tri:
        acc: Tri | None = None
        for item in sorted(pred.items, key=_cost):
            # rows still open: true or null so far (a definite false stays false)
            t = self._eval_on(item, None if acc is None else acc.value | _not_valid(acc))
            if acc is None:
                acc = t
            else:
                value = acc.value & t.value
                if acc.valid is None and t.valid is None:
                    valid = None
                else:
                    av = acc.valid if acc.valid is not None else np.ones(self.n, dtype=bool)
                    tv = t.valid if t.valid is not None else np.ones(self.n, dtype=bool)
                    # definite when both are, or when either is definitely false
                    valid = (av & tv) | (av & ~acc.value) | (tv & ~t.value)
                acc = Tri(value, valid)
            if not acc.value.any() and (acc.valid is None or acc.valid.all()):
                break  # every row is definitely false
        assert acc is not None
        return acc

    def _eval_Or(self, pred: p.Or) -> Tri:
        acc: Tri | None = None
        for item in sorted(pred.items, key=_cost):
            t = self._eval_on(item, None if acc is None else ~acc.value)  # open: false or null so far
            if acc is None:
                acc = t
            else:
                value = acc.value | t.value
                if acc.valid is None and t.valid is None:
                    valid = None
                else:
                    av = acc.valid if acc.valid is not None else np.ones(self.n, dtype=bool)
                    tv = t.valid if t.valid is not None else np.ones(self.n, dtype=bool)
                    valid = (av & tv) | value  # a true side makes the row definitely true
                acc = Tri(value, valid)
            if acc.value.all():
                break
        assert acc is not None
        return acc

    def _eval_on(self, item: p.Pred, open_rows: np.ndarray | None) -> Tri:
        """``item`` over every row, or, when it is costly (JSON) and few rows are still open,
        over those rows only (the others get a definite false, which cannot change them)."""
        if open_rows is None or _cost(item) < _SUBSET_COST:
            return self.eval(item)
        count = int(np.count_nonzero(open_rows))
        decoded = all(name in self._docs for name in _columns(item, json_only=True))
        if count > _SUBSET_SHARE * self.n or decoded:
            return self.eval(item)
        rows = np.flatnonzero(open_rows)
        names = [name for name in sorted(_columns(item)) if name in self.table.column_names]
        names = names or self.table.column_names[:1]  # keep the row count
        sub = Evaluator(self.table.select(names).take(pa.array(rows, type=pa.int64())))
        t = sub.eval(item)
        value = np.zeros(self.n, dtype=bool)
        value[rows] = t.value
        if t.valid is None:
            return Tri(value, None)
        valid = np.ones(self.n, dtype=bool)
        valid[rows] = t.valid
        return Tri(value, valid)

    # ---- comparisons ----------------------------------------------------------------

    def _scalar_cmp(self, col: p.Column, op: str, value) -> Tri:
        """``col op value`` for a scalar (non-JSON, non-array) column."""
        valid = self.valid(col.name)
        if col.kind == p.STRING:
            return self._tri(_mask(_PC[op](self.strings(col), pa.scalar(value, pa.string()))), valid)
        x = self.numbers(col)
        if col.is_float32:
            value = f32(value)
        return self._tri(np.asarray(_NP[op](x, value), dtype=bool), valid)

    def _element_cmp(self, col: p.Column, op: str, value) -> Tri:
        values, present, valid = self.element(col)
        if isinstance(values, (pa.Array, pa.ChunkedArray)):
            res = _mask(_PC[op](values, pa.scalar(value, pa.string())))
        else:
            if col.is_float32:
                value = f32(value)
            elif col.kind == p.INT:
                values = values.astype(np.int64, copy=False)
            res = np.asarray(_NP[op](values, value), dtype=bool)
        return self._tri(res & present, valid)

    def _eval_Cmp(self, pred: p.Cmp) -> Tri:
        if (hit := self._indexed(pred)) is not None:
            return hit
        col = pred.col
        if col.is_json:
            values, valid = self.json(col)
            return self._tri(json_compare(values, pred.op, pred.value), valid)
        if col.is_element:
            return self._element_cmp(col, pred.op, pred.value)
        if col.data_type == p.spb.Array:
            eq = self._array_equal(col, pred.value)  # type: ignore[arg-type]
            valid = self.valid(col.name)
            return self._tri(eq if pred.op == "==" else ~eq, valid)
        return self._scalar_cmp(col, pred.op, pred.value)

    def _array_equal(self, col: p.Column, value: tuple) -> np.ndarray:
        arr = self.array(col.name)
        if arr is None:
            return np.zeros(self.n, dtype=bool)
        lengths = np.diff(np.asarray(arr.offsets.to_numpy(), dtype=np.int64))
        eq = lengths == len(value)
        for i, item in enumerate(value):
            if not eq.any():
                break
            element = p.Column(col.name, col.data_type, col.element_type, col.nullable, (), i, col.label)
            eq &= self._element_cmp(element, "==", item).value
        return eq

    def _eval_Between(self, pred: p.Between) -> Tri:
        if (hit := self._indexed(pred)) is not None:
            return hit
        lo = p.Cmp(pred.col, ">=" if pred.lower_inclusive else ">", pred.lower)
        hi = p.Cmp(pred.col, "<=" if pred.upper_inclusive else "<", pred.upper)
        a, b = self._eval_Cmp(lo), self._eval_Cmp(hi)
        return Tri(a.value & b.value, a.valid)

    def _eval_ColumnCmp(self, pred: p.ColumnCmp) -> Tri:
        a, b = pred.left, pred.right
        va, vb = self.valid(a.name), self.valid(b.name)
        valid = va if vb is None else vb if va is None else va & vb
        if a.kind == p.STRING:
            res = _mask(_PC[pred.op](self.strings(a), self.strings(b)))
        else:
            res = np.asarray(_NP[pred.op](self.numbers(a), self.numbers(b)), dtype=bool)
        return self._tri(res, valid)

    def _eval_ArithCmp(self, pred: p.ArithCmp) -> Tri:
        col = pred.col
        if col.is_json:
            values, valid = self.json(col)
            return self._tri(json_arith(values, pred), valid)
        if col.is_element:
            x, present, valid = self.element(col)
        else:
            x, present, valid = self.numbers(col), None, self.valid(col.name)
        assert isinstance(x, np.ndarray)
        if col.kind == p.INT:
            x = x.astype(np.int64, copy=False)
            operand, value = pred.operand, pred.value
        elif col.is_float32:
            x, operand, value = x.astype(np.float32, copy=False), f32(pred.operand), f32(pred.value)
        else:
            x, operand, value = x.astype(np.float64, copy=False), float(pred.operand), float(pred.value)
        with np.errstate(all="ignore"):
            res = np.asarray(_NP[pred.op](_arith(pred.arith, x, operand), value), dtype=bool)
        if present is not None:
            res &= present
        return self._tri(res, valid)

    def _lengths(self, col: p.Column) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Array lengths: (lengths, is an array, valid)."""
        if col.is_json:
            values, valid = self.json(col)
            return values.lengths, values.kind == jc.ARRAY, valid
        arr = self.array(col.name)
        if arr is None:
            return np.zeros(self.n, dtype=np.int64), np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool)
        lengths = np.diff(np.asarray(arr.offsets.to_numpy(), dtype=np.int64))
        valid = self.valid(col.name)
        return lengths, np.ones(self.n, dtype=bool) if valid is None else valid, valid

    def _eval_LengthCmp(self, pred: p.LengthCmp) -> Tri:
        lengths, is_array, valid = self._lengths(pred.col)
        return self._tri(_NP[pred.op](lengths, pred.value) & is_array, valid)

    def _eval_In(self, pred: p.In) -> Tri:
        if (hit := self._indexed(pred)) is not None:
            return hit
        col = pred.col
        if col.is_json:
            values, valid = self.json(col)
            return self._tri(json_in(values, pred.values), valid)
        if col.is_element:
            values_, present, valid = self.element(col)
            res = self._isin(values_, col, pred.values) & present
            return self._tri(res, valid)
        valid = self.valid(col.name)
        source = self.strings(col) if col.kind == p.STRING else self.numbers(col)
        return self._tri(self._isin(source, col, pred.values), valid)

    def _isin(self, source, col: p.Column, values: tuple) -> np.ndarray:
        n = len(source)
        if not values:
            return np.zeros(n, dtype=bool)
        if isinstance(source, (pa.Array, pa.ChunkedArray)):
            return _mask(pc.is_in(source, value_set=pa.array(values, type=pa.string())))
        if col.is_float32:
            with np.errstate(over="ignore"):
                return np.isin(source, np.asarray(values, dtype=np.float32))
        if col.kind == p.BOOL:
            return np.isin(source, np.asarray(values, dtype=bool))
        if col.kind == p.INT:
            return np.isin(source.astype(np.int64, copy=False), np.asarray(values, dtype=np.int64))
        return np.isin(source, np.asarray(values, dtype=np.float64))

    def _eval_Like(self, pred: p.Like) -> Tri:
        if (hit := self._indexed(pred)) is not None:
            return hit
        col = pred.col
        pattern = canonical_like(pred.pattern)
        if col.is_json:
            values, valid = self.json(col)
            strs = values.strs
            return self._tri(_mask(pc.match_like(strs, pattern)), valid)
        if col.is_element:
            values_, present, valid = self.element(col)
            return self._tri(_mask(pc.match_like(values_, pattern)) & present, valid)
        return self._tri(_mask(pc.match_like(self.strings(col), pattern)), self.valid(col.name))

    def _eval_IsNull(self, pred: p.IsNull) -> Tri:
        valid = self.valid(pred.col.name)
        if valid is None:
            return Tri(np.zeros(self.n, dtype=bool), None)
        return Tri(~valid, None)

    def _eval_Exists(self, pred: p.Exists) -> Tri:
        values, _ = self.json(pred.col)
        return Tri(values.kind > jc.NULL, None)

    def _eval_Contains(self, pred: p.Contains) -> Tri:
        col = pred.col
        if col.is_json:
            values, valid = self.json(col)
            elements, parent = values.elements
            is_array = values.kind == jc.ARRAY

            def row_any(hits: np.ndarray) -> np.ndarray:
                out = np.zeros(self.n, dtype=bool)
                out[parent[hits]] = True
                return out

            if pred.mode == "any":
                res = row_any(json_in(elements, pred.values))
            elif pred.mode == "one":
                res = row_any(json_compare(elements, "==", pred.values[0]))
            else:
                res = is_array.copy()
                for item in pred.values:
                    if not res.any():
                        break
                    res &= row_any(json_compare(elements, "==", item))
            return self._tri(res, valid)
        arr = self.array(col.name)
        valid = self.valid(col.name)
        if arr is None:
            return Tri(np.zeros(self.n, dtype=bool), np.zeros(self.n, dtype=bool))
        offsets = np.asarray(arr.offsets.to_numpy(), dtype=np.int64)
        child = arr.values.slice(offsets[0], offsets[-1] - offsets[0])
        parent = np.repeat(np.arange(self.n, dtype=np.int64), np.diff(offsets))
        element = p.Column(col.name, p.spb.Array, col.element_type, col.nullable, (), 0, col.label)
        kind = p.kind_of(col.element_type)
        flat = child if kind == p.STRING else child.to_numpy(zero_copy_only=False)

        def hits_of(items: tuple) -> np.ndarray:
            out = np.zeros(self.n, dtype=bool)
            out[parent[self._isin(flat, element, tuple(_element_values(kind, items)))]] = True
            return out

        if pred.mode in ("one", "any"):
            res = hits_of(pred.values)
        else:
            res = np.ones(self.n, dtype=bool)
            for item in pred.values:
                if not res.any():
                    break
                res &= hits_of((item,))
        return self._tri(res, valid)

    def _eval_TextMatch(self, pred: p.TextMatch) -> Tri:
        col = pred.col
        valid = self.valid(col.name)
        if not pred.tokens:
            return self._tri(np.zeros(self.n, dtype=bool), valid)
        parent, words = pred.analyzer.token_rows(self.strings(col))
        known = _mask(pc.is_in(words.dictionary, value_set=pa.array(pred.tokens, type=pa.string())))
        codes = np.asarray(words.indices, dtype=np.int64)
        hit = known[codes] if len(codes) else np.zeros(0, dtype=bool)
        if pred.min_should_match <= 1:
            res = np.zeros(self.n, dtype=bool)
            res[parent[hit]] = True
        else:
            distinct = np.unique(parent[hit] * max(1, len(known)) + codes[hit])  # one per (row, word)
            counts = np.bincount(distinct // max(1, len(known)), minlength=self.n)
            res = counts >= pred.min_should_match
        return self._tri(res, valid)

    def _eval_PhraseMatch(self, pred: p.PhraseMatch) -> Tri:
        valid = self.valid(pred.col.name)
        res = np.zeros(self.n, dtype=bool)
        if not pred.terms:
            return self._tri(res, valid)
        rows, words, positions = pred.analyzer.token_positions(self.strings(pred.col))
        query = pa.array([token for token, _ in pred.terms], type=pa.string())
        wanted = pc.index_in(query, value_set=words.dictionary)
        if wanted.null_count:  # a query token no row has
            return self._tri(res, valid)
        res[_phrase_rows(rows, np.asarray(words.indices, dtype=np.int64), positions,
                         np.asarray(wanted, dtype=np.int64), [q for _, q in pred.terms], pred.slop)] = True
        return self._tri(res, valid)


def _phrase_rows(rows: np.ndarray, codes: np.ndarray, positions: np.ndarray, wanted: np.ndarray,
                 query_positions: list[int], slop: int) -> np.ndarray:
    """The rows where every query term (dictionary code ``wanted[i]`` at query position
    ``query_positions[i]``) has an occurrence whose anchor (its position less the term's query
    position) lies in one window ``[low, low + slop]``.  Such a window exists iff it exists
    with ``low`` one of the anchors, so each anchor is a candidate ``low``, kept while every
    term has an anchor in its window."""
    shift = max(query_positions)
    top = int(positions.max()) + shift if len(positions) else shift  # anchors + shift lie in [0, top]
    slop = min(slop, top)  # no two anchors are further apart
    band = top + slop + 1  # a row's keys: row * band + anchor + shift (+ slop stays in the band)
    keys = []
    for code, q in zip(wanted, query_positions, strict=True):
        hit = codes == code
        keys.append(np.unique(rows[hit] * band + (positions[hit] - q + shift)))
    low = np.unique(np.concatenate(keys))
    for term in keys:
        if not len(low) or not len(term):
            return low[:0]
        at = np.searchsorted(term, low)
        nearest = term[np.minimum(at, len(term) - 1)]
        low = low[(at < len(term)) & (nearest <= low + slop)]
    return low // band


def _element_values(kind: str, items: tuple) -> list:
    """The values of ``items`` an array of ``kind`` elements can hold (the others never match)."""
    if kind == p.INT:
        return [x for x in items if type(x) is int or (type(x) is float and x.is_integer())
                and -(2**63) <= x < 2**63]
    if kind == p.FLOAT:
        return [float(x) for x in items if type(x) in (int, float)]
    if kind == p.BOOL:
        return [x for x in items if type(x) is bool]
    return [x for x in items if type(x) is str]


def _not_valid(t: Tri) -> np.ndarray | bool:
    return False if t.valid is None else ~t.valid


def _columns(pred: p.Pred, json_only: bool = False) -> set[str]:
    """The columns a predicate reads (only its JSON columns with ``json_only``)."""
    if isinstance(pred, (p.And, p.Or)):
        return set().union(*(_columns(i, json_only) for i in pred.items))
    if isinstance(pred, p.Not):
        return _columns(pred.item, json_only)
    if isinstance(pred, p.ColumnCmp):
        return set() if json_only else {pred.left.name, pred.right.name}
    col = getattr(pred, "col", None)
    return {col.name} if col is not None and (col.is_json or not json_only) else set()


_SUBSET_COST = 20  # JSON
_SUBSET_SHARE = 0.5
_COST = {p.Const: 0, p.IsNull: 1, p.Cmp: 2, p.Between: 2, p.In: 3, p.ColumnCmp: 3, p.ArithCmp: 3,
         p.LengthCmp: 4, p.Like: 5, p.Contains: 6, p.TextMatch: 8, p.PhraseMatch: 9,
         p.Exists: 10}


def _cost(pred: p.Pred) -> int:
    col = getattr(pred, "col", None)
    if col is not None and col.is_json:
        return 20
    if isinstance(pred, (p.And, p.Or)):
        return max(_cost(i) for i in pred.items)
    if isinstance(pred, p.Not):
        return _cost(pred.item)
    return _COST.get(type(pred), 10)


# ---- JSON -------------------------------------------------------------------------------

def json_compare(values: jc.JsonValues, op: str, value) -> np.ndarray:
    """``values op value`` with JSON semantics (other kinds: false, true for ``!=``)."""
    if isinstance(value, tuple):  # arrays: only arrays compare (!= too), and only for (in)equality
        out = np.zeros(len(values), dtype=bool)
        if op in ("==", "!="):
            raw = values.raw
            for i in np.flatnonzero(values.kind == jc.ARRAY):
                out[i] = json_equal(raw[i], value) == (op == "==")
        return out
    if op == "!=":
        return ~json_compare(values, "==", value)
    fn = _NP[op]
    kind = values.kind
    if isinstance(value, bool):
        return (kind == jc.BOOL) & fn(values.bools, value)
    if type(value) is int:
        out = np.zeros(len(values), dtype=bool)
        if jc.INT in values.kinds:
            out |= (kind == jc.INT) & fn(values.ints, value)
        if jc.FLOAT in values.kinds:
            out |= (kind == jc.FLOAT) & fn(values.floats, float(value))
        return out
    if type(value) is float:
        return values.rows(*jc.NUMBERS) & fn(values.floats, value)
    return _mask(_PC[op](values.strs, pa.scalar(value, pa.string())))


def json_in(values: jc.JsonValues, items: tuple) -> np.ndarray:
    kind = values.kind
    out = np.zeros(len(values), dtype=bool)
    ints = [x for x in items if type(x) is int]
    floats = [x for x in items if type(x) is float]
    strs = [x for x in items if isinstance(x, str)]
    bools = [x for x in items if isinstance(x, bool)]
    arrays = [x for x in items if isinstance(x, tuple)]
    if ints or floats:
        int_rows, float_rows = kind == jc.INT, kind == jc.FLOAT
        if ints:
            out |= int_rows & np.isin(values.ints, np.asarray(ints, dtype=np.int64))
        if floats:
            out |= int_rows & np.isin(values.floats, np.asarray(floats, dtype=np.float64))
        out |= float_rows & np.isin(values.floats, np.asarray([float(x) for x in ints] + floats, dtype=np.float64))
    if strs:
        out |= _mask(pc.is_in(values.strs, value_set=pa.array(strs, type=pa.string())))
    if bools:
        out |= (kind == jc.BOOL) & np.isin(values.bools, np.asarray(bools, dtype=bool))
    for item in arrays:
        out |= json_compare(values, "==", item)
    return out


def json_arith(values: jc.JsonValues, pred: p.ArithCmp) -> np.ndarray:
    fn = _NP[pred.op]
    kind = values.kind
    with np.errstate(all="ignore"):
        if type(pred.operand) is int:
            res = (kind == jc.INT) & fn(_arith(pred.arith, values.ints, pred.operand), pred.value)
            if pred.arith != "%" and jc.FLOAT in values.kinds:
                res |= (kind == jc.FLOAT) & fn(_arith(pred.arith, values.floats, float(pred.operand)),
                                               float(pred.value))
            return res
        return values.rows(*jc.NUMBERS) & fn(_arith(pred.arith, values.floats, pred.operand), pred.value)


def evaluate(pred: p.Pred, table: pa.Table, indexes: Mapping[str, Any] | None = None) -> np.ndarray:
    """The rows of ``table`` where ``pred`` is true (``indexes``: see ``Evaluator``)."""
    return Evaluator(table, indexes).run(pred)

