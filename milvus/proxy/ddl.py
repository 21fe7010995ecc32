"""DDL through the root coordinator: names checked first, one change at a time, and the
meta cache kept in step.

Requests arrive as the public request messages with ``db_name`` already resolved (the
service adapter fills it); the root coordinator's service takes the same messages.  Reads
(has/describe/show) do not wait for DDL: only changes are serialised.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.proxy.meta_cache import MetaCache
from milvus.proxy.validate import NameRules
from milvus.rpc import RpcError


class RootCoordCaller:
    """Calls the root coordinator client and turns failures into ``milvus.errors``."""

    def __init__(self, rootcoord: Any):
        self._rootcoord = rootcoord

    def __call__(self, method: str, request: Any) -> Any:
        try:
            response = getattr(self._rootcoord, method)(request)
        except RpcError as exc:
            raise errors.ServiceUnavailable(f"service unavailable: rootcoord {exc}") from None
        status = response if isinstance(response, common_pb2.Status) else response.status
        errors.check_status(status)
        return response


class Ddl:
    def __init__(self, call: RootCoordCaller, cache: MetaCache, names: NameRules):
        self._call = call
        self._cache = cache
        self._names = names
        self._lock = threading.Lock()

    def _change(self, method: str, request: Any, db: str, expired: Iterable[str] = ()) -> None:
        """Run one change alone, then forget what it touched (also on failure: a half-known
        outcome must not leave a stale entry behind)."""
        with self._lock:
            try:
                self._call(method, request)
            finally:
                self._cache.invalidate(db, expired)

    # ---- databases ------------------------------------------------------------------

    def create_database(self, request: milvus_pb2.CreateDatabaseRequest) -> None:
        self._names.database(request.db_name)
        self._change("CreateDatabase", request, request.db_name)

    def drop_database(self, request: milvus_pb2.DropDatabaseRequest) -> None:
        self._names.database(request.db_name)
        with self._lock:
            try:
                self._call("DropDatabase", request)
            finally:
                self._cache.invalidate_database(request.db_name)

    def alter_database(self, request: milvus_pb2.AlterDatabaseRequest) -> None:
        self._names.database(request.db_name)
        self._change("AlterDatabase", request, request.db_name)

    def list_databases(self, request: milvus_pb2.ListDatabasesRequest) -> milvus_pb2.ListDatabasesResponse:
        return self._call("ListDatabases", request)

    def describe_database(self, request: milvus_pb2.DescribeDatabaseRequest) -> milvus_pb2.DescribeDatabaseResponse:
        self._names.database(request.db_name)
        return self._call("DescribeDatabase", request)

    # ---- collections ----------------------------------------------------------------

    def create_collection(self, request: milvus_pb2.CreateCollectionRequest) -> None:
        self._names.collection(request.collection_name)
        self._change("CreateCollection", request, request.db_name, [request.collection_name])

    def drop_collection(self, request: milvus_pb2.DropCollectionRequest) -> None:
        self._names.collection(request.collection_name)
        self._change("DropCollection", request, request.db_name, [request.collection_name])

    def truncate_collection(self, request: milvus_pb2.TruncateCollectionRequest) -> None:
        self._names.collection(request.collection_name)
        self._change("TruncateCollection", request, request.db_name, [request.collection_name])

    def alter_collection(self, request: milvus_pb2.AlterCollectionRequest) -> None:
        self._names.collection(request.collection_name)
        self._change("AlterCollection", request, request.db_name, [request.collection_name])

    def alter_collection_field(self, request: milvus_pb2.AlterCollectionFieldRequest) -> None:
        self._names.collection(request.collection_name)
        self._change("AlterCollectionField", request, request.db_name, [request.collection_name])

    def add_collection_field(self, request: milvus_pb2.AddCollectionFieldRequest) -> None:
        self._names.collection(request.collection_name)
        self._change("AddCollectionField", request, request.db_name, [request.collection_name])

    def alter_collection_schema(self, request: milvus_pb2.AlterCollectionSchemaRequest) -> None:
        self._names.collection(request.collection_name)
        self._change("AlterCollectionSchema", request, request.db_name, [request.collection_name])

    def drop_collection_function(self, request: milvus_pb2.DropCollectionFunctionRequest) -> None:
        self._names.collection(request.collection_name)
        self._change("DropCollectionFunction", request, request.db_name, [request.collection_name])

    def rename_collection(self, request: milvus_pb2.RenameCollectionRequest) -> None:
        self._names.collection(request.oldName)
        self._names.collection(request.newName)
        if request.newDBName:
            self._names.database(request.newDBName)
        with self._lock:
            try:
                self._call("RenameCollection", request)
            finally:
                self._cache.invalidate(request.db_name, [request.oldName])
                self._cache.invalidate(request.newDBName or request.db_name, [request.newName])

    def has_collection(self, db: str, name: str) -> bool:
        self._names.collection(name)
        request = milvus_pb2.HasCollectionRequest(db_name=db, collection_name=name)
        return self._call("HasCollection", request).value

    def describe_collection(self, db: str, name: str, collection_id: int = 0) -> rootcoord_pb2.CollectionInfo:
        """The collection ``name`` (or alias) in ``db``, or the one with ``collection_id``."""
        if collection_id and not name:
            return self._cache.get_by_id(collection_id)
        self._names.collection(name)
        return self._cache.get(db, name)

    def show_collections(self, db: str, names: Iterable[str] = ()) -> list[rootcoord_pb2.CollectionInfo]:
        """Every collection of ``db`` (by id), or only ``names`` in that order."""
        request = rootcoord_pb2.ShowCollectionsInternalRequest(db_name=db)
        collections = list(self._call("ShowCollectionsInternal", request).collections)
        names = list(names)
        if not names:
            return collections
        by_name = {c.name: c for c in collections}
        for name in names:
            self._names.collection(name)
            if name not in by_name:
                raise errors.CollectionNotFound(f"collection not found[database={db}][collection={name}]")
        return [by_name[name] for name in names]

    # ---- partitions -----------------------------------------------------------------

    def create_partition(self, request: milvus_pb2.CreatePartitionRequest) -> None:
        self._names.collection(request.collection_name)
        self._names.partition(request.partition_name)
        self._change("CreatePartition", request, request.db_name, [request.collection_name])

    def drop_partition(self, request: milvus_pb2.DropPartitionRequest) -> None:
        self._names.collection(request.collection_name)
        self._names.partition(request.partition_name)
        self._change("DropPartition", request, request.db_name, [request.collection_name])

    def has_partition(self, request: milvus_pb2.HasPartitionRequest) -> bool:
        self._names.collection(request.collection_name)
        self._names.partition(request.partition_name)
        return self._call("HasPartition", request).value

    def show_partitions(self, request: milvus_pb2.ShowPartitionsRequest) -> milvus_pb2.ShowPartitionsResponse:
        if request.collection_name or not request.collectionID:
            self._names.collection(request.collection_name)
        for name in request.partition_names:
            self._names.partition(name)
        return self._call("ShowPartitions", request)

    # ---- aliases --------------------------------------------------------------------

    def create_alias(self, request: milvus_pb2.CreateAliasRequest) -> None:
        self._names.collection(request.collection_name)
        self._names.alias(request.alias)
        self._change("CreateAlias", request, request.db_name, [request.alias, request.collection_name])

    def alter_alias(self, request: milvus_pb2.AlterAliasRequest) -> None:
        self._names.collection(request.collection_name)
        self._names.alias(request.alias)
        self._change("AlterAlias", request, request.db_name, [request.alias, request.collection_name])

    def drop_alias(self, request: milvus_pb2.DropAliasRequest) -> None:
        self._names.alias(request.alias)
        self._change("DropAlias", request, request.db_name, [request.alias])

    def describe_alias(self, request: milvus_pb2.DescribeAliasRequest) -> milvus_pb2.DescribeAliasResponse:
        self._names.alias(request.alias)
        return self._call("DescribeAlias", request)

    def list_aliases(self, request: milvus_pb2.ListAliasesRequest) -> milvus_pb2.ListAliasesResponse:
        if request.collection_name:
            self._names.collection(request.collection_name)
        return self._call("ListAliases", request)
