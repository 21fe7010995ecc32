"""The query node: serves growing and sealed segments and answers searches and queries at a
timestamp (MVCC).  ``QueryNode`` implements the QueryNode service of proto/querynode.proto."""

from milvus.querynode.filters import FilterCompiler, RowFilter
from milvus.querynode.node import SERVICE, WORKER_METHODS, QueryNode

__all__ = ["SERVICE", "WORKER_METHODS", "FilterCompiler", "QueryNode", "RowFilter"]
