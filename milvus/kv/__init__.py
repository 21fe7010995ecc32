"""The meta store: a revisioned KV with transactions, leases and watch (etcd v3 semantics).

Backends: the embedded SQLite file (``LocalKV``, for standalone) and an etcd cluster
(``milvus.kv.etcd.EtcdKV``, imported only where it is used); ``milvus.cmd.backends.open_kv``
picks one from the config.  Roles see the store through ``PrefixedKV``.
"""

from __future__ import annotations

from milvus.kv.base import (
    KV,
    CompactedError,
    Compare,
    CompareOp,
    CompareTarget,
    Delete,
    Event,
    EventType,
    Get,
    KeyValue,
    KVError,
    Op,
    Put,
    TxnResult,
    Watch,
    prefix_end,
)
from milvus.kv.local import LocalKV
from milvus.kv.prefixed import PrefixedKV

__all__ = [
    "KV",
    "CompactedError",
    "Compare",
    "CompareOp",
    "CompareTarget",
    "Delete",
    "Event",
    "EventType",
    "Get",
    "KVError",
    "KeyValue",
    "LocalKV",
    "Op",
    "PrefixedKV",
    "Put",
    "TxnResult",
    "Watch",
    "prefix_end",
]
