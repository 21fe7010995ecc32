"""The meta store: a revisioned KV with transactions, leases and watch (etcd v3 semantics).

``open_kv`` picks the backend from the config: the embedded SQLite file (``local``, for
standalone) or an etcd cluster (``etcd``).  Roles see the store through ``PrefixedKV``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
from milvus.kv.etcd import EtcdKV
from milvus.kv.local import LocalKV
from milvus.kv.prefixed import PrefixedKV

__all__ = [
    "KV",
    "CompactedError",
    "Compare",
    "CompareOp",
    "CompareTarget",
    "Delete",
    "EtcdKV",
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
    "open_kv",
    "prefix_end",
]

BACKENDS = ("local", "etcd")


def open_kv(config: Any) -> KV:
    """The meta store named by ``config["metastore.type"]`` (a ``milvus.config.Config``)."""
    kind = str(config["metastore.type"]).strip().lower()
    if kind == "local":
        path = Path(config["common.dataDir"]) / "meta" / "kv.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        return LocalKV(str(path))
    if kind == "etcd":
        return EtcdKV(list(config["etcd.endpoints"]), float(config["etcd.requestTimeout"]))
    raise ValueError(
        f"unknown metastore.type {config['metastore.type']!r}: expected one of {', '.join(BACKENDS)}"
    )
