"""The root coordinator's RPCs that change a collection in place: its properties and
its fields (a mixin of ``RootCoord``).  Each bumps ``updated_ts`` and has the proxies forget
the collection; a schema change also moves the schema version on."""

from __future__ import annotations

import logging
from collections.abc import Callable

from google.protobuf.message import DecodeError

from milvus import errors
from milvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2
from milvus.rootcoord import collection_spec as spec
from milvus.rootcoord.meta_table import CollectionInfo
from milvus.rootcoord.rpc import OK, answers, kv_list, merge_properties
from milvus.schema import normalize_schema
from milvus.schema.drop import drop_field, drop_function
from milvus.schema.validate import new_function_field, validate_collection_schema, validate_new_field

log = logging.getLogger(__name__)

# field type params AlterCollectionField may change (Milvus' list)
_ALTERABLE_FIELD_PARAMS = frozenset({"max_length", "max_capacity", "mmap.enabled"})


def _new_schema(schema: bytes) -> Callable[[CollectionInfo, int], None]:
    """The change of a collection to ``schema``: its schema version moves on, and the largest
    field id it ever had is kept (a dropped field's id is never given again)."""
    def change(copy: CollectionInfo, _ts: int) -> None:
        copy.max_field_id = _max_field_id(copy)
        copy.schema = schema
        copy.schema_version += 1
    return change


def _max_field_id(coll: CollectionInfo) -> int:
    """The largest field id ``coll`` has had: of its schema and of the fields it dropped."""
    return max([coll.max_field_id, *(f.fieldID for f in spec.parse_schema(coll.schema).fields)])


class CollectionChangeRpcs:
    """AlterCollection, AlterCollectionField, AddCollectionField, AlterCollectionSchema,
    DropCollectionFunction."""

    @answers
    def AlterCollection(self, request: milvus_pb2.AlterCollectionRequest) -> common_pb2.Status:
        if request.properties and request.delete_keys:
            raise errors.ParameterInvalid("can not provide properties and deletekeys at the same time: invalid parameter")
        spec.check_properties(request.properties)
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name, request.collectionID)
            merged = kv_list(merge_properties(coll.properties, request.properties, request.delete_keys))

            def set_properties(copy: CollectionInfo, _ts: int) -> None:
                del copy.properties[:]
                copy.properties.extend(merged)
            self._alter(coll, expired, set_properties)
        return OK

    @answers
    def AlterCollectionField(self, request: milvus_pb2.AlterCollectionFieldRequest) -> common_pb2.Status:
        """Change a field's ``max_length`` (VarChar, or an array of VarChar), ``max_capacity``
        (array) or ``mmap.enabled``: the schema is checked again and its version moves on, so
        the proxies validate new rows by it."""
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name)
            schema = spec.parse_schema(coll.schema)
            field = next((f for f in schema.fields if f.name == request.field_name), None)
            if field is None:
                raise errors.ParameterInvalid(f"field not found[field={request.field_name}] in collection {coll.name}")
            params = {kv.key: kv.value for kv in field.type_params}
            for kv in request.properties:
                if kv.key not in _ALTERABLE_FIELD_PARAMS:
                    raise errors.ParameterInvalid(f"{kv.key} of field {field.name} cannot be altered: only "
                                                  f"{', '.join(sorted(_ALTERABLE_FIELD_PARAMS))}")
                params[kv.key] = kv.value
            for key in request.delete_keys:
                if key != "mmap.enabled":
                    raise errors.ParameterInvalid(f"{key} of field {field.name} cannot be deleted")
                params.pop(key, None)
            del field.type_params[:]
            field.type_params.extend(kv_list(params))
            validate_collection_schema(schema, collection_name=coll.name, limits=self._params.schema_limits)
            self._alter(coll, expired, _new_schema(schema.SerializeToString()))
        return OK

    @answers
    def AddCollectionField(self, request: milvus_pb2.AddCollectionFieldRequest) -> common_pb2.Status:
        self._add_field(request.db_name, request.collection_name, request.collectionID, request.schema)
        return OK

    def _add_field(self, db_name: str, collection_name: str, collection_id: int, field_bytes: bytes) -> None:
        """Add a nullable field (Milvus 2.6): checked as Milvus does, given the next field id
        and appended; the schema version moves on.  The proxies are told to forget the
        collection; the other roles learn the new schema from what reaches them next (see
        ``milvus.querynode.node``): rows written before it read the field's default or null."""
        field = schema_pb2.FieldSchema()
        try:
            field.ParseFromString(field_bytes)
        except DecodeError:
            raise errors.ParameterInvalid("the field schema cannot be parsed: invalid parameter") from None
        with self._ddl() as expired:
            coll = self._find(db_name, collection_name, collection_id)
            schema = spec.parse_schema(coll.schema)
            validate_new_field(schema, field, limits=self._params.schema_limits)
            field.fieldID = _max_field_id(coll) + 1
            schema.fields.append(field)
            schema = normalize_schema(schema)
            updated = self._alter(coll, expired, _new_schema(schema.SerializeToString(deterministic=True)))
            log.info("added field %s (%d) to collection %s (%d), schema version %d", field.name,
                     schema.fields[-1].fieldID, coll.name, coll.id, updated.schema_version)

    @answers
    def AlterCollectionSchema(self, request: milvus_pb2.AlterCollectionSchemaRequest) -> common_pb2.Status:
        """Milvus 3.0's schema change: add one field (as AddCollectionField), a BM25 function
        with its output field, or drop a field or a function (``milvus.schema.drop``).  The
        index bound to an added function's output is created by the proxy once the schema has
        changed."""
        op = request.action.WhichOneof("op")
        if op is None:
            raise errors.ParameterInvalid("an AlterCollectionSchema request must either add or drop: invalid parameter")
        if op == "add_request":
            add = request.action.add_request
            if len(add.field_infos) != 1:
                raise errors.ParameterInvalid("an AlterCollectionSchema add request must carry exactly one field")
            info = add.field_infos[0]
            if add.func_schema:
                self._add_function(request.db_name, request.collection_name, request.collectionID,
                                   list(add.func_schema), info.field_schema)
                return OK
            if info.index_name or info.extra_params:
                raise errors.ParameterInvalid("an added field's index is created with create_index, "
                                              "not with the schema change")
            self._add_field(request.db_name, request.collection_name, request.collectionID,
                            info.field_schema.SerializeToString())
            return OK
        drop = request.action.drop_request
        if drop.function_name:
            if drop.field_name or drop.field_id:
                raise errors.ParameterInvalid("drop either a field or a function, not both: invalid parameter")
            self._drop_function(request.db_name, request.collection_name, request.collectionID,
                                drop.function_name, drop.drop_function_output_fields)
            return OK
        with self._ddl() as expired:
            coll = self._find(request.db_name, request.collection_name, request.collectionID)
            schema, field = drop_field(spec.parse_schema(coll.schema), drop.field_name, drop.field_id)
            updated = self._alter(coll, expired, _new_schema(schema.SerializeToString(deterministic=True)))
            log.info("dropped field %s (%d) of collection %s (%d), schema version %d", field.name,
                     field.fieldID, coll.name, coll.id, updated.schema_version)
        return OK

    def _add_function(self, db_name: str, collection_name: str, collection_id: int,
                      functions: list[schema_pb2.FunctionSchema], output: schema_pb2.FieldSchema) -> None:
        """Add a BM25 function with its new output field (``milvus.schema.functions``: the
        rows written before it get their output computed from their input when read)."""
        with self._ddl() as expired:
            coll = self._find(db_name, collection_name, collection_id)
            schema = spec.parse_schema(coll.schema)
            field, fn = new_function_field(schema, functions, output)
            field.fieldID = _max_field_id(coll) + 1
            schema.fields.append(field)
            schema.functions.append(fn)
            validate_collection_schema(schema, collection_name=coll.name, limits=self._params.schema_limits)
            schema = normalize_schema(schema)
            updated = self._alter(coll, expired, _new_schema(schema.SerializeToString(deterministic=True)))
            log.info("added function %s with output field %s (%d) to collection %s (%d), schema version %d",
                     fn.name, field.name, field.fieldID, coll.name, coll.id, updated.schema_version)

    @answers
    def DropCollectionFunction(self, request: milvus_pb2.DropCollectionFunctionRequest) -> common_pb2.Status:
        """Drop a function and its output fields (as Milvus 3.0 does); its input fields stay."""
        self._drop_function(request.db_name, request.collection_name, request.collectionID,
                            request.function_name, drop_outputs=True)
        return OK

    def _drop_function(self, db_name: str, collection_name: str, collection_id: int, function_name: str,
                       drop_outputs: bool) -> None:
        with self._ddl() as expired:
            coll = self._find(db_name, collection_name, collection_id)
            schema, dropped = drop_function(spec.parse_schema(coll.schema), function_name, drop_outputs)
            updated = self._alter(coll, expired, _new_schema(schema.SerializeToString(deterministic=True)))
            log.info("dropped function %s of collection %s (%d) with fields %s, schema version %d", function_name,
                     coll.name, coll.id, [f.name for f in dropped], updated.schema_version)
