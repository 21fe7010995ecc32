"""The data coordinator: channels -> data nodes, segment allocation, seal and flush, GC."""

from milvus.datacoord.coord import DataCoord
from milvus.datacoord.index_service import IndexServiceParams
from milvus.datacoord.params import DataCoordParams
from milvus.datacoord.rpc import SERVICE

__all__ = ["SERVICE", "DataCoord", "DataCoordParams", "IndexServiceParams"]
