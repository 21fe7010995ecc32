"""A read of a partition-key collection whose filter pins the key looks only in the partitions
the key values hash to (the ones its rows were written to: ``partition_of``); any other
filter reads every partition."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus._proto import rootcoord_pb2
from milvus.proxy.collections import Collection
from milvus.proxy.dql import Dql
from milvus.schema import CollectionSchemaModel
from milvus.util.hashing import partition_of


def collection(key_type: int) -> Collection:
    key = schema_pb2.FieldSchema(fieldID=102, name="tenant", data_type=key_type, is_partition_key=True,
                                 type_params=[common_pb2.KeyValuePair(key="max_length", value="16")])
    schema = schema_pb2.CollectionSchema(name="c", fields=[
        schema_pb2.FieldSchema(fieldID=100, name="id", data_type=schema_pb2.Int64, is_primary_key=True), key,
        schema_pb2.FieldSchema(fieldID=101, name="v", data_type=schema_pb2.FloatVector,
                               type_params=[common_pb2.KeyValuePair(key="dim", value="2")])])
    info = rootcoord_pb2.CollectionInfo(id=1, name="c", partitions=[
        rootcoord_pb2.PartitionInfo(id=1000 + i, name=f"_default_{i}") for i in reversed(range(8))])
    return Collection(info, CollectionSchemaModel(schema))


@pytest.mark.parametrize("key_type, values, literal", [
    (schema_pb2.Int64, [7], "7"), (schema_pb2.Int64, [3, 9, 11], "[3, 9, 11]"),
    (schema_pb2.VarChar, ["acme"], '"acme"'), (schema_pb2.VarChar, ["a", "b"], '["a", "b"]'),
])
def test_a_pinned_key_reads_only_its_partitions(key_type, values, literal):
    coll = collection(key_type)
    keys = np.asarray(values, dtype=np.int64) if key_type == schema_pb2.Int64 else values
    want = sorted({1000 + i for i in partition_of(keys, 8).tolist()})
    op = "==" if len(values) == 1 and not literal.startswith("[") else "in"
    assert Dql._key_partitions(coll, f"tenant {op} {literal}", None) == want
    assert Dql._key_partitions(coll, f"id > 5 and tenant {op} {literal} and id < 100", None) == want
    assert len(want) < 8


@pytest.mark.parametrize("expr", ["", "id > 5", "tenant == 1 or id > 5", "tenant != 1", "tenant > 3",
                                  "tenant in [1, 2] and tenant == 3"])
def test_other_filters_read_every_partition(expr):
    assert Dql._key_partitions(collection(schema_pb2.Int64), expr, None) == []
