"""The reference evaluator: a plan over a table one row at a time, in plain Python.

Slow on purpose and written apart from ``milvus.expr.vectorized``: the property tests run
both on random expressions and data and expect the same rows.  Each predicate answers
True, False or None (null); ``and``/``or``/``not`` are Kleene's.
"""

from __future__ import annotations

import json
import math
import operator
import re

import numpy as np
import pyarrow as pa

from milvus.expr import plan as p
from milvus.expr.values import INT64_MAX, INT64_MIN, c_div, c_mod, json_equal, like_regex, wrap64

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
        ">=": operator.ge}
_ABSENT = object()


def _f32(x: float) -> np.float32:
    with np.errstate(over="ignore"):
        return np.float32(x)


def _typed(col: p.Column, x):
    """A value of ``col`` as the numpy scalar the vectorised evaluator computes with."""
    if col.is_float32:
        return _f32(x)
    if col.kind == p.FLOAT:
        return np.float64(x)
    if col.kind == p.BOOL:
        return np.bool_(x)
    return np.int64(x)


def _json_walk(doc, path: tuple[str, ...]):
    for token in path:
        if isinstance(doc, dict):
            if token not in doc:
                return _ABSENT
            doc = doc[token]
        elif isinstance(doc, list):
            if not re.fullmatch(r"0|[1-9][0-9]*", token) or int(token) >= len(doc):
                return _ABSENT
            doc = doc[int(token)]
        else:
            return _ABSENT
    return doc


def _is_json_int(x) -> bool:
    return type(x) is int and INT64_MIN <= x <= INT64_MAX


def _is_json_number(x) -> bool:
    return type(x) in (int, float)


def _to_float(x) -> float:
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _json_order(op: str, x, value) -> bool:
    fn = _OPS[op]
    if isinstance(value, bool):
        return type(x) is bool and fn(x, value)
    if isinstance(value, str):
        return type(x) is str and fn(x.encode(), value.encode())
    if type(value) is int:
        if _is_json_int(x):
            return fn(x, value)
        return _is_json_number(x) and fn(_to_float(x), float(value))
    return _is_json_number(x) and fn(_to_float(x), value)


def _json_cmp(op: str, x, value) -> bool:
    if isinstance(value, tuple):  # an array literal: compares only with arrays, only == and !=
        if type(x) is not list or op not in ("==", "!="):
            return False
        return json_equal(x, value) == (op == "==")
    if op == "==":
        return json_equal(x, value)
    if op == "!=":
        return not json_equal(x, value)
    return _json_order(op, x, value)


def _and(values):
    out = True
    for v in values:
        if v is False:
            return False
        if v is None:
            out = None
    return out


def _or(values):
    out = False
    for v in values:
        if v is True:
            return True
        if v is None:
            out = None
    return out


class _Row:
    def __init__(self, row: dict, present: set[str]):
        self.row = row
        self.present = present
        self._docs: dict[str, object] = {}

    def get(self, name: str):
        return self.row.get(name) if name in self.present else None

    def doc(self, name: str):
        """The decoded JSON document (None for a null row)."""
        if name not in self._docs:
            raw = self.get(name)
            if raw is None:
                self._docs[name] = None
            else:
                try:
                    self._docs[name] = json.loads(raw)
                except (ValueError, UnicodeDecodeError, RecursionError):
                    self._docs[name] = None
        return self._docs[name]


class ReferenceEvaluator:
    def __init__(self, table: pa.Table):
        self.rows = table.to_pylist()
        self.present = set(table.column_names)

    def run(self, pred: p.Pred) -> np.ndarray:
        return np.array([self.eval(pred, _Row(r, self.present)) is True for r in self.rows], dtype=bool)

    def eval(self, pred: p.Pred, row: _Row):
        return getattr(self, f"_{type(pred).__name__}")(pred, row)

    # ---- logic ----------------------------------------------------------------------

    def _Const(self, pred: p.Const, row: _Row):
        return pred.value

    def _And(self, pred: p.And, row: _Row):
        return _and(self.eval(item, row) for item in pred.items)

    def _Or(self, pred: p.Or, row: _Row):
        return _or(self.eval(item, row) for item in pred.items)

    def _Not(self, pred: p.Not, row: _Row):
        inner = self.eval(pred.item, row)
        return None if inner is None else not inner

    # ---- values of a row ------------------------------------------------------------

    def _json_value(self, col: p.Column, row: _Row):
        """(is null row, value or _ABSENT)."""
        if col.name not in row.present or row.get(col.name) is None:
            return True, _ABSENT
        return False, _json_walk(row.doc(col.name), col.path)

    def _scalar(self, col: p.Column, row: _Row):
        """(is null row, present, value) for a scalar column or an array element."""
        value = row.get(col.name)
        if value is None:
            return True, False, None
        if col.is_element:
            if col.index >= len(value):  # type: ignore[operator]
                return False, False, None
            value = value[col.index]  # type: ignore[index]
        return False, True, value

    @staticmethod
    def _order(col: p.Column, op: str, x, value) -> bool:
        if col.is_float32:
            return bool(_OPS[op](_f32(x), _f32(value)))
        if col.kind == p.FLOAT:
            return bool(_OPS[op](float(x), float(value)))
        if col.kind == p.STRING:
            return bool(_OPS[op](x.encode(), value.encode()))
        return bool(_OPS[op](x, value))

    # ---- predicates -----------------------------------------------------------------

    def _Cmp(self, pred: p.Cmp, row: _Row):
        col = pred.col
        if col.is_json:
            null, x = self._json_value(col, row)
            if null:
                return None
            return _json_cmp(pred.op, x, pred.value)
        if col.data_type == p.spb.Array and not col.is_element:
            arr = row.get(col.name)
            if arr is None:
                return None
            elem = p.Column(col.name, col.data_type, col.element_type, col.nullable, (), 0)
            value = pred.value
            equal = len(arr) == len(value) and all(  # type: ignore[arg-type]
                _scalar_equal(elem, a, b) for a, b in zip(arr, value, strict=True))  # type: ignore[arg-type]
            return equal if pred.op == "==" else not equal
        null, present, x = self._scalar(col, row)
        if null:
            return None
        if not present:
            return False
        return self._order(col, pred.op, x, pred.value)

    def _Between(self, pred: p.Between, row: _Row):
        lo = self._Cmp(p.Cmp(pred.col, ">=" if pred.lower_inclusive else ">", pred.lower), row)
        hi = self._Cmp(p.Cmp(pred.col, "<=" if pred.upper_inclusive else "<", pred.upper), row)
        return _and([lo, hi])

    def _ColumnCmp(self, pred: p.ColumnCmp, row: _Row):
        a, b = row.get(pred.left.name), row.get(pred.right.name)
        if a is None or b is None:
            return None
        if pred.left.kind == p.STRING:
            return _OPS[pred.op](a.encode(), b.encode())
        return bool(_OPS[pred.op](_typed(pred.left, a), _typed(pred.right, b)))

    def _ArithCmp(self, pred: p.ArithCmp, row: _Row):
        col = pred.col
        if col.is_json:
            null, x = self._json_value(col, row)
            if null:
                return None
            if type(pred.operand) is int and _is_json_int(x):
                return _OPS[pred.op](_int_arith(pred.arith, x, pred.operand), pred.value)
            if not _is_json_number(x) or (type(pred.operand) is int and pred.arith == "%"):
                return False
            return _OPS[pred.op](_float_arith(pred.arith, _to_float(x), float(pred.operand)), float(pred.value))
        null, present, x = self._scalar(col, row)
        if null:
            return None
        if not present:
            return False
        if col.kind == p.INT:
            return _OPS[pred.op](_int_arith(pred.arith, x, pred.operand), pred.value)  # type: ignore[arg-type]
        if col.is_float32:
            with np.errstate(all="ignore"):
                result = _float_arith(pred.arith, _f32(x), _f32(pred.operand))
            return bool(_OPS[pred.op](result, _f32(pred.value)))
        return _OPS[pred.op](_float_arith(pred.arith, float(x), float(pred.operand)), float(pred.value))

    def _LengthCmp(self, pred: p.LengthCmp, row: _Row):
        col = pred.col
        if col.is_json:
            null, x = self._json_value(col, row)
            if null:
                return None
            return type(x) is list and _OPS[pred.op](len(x), pred.value)
        arr = row.get(col.name)
        if arr is None:
            return None
        return _OPS[pred.op](len(arr), pred.value)

    def _In(self, pred: p.In, row: _Row):
        col = pred.col
        if col.is_json:
            null, x = self._json_value(col, row)
            if null:
                return None
            return any(json_equal(x, v) for v in pred.values)
        null, present, x = self._scalar(col, row)
        if null:
            return None
        return present and any(_scalar_equal(col, x, v) for v in pred.values)

    def _Like(self, pred: p.Like, row: _Row):
        regex = like_regex(pred.pattern)
        col = pred.col
        if col.is_json:
            null, x = self._json_value(col, row)
            if null:
                return None
            return type(x) is str and regex.fullmatch(x) is not None
        null, present, x = self._scalar(col, row)
        if null:
            return None
        return present and regex.fullmatch(x) is not None

    def _IsNull(self, pred: p.IsNull, row: _Row):
        return row.get(pred.col.name) is None

    def _Exists(self, pred: p.Exists, row: _Row):
        null, x = self._json_value(pred.col, row)
        return not null and x is not _ABSENT and x is not None

    def _Contains(self, pred: p.Contains, row: _Row):
        col = pred.col
        if col.is_json:
            null, x = self._json_value(col, row)
            if null:
                return None
            if type(x) is not list:
                return False
            found = [any(json_equal(e, v) for e in x) for v in pred.values]
        else:
            arr = row.get(col.name)
            if arr is None:
                return None
            elem = p.Column(col.name, col.data_type, col.element_type, col.nullable, (), 0)
            found = [any(_scalar_equal(elem, e, v) for e in arr) for v in pred.values]
        return all(found) if pred.mode == "all" else any(found)

    def _TextMatch(self, pred: p.TextMatch, row: _Row):
        text = row.get(pred.col.name)
        if text is None:
            return None
        words = set(pred.analyzer.tokens(text))
        return sum(1 for t in pred.tokens if t in words) >= pred.min_should_match and bool(pred.tokens)

    def _PhraseMatch(self, pred: p.PhraseMatch, row: _Row):
        text = row.get(pred.col.name)
        if text is None:
            return None
        at: dict[str, list[int]] = {}
        for token, _, _, position in pred.analyzer.analyze(text):
            at.setdefault(token, []).append(position)
        # each term's anchors: where the phrase would start if that occurrence were in place
        anchors = [[position - q for position in at.get(token, ())] for token, q in pred.terms]
        if not anchors or not all(anchors):
            return False
        return any(all(any(low <= a <= low + pred.slop for a in term) for term in anchors)
                   for low in {a for term in anchors for a in term})


def _scalar_equal(col: p.Column, x, value) -> bool:
    """An element of ``col``'s type equal to a constant (numbers numerically)."""
    if col.kind == p.BOOL:
        return type(value) is bool and x == value
    if col.kind == p.STRING:
        return type(value) is str and x == value
    if type(value) not in (int, float):
        return False
    if col.is_float32:
        return bool(_f32(x) == _f32(value))
    if col.kind == p.INT and type(value) is float:
        return float(value).is_integer() and x == int(value)
    return x == value if col.kind == p.INT else float(x) == float(value)


def _int_arith(op: str, x: int, y: int) -> int:
    if op == "+":
        return wrap64(x + y)
    if op == "-":
        return wrap64(x - y)
    if op == "*":
        return wrap64(x * y)
    if op == "/":
        return c_div(x, y)
    return wrap64(c_mod(x, y))


def _float_arith(op: str, x, y):
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    return x / y


def evaluate_reference(pred: p.Pred, table: pa.Table) -> np.ndarray:
    """The rows of ``table`` where ``pred`` is true, computed row by row."""
    return ReferenceEvaluator(table).run(pred)
