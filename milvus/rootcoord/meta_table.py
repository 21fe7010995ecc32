"""The root coordinator's metadata in memory, written through to the catalog.

Every mutation writes the catalog first and changes memory only when that succeeded, so a
failed write leaves both as they were.  Not thread-safe: the root coordinator serialises
DDL and reads under one lock.  Objects handed out are the stored ones: treat them as
read-only and pass new objects to the mutators.
"""

from __future__ import annotations

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.metastore import RootCoordCatalog

DEFAULT_DB = "default"

CollectionInfo = rootcoord_pb2.CollectionInfo
DatabaseInfo = rootcoord_pb2.DatabaseInfo
PartitionInfo = rootcoord_pb2.PartitionInfo
AliasInfo = rootcoord_pb2.AliasInfo


def database_not_found(name: str) -> errors.MilvusError:
    return errors.DatabaseNotFound(f"database not found[database={name}]")


def collection_not_found(db: str | None, name: str | int) -> errors.MilvusError:
    where = f"[database={db}]" if db is not None else ""
    return errors.CollectionNotFound(f"collection not found{where}[collection={name}]")


class MetaTable:
    def __init__(self, catalog: RootCoordCatalog):
        self._catalog = catalog
        self._dbs: dict[str, DatabaseInfo] = {}
        self._colls: dict[int, CollectionInfo] = {}  # partitions included, aliases not
        self._names: dict[tuple[int, str], int] = {}  # (db id, name) -> collection id
        self._aliases: dict[tuple[int, str], AliasInfo] = {}
        self._dropping: dict[int, CollectionInfo] = {}  # being dropped: invisible, names free
        self._dropping_parts: dict[tuple[int, int], PartitionInfo] = {}  # (collection id, id)

    def load(self) -> None:
        """Read everything back from the catalog (replaces what memory held)."""
        self._dbs = {db.name: db for db in self._catalog.list_databases()}
        self._colls = {c.id: c for c in self._catalog.list_collections()}
        self._names = {(c.db_id, c.name): c.id for c in self._colls.values()}
        self._aliases = {(a.db_id, a.name): a for a in self._catalog.list_aliases() if a.collection_id in self._colls}
        self._dropping = {c.id: c for c in self._catalog.list_dropping_collections()}
        self._dropping_parts = {(p.collection_id, p.id): p for p in self._catalog.list_dropping_partitions()}

    # ---- databases ------------------------------------------------------------------

    def has_database(self, name: str) -> bool:
        return name in self._dbs

    def database(self, name: str) -> DatabaseInfo:
        db = self._dbs.get(name or DEFAULT_DB)
        if db is None:
            raise database_not_found(name)
        return db

    def database_by_id(self, db_id: int) -> DatabaseInfo:
        for db in self._dbs.values():
            if db.id == db_id:
                return db
        raise errors.DatabaseNotFound(f"database not found[database={db_id}]")

    def databases(self) -> list[DatabaseInfo]:
        return sorted(self._dbs.values(), key=lambda db: db.id)

    def add_database(self, db: DatabaseInfo) -> None:
        self._catalog.create_database(db)
        self._dbs[db.name] = db

    def alter_database(self, db: DatabaseInfo) -> None:
        self._catalog.alter_database(db)
        self._dbs[db.name] = db

    def remove_database(self, db: DatabaseInfo) -> None:
        self._catalog.drop_database(db.id)
        del self._dbs[db.name]

    # ---- collections ----------------------------------------------------------------

    def collections(self, db_id: int | None = None) -> list[CollectionInfo]:
        """Collections of one database (every database with None), by id."""
        return sorted((c for c in self._colls.values() if db_id is None or c.db_id == db_id), key=lambda c: c.id)

    def collection_count(self) -> int:
        return len(self._colls)

    def collection_by_name(self, db_id: int, name: str) -> CollectionInfo | None:
        """The collection called ``name`` (not an alias) in the database, if any."""
        cid = self._names.get((db_id, name))
        return self._colls[cid] if cid is not None else None

    def resolve(self, db_id: int, name: str) -> CollectionInfo | None:
        """The collection ``name`` designates in the database: an alias or a collection name."""
        alias = self._aliases.get((db_id, name))
        if alias is not None:
            return self._colls.get(alias.collection_id)
        return self.collection_by_name(db_id, name)

    def collection_by_id(self, collection_id: int) -> CollectionInfo | None:
        return self._colls.get(collection_id)

    def add_collection(self, coll: CollectionInfo) -> None:
        self._catalog.create_collection(coll)
        self._colls[coll.id] = coll
        self._names[(coll.db_id, coll.name)] = coll.id

    def alter_collection(self, coll: CollectionInfo) -> None:
        self._catalog.alter_collection(coll)
        self._colls[coll.id] = coll

    def rename_collection(self, old: CollectionInfo, new: CollectionInfo) -> None:
        moving = [a for a in self._aliases.values() if a.collection_id == old.id] if old.db_id != new.db_id else []
        self._catalog.rename_collection(old, new, moving)
        del self._names[(old.db_id, old.name)]
        self._names[(new.db_id, new.name)] = new.id
        self._colls[new.id] = new
        for alias in moving:
            del self._aliases[(old.db_id, alias.name)]
            moved = AliasInfo()
            moved.CopyFrom(alias)
            moved.db_id = new.db_id
            self._aliases[(new.db_id, alias.name)] = moved

    def mark_dropping(self, coll: CollectionInfo) -> None:
        """The collection is being dropped: gone for callers (its name free), kept until
        ``remove_dropped`` once everything it had is released."""
        aliases = self.aliases_of(coll.id)
        self._catalog.mark_collection_dropping(coll, aliases)
        del self._colls[coll.id]
        del self._names[(coll.db_id, coll.name)]
        for alias in aliases:
            del self._aliases[(coll.db_id, alias)]
        self._dropping[coll.id] = coll

    def dropping(self) -> list[CollectionInfo]:
        """Collections being dropped, by id."""
        return sorted(self._dropping.values(), key=lambda c: c.id)

    def remove_dropped(self, collection_id: int) -> None:
        """Forget a dropped collection (and its dropping partitions) for good."""
        self._catalog.remove_dropped_collection(collection_id)
        self._dropping.pop(collection_id, None)
        for key in [k for k in self._dropping_parts if k[0] == collection_id]:
            del self._dropping_parts[key]

    # ---- partitions -----------------------------------------------------------------

    def add_partition(self, coll: CollectionInfo, partition: PartitionInfo) -> None:
        self._catalog.create_partition(partition)
        updated = CollectionInfo()
        updated.CopyFrom(coll)
        updated.partitions.append(partition)
        self._colls[coll.id] = updated

    def mark_partition_dropping(self, coll: CollectionInfo, partition: PartitionInfo) -> None:
        """The partition is being dropped: gone from the collection, kept until
        ``remove_dropped_partition``."""
        self._catalog.mark_partition_dropping(partition)
        updated = CollectionInfo()
        updated.CopyFrom(coll)
        del updated.partitions[:]
        updated.partitions.extend(p for p in coll.partitions if p.id != partition.id)
        self._colls[coll.id] = updated
        self._dropping_parts[(coll.id, partition.id)] = partition

    def dropping_partitions(self) -> list[PartitionInfo]:
        return [self._dropping_parts[k] for k in sorted(self._dropping_parts)]

    def remove_dropped_partition(self, partition: PartitionInfo) -> None:
        self._catalog.remove_dropped_partition(partition.collection_id, partition.id)
        self._dropping_parts.pop((partition.collection_id, partition.id), None)

    # ---- aliases --------------------------------------------------------------------

    def alias(self, db_id: int, name: str) -> AliasInfo | None:
        return self._aliases.get((db_id, name))

    def aliases_of(self, collection_id: int) -> list[str]:
        return sorted(a.name for a in self._aliases.values() if a.collection_id == collection_id)

    def aliases_in(self, db_id: int) -> list[AliasInfo]:
        return sorted((a for a in self._aliases.values() if a.db_id == db_id), key=lambda a: a.name)

    def add_alias(self, alias: AliasInfo) -> None:
        self._catalog.create_alias(alias)
        self._aliases[(alias.db_id, alias.name)] = alias

    def alter_alias(self, alias: AliasInfo) -> None:
        self._catalog.alter_alias(alias)
        self._aliases[(alias.db_id, alias.name)] = alias

    def remove_alias(self, alias: AliasInfo) -> None:
        self._catalog.drop_alias(alias.db_id, alias.name)
        del self._aliases[(alias.db_id, alias.name)]

    # ---- answers --------------------------------------------------------------------

    def view(self, coll: CollectionInfo) -> CollectionInfo:
        """A copy of ``coll`` as described to callers: aliases, partition count, database name."""
        out = CollectionInfo()
        out.CopyFrom(coll)
        out.aliases.extend(self.aliases_of(coll.id))
        out.num_partitions = len(coll.partitions)
        out.db_name = self.database_by_id(coll.db_id).name
        return out
