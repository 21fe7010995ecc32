"""The data node: consumes DML channels, buffers growing segments, writes binlogs and checkpoints."""

from milvus.datanode.node import SERVICE, DataNode
from milvus.datanode.params import DataNodeParams

__all__ = ["SERVICE", "DataNode", "DataNodeParams"]
