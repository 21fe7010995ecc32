"""The query coordinator's catalog: which collections are loaded, their replicas, and the
resource groups of query nodes.

The only code that knows where they live in the meta store.  Keys, under the KV it is given
(already rooted at the cluster's meta prefix)::

    querycoord-collection-loadinfo/{collection}      CollectionLoadInfo
    querycoord-replica/{collection}/{replica}        Replica
    querycoord-resource-group/{name}                 ResourceGroupMeta

A collection's load info and its replicas are written and removed in one transaction, so a
restart never sees a loaded collection without its replicas or the reverse; resource groups
changed together (a node moving from one to another) are written in one transaction too.
"""

from __future__ import annotations

from collections.abc import Iterable

from milvus._proto import querycoord_pb2
from milvus.kv.base import KV, Delete, Op, Put

_LOAD_INFO = "querycoord-collection-loadinfo/"
_REPLICA = "querycoord-replica/"
_RESOURCE_GROUP = "querycoord-resource-group/"


def load_info_key(collection_id: int) -> str:
    return f"{_LOAD_INFO}{collection_id}"


def replica_key(collection_id: int, replica_id: int) -> str:
    return f"{_REPLICA}{collection_id}/{replica_id}"


def resource_group_key(name: str) -> str:
    return f"{_RESOURCE_GROUP}{name}"


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

    def save_resource_groups(self, groups: Iterable[querycoord_pb2.ResourceGroupMeta]) -> None:
        ops: list[Op] = [Put(resource_group_key(g.name), _encode(g)) for g in groups]
        if ops:
            self._kv.txn([], ops)

    def remove_resource_group(self, name: str) -> None:
        self._kv.txn([], [Delete(resource_group_key(name))])

    def list_resource_groups(self) -> list[querycoord_pb2.ResourceGroupMeta]:
        return [querycoord_pb2.ResourceGroupMeta.FromString(kv.value) for kv in self._kv.range(_RESOURCE_GROUP)]
