"""Errors of the filter compiler: every one knows where in the expression it happened.

``ExprError`` is raised inside the compiler; ``to_milvus`` turns it into the error a client
sees, worded as Milvus words it::

    failed to create query plan: cannot parse expression: <expr>, error: <detail>

where a syntax error's detail reads like ANTLR's (``line 1:7 mismatched input '<EOF>'
expecting ...``) and a semantic error's detail ends with the place it refers to
(``... (at line 1:0: 'age > "x"')``).
"""

from __future__ import annotations

from milvus.errors import ParameterInvalid

PREFIX = "failed to create query plan: cannot parse expression"


class ExprError(Exception):
    """A bad expression: ``message`` about the text at ``[start, end)`` of the expression."""

    def __init__(self, message: str, start: int, end: int | None = None, *, syntax: bool = False):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = start if end is None else end
        self.syntax = syntax

    def detail(self, source: str) -> str:
        if self.syntax:
            return f"line 1:{self.start} {self.message}"
        snippet = source[self.start:self.end]
        if len(snippet) > 60:
            snippet = snippet[:57] + "..."
        where = f"line 1:{self.start}" + (f": '{snippet}'" if snippet else "")
        return f"{self.message} (at {where})"


def to_milvus(exc: ExprError, source: str) -> ParameterInvalid:
    return ParameterInvalid(f"{PREFIX}: {source}, error: {exc.detail(source)}")
