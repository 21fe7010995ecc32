"""The root coordinator's catalog: databases, collections, partitions and aliases.

The only code that knows where they live in the meta store.  Keys, under the KV it is given
(already rooted at the cluster's meta prefix)::

    root-coord/database/{db_id}                   DatabaseInfo
    root-coord/collection/{db_id}/{collection_id} CollectionInfo (without partitions/aliases)
    root-coord/collection-name/{db_id}/{name}     the collection id, as decimal text
    root-coord/partitions/{collection_id}/{id}    PartitionInfo
    root-coord/aliases/{db_id}/{alias}            AliasInfo
    root-coord/dropping/{collection_id}           CollectionInfo (partitions included) of a
                                                  collection being dropped
    root-coord/dropping-partitions/{collection_id}/{id}  PartitionInfo being dropped

A dropped collection or partition first moves to its ``dropping`` key (gone from the names,
so invisible and its name free at once); the key is deleted once the other coordinators
released everything it had.

Every change that touches several keys is one transaction.  Creating a key that must be
new (a database, a collection name) compares it absent, so two writers cannot both win;
the loser gets ``MetaConflict``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from milvus._proto import rootcoord_pb2
from milvus.kv.base import KV, Compare, Delete, KVError, Op, Put

ROOT = "root-coord/"
_DATABASE = ROOT + "database/"
_COLLECTION = ROOT + "collection/"
_NAME = ROOT + "collection-name/"
_PARTITION = ROOT + "partitions/"
_ALIAS = ROOT + "aliases/"
_DROPPING = ROOT + "dropping/"
_DROPPING_PARTITION = ROOT + "dropping-partitions/"


class MetaConflict(KVError):
    """A write lost a race: a key it expected absent (or unchanged) was written by someone else."""


def _db_key(db_id: int) -> str:
    return f"{_DATABASE}{db_id}"


def _collection_key(db_id: int, collection_id: int) -> str:
    return f"{_COLLECTION}{db_id}/{collection_id}"


def _name_key(db_id: int, name: str) -> str:
    return f"{_NAME}{db_id}/{name}"


def _partition_prefix(collection_id: int) -> str:
    return f"{_PARTITION}{collection_id}/"


def _partition_key(collection_id: int, partition_id: int) -> str:
    return f"{_partition_prefix(collection_id)}{partition_id}"


def _alias_key(db_id: int, alias: str) -> str:
    return f"{_ALIAS}{db_id}/{alias}"


def _dropping_key(collection_id: int) -> str:
    return f"{_DROPPING}{collection_id}"


def _dropping_partition_prefix(collection_id: int) -> str:
    return f"{_DROPPING_PARTITION}{collection_id}/"


def _dropping_partition_key(collection_id: int, partition_id: int) -> str:
    return f"{_dropping_partition_prefix(collection_id)}{partition_id}"


def _stored(coll: rootcoord_pb2.CollectionInfo) -> bytes:
    """The collection as stored: partitions and aliases live under their own keys."""
    bare = rootcoord_pb2.CollectionInfo()
    bare.CopyFrom(coll)
    bare.ClearField("partitions")
    bare.ClearField("aliases")
    bare.num_partitions = 0
    return bare.SerializeToString(deterministic=True)


def _encode(message) -> bytes:
    return message.SerializeToString(deterministic=True)


class RootCoordCatalog:
    """Typed reads and atomic writes of the root coordinator's metadata."""

    def __init__(self, kv: KV):
        self._kv = kv

    @property
    def kv(self) -> KV:
        """The meta store it lives in (the RBAC catalog lives beside it)."""
        return self._kv

    def _commit(self, ops: Sequence[Op], compares: Sequence[Compare] = (), what: str = "") -> None:
        if not self._kv.txn(list(compares), list(ops)).succeeded:
            raise MetaConflict(f"meta store changed concurrently: {what}")

    # ---- databases ------------------------------------------------------------------

    def create_database(self, db: rootcoord_pb2.DatabaseInfo) -> None:
        key = _db_key(db.id)
        self._commit([Put(key, _encode(db))], [Compare.absent(key)], f"database {db.name} ({db.id}) exists")

    def alter_database(self, db: rootcoord_pb2.DatabaseInfo) -> None:
        self._kv.put(_db_key(db.id), _encode(db))

    def drop_database(self, db_id: int) -> None:
        self._kv.delete(_db_key(db_id))

    def list_databases(self) -> list[rootcoord_pb2.DatabaseInfo]:
        dbs = [rootcoord_pb2.DatabaseInfo.FromString(kv.value) for kv in self._kv.range(_DATABASE)]
        return sorted(dbs, key=lambda db: db.id)

    # ---- collections ----------------------------------------------------------------

    def create_collection(self, coll: rootcoord_pb2.CollectionInfo) -> None:
        """The collection, its partitions (``coll.partitions``) and its name, in one step."""
        name_key = _name_key(coll.db_id, coll.name)
        ops: list[Op] = [
            Put(_collection_key(coll.db_id, coll.id), _stored(coll)),
            Put(name_key, str(coll.id).encode()),
        ]
        ops += [Put(_partition_key(coll.id, p.id), _encode(p)) for p in coll.partitions]
        self._commit(ops, [Compare.absent(name_key)], f"collection name {coll.name} taken")

    def alter_collection(self, coll: rootcoord_pb2.CollectionInfo) -> None:
        """Rewrite the collection's own record (properties, schema...), same name and database."""
        self._kv.put(_collection_key(coll.db_id, coll.id), _stored(coll))

    def rename_collection(
        self, old: rootcoord_pb2.CollectionInfo, new: rootcoord_pb2.CollectionInfo,
        aliases: Iterable[rootcoord_pb2.AliasInfo] = (),
    ) -> None:
        """Move the record and the name index (and, across databases, the aliases) at once."""
        new_name = _name_key(new.db_id, new.name)
        ops: list[Op] = [Delete(_name_key(old.db_id, old.name))]
        if old.db_id != new.db_id:
            ops.append(Delete(_collection_key(old.db_id, old.id)))
            for alias in aliases:
                ops.append(Delete(_alias_key(old.db_id, alias.name)))
                moved = rootcoord_pb2.AliasInfo()
                moved.CopyFrom(alias)
                moved.db_id = new.db_id
                ops.append(Put(_alias_key(new.db_id, alias.name), _encode(moved)))
        ops += [Put(_collection_key(new.db_id, new.id), _stored(new)), Put(new_name, str(new.id).encode())]
        self._commit(ops, [Compare.absent(new_name)], f"collection name {new.name} taken")

    def drop_collection(self, coll: rootcoord_pb2.CollectionInfo, aliases: Iterable[str] = ()) -> None:
        """The record, its name, every partition and the given aliases, in one step."""
        ops: list[Op] = [
            Delete(_collection_key(coll.db_id, coll.id)),
            Delete(_name_key(coll.db_id, coll.name)),
            Delete(_partition_prefix(coll.id), prefix=True),
        ]
        ops += [Delete(_alias_key(coll.db_id, alias)) for alias in aliases]
        self._commit(ops, what=f"drop collection {coll.name}")

    def mark_collection_dropping(self, coll: rootcoord_pb2.CollectionInfo, aliases: Iterable[str] = ()) -> None:
        """Move the collection (with its partitions) to its dropping key and delete its record,
        name, partitions and the given aliases, in one step."""
        kept = rootcoord_pb2.CollectionInfo()
        kept.CopyFrom(coll)
        kept.ClearField("aliases")
        ops: list[Op] = [
            Delete(_collection_key(coll.db_id, coll.id)),
            Delete(_name_key(coll.db_id, coll.name)),
            Delete(_partition_prefix(coll.id), prefix=True),
            Put(_dropping_key(coll.id), _encode(kept)),
        ]
        ops += [Delete(_alias_key(coll.db_id, alias)) for alias in aliases]
        self._commit(ops, what=f"drop collection {coll.name}")

    def list_dropping_collections(self) -> list[rootcoord_pb2.CollectionInfo]:
        colls = [rootcoord_pb2.CollectionInfo.FromString(kv.value) for kv in self._kv.range(_DROPPING)]
        return sorted(colls, key=lambda c: c.id)

    def remove_dropped_collection(self, collection_id: int) -> None:
        """The last trace of a dropped collection: its dropping key and its dropping partitions."""
        self._commit([Delete(_dropping_key(collection_id)),
                      Delete(_dropping_partition_prefix(collection_id), prefix=True)],
                     what=f"remove dropped collection {collection_id}")

    def list_collections(self) -> list[rootcoord_pb2.CollectionInfo]:
        """Every collection of every database with its partitions (in id order), by id."""
        partitions: dict[int, list[rootcoord_pb2.PartitionInfo]] = defaultdict(list)
        for kv in self._kv.range(_PARTITION):
            part = rootcoord_pb2.PartitionInfo.FromString(kv.value)
            partitions[part.collection_id].append(part)
        collections = []
        for kv in self._kv.range(_COLLECTION):
            coll = rootcoord_pb2.CollectionInfo.FromString(kv.value)
            coll.partitions.extend(sorted(partitions.get(coll.id, ()), key=lambda p: p.id))
            collections.append(coll)
        return sorted(collections, key=lambda c: c.id)

    # ---- partitions -----------------------------------------------------------------

    def create_partition(self, partition: rootcoord_pb2.PartitionInfo) -> None:
        key = _partition_key(partition.collection_id, partition.id)
        self._commit([Put(key, _encode(partition))], [Compare.absent(key)], f"partition {partition.id} exists")

    def drop_partition(self, collection_id: int, partition_id: int) -> None:
        self._kv.delete(_partition_key(collection_id, partition_id))

    def mark_partition_dropping(self, partition: rootcoord_pb2.PartitionInfo) -> None:
        """Move the partition to its dropping key, in one step."""
        self._commit([Delete(_partition_key(partition.collection_id, partition.id)),
                      Put(_dropping_partition_key(partition.collection_id, partition.id), _encode(partition))],
                     what=f"drop partition {partition.id}")

    def list_dropping_partitions(self) -> list[rootcoord_pb2.PartitionInfo]:
        parts = [rootcoord_pb2.PartitionInfo.FromString(kv.value) for kv in self._kv.range(_DROPPING_PARTITION)]
        return sorted(parts, key=lambda p: (p.collection_id, p.id))

    def remove_dropped_partition(self, collection_id: int, partition_id: int) -> None:
        self._kv.delete(_dropping_partition_key(collection_id, partition_id))

    # ---- aliases --------------------------------------------------------------------

    def create_alias(self, alias: rootcoord_pb2.AliasInfo) -> None:
        key = _alias_key(alias.db_id, alias.name)
        self._commit([Put(key, _encode(alias))], [Compare.absent(key)], f"alias {alias.name} exists")

    def alter_alias(self, alias: rootcoord_pb2.AliasInfo) -> None:
        self._kv.put(_alias_key(alias.db_id, alias.name), _encode(alias))

    def drop_alias(self, db_id: int, alias: str) -> None:
        self._kv.delete(_alias_key(db_id, alias))

    def list_aliases(self) -> list[rootcoord_pb2.AliasInfo]:
        return [rootcoord_pb2.AliasInfo.FromString(kv.value) for kv in self._kv.range(_ALIAS)]
