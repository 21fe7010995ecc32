"""The root coordinator's database RPCs (a mixin of ``RootCoord``)."""

from __future__ import annotations

from milvus import errors
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.rootcoord.meta_table import (
    DEFAULT_DB,
    DatabaseInfo,
)
from milvus.rootcoord.rpc import OK, answers, kv_list, merge_properties


class DatabaseRpcs:
    """CreateDatabase, DropDatabase, ListDatabases, DescribeDatabase, AlterDatabase."""

    @answers
    def CreateDatabase(self, request: milvus_pb2.CreateDatabaseRequest) -> common_pb2.Status:
        with self._ddl():
            name = request.db_name
            if not name:
                raise errors.DatabaseInvalidName("database name couldn't be empty: invalid database name[database=]")
            if self._meta.has_database(name):
                raise errors.AlreadyExists(f"database already exist: {name}")
            limit = self._params.max_databases
            if len(self._meta.databases()) >= limit:
                raise errors.DatabaseNumLimitExceeded(f"exceeded the limit number of database[limit={limit}]")
            self._meta.add_database(DatabaseInfo(
                id=self._alloc_id(), name=name, created_ts=self._tso.alloc(), properties=request.properties))
        return OK

    @answers
    def DropDatabase(self, request: milvus_pb2.DropDatabaseRequest) -> common_pb2.Status:
        with self._ddl():
            name = request.db_name
            if name == DEFAULT_DB:
                raise errors.MilvusError("can not drop default database")
            if not self._meta.has_database(name):
                return OK  # dropping is idempotent, as in Milvus
            db = self._meta.database(name)
            if self._meta.collections(db.id):
                raise errors.MilvusError(f"database:{name} not empty, must drop all collections before drop database")
            self._meta.remove_database(db)
        return OK

    @answers
    def ListDatabases(self, request: milvus_pb2.ListDatabasesRequest) -> milvus_pb2.ListDatabasesResponse:
        with self._lock:
            dbs = self._meta.databases()
        return milvus_pb2.ListDatabasesResponse(
            status=OK, db_names=[db.name for db in dbs], db_ids=[db.id for db in dbs],
            created_timestamp=[db.created_ts for db in dbs],
        )

    @answers
    def DescribeDatabase(self, request: milvus_pb2.DescribeDatabaseRequest) -> milvus_pb2.DescribeDatabaseResponse:
        with self._lock:
            db = self._meta.database(request.db_name)
        return milvus_pb2.DescribeDatabaseResponse(
            status=OK, db_name=db.name, dbID=db.id, created_timestamp=db.created_ts, properties=db.properties,
        )

    @answers
    def AlterDatabase(self, request: milvus_pb2.AlterDatabaseRequest) -> common_pb2.Status:
        with self._ddl():
            db = self._meta.database(request.db_name)
            if request.properties and request.delete_keys:
                raise errors.ParameterInvalid(
                    "alter database requires either properties or deletekeys to modify or delete keys, "
                    "both cannot be provided at the same time: invalid parameter")
            updated = DatabaseInfo()
            updated.CopyFrom(db)
            del updated.properties[:]
            updated.properties.extend(kv_list(merge_properties(db.properties, request.properties, request.delete_keys)))
            self._meta.alter_database(updated)
        return OK
