"""The root coordinator's alias RPCs (a mixin of ``RootCoord``)."""

from __future__ import annotations

from milvus import errors
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.rootcoord.meta_table import (
    AliasInfo,
    CollectionInfo,
    DatabaseInfo,
    collection_not_found,
)
from milvus.rootcoord.rpc import OK, answers


class AliasRpcs:
    """CreateAlias, AlterAlias, DropAlias, DescribeAlias, ListAliases."""

    def _check_alias_target(self, db: DatabaseInfo, alias: str, collection_name: str) -> CollectionInfo:
        if self._meta.collection_by_name(db.id, alias) is not None:
            raise errors.AliasCollectionNameConflict(
                f"alias and collection name conflict[database={db.name}][alias={alias}]")
        coll = self._meta.collection_by_name(db.id, collection_name)
        if coll is None:
            raise collection_not_found(db.name, collection_name)
        return coll

    @answers
    def CreateAlias(self, request: milvus_pb2.CreateAliasRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            db = self._meta.database(request.db_name)
            alias = request.alias
            coll = self._check_alias_target(db, alias, request.collection_name)
            existing = self._meta.alias(db.id, alias)
            if existing is not None:
                if existing.collection_id == coll.id:
                    return OK  # the same alias again is a no-op, as in Milvus
                other = self._meta.collection_by_id(existing.collection_id)
                raise errors.AliasAlreadyExists(
                    f"{alias} is alias to another collection: {other.name if other else existing.collection_id}: "
                    f"alias already exist[database={db.name}][alias={alias}]")
            self._meta.add_alias(AliasInfo(name=alias, collection_id=coll.id, db_id=db.id, created_ts=self._tso.alloc()))
            expired.append(self._expire(coll))
        return OK

    @answers
    def AlterAlias(self, request: milvus_pb2.AlterAliasRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            db = self._meta.database(request.db_name)
            alias = request.alias
            coll = self._check_alias_target(db, alias, request.collection_name)
            existing = self._meta.alias(db.id, alias)
            if existing is None:
                raise errors.AliasNotFound(f"alias not found[database={db.name}][alias={alias}]")
            previous = self._meta.collection_by_id(existing.collection_id)
            self._meta.alter_alias(AliasInfo(name=alias, collection_id=coll.id, db_id=db.id, created_ts=self._tso.alloc()))
            if previous is not None:
                expired.append(self._expire(previous, names=[alias]))
            expired.append(self._expire(coll))
        return OK

    @answers
    def DropAlias(self, request: milvus_pb2.DropAliasRequest) -> common_pb2.Status:
        with self._ddl() as expired:
            db = self._meta.database(request.db_name)
            existing = self._meta.alias(db.id, request.alias)
            if existing is None:
                # idempotent, as Milvus 2.4/2.5 (pymilvus' own alias example drops before creating)
                return OK
            self._meta.remove_alias(existing)
            coll = self._meta.collection_by_id(existing.collection_id)
            if coll is not None:
                expired.append(self._expire(coll, names=[request.alias]))
        return OK

    @answers
    def DescribeAlias(self, request: milvus_pb2.DescribeAliasRequest) -> milvus_pb2.DescribeAliasResponse:
        with self._lock:
            db = self._meta.database(request.db_name)
            existing = self._meta.alias(db.id, request.alias)
            coll = self._meta.collection_by_id(existing.collection_id) if existing is not None else None
            if coll is None:
                raise errors.AliasNotFound(f"alias not found[database={db.name}][alias={request.alias}]")
        return milvus_pb2.DescribeAliasResponse(status=OK, db_name=db.name, alias=request.alias, collection=coll.name)

    @answers
    def ListAliases(self, request: milvus_pb2.ListAliasesRequest) -> milvus_pb2.ListAliasesResponse:
        with self._lock:
            db = self._meta.database(request.db_name)
            if request.collection_name:
                coll = self._meta.collection_by_name(db.id, request.collection_name)
                if coll is None:
                    raise collection_not_found(None, request.collection_name)
                aliases = self._meta.aliases_of(coll.id)
            else:
                aliases = [a.name for a in self._meta.aliases_in(db.id)]
        return milvus_pb2.ListAliasesResponse(
            status=OK, db_name=db.name, collection_name=request.collection_name, aliases=aliases)
