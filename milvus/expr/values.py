"""Constants: template values from requests, folding of constant sub-expressions (Milvus'
``operators.go``: integers stay int64 and wrap, ``/`` and ``%`` of integers truncate,
``**`` is always a float), and the value helpers both evaluators share."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from milvus.expr.plan import Value

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def wrap64(value: int) -> int:
    """``value`` as a two's complement int64 (how Go and C++ overflow)."""
    return ((value - INT64_MIN) % 2**64) + INT64_MIN


def is_int(value: object) -> bool:
    return type(value) is int


def is_float(value: object) -> bool:
    return type(value) is float


def is_number(value: object) -> bool:
    return type(value) in (int, float)


def c_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, wrapping in int64."""
    q = abs(a) // abs(b)
    return wrap64(q if (a < 0) == (b < 0) else -q)


def c_mod(a: int, b: int) -> int:
    """The remainder of :func:`c_div` (the sign of the dividend)."""
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def type_label(value: Value) -> str:
    """Milvus' name for the type of a constant."""
    if isinstance(value, bool):
        return "Bool"
    if isinstance(value, int):
        return "Int64"
    if isinstance(value, float):
        return "Double"
    if isinstance(value, str):
        return "VarChar"
    return "Array"


def show(value: Value) -> str:
    """A constant as the user would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


class FoldError(ValueError):
    """A constant expression that has no value (``1 / 0``, ``"a" + 1``)."""


def arith(op: str, a: Value, b: Value) -> int | float:
    if not (is_number(a) and is_number(b)):
        verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo", "**": "power"}[op]
        raise FoldError(f"cannot {verb} {type_label(a)} and {type_label(b)}")
    if op == "**":
        try:
            return math.pow(float(a), float(b))  # type: ignore[arg-type]
        except (OverflowError, ValueError):
            raise FoldError(f"{show(a)} ** {show(b)} has no float value") from None
    if op == "%":
        if not (is_int(a) and is_int(b)):
            raise FoldError("modulo can only apply on integer")
        if b == 0:
            raise FoldError("cannot modulo by zero")
        return c_mod(a, b)  # type: ignore[arg-type]
    if op == "/" and b == 0:
        raise FoldError("cannot divide by zero")
    if is_int(a) and is_int(b):
        if op == "+":
            return wrap64(a + b)  # type: ignore[operator]
        if op == "-":
            return wrap64(a - b)  # type: ignore[operator]
        if op == "*":
            return wrap64(a * b)  # type: ignore[operator]
        return c_div(a, b)  # type: ignore[arg-type]
    x, y = float(a), float(b)  # type: ignore[arg-type]
    try:
        return {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else math.copysign(math.inf, x)}[op]
    except OverflowError:
        raise FoldError(f"{show(a)} {op} {show(b)} overflows") from None


def compare(op: str, a: Value, b: Value) -> bool:
    """Two constants compared (numbers with numbers, strings with strings, booleans with
    booleans for ``==``/``!=``)."""
    if is_number(a) and is_number(b):
        x, y = (a, b) if is_int(a) and is_int(b) else (float(a), float(b))  # type: ignore[arg-type]
    elif isinstance(a, str) and isinstance(b, str):
        x, y = a, b
    elif isinstance(a, bool) and isinstance(b, bool) and op in ("==", "!="):
        x, y = a, b
    else:
        raise FoldError(f"comparison operations cannot be applied to two incompatible operands: "
                        f"{show(a)} {op} {show(b)}")
    return {"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]  # type: ignore[operator]


def json_equal(x: object, value: Value) -> bool:
    """A decoded JSON value equal to a constant: same kind; numbers as in comparisons
    (two int64 integers exactly, otherwise as float64), arrays element by element."""
    if isinstance(value, bool):
        return type(x) is bool and x == value
    if isinstance(value, str):
        return type(x) is str and x == value
    if isinstance(value, tuple):
        return type(x) is list and len(x) == len(value) and all(json_equal(a, b) for a, b in zip(x, value, strict=True))
    if type(x) is int and INT64_MIN <= x <= INT64_MAX:
        return x == value if type(value) is int else float(x) == value
    if type(x) in (int, float):
        return _float(x) == float(value)
    return False


def _float(x: int | float) -> float:
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


# ---- template values ------------------------------------------------------------------

def _array_value(array: Any) -> tuple:
    kind = array.WhichOneof("data")
    if kind is None:
        return ()
    data = getattr(array, kind)
    if kind == "array_data":
        return tuple(_array_value(a) for a in data.data)
    if kind == "json_data":
        return tuple(from_json(json.loads(raw)) for raw in data.data)
    return tuple(from_json(v) for v in data.data)


def from_json(value: Any) -> Value:
    """A decoded JSON (or plain Python) value as a constant: lists become tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(from_json(v) for v in value)
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"unsupported template value {value!r}")


def template_values(values: Mapping[str, Any] | None) -> dict[str, Value]:
    """Template values as constants (``schema_pb2.TemplateValue`` messages or plain values)."""
    out: dict[str, Value] = {}
    for key, value in (values or {}).items():
        if hasattr(value, "WhichOneof"):
            kind = value.WhichOneof("val")
            if kind is None:
                raise TypeError(f"template variable {key} has no value")
            raw = getattr(value, kind)
            out[key] = _array_value(raw) if kind == "array_val" else from_json(raw)
        else:
            out[key] = from_json(value)
    return out


# ---- like and text match --------------------------------------------------------------

def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a regular expression: ``%`` any run, ``_`` one character, ``\\`` escapes."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)

