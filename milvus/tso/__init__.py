"""Clocks and IDs: the hybrid timestamp oracle and the global ID allocator, persisted in the meta store."""

from milvus.tso.idalloc import IDAllocator
from milvus.tso.oracle import LOGICAL_BITS, MAX_LOGICAL, TimestampOracle, compose_ts, parse_ts

__all__ = ["IDAllocator", "LOGICAL_BITS", "MAX_LOGICAL", "TimestampOracle", "compose_ts", "parse_ts"]
