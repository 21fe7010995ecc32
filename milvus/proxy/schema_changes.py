"""Schema changes that touch indexes too (Milvus 3.0's AlterCollectionSchema and
DropCollectionFunction): the root coordinator changes the schema; the proxy drops the indexes
of the fields a drop removes before, and creates the index bound to an added function's output
after.  Each is checked first (the same checks the root coordinator runs, on the collection as
the root coordinator has it now), so a refused change drops no index.
"""

from __future__ import annotations

from collections.abc import Callable

from milvus.grpc_gen import milvus_pb2, schema_pb2
from milvus.proxy.collections import Collection, Collections
from milvus.proxy.ddl import Ddl
from milvus.proxy.indexes import Indexes
from milvus.proxy.meta_cache import MetaCache
from milvus.schema.drop import drop_field, drop_function, function_outputs
from milvus.schema.validate import new_function_field


class SchemaChanges:
    def __init__(self, ddl: Ddl, cache: MetaCache, collections: Collections, indexes: Indexes):
        self._ddl = ddl
        self._cache = cache
        self._collections = collections
        self._indexes = indexes

    def _current(self, db: str, name: str) -> tuple[Collection, schema_pb2.CollectionSchema]:
        """The collection as the root coordinator has it now (not as this proxy cached it)."""
        self._cache.invalidate(db, [name])
        coll = self._collections.get(db, name)
        return coll, schema_pb2.CollectionSchema.FromString(coll.info.schema)

    def alter(self, request: milvus_pb2.AlterCollectionSchemaRequest) -> None:
        """Add a field or a BM25 function with its output, or drop a field or a function: the
        indexes of the fields a drop removes go first (a function's outputs, also kept ones:
        their index is the function's); an added function's bound index comes after."""
        op = request.action.WhichOneof("op")
        if op == "drop_request":
            drop = request.action.drop_request

            def leaving(schema: schema_pb2.CollectionSchema) -> list[schema_pb2.FieldSchema]:
                if drop.function_name:
                    drop_function(schema, drop.function_name, drop.drop_function_output_fields)  # allowed?
                    return function_outputs(schema, drop.function_name)
                return [drop_field(schema, drop.field_name, drop.field_id)[1]]
            self._drop_indexes(request.db_name, request.collection_name, leaving)
            self._ddl.alter_collection_schema(request)
            return
        add = request.action.add_request if op == "add_request" else None
        if add is None or not add.func_schema or not add.field_infos or not add.field_infos[0].extra_params:
            self._ddl.alter_collection_schema(request)
            return
        info = add.field_infos[0]
        _, schema = self._current(request.db_name, request.collection_name)
        new_function_field(schema, list(add.func_schema), info.field_schema)
        self._indexes.check_function_output_index(info.field_schema.name, info.extra_params)
        self._ddl.alter_collection_schema(request)
        self._indexes.create(request.db_name, milvus_pb2.CreateIndexRequest(
            db_name=request.db_name, collection_name=request.collection_name, field_name=info.field_schema.name,
            index_name=info.index_name, extra_params=info.extra_params))

    def drop_function(self, request: milvus_pb2.DropCollectionFunctionRequest) -> None:
        """Drop a function with its output fields and their indexes."""
        self._drop_indexes(request.db_name, request.collection_name,
                           lambda schema: drop_function(schema, request.function_name, True)[1])
        self._ddl.drop_collection_function(request)

    def _drop_indexes(self, db: str, name: str,
                      leaving: Callable[[schema_pb2.CollectionSchema], list[schema_pb2.FieldSchema]]) -> None:
        coll, schema = self._current(db, name)
        field_ids = {f.fieldID for f in leaving(schema)}  # raises when the change is refused
        if field_ids:
            self._indexes.drop_field_indexes(coll, field_ids)
