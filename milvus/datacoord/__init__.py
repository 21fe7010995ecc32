"""The data coordinator: channels -> data nodes, segment allocation, seal and flush, GC."""

from milvus.datacoord.coord import SERVICE, DataCoord
from milvus.datacoord.index_service import IndexServiceParams
from milvus.datacoord.params import DataCoordParams

__all__ = ["SERVICE", "DataCoord", "DataCoordParams", "IndexServiceParams"]
