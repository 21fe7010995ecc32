"""The index node role: builds vector indexes of sealed segments (see ``node``)."""

from milvus.indexnode.node import SERVICE, IndexNode

__all__ = ["SERVICE", "IndexNode"]
