"""The proxy's cache of collection metadata, filled from the root coordinator on a miss.

Keyed by ``(database, name)`` where the name is whatever the caller used (a collection name
or an alias), plus an index by collection id.  Every DDL through this proxy invalidates the
entries it touched, and the root coordinator does the same for DDL through other proxies
(``Proxy.InvalidateCollectionMetaCache``).

The fetch runs without the cache's lock (it is an RPC); a generation counter, bumped by
every invalidation, keeps a fetch that raced with an invalidation from storing stale data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from milvus._proto import rootcoord_pb2

CollectionInfo = rootcoord_pb2.CollectionInfo
Fetch = Callable[[str, str, int], CollectionInfo]  # (db, name, collection id) -> info, or raise


class MetaCache:
    def __init__(self, fetch: Fetch):
        self._fetch = fetch
        self._lock = threading.Lock()
        self._by_name: dict[tuple[str, str], CollectionInfo] = {}
        self._generation = 0
        # lookups by name answered from the cache / fetched (read by the metrics collector)
        self.hits = 0
        self.misses = 0

    def get(self, db: str, name: str) -> CollectionInfo:
        """The collection ``name`` (or alias) designates in ``db``; raises what the fetch raises."""
        with self._lock:
            info = self._by_name.get((db, name))
            generation = self._generation
            if info is not None:
                self.hits += 1
                return info
            self.misses += 1
        info = self._fetch(db, name, 0)
        with self._lock:
            if self._generation == generation:
                self._by_name[(db, name)] = info
        return info

    def get_by_id(self, collection_id: int) -> CollectionInfo:
        with self._lock:
            for info in self._by_name.values():
                if info.id == collection_id:
                    return info
        return self._fetch("", "", collection_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_name)

    def invalidate(self, db: str = "", names: Iterable[str] = (), collection_id: int = 0) -> None:
        """Forget ``names`` in ``db`` and every entry of the collections they (or
        ``collection_id``) designated, whatever name or alias those were cached under."""
        names = set(names)
        with self._lock:
            self._generation += 1
            ids = {info.id for key, info in self._by_name.items() if key[0] == db and key[1] in names}
            if collection_id:
                ids.add(collection_id)
            for key in list(self._by_name):
                if (key[0] == db and key[1] in names) or self._by_name[key].id in ids:
                    del self._by_name[key]

    def invalidate_database(self, db: str) -> None:
        with self._lock:
            self._generation += 1
            for key in [k for k in self._by_name if k[0] == db]:
                del self._by_name[key]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._by_name.clear()
