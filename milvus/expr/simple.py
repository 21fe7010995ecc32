"""A small filter language over scalar fields: ``a == 1``, ``b in [1, 2]``, ``c not in [..]``,
``<``/``<=``/``>``/``>=``/``!=``, chained comparisons, ``and``/``&&``, ``or``/``||``,
``not``/``!``, parentheses, ``true``/``false``, string literals in single or double quotes.

The expression is rewritten into Python syntax and parsed with ``ast``; only the node kinds
listed above are accepted, and evaluation is vectorised with ``pyarrow.compute``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.errors import ParameterInvalid
from milvus.schema import CollectionSchemaModel

_WORDS = re.compile(r"\b(AND|OR|NOT|IN|TRUE|FALSE|and|or|not|in|true|false|True|False)\b")
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_COMPARE = {
    ast.Eq: pc.equal, ast.NotEq: pc.not_equal, ast.Lt: pc.less, ast.LtE: pc.less_equal,
    ast.Gt: pc.greater, ast.GtE: pc.greater_equal,
}
_FLIPPED = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


def _to_python(expr: str) -> str:
    """Milvus operators to Python ones, leaving string literals alone."""
    out, last = [], 0
    for match in _STRINGS.finditer(expr):
        out.append(_rewrite(expr[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_rewrite(expr[last:]))
    return "".join(out)


def _rewrite(code: str) -> str:
    code = code.replace("&&", " and ").replace("||", " or ")
    code = re.sub(r"!(?!=)", " not ", code)
    return _WORDS.sub(lambda m: {"true": "True", "false": "False"}.get(m.group(1).lower(), m.group(1).lower()), code)


def _parse(expr: str) -> ast.expr:
    try:
        return ast.parse(_to_python(expr).strip(), mode="eval").body
    except SyntaxError as exc:
        raise ParameterInvalid(f"failed to create query plan: cannot parse expression: {expr}, "
                               f"error: {exc.msg}") from None


def _literal(node: ast.expr, templates: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, templates)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, templates) for e in node.elts]
    if isinstance(node, ast.Set) and len(node.elts) == 1 and isinstance(node.elts[0], ast.Name):
        name = node.elts[0].id
        if name in templates:
            return templates[name]
        raise ParameterInvalid(f"the template variable {name} has no value")
    raise ParameterInvalid(f"unsupported expression: {ast.unparse(node)}")


def _template_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Template values as Python values (``schema_pb2.TemplateValue`` or plain)."""
    out = {}
    for key, value in values.items():
        if hasattr(value, "WhichOneof"):
            kind = value.WhichOneof("val")
            raw = getattr(value, kind) if kind else None
            if kind == "array_val":
                inner = raw.WhichOneof("data")
                raw = list(getattr(raw, inner).data) if inner else []
            value = raw
        out[key] = value
    return out


class _Compiled:
    def __init__(self, schema: CollectionSchemaModel, tree: ast.expr, templates: Mapping[str, Any]):
        self._schema = schema
        self._tree = tree
        self._templates = templates
        self._check(tree)

    def _check(self, node: ast.expr) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id not in ("True", "False"):
                if not self._schema.has_field(sub.id) and not self._in_template(node, sub):
                    raise ParameterInvalid(f"failed to create query plan: cannot parse expression, "
                                           f"field {sub.id} not exist")

    @staticmethod
    def _in_template(root: ast.expr, name: ast.Name) -> bool:
        return any(isinstance(s, ast.Set) and name in s.elts for s in ast.walk(root))

    def __call__(self, table: pa.Table) -> np.ndarray:
        result = self._eval(self._tree, table)
        if isinstance(result, bool):
            return np.full(table.num_rows, result)
        return np.asarray(pc.fill_null(result, False).to_numpy(zero_copy_only=False), dtype=bool)

    def _eval(self, node: ast.expr, table: pa.Table) -> Any:
        if isinstance(node, ast.BoolOp):
            parts = [self._eval(v, table) for v in node.values]
            fn = pc.and_kleene if isinstance(node.op, ast.And) else pc.or_kleene
            acc = parts[0]
            for part in parts[1:]:
                acc = fn(self._mask(acc, table), self._mask(part, table))
            return acc
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return pc.invert(self._mask(self._eval(node.operand, table), table))
        if isinstance(node, ast.Compare):
            acc = None
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                part = self._compare(left, op, right, table)
                acc = part if acc is None else pc.and_kleene(acc, part)
                left = right
            return acc
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return node.value
        if isinstance(node, ast.Name) and self._schema.has_field(node.id):
            return self._column(node.id, table)
        raise ParameterInvalid(f"unsupported expression: {ast.unparse(node)}")

    def _mask(self, value: Any, table: pa.Table) -> Any:
        if isinstance(value, bool):
            return pa.array(np.full(table.num_rows, value))
        return value

    def _column(self, name: str, table: pa.Table) -> Any:
        if name not in table.column_names:
            info = self._schema.field(name)
            return pa.nulls(table.num_rows, type=info.arrow_type)
        return table.column(name)

    def _compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr, table: pa.Table) -> Any:
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(left, ast.Name):
                raise ParameterInvalid(f"the left side of 'in' must be a field: {ast.unparse(left)}")
            values = _literal(right, self._templates)
            if not isinstance(values, list):
                raise ParameterInvalid(f"'in' needs a list: {ast.unparse(right)}")
            column = self._column(left.id, table)
            found = pc.is_in(column, value_set=pa.array(values, type=column.type)) if values else \
                pa.array(np.zeros(table.num_rows, dtype=bool))
            return pc.invert(found) if isinstance(op, ast.NotIn) else found
        kind = type(op)
        if kind not in _COMPARE:
            raise ParameterInvalid(f"unsupported operator in {ast.unparse(op) if hasattr(op, '_fields') else op}")
        if isinstance(left, ast.Name) and self._schema.has_field(left.id):
            column, value = self._column(left.id, table), _literal(right, self._templates)
        elif isinstance(right, ast.Name) and self._schema.has_field(right.id):
            column, value = self._column(right.id, table), _literal(left, self._templates)
            kind = _FLIPPED[kind]
        else:
            raise ParameterInvalid("a comparison needs a field on one side")
        try:
            return _COMPARE[kind](column, pa.scalar(value).cast(column.type) if not isinstance(value, str)
                                  else pa.scalar(value))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise ParameterInvalid(f"cannot compare field with {value!r}: {exc}") from None


def compile_simple(schema: CollectionSchemaModel, expr: str, template_values: Mapping[str, Any]) -> _Compiled:
    """A row filter for ``expr`` (the query node's ``FilterCompiler``)."""
    return _Compiled(schema, _parse(expr), _template_values(template_values or {}))


def pk_terms(expr: str, pk_name: str, template_values: Mapping[str, Any] | None = None) -> list | None:
    """The keys of ``pk in [..]`` / ``pk == v`` (the whole expression), else None."""
    if not expr.strip():
        return None
    try:
        node = ast.parse(_to_python(expr).strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name)
            and node.left.id == pk_name):
        return None
    templates = _template_values(template_values or {})
    try:
        value = _literal(node.comparators[0], templates)
    except ParameterInvalid:
        return None
    if isinstance(node.ops[0], ast.In) and isinstance(value, list):
        return value
    if isinstance(node.ops[0], ast.Eq) and not isinstance(value, list):
        return [value]
    return None
