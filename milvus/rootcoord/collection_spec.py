"""Turning a CreateCollection request into the collection to store (pure functions)."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.grpc_gen import milvus_pb2, schema_pb2
from milvus.rootcoord.params import DEFAULT_PARTITIONS_WITH_PARTITION_KEY, RootCoordParams
from milvus.schema import normalize_schema, validate_collection_schema
from milvus.schema.validate import validate_collection_name

MAX_TTL_SECONDS = 3_155_760_000  # Milvus common.MaxTTLSeconds (100 years)
TTL_KEY = "collection.ttl.seconds"


def parse_schema(raw: bytes) -> schema_pb2.CollectionSchema:
    schema = schema_pb2.CollectionSchema()
    try:
        schema.ParseFromString(raw)
    except DecodeError as exc:
        raise errors.ParameterInvalid(f"the collection schema cannot be parsed: {exc}: invalid parameter") from None
    return schema


def check_properties(props) -> None:
    """Properties Milvus checks the value of; the others are stored as given."""
    for kv in props:
        if kv.key == TTL_KEY:
            try:
                ttl = int(kv.value)
            except ValueError:
                raise errors.ParameterInvalid(
                    f"collection ttl property value not valid, parse error: {kv.value!r} is not an integer"
                    ": invalid parameter") from None
            if not -1 <= ttl <= MAX_TTL_SECONDS:
                raise errors.ParameterInvalid(
                    f"collection TTL is out of range, expect [-1, {MAX_TTL_SECONDS}], got {ttl}: invalid parameter")


def shard_count(request: milvus_pb2.CreateCollectionRequest, params: RootCoordParams) -> int:
    shards = request.shards_num if request.shards_num > 0 else 1
    if shards > params.max_shards:
        raise errors.MilvusError(f"maximum shards's number should be limited to {params.max_shards}")
    if shards > params.dml_channel_num:
        raise errors.ParameterInvalid(
            f"shards_num {shards} exceeds the {params.dml_channel_num} DML channels of this cluster: invalid parameter")
    return shards


def partition_names(schema: schema_pb2.CollectionSchema, num_partitions: int, params: RootCoordParams) -> list[str]:
    """The partitions a new collection starts with: ``_default``, or ``_default_{i}`` for
    each of the ``num_partitions`` physical partitions of a partition-key collection."""
    has_partition_key = any(f.is_partition_key for f in schema.fields)
    if not has_partition_key:
        if num_partitions != 0:
            raise errors.MilvusError("num_partitions should only be specified with partition key field enabled")
        return [params.default_partition]
    if num_partitions < 0:
        raise errors.MilvusError("the specified partitions should be greater than 0 if partition key is used")
    if num_partitions > params.max_partitions:
        raise errors.ParameterInvalid(
            f"partition number ({num_partitions}) exceeds max configuration ({params.max_partitions}): invalid parameter")
    count = num_partitions or min(DEFAULT_PARTITIONS_WITH_PARTITION_KEY, params.max_partitions)
    return [f"{params.default_partition}_{i}" for i in range(count)]


def stored_schema(request: milvus_pb2.CreateCollectionRequest, params: RootCoordParams) -> schema_pb2.CollectionSchema:
    """The validated schema as stored: field ids from 100, ``$meta`` when dynamic."""
    validate_collection_name(request.collection_name, params.schema_limits)
    schema = parse_schema(request.schema)
    validate_collection_schema(schema, collection_name=request.collection_name, limits=params.schema_limits)
    stored = normalize_schema(schema)
    stored.autoID = False  # auto id is a field property; Milvus clears the collection-level flag
    return stored


def same_definition(existing: rootcoord_pb2.CollectionInfo, candidate: rootcoord_pb2.CollectionInfo) -> bool:
    """Whether creating ``candidate`` again over ``existing`` is a repeat of the same request."""
    def props(info):
        return {kv.key: kv.value for kv in info.properties}

    return (
        parse_schema(existing.schema) == parse_schema(candidate.schema)
        and existing.shards_num == candidate.shards_num
        and existing.consistency_level == candidate.consistency_level
        and props(existing) == props(candidate)
        and [p.name for p in existing.partitions] == [p.name for p in candidate.partitions]
    )
