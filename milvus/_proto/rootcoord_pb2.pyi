from milvus.grpc_gen import common_pb2 as _common_pb2
from milvus.grpc_gen import milvus_pb2 as _milvus_pb2
from milvus._proto import internal_pb2 as _internal_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AllocTimestampRequest(_message.Message):
    __slots__ = ("base", "count")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    count: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class AllocTimestampResponse(_message.Message):
    __slots__ = ("status", "timestamp", "count")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    timestamp: int
    count: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., timestamp: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class AllocIDRequest(_message.Message):
    __slots__ = ("base", "count")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    count: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class AllocIDResponse(_message.Message):
    __slots__ = ("status", "ID", "count")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    ID: int
    count: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., ID: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class CollectionInfo(_message.Message):
    __slots__ = ("id", "db_id", "db_name", "name", "schema", "shards_num", "virtual_channels", "physical_channels", "created_ts", "consistency_level", "properties", "partitions", "aliases", "num_partitions", "schema_version", "updated_ts", "truncated_ts", "max_field_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SHARDS_NUM_FIELD_NUMBER: _ClassVar[int]
    VIRTUAL_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    PHYSICAL_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    CREATED_TS_FIELD_NUMBER: _ClassVar[int]
    CONSISTENCY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    NUM_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATED_TS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_TS_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    db_id: int
    db_name: str
    name: str
    schema: bytes
    shards_num: int
    virtual_channels: _containers.RepeatedScalarFieldContainer[str]
    physical_channels: _containers.RepeatedScalarFieldContainer[str]
    created_ts: int
    consistency_level: _common_pb2.ConsistencyLevel
    properties: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionInfo]
    aliases: _containers.RepeatedScalarFieldContainer[str]
    num_partitions: int
    schema_version: int
    updated_ts: int
    truncated_ts: int
    max_field_id: int
    def __init__(self, id: _Optional[int] = ..., db_id: _Optional[int] = ..., db_name: _Optional[str] = ..., name: _Optional[str] = ..., schema: _Optional[bytes] = ..., shards_num: _Optional[int] = ..., virtual_channels: _Optional[_Iterable[str]] = ..., physical_channels: _Optional[_Iterable[str]] = ..., created_ts: _Optional[int] = ..., consistency_level: _Optional[_Union[_common_pb2.ConsistencyLevel, str]] = ..., properties: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., partitions: _Optional[_Iterable[_Union[PartitionInfo, _Mapping]]] = ..., aliases: _Optional[_Iterable[str]] = ..., num_partitions: _Optional[int] = ..., schema_version: _Optional[int] = ..., updated_ts: _Optional[int] = ..., truncated_ts: _Optional[int] = ..., max_field_id: _Optional[int] = ...) -> None: ...

class PartitionInfo(_message.Message):
    __slots__ = ("id", "name", "created_ts", "collection_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_TS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    created_ts: int
    collection_id: int
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., created_ts: _Optional[int] = ..., collection_id: _Optional[int] = ...) -> None: ...

class AliasInfo(_message.Message):
    __slots__ = ("name", "collection_id", "db_id", "created_ts")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_TS_FIELD_NUMBER: _ClassVar[int]
    name: str
    collection_id: int
    db_id: int
    created_ts: int
    def __init__(self, name: _Optional[str] = ..., collection_id: _Optional[int] = ..., db_id: _Optional[int] = ..., created_ts: _Optional[int] = ...) -> None: ...

class DatabaseInfo(_message.Message):
    __slots__ = ("id", "name", "created_ts", "properties")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_TS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    created_ts: int
    properties: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., created_ts: _Optional[int] = ..., properties: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ...) -> None: ...

class DescribeCollectionInternalRequest(_message.Message):
    __slots__ = ("base", "db_name", "collection_name", "collection_id", "time_stamp")
    BASE_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_STAMP_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    db_name: str
    collection_name: str
    collection_id: int
    time_stamp: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., collection_id: _Optional[int] = ..., time_stamp: _Optional[int] = ...) -> None: ...

class DescribeCollectionInternalResponse(_message.Message):
    __slots__ = ("status", "collection")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    collection: CollectionInfo
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., collection: _Optional[_Union[CollectionInfo, _Mapping]] = ...) -> None: ...

class ShowCollectionsInternalRequest(_message.Message):
    __slots__ = ("base", "db_name")
    BASE_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    db_name: str
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., db_name: _Optional[str] = ...) -> None: ...

class ShowCollectionsInternalResponse(_message.Message):
    __slots__ = ("status", "collections")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    collections: _containers.RepeatedCompositeFieldContainer[CollectionInfo]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., collections: _Optional[_Iterable[_Union[CollectionInfo, _Mapping]]] = ...) -> None: ...

class ChannelTimeTickMsg(_message.Message):
    __slots__ = ("base", "channel_names", "timestamps", "default_timestamp", "immediate")
    BASE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAMES_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    IMMEDIATE_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    channel_names: _containers.RepeatedScalarFieldContainer[str]
    timestamps: _containers.RepeatedScalarFieldContainer[int]
    default_timestamp: int
    immediate: bool
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., channel_names: _Optional[_Iterable[str]] = ..., timestamps: _Optional[_Iterable[int]] = ..., default_timestamp: _Optional[int] = ..., immediate: _Optional[bool] = ...) -> None: ...

class CheckCredentialRequest(_message.Message):
    __slots__ = ("username", "password")
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    PASSWORD_FIELD_NUMBER: _ClassVar[int]
    username: str
    password: str
    def __init__(self, username: _Optional[str] = ..., password: _Optional[str] = ...) -> None: ...

class CheckCredentialResponse(_message.Message):
    __slots__ = ("status", "ok")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    ok: bool
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., ok: _Optional[bool] = ...) -> None: ...

class GetUserPolicyRequest(_message.Message):
    __slots__ = ("username",)
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    username: str
    def __init__(self, username: _Optional[str] = ...) -> None: ...

class GetUserPolicyResponse(_message.Message):
    __slots__ = ("status", "roles", "grants")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    roles: _containers.RepeatedScalarFieldContainer[str]
    grants: _containers.RepeatedCompositeFieldContainer[_milvus_pb2.GrantEntity]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., roles: _Optional[_Iterable[str]] = ..., grants: _Optional[_Iterable[_Union[_milvus_pb2.GrantEntity, _Mapping]]] = ...) -> None: ...
