"""The root coordinator role: DDL over the meta store, the TSO and the global ID allocator."""

from milvus.rootcoord.params import RootCoordParams
from milvus.rootcoord.root_coord import SERVICE, RootCoord

__all__ = ["SERVICE", "RootCoord", "RootCoordParams"]
