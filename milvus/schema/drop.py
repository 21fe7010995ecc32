"""Dropping a field or a function from a collection schema (Milvus 3.0's
``drop_collection_field`` / ``drop_collection_function``, both AlterCollectionSchema drops).

Only the schema changes: rows already written keep the dropped field's column in their logs,
keyed by its field id, and readers skip it (``milvus.schema.evolve``); a field added later gets
a new id, never the dropped one (the root coordinator remembers the largest id given), so
old data is never read as the new field's.  What may not be dropped, as Milvus refuses it:
the primary key, the partition key, the clustering key, the dynamic field, a function's input
or output field (a function's outputs go with ``drop_collection_function``), and the last
vector field.
"""

from __future__ import annotations

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import datatypes as dt
from milvus.schema.errors import invalid


def find_field(schema: spb.CollectionSchema, name: str = "", field_id: int = 0) -> spb.FieldSchema:
    """The field named ``name`` or with id ``field_id`` (exactly one of them given)."""
    if bool(name) == bool(field_id):
        raise invalid("exactly one of field name and field id must be given to drop a field")
    for f in schema.fields:
        if (name and f.name == name) or (field_id and f.fieldID == field_id):
            return f
    what = f"field name = {name}" if name else f"field id = {field_id}"
    raise invalid(f"field not found in collection {schema.name}: {what}")


def _check_droppable(schema: spb.CollectionSchema, f: spb.FieldSchema) -> None:
    if f.is_primary_key:
        raise invalid(f"the primary key field cannot be dropped, field name = {f.name}")
    if f.is_partition_key:
        raise invalid(f"the partition key field cannot be dropped, field name = {f.name}")
    if f.is_clustering_key:
        raise invalid(f"the clustering key field cannot be dropped, field name = {f.name}")
    if f.is_dynamic:
        raise invalid(f"the dynamic field cannot be dropped, field name = {f.name}")
    for fn in schema.functions:
        if f.name in fn.output_field_names:
            raise invalid(f"field {f.name} is an output of function {fn.name}: drop the function "
                          f"(drop_collection_function) to drop its output fields")
        if f.name in fn.input_field_names:
            raise invalid(f"field {f.name} is an input of function {fn.name} and cannot be dropped")


def _check_vectors_left(schema: spb.CollectionSchema, dropped: set[str]) -> None:
    if not any(dt.is_vector(f.data_type) and f.name not in dropped for f in schema.fields):
        raise invalid(f"cannot drop the last vector field of collection {schema.name}: "
                      f"a collection needs at least one vector field")


def _without(schema: spb.CollectionSchema, dropped: set[str]) -> spb.CollectionSchema:
    out = spb.CollectionSchema()
    out.CopyFrom(schema)
    del out.fields[:]
    out.fields.extend(f for f in schema.fields if f.name not in dropped)
    return out


def drop_field(schema: spb.CollectionSchema, name: str = "", field_id: int = 0
               ) -> tuple[spb.CollectionSchema, spb.FieldSchema]:
    """``schema`` without the field named ``name`` (or with id ``field_id``), and that field."""
    f = find_field(schema, name, field_id)
    _check_droppable(schema, f)
    _check_vectors_left(schema, {f.name})
    return _without(schema, {f.name}), f


def function_outputs(schema: spb.CollectionSchema, function_name: str) -> list[spb.FieldSchema]:
    """The output fields of the function ``function_name``."""
    fn = next((fn for fn in schema.functions if fn.name == function_name), None)
    if fn is None:
        raise invalid(f"function not found in collection {schema.name}: function name = {function_name}")
    return [f for f in schema.fields if f.name in fn.output_field_names]


def drop_function(schema: spb.CollectionSchema, function_name: str, drop_outputs: bool
                  ) -> tuple[spb.CollectionSchema, list[spb.FieldSchema]]:
    """``schema`` without the function ``function_name`` and, with ``drop_outputs``, without
    its output fields; and the fields dropped.  Kept outputs become ordinary fields (rows must
    then carry their values; their indexes, built for the function's metric, go)."""
    outputs = {f.name for f in function_outputs(schema, function_name)}
    dropped = [f for f in schema.fields if f.name in outputs] if drop_outputs else []
    if dropped:
        _check_vectors_left(schema, outputs)
    out = _without(schema, {f.name for f in dropped})
    del out.functions[:]
    out.functions.extend(g for g in schema.functions if g.name != function_name)
    for f in out.fields:
        if f.name in outputs:
            f.is_function_output = False
    return out, dropped
