"""The checked plan of a filter: predicates over typed column references and constants.

The checker (``milvus.expr.checker``) builds it from the syntax tree and the schema; two
evaluators run it: ``milvus.expr.vectorized`` (the one the server uses) and
``milvus.expr.reference`` (slow, row by row, kept to check the fast one).

Semantics both evaluators implement (Milvus' segcore, three-valued since 2.5):

* A predicate gives, per row, true, false or null.  Null comes from null data: a null row
  of a nullable field, a null JSON document, a null array.  ``and``/``or``/``not`` follow
  Kleene logic (``null and false`` is false, ``not null`` is null); a row passes the filter
  only when the whole expression is true.
* Constants are cast to the column's type: a Float column compares with float32(constant),
  an integer column in int64 (so ``int8_field < 1000`` is true everywhere), an integer
  column against a float constant is refused by the checker.
* JSON values (a JSON field with a path, or a key of the dynamic field ``$meta``) compare
  only with values of their own kind: numbers with numbers (two integers exactly, anything
  else as float64), strings with strings (byte order), booleans with booleans, arrays by
  element-wise equality.  A missing key or a value of another kind is false for every
  operator except ``!=`` against a scalar, for which it is true (``!=`` against an array
  literal needs an array value; ordering against an array literal is always false).  ``exists j["k"]`` and
  ``j["k"] is not null``: the key is present and not JSON null.
* An array element out of range (``a[7]`` of a shorter array) is false for every operator.
* Integer arithmetic (``a + 2 == 5``, ``/`` and ``%`` truncating like C) wraps in int64;
  Float columns compute in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema.analyzer import STANDARD, Analyzer

Scalar = bool | int | float | str
Value = Scalar | tuple  # tuples are array literals (possibly nested)

BOOL, INT, FLOAT, STRING, JSON, ARRAY, OTHER = "bool", "int", "float", "string", "json", "array", "other"

_KIND = {
    spb.Bool: BOOL, spb.Int8: INT, spb.Int16: INT, spb.Int32: INT, spb.Int64: INT,
    spb.Float: FLOAT, spb.Double: FLOAT, spb.String: STRING, spb.VarChar: STRING,
    spb.JSON: JSON, spb.Array: ARRAY,
}


def kind_of(data_type: int) -> str:
    return _KIND.get(data_type, OTHER)


def type_name(data_type: int) -> str:
    try:
        return spb.DataType.Name(data_type)
    except ValueError:
        return str(data_type)


@dataclass(frozen=True)
class Column:
    """A field (``name`` is its Arrow column), possibly a JSON path into it or one element of
    an array field."""

    name: str
    data_type: int
    element_type: int = 0
    nullable: bool = False
    path: tuple[str, ...] = ()  # JSON pointer tokens
    index: int | None = None  # array element
    label: str = ""  # as the user wrote it

    @property
    def value_type(self) -> int:
        """The Milvus type of the values this reference yields."""
        if self.data_type == spb.Array and self.index is not None:
            return self.element_type
        return self.data_type

    @property
    def kind(self) -> str:
        return kind_of(self.value_type)

    @property
    def is_json(self) -> bool:
        return self.data_type == spb.JSON

    @property
    def is_element(self) -> bool:
        return self.index is not None

    @property
    def is_float32(self) -> bool:
        return self.value_type == spb.Float

    def describe(self) -> str:
        if self.data_type == spb.Array and self.index is None:
            return f"Array[{type_name(self.element_type)}]"
        return type_name(self.value_type)


class Pred:
    """A boolean predicate over rows."""


@dataclass(frozen=True)
class Const(Pred):
    value: bool


@dataclass(frozen=True)
class And(Pred):
    items: tuple[Pred, ...]


@dataclass(frozen=True)
class Or(Pred):
    items: tuple[Pred, ...]


@dataclass(frozen=True)
class Not(Pred):
    item: Pred


@dataclass(frozen=True)
class Cmp(Pred):
    """``col op value`` (``value`` already cast to the column's type)."""

    col: Column
    op: str
    value: Value


@dataclass(frozen=True)
class ArithCmp(Pred):
    """``(col arith operand) op value``."""

    col: Column
    arith: str  # + - * / %
    operand: int | float
    op: str
    value: int | float


@dataclass(frozen=True)
class LengthCmp(Pred):
    """``array_length(col) op value``."""

    col: Column
    op: str
    value: int


@dataclass(frozen=True)
class ColumnCmp(Pred):
    left: Column
    op: str
    right: Column


@dataclass(frozen=True)
class Between(Pred):
    col: Column
    lower: Scalar
    lower_inclusive: bool
    upper: Scalar
    upper_inclusive: bool


@dataclass(frozen=True)
class In(Pred):
    col: Column
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Like(Pred):
    col: Column
    pattern: str  # SQL LIKE: % any run, _ one character, \ escapes the next character


@dataclass(frozen=True)
class IsNull(Pred):
    col: Column


@dataclass(frozen=True)
class Exists(Pred):
    col: Column


@dataclass(frozen=True)
class Contains(Pred):
    """``json_contains``/``array_contains`` (mode ``one``), ``*_all`` and ``*_any``."""

    col: Column
    mode: str  # one all any
    values: tuple[Value, ...]


@dataclass(frozen=True)
class TextMatch(Pred):
    """Rows whose text shares at least ``min_should_match`` distinct tokens with the query
    (both tokenized by the field's analyzer)."""

    col: Column
    tokens: tuple[str, ...]
    min_should_match: int = 1
    analyzer: Analyzer = STANDARD


@dataclass(frozen=True)
class PhraseMatch(Pred):
    """Rows whose text holds the query's tokens as a phrase.  ``terms``: the query's tokens
    after the field's analyzer, each with its position in the query.  A row matches when it has
    an occurrence of every term such that the occurrences' positions, each less its term's
    query position, lie within ``slop`` of one another (Tantivy's phrase query, as Milvus runs
    it): slop 0 is the exact phrase, ``A B`` with slop 1 also matches ``A x B``, with slop 2
    also ``B A``.  A query of one token matches the rows that have it; one of none, nothing."""

    col: Column
    terms: tuple[tuple[str, int], ...]
    slop: int = 0
    analyzer: Analyzer = STANDARD
