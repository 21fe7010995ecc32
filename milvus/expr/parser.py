"""A precedence-climbing parser with Milvus' grammar (``Plan.g4``) and its precedence.

From the tightest binding to the loosest (as the alternatives of ``Plan.g4``'s ``expr``
are ordered; binary operators are left associative)::

    primary     literal, [array], {template}, (expr), field, field["key"][0],
                field is [not] null, function(args), exists <primary>
    like        a like "pattern"
    **          2 ** 3 ** 2 == (2 ** 3) ** 2
    unary       + - ~ not !      (the operand binds only ** and like: ``not a == 1`` is
                                  ``(not a) == 1``; write ``not (a == 1)``)
    * / %
    + -
    << >>                        (parsed, refused by the checker)
    in, not in
    < <= > >=                    ``lower < field <= upper`` is one range
    == !=
    &  ^  |                      (parsed, refused by the checker)
    and &&
    or ||

Nesting deeper than ``MAX_DEPTH`` is refused, so neither the parser nor the passes after
it can run out of stack.
"""

from __future__ import annotations

from milvus.expr import nodes as n
from milvus.expr.errors import ExprError
from milvus.expr.lexer import Token, tokenize

MAX_DEPTH = 96

_INFIX = {
    "or": 1, "and": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, "<=": 7, ">": 7, ">=": 7,
    "in": 8, "not in": 8, "<<": 9, ">>": 9, "+": 10, "-": 10, "*": 11, "/": 11, "%": 11, "**": 13, "like": 14,
}
_UNARY = 12
_EXISTS = 15
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}
_UPWARD, _DOWNWARD = {"<", "<="}, {">", ">="}
_OPERAND = "an operand (a field, a literal, '(', '[', '{template}', 'not', 'exists' or a function call)"


class Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.nesting = 0

    # ---- tokens -----------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def _peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def _advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def _text(self, tok: Token) -> str:
        return "<EOF>" if tok.kind == "eof" else self.source[tok.start:tok.end]

    def _is(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def _expect_op(self, text: str, what: str | None = None) -> Token:
        if not self._is("op", text):
            raise ExprError(f"mismatched input '{self._text(self.tok)}' expecting {what or repr(text)}",
                            self.tok.start, syntax=True)
        return self._advance()

    @staticmethod
    def _depth(*children: n.Node) -> int:
        depth = 1 + max((c.depth for c in children), default=0)
        if depth > MAX_DEPTH:
            node = children[0]
            raise ExprError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)", node.start)
        return depth

    # ---- grammar ----------------------------------------------------------------

    def parse(self) -> n.Node:
        node = self.expr(0)
        if self.tok.kind != "eof":
            tok = self.tok
            hint = " ('is null' can only follow a field name)" if tok.text in ("is null", "is not null") else ""
            raise ExprError(f"extraneous input '{self._text(tok)}' expecting <EOF> or an operator{hint}",
                            tok.start, syntax=True)
        return node

    def _infix_op(self) -> str | None:
        tok = self.tok
        if tok.kind == "op" and tok.text in _INFIX:
            return tok.text
        if tok.kind == "kw":
            if tok.text in ("and", "or", "in", "like"):
                return tok.text
            if tok.text == "not" and self._peek().kind == "kw" and self._peek().text == "in":
                return "not in"
        return None

    def expr(self, min_bp: int) -> n.Node:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise ExprError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)",
                            self.tok.start)
        try:
            left = self._prefix()
            while True:
                op = self._infix_op()
                if op is None or _INFIX[op] < min_bp:
                    return left
                left = self._infix(op, left)
        finally:
            self.nesting -= 1

    def _infix(self, op: str, left: n.Node) -> n.Node:
        bp = _INFIX[op]
        self._advance()
        if op == "not in":
            self._advance()
        if op in ("and", "or"):
            items = [left]
            right = self.expr(bp + 1)
            items.append(right)
            while self._infix_op() == op:
                self._advance()
                items.append(self.expr(bp + 1))
            if isinstance(left, n.Logical) and left.op == op:  # only reached after a looser operator
                items = [*left.items, *items[1:]]
            return n.Logical(op=op, items=tuple(items), start=items[0].start, end=items[-1].end,
                             depth=self._depth(*items))
        right = self.expr(bp + 1)
        span = {"start": left.start, "end": right.end}
        if op in ("in", "not in"):
            return n.In(operand=left, values=right, negated=op == "not in", depth=self._depth(left, right), **span)
        if op == "like":
            return n.Like(operand=left, pattern=right, depth=self._depth(left, right), **span)
        if op in _COMPARE:
            direction = _UPWARD if op in _UPWARD else _DOWNWARD if op in _DOWNWARD else None
            op2 = self.tok.text if self.tok.kind == "op" else None
            if direction and n.is_field_ref(right) and op2 in direction:
                self._advance()
                upper = self.expr(bp + 1)
                return n.Range(lower=left, op1=op, middle=right, op2=op2, upper=upper, start=left.start,
                               end=upper.end, depth=self._depth(left, right, upper))
            return n.Compare(op=op, left=left, right=right, depth=self._depth(left, right), **span)
        return n.Binary(op=op, left=left, right=right, depth=self._depth(left, right), **span)

    def _prefix(self) -> n.Node:
        tok = self.tok
        if tok.kind == "kw" and tok.text == "not" or tok.kind == "op" and tok.text in ("+", "-", "~"):
            self._advance()
            operand = self.expr(_UNARY)
            return n.Unary(op=tok.text, operand=operand, start=tok.start, end=operand.end,
                           depth=self._depth(operand))
        if tok.kind == "kw" and tok.text == "exists":
            self._advance()
            operand = self.expr(_EXISTS)
            return n.Exists(operand=operand, start=tok.start, end=operand.end, depth=self._depth(operand))
        return self._primary()

    def _primary(self) -> n.Node:
        tok = self.tok
        if tok.kind in ("int", "float", "str", "bool"):
            self._advance()
            return n.Literal(value=tok.value, start=tok.start, end=tok.end)  # type: ignore[arg-type]
        if tok.kind == "ident" and self._peek().kind == "op" and self._peek().text == "(":
            return self._call()
        if tok.kind in ("ident", "meta"):
            return self._field()
        if tok.kind == "op" and tok.text == "(":
            self._advance()
            inner = self.expr(0)
            self._expect_op(")")
            return inner
        if tok.kind == "op" and tok.text == "[":
            return self._array()
        if tok.kind == "op" and tok.text == "{":
            self._advance()
            name = self.tok
            if name.kind != "ident":
                raise ExprError(f"mismatched input '{self._text(name)}' expecting a template variable name",
                                name.start, syntax=True)
            self._advance()
            close = self._expect_op("}")
            return n.Template(name=str(name.value), start=tok.start, end=close.end)
        raise ExprError(f"mismatched input '{self._text(tok)}' expecting {_OPERAND}", tok.start, syntax=True)

    def _field(self) -> n.Node:
        tok = self._advance()
        node: n.Node = (n.Ident(name=str(tok.value), start=tok.start, end=tok.end) if tok.kind == "ident"
                        else n.Meta(start=tok.start, end=tok.end))
        while self._is("op", "["):
            self._advance()
            key = self.tok
            if key.kind not in ("str", "int") or key.kind == "int" and not key.text.isdigit():
                raise ExprError(f"mismatched input '{self._text(key)}' expecting a JSON key in quotes "
                                "or a non-negative decimal array index", key.start, syntax=True)
            self._advance()
            close = self._expect_op("]")
            node = n.Index(base=node, key=key.value, start=node.start, end=close.end,  # type: ignore[arg-type]
                           depth=self._depth(node))
        if self.tok.kind == "kw" and self.tok.text in ("is null", "is not null"):
            check = self._advance()
            node = n.IsNull(operand=node, negated=check.text == "is not null", start=node.start, end=check.end,
                            depth=self._depth(node))
        return node

    def _array(self) -> n.Node:
        open_ = self._advance()
        items: list[n.Node] = []
        while not self._is("op", "]"):
            items.append(self.expr(0))
            if self._is("op", ","):
                self._advance()
                continue
            if not self._is("op", "]"):
                raise ExprError(f"mismatched input '{self._text(self.tok)}' expecting ',' or ']'",
                                self.tok.start, syntax=True)
        close = self._advance()
        return n.ArrayLit(items=tuple(items), start=open_.start, end=close.end, depth=self._depth(*items))

    def _call(self) -> n.Node:
        name = self._advance()
        self._advance()  # (
        args: list[n.Node] = []
        options: list[tuple[str, n.Node]] = []
        while not self._is("op", ")"):
            if self.tok.kind == "ident" and self._peek().kind == "op" and self._peek().text == "=":
                key = self._advance()
                self._advance()
                options.append((str(key.value).lower(), self.expr(0)))
            else:
                if options:
                    raise ExprError("a positional argument cannot follow a named one", self.tok.start, syntax=True)
                args.append(self.expr(0))
            if self._is("op", ","):
                self._advance()
                continue
            if not self._is("op", ")"):
                raise ExprError(f"mismatched input '{self._text(self.tok)}' expecting ',' or ')'",
                                self.tok.start, syntax=True)
        close = self._advance()
        children = [*args, *(v for _, v in options)]
        return n.Call(name=str(name.value), args=tuple(args), options=tuple(options), start=name.start,
                      end=close.end, depth=self._depth(*children) if children else 1)


def parse(source: str) -> n.Node:
    """The syntax tree of ``source`` (raises ``ExprError``)."""
    if not source.strip():
        raise ExprError("the expression is empty", 0, syntax=True)
    return Parser(source).parse()
