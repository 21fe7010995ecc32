"""Filter expressions.  ``simple`` holds a small subset of Milvus' boolean expression
language (comparisons, ``in``, ``and``/``or``/``not``); the full grammar lives elsewhere."""

from milvus.expr.simple import compile_simple, pk_terms

__all__ = ["compile_simple", "pk_terms"]
