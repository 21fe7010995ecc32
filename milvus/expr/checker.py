"""From syntax tree to plan: names resolved against the schema, types checked, constants
folded and cast, templates filled in — following Milvus' plan parser (``planparserv2``).

Names: a field name is that field; ``$meta`` is the dynamic field; any other name is a key
of the dynamic field when the collection has one (``color`` is ``$meta["color"]``), else
the error ``field color not exist``.  ``j["a"][0]`` walks into a JSON field; ``arr[2]`` is
one element of an array field.

What may be compared (as in Milvus): a column with a constant, two scalar columns (not JSON),
``column (+ - * / %) constant`` and ``array_length(column)`` with a constant; constants
with constants fold.  A bool field alone is ``field == true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from milvus.expr import nodes as n
from milvus.expr import plan as p
from milvus.expr import values as v
from milvus.expr.errors import ExprError
from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import CollectionSchemaModel, FieldInfo
from milvus.schema.analyzer_params import field_analyzer, field_analyzer_problem

_REVERSED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_BITWISE = {"&": "BitAnd", "|": "BitOr", "^": "BitXor", "<<": "shift", ">>": "shift"}
_CONTAINS = {
    "json_contains": "one", "array_contains": "one",
    "json_contains_all": "all", "array_contains_all": "all",
    "json_contains_any": "any", "array_contains_any": "any",
}
_FUNCTIONS = (*_CONTAINS, "array_length", "text_match", "phrase_match")
_MAX_SLOP = 2**32 - 1  # a uint32


# ---- what a sub-expression is ---------------------------------------------------------

@dataclass(frozen=True)
class _Val:
    value: p.Value


@dataclass(frozen=True)
class _Col:
    col: p.Column


@dataclass(frozen=True)
class _Arith:
    col: p.Column
    op: str
    operand: int | float


@dataclass(frozen=True)
class _Length:
    col: p.Column


@dataclass(frozen=True)
class _Bool:
    pred: p.Pred


_Typed = _Val | _Col | _Arith | _Length | _Bool


def _is_bool_column(t: _Typed) -> bool:
    return isinstance(t, _Col) and t.col.kind == p.BOOL and not (t.col.data_type == spb.Array and not t.col.is_element)


def _label(t: _Typed) -> str:
    if isinstance(t, _Val):
        return v.type_label(t.value)
    if isinstance(t, _Col):
        return t.col.describe()
    if isinstance(t, _Arith):
        return "arithmetic expression"
    if isinstance(t, _Length):
        return "Int64"
    return "Bool expression"


class Checker:
    def __init__(self, schema: CollectionSchemaModel, source: str, templates: Mapping[str, p.Value]):
        self.schema = schema
        self.source = source
        self.templates = templates

    def _text(self, node: n.Node) -> str:
        return self.source[node.start:node.end]

    def _err(self, message: str, node: n.Node) -> ExprError:
        return ExprError(message, node.start, node.end)

    # ---- entry ----------------------------------------------------------------------

    def check(self, tree: n.Node) -> p.Pred:
        return self._predicate(self.visit(tree), tree, top=True)

    def _predicate(self, t: _Typed, node: n.Node, *, top: bool = False, op: str = "") -> p.Pred:
        if isinstance(t, _Bool):
            return t.pred
        if isinstance(t, _Val) and isinstance(t.value, bool):
            return p.Const(t.value)
        if _is_bool_column(t):
            return p.Cmp(t.col, "==", True)  # type: ignore[union-attr]
        if top:
            raise self._err(f"predicate is not a boolean expression: {self._text(node)}, "
                            f"data type: {_label(t)}", node)
        if op == "not":
            hint = ""
            if isinstance(t, (_Col, _Arith, _Length)):
                hint = " ('not' binds tighter than comparisons: write not (...) to negate one)"
            raise self._err(f"not op can only be applied on boolean expression{hint}", node)
        raise self._err(f"'{op}' can only be used between boolean expressions", node)

    def visit(self, node: n.Node) -> _Typed:
        method = getattr(self, f"_visit_{type(node).__name__}")
        return method(node)

    # ---- operands -------------------------------------------------------------------

    def _visit_Literal(self, node: n.Literal) -> _Typed:
        return _Val(node.value)

    def _visit_ArrayLit(self, node: n.ArrayLit) -> _Typed:
        items = []
        for item in node.items:
            t = self.visit(item)
            if not isinstance(t, _Val):
                raise self._err(f"array element type must be generic value, but got: {self._text(item)}", item)
            items.append(t.value)
        return _Val(tuple(items))

    def _visit_Template(self, node: n.Template) -> _Typed:
        if node.name not in self.templates:
            raise self._err(f"the value of expression template variable name {{{node.name}}} is not found", node)
        return _Val(self.templates[node.name])

    def _field(self, name: str, node: n.Node) -> FieldInfo:
        info = self.schema.get_field(name)
        if info is None:
            raise self._err(f"field {name} not exist", node)
        return info

    def _column(self, info: FieldInfo, label: str, path: tuple[str, ...] = ()) -> p.Column:
        return p.Column(info.name, info.data_type, info.element_type, info.nullable, path, None, label)

    def _visit_Ident(self, node: n.Ident) -> _Typed:
        info = self.schema.get_field(node.name)
        if info is None or info.is_dynamic:
            dynamic = self.schema.dynamic_field
            if dynamic is None:
                raise self._err(f"field {node.name} not exist", node)
            return _Col(self._column(dynamic, node.name, (node.name,)))
        if info.data_type == v_TEXT:
            raise self._err(f"filter on text field ({info.name}) is not supported yet", node)
        return _Col(self._column(info, node.name))

    def _visit_Meta(self, node: n.Meta) -> _Typed:
        dynamic = self.schema.dynamic_field
        if dynamic is None:
            raise self._err("field $meta not exist: the collection has no dynamic field", node)
        return _Col(self._column(dynamic, "$meta"))

    def _visit_Index(self, node: n.Index) -> _Typed:
        base = self.visit(node.base)
        assert isinstance(base, _Col)
        col = base.col
        label = self._text(node)
        if col.data_type == spb.JSON:
            key = str(node.key)
            if key == "":
                raise self._err(f"invalid identifier: {label}", node)
            return _Col(p.Column(col.name, col.data_type, col.element_type, col.nullable, (*col.path, key), None, label))
        if col.data_type == spb.Array:
            if col.index is not None:
                raise self._err(f"an element of array field {col.name} cannot be indexed again", node)
            if not isinstance(node.key, int):
                raise self._err("can only access array field with integer index", node)
            return _Col(p.Column(col.name, col.data_type, col.element_type, col.nullable, (), node.key, label))
        raise self._err(f"{col.describe()} data type not supported accessed with []", node)

    # ---- arithmetic -----------------------------------------------------------------

    def _visit_Unary(self, node: n.Unary) -> _Typed:
        t = self.visit(node.operand)
        if node.op == "not":
            if isinstance(t, _Val):
                if not isinstance(t.value, bool):
                    raise self._err("not op can only be applied on boolean expression", node)
                return _Val(not t.value)
            return _Bool(_negate(self._predicate(t, node, op="not")))
        if node.op == "~":
            raise self._err("bitwise not (~) is not supported", node)
        if isinstance(t, _Val):
            if not v.is_number(t.value):
                raise self._err(f"unary {node.op} can only be applied to numbers, got {v.show(t.value)}", node)
            if node.op == "-":
                return _Val(v.wrap64(-t.value) if v.is_int(t.value) else -t.value)  # type: ignore[operator]
            return t
        if node.op == "+" and isinstance(t, _Col) and t.col.kind in (p.INT, p.FLOAT, p.JSON):
            return t
        raise self._err(f"unary {node.op} can only be applied to constants, got: {self._text(node.operand)}", node)

    def _visit_Binary(self, node: n.Binary) -> _Typed:
        if node.op in _BITWISE:
            raise self._err(f"{_BITWISE[node.op]} is not supported: {self._text(node)}", node)
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(left, _Val) and isinstance(right, _Val):
            try:
                return _Val(v.arith(node.op, left.value, right.value))
            except v.FoldError as exc:
                raise self._err(str(exc), node) from None
        if node.op == "**":
            raise self._err(f"power can only apply on constants: {self._text(node)}", node)
        if isinstance(left, _Col) and isinstance(right, _Val):
            col, operand = left.col, right.value
        elif isinstance(left, _Val) and isinstance(right, _Col):
            if node.op not in ("+", "*"):
                raise self._err(f"'{node.op}' with the field on the right is not supported: write it as "
                                f"'field {node.op} constant'", node)
            col, operand = right.col, left.value
        elif isinstance(left, _Col) and isinstance(right, _Col):
            raise self._err("not supported to do arithmetic operations between multiple fields", node)
        else:
            raise self._err(f"complicated arithmetic operations are not supported: {self._text(node)}", node)
        if col.data_type == spb.Array and not col.is_element:
            raise self._err("can not comparisons array fields directly", node)
        verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "modulo"}[node.op]
        kind = col.kind
        ok = (kind == p.INT and v.is_int(operand)) or (kind in (p.FLOAT, p.JSON) and v.is_number(operand))
        if not ok:
            raise self._err(f"'{verb}' cannot perform arithmetic between {col.describe()} field and "
                            f"{v.type_label(operand)}", node)
        if node.op == "%" and (kind == p.FLOAT or not v.is_int(operand)):
            raise self._err("modulo can only apply on integer types", node)
        if node.op in ("/", "%") and operand == 0:
            raise self._err("division or modulus by zero", node)
        return _Arith(col, node.op, operand)  # type: ignore[arg-type]

    # ---- comparisons ----------------------------------------------------------------

    def _cast(self, col: p.Column, value: p.Value, node: n.Node) -> p.Value:
        """``value`` as the column's type (Milvus' castValue)."""
        kind = col.kind
        if kind == p.JSON:
            return value
        if kind == p.ARRAY and isinstance(value, tuple):
            return value
        if kind == p.STRING and isinstance(value, str):
            return value
        if kind == p.BOOL and isinstance(value, bool):
            return value
        if kind == p.FLOAT and v.is_number(value):
            return float(value)  # type: ignore[arg-type]
        if kind == p.INT and v.is_int(value):
            return value
        raise self._err(f"cannot cast value to {col.describe()}, value: {v.show(value)}", node)

    @staticmethod
    def _comparable(col: p.Column, value: p.Value) -> bool:
        kind = col.kind
        if kind == p.ARRAY:
            elem = p.kind_of(col.element_type)
            return isinstance(value, tuple) and all(_scalar_comparable(elem, x) for x in value)
        return _scalar_comparable(kind, value)

    def _visit_Compare(self, node: n.Compare) -> _Typed:
        left, right = self.visit(node.left), self.visit(node.right)
        op = node.op
        if isinstance(left, _Val) and isinstance(right, _Val):
            try:
                return _Val(v.compare(op, left.value, right.value))
            except v.FoldError as exc:
                raise self._err(str(exc), node) from None
        if isinstance(left, _Val):
            left, right, op = right, left, _REVERSED[op]
        if isinstance(right, _Val):
            return _Bool(self._compare_value(left, op, right.value, node))
        if isinstance(left, _Col) and isinstance(right, _Col):
            return _Bool(self._compare_columns(left.col, op, right.col, node))
        raise self._err(f"comparisons between {_label(left)} and {_label(right)} are not supported", node)

    def _compare_value(self, left: _Typed, op: str, value: p.Value, node: n.Node) -> p.Pred:
        if isinstance(left, _Col):
            col = left.col
            if col.kind == p.OTHER or not self._comparable(col, value):
                raise self._err(f"comparisons between {col.describe()} and {v.type_label(value)} are not supported",
                                node)
            if col.kind == p.ARRAY and op not in ("==", "!="):
                raise self._err("can not comparisons array fields directly", node)
            return p.Cmp(col, op, self._cast(col, value, node))
        if isinstance(left, _Arith):
            col = left.col
            if v.is_int(left.operand) and col.kind in (p.INT, p.JSON):
                if not v.is_int(value):
                    raise self._err(f"cannot cast value to Int64, value: {v.show(value)}", node)
            elif not v.is_number(value):
                raise self._err(f"cannot cast value to Double, value: {v.show(value)}", node)
            else:
                value = float(value)  # type: ignore[arg-type]
            return p.ArithCmp(col, left.op, left.operand, op, value)  # type: ignore[arg-type]
        if isinstance(left, _Length):
            if not v.is_int(value):
                raise self._err(f"cannot cast value to Int64, value: {v.show(value)}", node)
            return p.LengthCmp(left.col, op, value)  # type: ignore[arg-type]
        raise self._err(f"comparisons between {_label(left)} and {v.type_label(value)} are not supported", node)

    def _compare_columns(self, a: p.Column, op: str, b: p.Column, node: n.Node) -> p.Pred:
        if a.is_json or b.is_json:
            raise self._err("two column comparison with JSON type is not supported", node)
        for col in (a, b):
            if col.data_type == spb.Array:
                raise self._err("comparisons between array fields or elements and other fields are not supported",
                                node)
        ka, kb = a.kind, b.kind
        numbers = (p.INT, p.FLOAT)
        if not ((ka in numbers and kb in numbers) or (ka == kb and ka in (p.STRING, p.BOOL))):
            raise self._err(f"comparisons between {a.describe()} and {b.describe()} are not supported", node)
        return p.ColumnCmp(a, op, b)

    def _visit_Range(self, node: n.Range) -> _Typed:
        middle = self.visit(node.middle)
        if not isinstance(middle, _Col):
            raise self._err(f"range operations are only supported on single fields now, got: "
                            f"{self._text(node.middle)}", node)
        col = middle.col
        if col.data_type == spb.Array and not col.is_element:
            raise self._err("can not comparisons array fields directly", node)
        first, last = self.visit(node.lower), self.visit(node.upper)
        upward = node.op1 in ("<", "<=")
        lower_node, upper_node = (node.lower, node.upper) if upward else (node.upper, node.lower)
        lower, upper = (first, last) if upward else (last, first)
        if not isinstance(lower, _Val):
            raise self._err(f"lowerbound cannot be a non-const expression: {self._text(lower_node)}", lower_node)
        if not isinstance(upper, _Val):
            raise self._err(f"upperbound cannot be a non-const expression: {self._text(upper_node)}", upper_node)
        if upward:
            lower_incl, upper_incl = node.op1 == "<=", node.op2 == "<="
        else:
            upper_incl, lower_incl = node.op1 == ">=", node.op2 == ">="
        lo = self._range_value(col, lower.value, lower_node)
        hi = self._range_value(col, upper.value, upper_node)
        if isinstance(lo, str) != isinstance(hi, str):
            raise self._err("invalid range operations: the bounds are of different types", node)
        empty = v.compare(">", lo, hi) if lower_incl and upper_incl else v.compare(">=", lo, hi)
        if empty:
            raise self._err("invalid range: lowerbound is greater than upperbound", node)
        return _Bool(p.Between(col, lo, lower_incl, hi, upper_incl))

    def _range_value(self, col: p.Column, value: p.Value, node: n.Node) -> p.Scalar:
        kind = col.kind
        if kind == p.BOOL:
            raise self._err("invalid range operations on boolean expr", node)
        if kind == p.STRING and isinstance(value, str):
            return value
        if kind == p.INT and v.is_int(value):
            return value  # type: ignore[return-value]
        if kind == p.FLOAT and v.is_number(value):
            return float(value)  # type: ignore[arg-type]
        if kind == p.JSON and (v.is_number(value) or isinstance(value, str)):
            return value  # type: ignore[return-value]
        raise self._err(f"invalid range operations: {v.show(value)} is not comparable with {col.describe()}", node)

    def _visit_In(self, node: n.In) -> _Typed:
        operand = self.visit(node.operand)
        if isinstance(operand, _Val):
            raise self._err(f"'term' can only be used on non-const expression, but got: {self._text(node.operand)}",
                            node.operand)
        if not isinstance(operand, _Col):
            raise self._err(f"'term' can only be used on single field, but got: {self._text(node.operand)}",
                            node.operand)
        values = self.visit(node.values)
        if not isinstance(values, _Val):
            raise self._err(f"value '{self._text(node.values)}' in list cannot be a non-const expression", node.values)
        if not isinstance(values.value, tuple):
            raise self._err(f"the right-hand side of 'in' must be a list, but got: {self._text(node.values)}",
                            node.values)
        col = operand.col
        if col.kind in (p.ARRAY, p.OTHER):
            raise self._err(f"'term' is not supported on {col.describe()} field {col.name}", node.operand)
        cast = []
        for item in values.value:
            try:
                cast.append(self._cast(col, item, node.values))
            except ExprError:
                raise self._err(f"value '{v.show(item)}' in list cannot be casted to {col.describe()}",
                                node.values) from None
        pred: p.Pred = p.In(col, tuple(cast))
        return _Bool(p.Not(pred) if node.negated else pred)

    def _visit_Like(self, node: n.Like) -> _Typed:
        operand = self.visit(node.operand)
        if not isinstance(operand, _Col):
            raise self._err("like operation on complicated expr is unsupported", node.operand)
        col = operand.col
        if col.data_type == spb.Array and not col.is_element:
            raise self._err("can not comparisons array fields directly", node.operand)
        if col.kind not in (p.STRING, p.JSON):
            raise self._err("like operation on non-string or no-json field is unsupported", node.operand)
        pattern = self.visit(node.pattern)
        if not (isinstance(pattern, _Val) and isinstance(pattern.value, str)):
            raise self._err(f"the pattern of like must be a string, got: {self._text(node.pattern)}", node.pattern)
        return _Bool(p.Like(col, pattern.value))

    def _visit_IsNull(self, node: n.IsNull) -> _Typed:
        operand = self.visit(node.operand)
        assert isinstance(operand, _Col)
        col = operand.col
        if col.is_element:
            raise self._err("is null is not supported on an array element", node)
        if col.is_json and col.path:
            # j["a"] is null  ->  not exists j["a"]
            exists: p.Pred = p.Exists(col)
            return _Bool(exists if node.negated else p.Not(exists))
        is_null: p.Pred = p.IsNull(col)
        return _Bool(p.Not(is_null) if node.negated else is_null)

    def _visit_Exists(self, node: n.Exists) -> _Typed:
        operand = self.visit(node.operand)
        if not isinstance(operand, _Col):
            raise self._err(f"exists operations are only supported on single fields now, got: "
                            f"{self._text(node.operand)}", node.operand)
        col = operand.col
        if not col.is_json:
            raise self._err(f"exists operations are only supportted on json field, got:{col.describe()}", node.operand)
        if not col.path:
            raise self._err("exists operations are only supportted on json key", node.operand)
        return _Bool(p.Exists(col))

    # ---- functions ------------------------------------------------------------------

    def _visit_Call(self, node: n.Call) -> _Typed:
        name = node.name.lower() if node.name in (node.name.lower(), node.name.upper()) else node.name
        if name in _CONTAINS:
            return self._contains(name, node)
        if name == "array_length":
            self._arity(node, name, 1)
            arg = node.args[0]
            if not n.is_field_ref(arg):
                raise self._err(f"array_length operation are only supported on json or array fields now, got: "
                                f"{self._text(node)}", node)
            t = self.visit(arg)
            assert isinstance(t, _Col)
            if t.col.is_element or t.col.kind not in (p.JSON, p.ARRAY):
                raise self._err(f"array_length operation are only supported on json or array fields now, got: "
                                f"{self._text(node)}", node)
            return _Length(t.col)
        if name == "text_match":
            return self._text_match(node)
        if name == "phrase_match":
            return self._phrase_match(node)
        if name == "random_sample":
            raise self._err("random_sample is not supported by this server", node)
        raise self._err(f"unknown function {node.name}(): the filter language has {', '.join(_FUNCTIONS)}", node)

    def _arity(self, node: n.Call, name: str, count: int) -> None:
        if len(node.args) != count or node.options:
            raise self._err(f"{name} takes {count} argument{'s' if count > 1 else ''}, got {len(node.args)}"
                            + (" and named arguments" if node.options else ""), node)

    def _contains(self, name: str, node: n.Call) -> _Typed:
        self._arity(node, name, 2)
        mode = _CONTAINS[name]
        op = {"one": "contains", "all": "contains_all", "any": "contains_any"}[mode]
        field_node, value_node = node.args
        target = self.visit(field_node)
        if not isinstance(target, _Col) or target.col.is_element or target.col.kind not in (p.JSON, p.ARRAY):
            raise self._err(f"{op} operation are only supported on json or array fields now, got: "
                            f"{self._text(field_node)}", field_node)
        col = target.col
        value = self.visit(value_node)
        if not isinstance(value, _Val):
            raise self._err(f"{op} operation are only supported explicitly specified element, got: "
                            f"{self._text(value_node)}", value_node)
        if mode == "one":
            items: tuple = (value.value,)
        elif isinstance(value.value, tuple):
            items = value.value
        else:
            raise self._err(f"{op} operation element must be an array", value_node)
        if col.kind == p.ARRAY:
            elem = p.kind_of(col.element_type)
            element_col = p.Column(col.name, col.data_type, col.element_type, col.nullable, (), 0, col.label)
            out = []
            for item in items:
                if not _scalar_comparable(elem, item):
                    raise self._err(f"{op} operation can't compare between array element type: "
                                    f"{p.type_name(col.element_type)} and {v.type_label(item)}", value_node)
                if mode == "one":
                    item = self._cast(element_col, item, value_node)
                out.append(float(item) if elem == p.FLOAT else item)
            items = tuple(out)
        return _Bool(p.Contains(col, mode, items))

    def _match_field(self, name: str, node: n.Call) -> tuple[FieldInfo, str]:
        """The field and the query text of ``text_match``/``phrase_match`` (first two arguments)."""
        field_node, query_node = node.args[:2]
        if not isinstance(field_node, n.Ident):
            raise self._err(f"the first argument of {name} must be a field name", field_node)
        info = self._field(field_node.name, field_node)
        if p.kind_of(info.data_type) != p.STRING:
            raise self._err(f"{name.replace('_', ' ')} operation on non-string is unsupported", field_node)
        if str(info.type_params.get("enable_match", "")).lower() != "true":
            raise self._err(f'field "{info.name}" does not enable match', field_node)
        problem = field_analyzer_problem(dict(info.type_params))
        if problem is not None:
            raise self._err(f"{name} on field {info.name}: {problem}", field_node)
        query = self.visit(query_node)
        if not (isinstance(query, _Val) and isinstance(query.value, str)):
            raise self._err(f"the query of {name} must be a string", query_node)
        return info, query.value

    def _text_match(self, node: n.Call) -> _Typed:
        if len(node.args) != 2:
            raise self._err(f"text_match takes a field and a query string, got {len(node.args)} arguments", node)
        info, query = self._match_field("text_match", node)
        min_match = 1
        for key, value_node in node.options:
            if key != "minimum_should_match":
                raise self._err(f"unknown option {key} of text_match", value_node)
            value = self.visit(value_node)
            if not (isinstance(value, _Val) and v.is_int(value.value)):
                raise self._err("minimum_should_match should be a const integer expression", value_node)
            if not 1 <= value.value <= 1000:  # type: ignore[operator]
                raise self._err(f"minimum_should_match should be in [1, 1000], got {value.value}", value_node)
            min_match = value.value  # type: ignore[assignment]
        analyzer = field_analyzer(info.type_params)
        tokens = tuple(dict.fromkeys(analyzer.tokens(query)))
        return _Bool(p.TextMatch(self._column(info, info.name), tokens, min_match, analyzer))

    def _phrase_match(self, node: n.Call) -> _Typed:
        """``phrase_match(field, "query"[, slop])``, with Milvus' checks and messages."""
        if len(node.args) not in (2, 3):
            raise self._err(f"phrase_match takes a field, a query string and an optional slop, got "
                            f"{len(node.args)} arguments", node)
        for key, value_node in node.options:
            raise self._err(f"unknown option {key} of phrase_match", value_node)
        info, query = self._match_field("phrase_match", node)
        slop = 0
        if len(node.args) == 3:
            slop_node = node.args[2]
            value = self.visit(slop_node)
            text = self._text(slop_node)
            if not (isinstance(value, _Val) and v.is_int(value.value)):
                raise self._err(f'"slop" should be a const integer expression with "uint32" value. '
                                f'"slop" expression passed: {text}', slop_node)
            slop = value.value  # type: ignore[assignment]
            if slop < 0:
                raise self._err(f'"slop" should not be a negative interger. "slop" passed: {text}', slop_node)
            if slop > _MAX_SLOP:
                raise self._err(f'"slop" exceeds the range of "uint32". "slop" expression passed: {text}',
                                slop_node)
        analyzer = field_analyzer(info.type_params)
        terms = tuple((token, position) for token, _, _, position in analyzer.analyze(query))
        return _Bool(p.PhraseMatch(self._column(info, info.name), terms, slop, analyzer))

    # ---- logic ----------------------------------------------------------------------

    def _visit_Logical(self, node: n.Logical) -> _Typed:
        items: list[p.Pred] = []
        for item in node.items:
            pred = self._predicate(self.visit(item), item, op=node.op)
            items.extend(pred.items if isinstance(pred, (p.And if node.op == "and" else p.Or)) else (pred,))
        return _Bool(_combine(node.op, items))


v_TEXT = getattr(spb, "Text", 25)


def _scalar_comparable(kind: str, value: p.Value) -> bool:
    """Milvus' canBeComparedDataType for a column kind and a constant."""
    if kind == p.JSON:
        return True
    if kind == p.BOOL:
        return isinstance(value, bool)
    if kind in (p.INT, p.FLOAT):
        return v.is_number(value)
    if kind == p.STRING:
        return isinstance(value, str)
    return False


def _negate(pred: p.Pred) -> p.Pred:
    if isinstance(pred, p.Const):
        return p.Const(not pred.value)
    if isinstance(pred, p.Not):
        return pred.item
    return p.Not(pred)


def _combine(op: str, items: list[p.Pred]) -> p.Pred:
    """``and``/``or`` of ``items`` with constants folded away."""
    absorbing, neutral = (False, True) if op == "and" else (True, False)
    kept = []
    for item in items:
        if isinstance(item, p.Const):
            if item.value == absorbing:
                return p.Const(absorbing)
            continue
        kept.append(item)
    if not kept:
        return p.Const(neutral)
    if len(kept) == 1:
        return kept[0]
    return p.And(tuple(kept)) if op == "and" else p.Or(tuple(kept))


def check(tree: n.Node, schema: CollectionSchemaModel, source: str, templates: Mapping[str, p.Value]) -> p.Pred:
    """The plan of ``tree`` (raises ``ExprError``)."""
    return Checker(schema, source, templates).check(tree)
