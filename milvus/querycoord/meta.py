"""What is loaded: per collection its load info and replicas, kept in memory and persisted
through the catalog (a restart reloads the same collections on the same replicas)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from milvus._proto import querycoord_pb2
from milvus.metastore.querycoord_catalog import QueryCoordCatalog


def _copy(message):
    out = type(message)()
    out.CopyFrom(message)
    return out


class LoadMeta:
    """Thread-safe; every getter returns copies."""

    def __init__(self, catalog: QueryCoordCatalog):
        self._catalog = catalog
        self._lock = threading.Lock()
        self._collections: dict[int, querycoord_pb2.CollectionLoadInfo] = {}
        self._replicas: dict[int, dict[int, querycoord_pb2.Replica]] = {}

    def recover(self) -> None:
        collections = {info.collectionID: info for info in self._catalog.list_collections()}
        replicas: dict[int, dict[int, querycoord_pb2.Replica]] = {}
        for replica in self._catalog.list_replicas():
            if replica.collectionID in collections:
                replicas.setdefault(replica.collectionID, {})[replica.id] = replica
        with self._lock:
            self._collections = collections
            self._replicas = replicas

    def collection(self, collection_id: int) -> querycoord_pb2.CollectionLoadInfo | None:
        with self._lock:
            info = self._collections.get(collection_id)
            return _copy(info) if info is not None else None

    def collections(self) -> list[querycoord_pb2.CollectionLoadInfo]:
        with self._lock:
            return [_copy(info) for _, info in sorted(self._collections.items())]

    def replicas(self, collection_id: int) -> list[querycoord_pb2.Replica]:
        with self._lock:
            return [_copy(r) for _, r in sorted(self._replicas.get(collection_id, {}).items())]

    def put(self, info: querycoord_pb2.CollectionLoadInfo, replicas: Iterable[querycoord_pb2.Replica] = ()) -> None:
        replicas = list(replicas)
        self._catalog.save_collection(info, replicas)
        with self._lock:
            self._collections[info.collectionID] = _copy(info)
            current = self._replicas.setdefault(info.collectionID, {})
            for replica in replicas:
                current[replica.id] = _copy(replica)

    def put_replicas(self, replicas: Iterable[querycoord_pb2.Replica]) -> None:
        replicas = list(replicas)
        self._catalog.save_replicas(replicas)
        with self._lock:
            for replica in replicas:
                self._replicas.setdefault(replica.collectionID, {})[replica.id] = _copy(replica)

    def remove(self, collection_id: int) -> None:
        self._catalog.remove_collection(collection_id)
        with self._lock:
            self._collections.pop(collection_id, None)
            self._replicas.pop(collection_id, None)
