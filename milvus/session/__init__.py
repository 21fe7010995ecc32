"""Service discovery: sessions in the meta store (cluster) or in process (standalone)."""

from milvus.session.base import (
    Session,
    SessionEvent,
    SessionEventType,
    SessionRegistry,
    SessionWatch,
    check_role,
)
from milvus.session.directory import SessionDirectory, Subscription
from milvus.session.election import Election
from milvus.session.kv import KVSessionRegistry
from milvus.session.local import LocalSessionRegistry

__all__ = [
    "Election",
    "KVSessionRegistry",
    "LocalSessionRegistry",
    "Session",
    "SessionEvent",
    "SessionDirectory",
    "SessionEventType",
    "SessionRegistry",
    "SessionWatch",
    "Subscription",
    "check_role",
]
