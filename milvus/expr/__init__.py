"""The Milvus filter language (boolean expressions in ``filter=``), compiled in stages:

``lexer`` (tokens) -> ``parser`` (syntax tree of ``nodes``, with source positions) ->
``checker`` (names and types against the schema: a ``plan``) -> ``vectorized`` (the plan
over an Arrow table with NumPy / pyarrow.compute).  ``reference`` evaluates the same plan
row by row, slowly, to check the fast evaluator in tests.  ``compiler`` ties the stages
together: ``compile_filter`` is the query node's ``FilterCompiler``.
"""

from milvus.expr.compiler import CompiledFilter, compile_filter, compile_plan, field_terms, pk_terms

__all__ = ["CompiledFilter", "compile_filter", "compile_plan", "field_terms", "pk_terms"]
