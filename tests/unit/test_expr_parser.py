"""Tokens and syntax trees of the filter language: literals, escapes, Milvus' precedence,
source positions."""

from __future__ import annotations

import pytest

from milvus.expr import nodes as n
from milvus.expr.errors import ExprError
from milvus.expr.lexer import tokenize
from milvus.expr.parser import parse


def _values(source: str) -> list:
    return [(t.kind, t.value) for t in tokenize(source)[:-1]]


@pytest.mark.parametrize(("source", "value"), [
    ("42", 42), ("0", 0), ("017", 15), ("0x1F", 31), ("0b101", 5), ("9223372036854775807", 2**63 - 1),
    ("1.5", 1.5), (".5", 0.5), ("1.", 1.0), ("1e3", 1000.0), ("2.5E-1", 0.25),
    ("'a\\'b'", "a'b"), ('"a\\"b"', 'a"b'), ('"tab\\there"', "tab\there"), ('"\\u00e9"', "é"),
    ('"\\x41\\101"', "AA"), ('"100\\%"', "100\\%"), ('"a\\\\%"', "a\\%"), ('r"a\\n"', "a\\n"),
    ("'é'", "é"), ("true", True), ("False", False), ("TRUE", True),
])
def test_literals(source, value):
    (kind, got), = _values(source)
    assert got == value and type(got) is type(value)


def test_keywords_operators_and_names():
    assert _values("a and b AND c && d or e OR f || !g not h") == [
        ("ident", "a"), ("kw", "and"), ("ident", "b"), ("kw", "AND"), ("ident", "c"), ("kw", "&&"), ("ident", "d"),
        ("kw", "or"), ("ident", "e"), ("kw", "OR"), ("ident", "f"), ("kw", "||"), ("kw", "!"), ("ident", "g"),
        ("kw", "not"), ("ident", "h")]
    assert [t.text for t in tokenize("a is null b IS NOT NULL c != d")[:-1]] == [
        "a", "is null", "b", "is not null", "c", "!=", "d"]
    assert [t.text for t in tokenize("$meta['x'] ** 2 <= 3")[:-1]] == ["$meta", "[", "'x'", "]", "**", "2", "<=", "3"]
    assert [t.kind for t in tokenize("island nullable")[:-1]] == ["ident", "ident"]


@pytest.mark.parametrize(("source", "message", "position"), [
    ("'abc", "unterminated string literal", 0),
    ("a == 09", "invalid octal literal", 5),
    ("a == 1x", "invalid number literal '1x'", 5),
    ("a == '\\u12'", "invalid escape", 6),
    ("a @ 1", "token recognition error at: '@'", 2),
    ("$other", "only $meta may start with $", 0),
    ("a == 99999999999999999999", "out of the int64 range", 5),
])
def test_lexer_errors_have_positions(source, message, position):
    with pytest.raises(ExprError) as info:
        tokenize(source)
    assert message in info.value.message
    assert info.value.start == position


def _shape(node: n.Node) -> str:
    """A node as a fully parenthesised string."""
    if isinstance(node, n.Literal):
        return repr(node.value)
    if isinstance(node, n.Ident):
        return node.name
    if isinstance(node, n.Meta):
        return "$meta"
    if isinstance(node, n.Template):
        return "{" + node.name + "}"
    if isinstance(node, n.Index):
        return f"{_shape(node.base)}[{node.key!r}]"
    if isinstance(node, n.ArrayLit):
        return "[" + ", ".join(_shape(i) for i in node.items) + "]"
    if isinstance(node, n.Unary):
        return f"({node.op} {_shape(node.operand)})"
    if isinstance(node, (n.Binary, n.Compare)):
        return f"({_shape(node.left)} {node.op} {_shape(node.right)})"
    if isinstance(node, n.Range):
        return f"({_shape(node.lower)} {node.op1} {_shape(node.middle)} {node.op2} {_shape(node.upper)})"
    if isinstance(node, n.In):
        return f"({_shape(node.operand)} {'not in' if node.negated else 'in'} {_shape(node.values)})"
    if isinstance(node, n.Like):
        return f"({_shape(node.operand)} like {_shape(node.pattern)})"
    if isinstance(node, n.IsNull):
        return f"({_shape(node.operand)} is {'not ' if node.negated else ''}null)"
    if isinstance(node, n.Exists):
        return f"(exists {_shape(node.operand)})"
    if isinstance(node, n.Call):
        return f"{node.name}(" + ", ".join(_shape(a) for a in node.args) + ")"
    assert isinstance(node, n.Logical)
    return "(" + f" {node.op} ".join(_shape(i) for i in node.items) + ")"


@pytest.mark.parametrize(("source", "shape"), [
    ("a == 1 or b == 2 and c == 3", "((a == 1) or ((b == 2) and (c == 3)))"),
    ("a == 1 and b == 2 and c == 3", "((a == 1) and (b == 2) and (c == 3))"),
    ("a or b and c or d", "(a or (b and c) or d)"),
    ("not a == 1", "((not a) == 1)"),
    ("not (a == 1)", "(not (a == 1))"),
    ("!a && b", "((not a) and b)"),
    ("a + 1 * 2 == 3", "((a + (1 * 2)) == 3)"),
    ("a - 1 - 2 > 0", "(((a - 1) - 2) > 0)"),
    ("2 ** 3 ** 2 == a", "(((2 ** 3) ** 2) == a)"),
    ("-2 ** 2 < a", "((- (2 ** 2)) < a)"),
    ("-a * 2 < 1", "(((- a) * 2) < 1)"),
    ("1 < a <= 2", "(1 < a <= 2)"),
    ("3 >= j['x'] > 1", "(3 >= j['x'] > 1)"),
    ("1 < a > 0", "((1 < a) > 0)"),
    ("a < b == c < d", "((a < b) == (c < d))"),
    ("a in [1, 2] and b not in []", "((a in [1, 2]) and (b not in []))"),
    ("a + 1 in [2]", "((a + 1) in [2])"),
    ("a like 'x%' or b", "((a like 'x%') or b)"),
    ("not a like 'x'", "(not (a like 'x'))"),
    ("m['a'][0] is not null and n is null", "((m['a'][0] is not null) and (n is null))"),
    ("exists $meta['k'] and x", "((exists $meta['k']) and x)"),
    ("json_contains(x, [1, 'a'],) or array_length(y) == 0", "(json_contains(x, [1, 'a']) or (array_length(y) == 0))"),
    ("{t} < a", "({t} < a)"),
    ("((a))", "a"),
])
def test_precedence_is_milvus(source, shape):
    assert _shape(parse(source)) == shape


def test_nodes_remember_where_they_are():
    tree = parse("x > 1 and  color like 'r%'")
    assert isinstance(tree, n.Logical)
    compare, like = tree.items
    assert (compare.start, compare.end) == (0, 5)
    assert (like.start, like.end) == (11, 26)
    assert (like.pattern.start, like.pattern.end) == (22, 26)


@pytest.mark.parametrize(("source", "message", "position"), [
    ("", "the expression is empty", 0),
    ("a >", "mismatched input '<EOF>' expecting an operand", 3),
    ("a > > 1", "mismatched input '>' expecting an operand", 4),
    ("(a > 1", "mismatched input '<EOF>' expecting ')'", 6),
    ("a[", "expecting a JSON key in quotes or a non-negative decimal array index", 2),
    ("a[1.5]", "expecting a JSON key", 2),
    ("a['k'", "mismatched input '<EOF>' expecting ']'", 5),
    ("{1}", "expecting a template variable name", 1),
    ("f(a, b=1, c)", "a positional argument cannot follow a named one", 10),
    ("a b", "extraneous input 'b' expecting <EOF>", 2),
    ("a not like 'x'", "extraneous input 'not'", 2),
])
def test_syntax_errors(source, message, position):
    with pytest.raises(ExprError) as info:
        parse(source)
    assert message in info.value.message
    assert info.value.start == position
    assert info.value.detail(source).startswith(f"line 1:{position} ")
