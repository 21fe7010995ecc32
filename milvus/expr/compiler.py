"""The filter compiler the query node plugs in (``querynode.filters.FilterCompiler``):
text -> tokens -> syntax tree -> checked plan -> a row filter that evaluates the plan
vectorised over a segment's Arrow table.  Also ``pk_terms``, the proxy's shortcut that
turns ``pk in [..]`` / ``pk == v`` into a primary-key lookup."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from milvus.errors import ParameterInvalid
from milvus.expr import nodes as n
from milvus.expr import plan as p
from milvus.expr.checker import Checker, check
from milvus.expr.errors import PREFIX, ExprError, to_milvus
from milvus.expr.lexer import INT64_MAX, KEYWORDS_AND_BOOLS
from milvus.expr.parser import parse
from milvus.expr.reference import evaluate_reference
from milvus.expr.values import template_values
from milvus.expr.vectorized import evaluate
from milvus.schema import CollectionSchemaModel, FieldInfo

_KEY_LIMIT = 4096  # characters of a plan's text above which its masks are not cached


class CompiledFilter:
    """A checked filter: call it with a table of the stored schema for its bool mask."""

    def __init__(self, expr: str, plan: p.Pred):
        self.expr = expr
        self.plan = plan

    def __repr__(self) -> str:
        return f"CompiledFilter({self.expr!r})"

    @functools.cached_property
    def cache_key(self) -> str | None:
        """The plan's full text (types, casts, constants: ``1`` and ``True`` differ), for the
        query node's per-segment filter masks; None for a very long plan (a large term list
        is unlikely to come again)."""
        text = repr(self.plan)
        return text if len(text) <= _KEY_LIMIT else None

    def __call__(self, table: pa.Table, indexes: Mapping[str, Any] | None = None) -> np.ndarray:
        """The mask over ``table``; ``indexes``: scalar indexes over exactly its rows, by column."""
        return evaluate(self.plan, table, indexes)

    def reference(self, table: pa.Table) -> np.ndarray:
        """The same mask from the slow row-by-row evaluator (for tests)."""
        return evaluate_reference(self.plan, table)


def _templates(expr: str, values: Mapping[str, Any] | None) -> dict:
    try:
        return template_values(values)
    except (TypeError, ValueError) as exc:
        raise ParameterInvalid(f"{PREFIX}: {expr}, error: invalid template value: {exc}") from None


def compile_plan(schema: CollectionSchemaModel, expr: str, template_values: Mapping[str, Any] | None = None) -> p.Pred:
    """The checked plan of ``expr`` (``ParameterInvalid`` for a bad expression)."""
    templates = _templates(expr, template_values)
    try:
        return check(parse(expr), schema, expr, templates)
    except ExprError as exc:
        raise to_milvus(exc, expr) from None


def compile_filter(schema: CollectionSchemaModel, expr: str,
                   template_values: Mapping[str, Any] | None = None) -> CompiledFilter:
    """A row filter for ``expr`` (the query node's ``FilterCompiler``)."""
    return CompiledFilter(expr, compile_plan(schema, expr, template_values))


def _fits(value: object, pk: FieldInfo | None) -> bool:
    if pk is None:
        return type(value) in (int, str)
    return type(value) is (str if pk.type_name in ("VarChar", "String") else int)


# ``field in [..]`` with a list of plain decimal integers or of quoted strings without escapes:
# what pymilvus sends for ``get``/``delete`` by ids (``id in [1,2,3]``, ``pk in ['a','b']``)
_SP = r"[ \t\r\n]*"  # the lexer's whitespace
_SIMPLE_IN = re.compile(rf"{_SP}([A-Za-z_][A-Za-z0-9_]*)[ \t\r\n]+(?:in|IN){_SP}\[([^\[\]]*)\]{_SP}")
_INT = r"-?(?:0|[1-9][0-9]*)"  # no octal, hex or binary spellings
_INTS = re.compile(rf"{_SP}{_INT}(?:{_SP},{_SP}{_INT})*{_SP}")
_QUOTED = r"'[^'\\\r\n]*'" + "|" + r'"[^"\\\r\n]*"'  # no escapes, no line breaks
_STRS = re.compile(rf"{_SP}(?:{_QUOTED})(?:{_SP},{_SP}(?:{_QUOTED}))*{_SP}")
_STR = re.compile(_QUOTED)


def _simple_terms(expr: str) -> tuple[str, list] | None:
    """(field, values) of ``field in [..]`` spelled in the simplest way (see ``_SIMPLE_IN``),
    read without the tokenizer and parser (a 100-key list went through them in ~1.3 ms); None
    for anything else, which the general path then reads (to the same result)."""
    match = _SIMPLE_IN.fullmatch(expr)
    if match is None:
        return None
    name, body = match.group(1), match.group(2)
    if name in KEYWORDS_AND_BOOLS:
        return None
    if _INTS.fullmatch(body):
        values: list = [int(text) for text in body.split(",")]
        if min(values) < -INT64_MAX or max(values) > INT64_MAX:
            return None  # out of range: the general path says so
        return name, values
    if _STRS.fullmatch(body):
        return name, [text[1:-1] for text in _STR.findall(body)]
    return None


def pk_terms(expr: str, pk: str | FieldInfo, template_values: Mapping[str, Any] | None = None) -> list | None:
    """The keys of an expression that is exactly ``pk in [..]`` or ``pk == v`` (either side),
    else None (then the expression is a filter like any other)."""
    simple = None if template_values else _simple_terms(expr)
    if simple is not None:
        return _fitting(simple[1], pk) if simple[0] == (pk.name if isinstance(pk, FieldInfo) else pk) else None
    parsed = _parsed(expr, template_values)
    if parsed is None:
        return None
    tree, templates = parsed
    return _term_values(tree, pk, expr, templates)


def field_terms(expr: str, field: FieldInfo, template_values: Mapping[str, Any] | None = None) -> set | None:
    """The values ``field`` can take in the rows ``expr`` keeps, when the expression is a
    term on it (``field in [..]`` / ``field == v``) or an ``and`` with such terms among its
    operands (their intersection); None when it says nothing that simple about the field.
    What a partition-key collection's reads prune their partitions by."""
    simple = None if template_values else _simple_terms(expr)
    if simple is not None:
        values = _fitting(simple[1], field) if simple[0] == field.name else None
        return set(values) if values is not None else None
    parsed = _parsed(expr, template_values)
    if parsed is None:
        return None
    tree, templates = parsed
    operands = tree.items if isinstance(tree, n.Logical) and tree.op == "and" else (tree,)
    found: set | None = None
    for operand in operands:
        values = _term_values(operand, field, expr, templates)
        if values is not None:
            found = set(values) if found is None else found & set(values)
    return found


_TERM_SIGNS = re.compile(r"==|\b(?:in|IN)\b")  # a term is ``in`` or ``==``: neither, no term


def _parsed(expr: str, template_values: Mapping[str, Any] | None) -> tuple[n.Node, dict] | None:
    if not expr.strip() or not _TERM_SIGNS.search(expr):
        return None  # not parsed just to learn that (a range filter, say) it names no term
    try:
        return parse(expr), (template_values and _templates(expr, template_values) or {})
    except (ExprError, ParameterInvalid):
        return None


def _term_values(tree: n.Node, field: str | FieldInfo, expr: str, templates: dict) -> list | None:
    """The values of ``tree`` when it is ``field in [..]`` or ``field == v``, else None."""
    name = field.name if isinstance(field, FieldInfo) else field
    if isinstance(tree, n.In) and not tree.negated and isinstance(tree.operand, n.Ident) and tree.operand.name == name:
        values_node = tree.values
    elif isinstance(tree, n.Compare) and tree.op == "==":
        if isinstance(tree.left, n.Ident) and tree.left.name == name:
            values_node = tree.right
        elif isinstance(tree.right, n.Ident) and tree.right.name == name:
            values_node = tree.left
        else:
            return None
    else:
        return None
    try:
        typed = Checker(None, expr, templates).visit(values_node)  # type: ignore[arg-type]
    except ExprError:
        return None
    value = getattr(typed, "value", None)
    if value is None:
        return None
    keys = list(value) if isinstance(tree, n.In) else [value]
    if isinstance(tree, n.In) and not isinstance(value, tuple):
        return None
    return _fitting(keys, field)


def _fitting(keys: list, field: str | FieldInfo) -> list | None:
    """``keys`` when all are of one type that ``field`` (a name: int or str) can hold, else None."""
    kinds = set(map(type, keys))
    if len(kinds) > 1:
        return None
    if kinds and not _fits(keys[0], field if isinstance(field, FieldInfo) else None):
        return None
    return keys
