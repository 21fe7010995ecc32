"""The query coordinator: load/release, replicas, which query node serves which channel and
sealed segment, hand-off of flushed segments.  ``QueryCoord`` implements the QueryCoord
service of proto/querycoord.proto."""

from milvus.querycoord.coord import SERVICE, QueryCoord

__all__ = ["SERVICE", "QueryCoord"]
