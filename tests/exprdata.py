"""A collection schema with a field of every filterable type, and rows of it as the Arrow
table a query node evaluates filters on (tests of ``milvus.expr``)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa
from pymilvus.grpc_gen import schema_pb2 as spb

from milvus.schema import CollectionSchemaModel


def field(name: str, data_type: int, **kw) -> spb.FieldSchema:
    out = spb.FieldSchema(name=name, data_type=data_type)
    for key, value in kw.items():
        if key == "params":
            for k, v in value.items():
                out.type_params.add(key=k, value=str(v))
        else:
            setattr(out, key, value)
    return out


def make_schema(dynamic: bool = True) -> CollectionSchemaModel:
    fields = [
        field("id", spb.Int64, is_primary_key=True),
        field("i8", spb.Int8),
        field("i32", spb.Int32, nullable=True),
        field("i64", spb.Int64),
        field("f32", spb.Float),
        field("f64", spb.Double, nullable=True),
        field("b", spb.Bool, nullable=True),
        field("s", spb.VarChar, nullable=True, params={"max_length": 64, "enable_match": "true",
                                                         "enable_analyzer": "true"}),
        field("j", spb.JSON, nullable=True),
        field("ai", spb.Array, element_type=spb.Int64, nullable=True, params={"max_capacity": 8}),
        field("af", spb.Array, element_type=spb.Float, params={"max_capacity": 8}),
        field("as_", spb.Array, element_type=spb.VarChar, params={"max_capacity": 8, "max_length": 16}),
        field("ab", spb.Array, element_type=spb.Bool, params={"max_capacity": 8}),
        field("v", spb.FloatVector, params={"dim": 2}),
    ]
    return CollectionSchemaModel(spb.CollectionSchema(name="c", fields=fields, enable_dynamic_field=dynamic))


SCALARS = ("i8", "i32", "i64", "f32", "f64", "b", "s", "ai", "af", "as_", "ab")


def make_table(schema: CollectionSchemaModel, rows: Sequence[dict], *, chunks: Sequence[int] = (),
               drop: Sequence[str] = ()) -> pa.Table:
    """An Arrow table of the stored schema.  Each row gives user values by field name
    (missing: a default; ``"$meta"`` a dict of dynamic keys, ``"j"`` any JSON value or None).
    ``chunks``: row counts at which to start a new chunk; ``drop``: columns left out (a
    segment written before those fields existed)."""
    arrow = schema.arrow_schema
    defaults = {"i8": 0, "i32": None, "i64": 0, "f32": 0.0, "f64": None, "b": None, "s": None, "j": None,
                "ai": None, "af": [], "as_": [], "ab": []}
    columns: dict[str, list] = {"_row_id": [], "_ts": []}
    for name in arrow.names[2:]:
        columns[name] = []
    for i, row in enumerate(rows):
        columns["_row_id"].append(i)
        columns["_ts"].append(1)
        for info in schema.fields:
            name = info.name
            if name == "id":
                value = row.get("id", i)
            elif name == "v":
                value = [0.0, 0.0]
            elif info.is_dynamic:
                value = json.dumps(row.get("$meta", {})).encode()
            elif name == "j":
                value = row.get("j")
                value = None if value is None else json.dumps(value).encode()
            else:
                value = row.get(name, defaults.get(name))
            columns[name].append(value)
    table = pa.table({k: pa.array(v, type=arrow.field(k).type) for k, v in columns.items()}, schema=arrow)
    if chunks:
        bounds = sorted({c for c in chunks if 0 < c < table.num_rows})
        pieces, start = [], 0
        for b in [*bounds, table.num_rows]:
            pieces.append(table.slice(start, b - start))
            start = b
        table = pa.concat_tables(pieces)
    if drop:
        table = table.drop_columns(list(drop))
    return table
