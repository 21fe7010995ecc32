"""The query coordinator's catalog: which collections are loaded, and their replicas.

The only code that knows where they live in the meta store.  Keys, under the KV it is given
(already rooted at the cluster's meta prefix)::

    querycoord-collection-loadinfo/{collection}      CollectionLoadInfo
    querycoord-replica/{collection}/{replica}        Replica

A collection's load info and its replicas are written and removed in one transaction, so a
restart never sees a loaded collection without its replicas or the reverse.
"""

from __future__ import annotations

from collections.abc import Iterable

from milvus._proto import querycoord_pb2
from milvus.kv.base import KV, Delete, Op, Put

_LOAD_INFO = "querycoord-collection-loadinfo/"
_REPLICA = "querycoord-replica/"


def load_info_key(collection_id: int) -> str:
    return f"{_LOAD_INFO}{collection_id}"


def replica_key(collection_id: int, replica_id: int) -> str:
    return f"{_REPLICA}{collection_id}/{replica_id}"


def _encode(message) -> bytes:
    return message.SerializeToString(deterministic=True)


class QueryCoordCatalog:
    """Typed reads and atomic writes of the query coordinator's metadata."""

    def __init__(self, kv: KV):
        self._kv = kv

    def save_collection(self, info: querycoord_pb2.CollectionLoadInfo,
                        replicas: Iterable[querycoord_pb2.Replica] = ()) -> None:
        """The load info and (when given) replicas of one collection, in one transaction."""
        ops: list[Op] = [Put(load_info_key(info.collectionID), _encode(info))]
        ops += [Put(replica_key(r.collectionID, r.id), _encode(r)) for r in replicas]
        self._kv.txn([], ops)

    def save_replicas(self, replicas: Iterable[querycoord_pb2.Replica]) -> None:
        ops: list[Op] = [Put(replica_key(r.collectionID, r.id), _encode(r)) for r in replicas]
        if ops:
            self._kv.txn([], ops)

    def remove_collection(self, collection_id: int) -> None:
        """Forget a collection's load info and every replica of it, in one transaction."""
        self._kv.txn([], [Delete(load_info_key(collection_id)),
                          Delete(f"{_REPLICA}{collection_id}/", prefix=True)])

    def list_collections(self) -> list[querycoord_pb2.CollectionLoadInfo]:
        return [querycoord_pb2.CollectionLoadInfo.FromString(kv.value) for kv in self._kv.range(_LOAD_INFO)]

    def list_replicas(self) -> list[querycoord_pb2.Replica]:
        return [querycoord_pb2.Replica.FromString(kv.value) for kv in self._kv.range(_REPLICA)]
