"""The syntax tree of a filter expression: frozen dataclasses that remember where in the
source they came from (``start``/``end`` offsets) and how deep they are (``depth``).

The tree is what the parser saw, untyped: whether ``color`` is a field or a key of the
dynamic field, and whether ``a + 1 == 2`` is allowed, is the checker's business.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Node:
    start: int
    end: int
    depth: int = 1


@dataclass(frozen=True)
class Literal(Node):
    value: int | float | str | bool


@dataclass(frozen=True)
class ArrayLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Template(Node):
    name: str


@dataclass(frozen=True)
class Ident(Node):
    """A bare name: a field, or a key of the dynamic field."""

    name: str


@dataclass(frozen=True)
class Meta(Node):
    """``$meta``: the dynamic field itself."""


@dataclass(frozen=True)
class Index(Node):
    """``base["key"]`` or ``base[3]``."""

    base: Node
    key: str | int


@dataclass(frozen=True)
class Unary(Node):
    op: str  # + - ~ not
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / % ** << >> & | ^
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True)
class Range(Node):
    """``lower op1 middle op2 upper`` with both operators pointing the same way."""

    lower: Node
    op1: str
    middle: Node
    op2: str
    upper: Node


@dataclass(frozen=True)
class In(Node):
    operand: Node
    values: Node
    negated: bool


@dataclass(frozen=True)
class Like(Node):
    operand: Node
    pattern: Node


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool


@dataclass(frozen=True)
class Exists(Node):
    operand: Node


@dataclass(frozen=True)
class Call(Node):
    name: str  # lower case
    args: tuple[Node, ...]
    options: tuple[tuple[str, Node], ...] = ()  # name=value arguments (text_match)


@dataclass(frozen=True)
class Logical(Node):
    """``and``/``or`` over two or more operands (a chain of one operator is one node)."""

    op: str  # and or
    items: tuple[Node, ...]


def is_field_ref(node: Node) -> bool:
    """An identifier, ``$meta``, or either of them indexed (``a["b"][0]``)."""
    while isinstance(node, Index):
        node = node.base
    return isinstance(node, (Ident, Meta))
