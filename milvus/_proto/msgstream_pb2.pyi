from milvus.grpc_gen import schema_pb2 as _schema_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MsgKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MSG_UNKNOWN: _ClassVar[MsgKind]
    INSERT: _ClassVar[MsgKind]
    DELETE: _ClassVar[MsgKind]
    TIME_TICK: _ClassVar[MsgKind]
    CREATE_COLLECTION: _ClassVar[MsgKind]
    DROP_COLLECTION: _ClassVar[MsgKind]
    CREATE_PARTITION: _ClassVar[MsgKind]
    DROP_PARTITION: _ClassVar[MsgKind]
    FLUSH: _ClassVar[MsgKind]
MSG_UNKNOWN: MsgKind
INSERT: MsgKind
DELETE: MsgKind
TIME_TICK: MsgKind
CREATE_COLLECTION: MsgKind
DROP_COLLECTION: MsgKind
CREATE_PARTITION: MsgKind
DROP_PARTITION: MsgKind
FLUSH: MsgKind

class InsertMsg(_message.Message):
    __slots__ = ("vchannel", "db_id", "collection_id", "partition_id", "segment_id", "num_rows", "arrow_batch", "schema_version")
    VCHANNEL_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    ARROW_BATCH_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    vchannel: str
    db_id: int
    collection_id: int
    partition_id: int
    segment_id: int
    num_rows: int
    arrow_batch: bytes
    schema_version: int
    def __init__(self, vchannel: _Optional[str] = ..., db_id: _Optional[int] = ..., collection_id: _Optional[int] = ..., partition_id: _Optional[int] = ..., segment_id: _Optional[int] = ..., num_rows: _Optional[int] = ..., arrow_batch: _Optional[bytes] = ..., schema_version: _Optional[int] = ...) -> None: ...

class DeleteMsg(_message.Message):
    __slots__ = ("vchannel", "db_id", "collection_id", "partition_id", "primary_keys", "timestamps", "num_rows")
    VCHANNEL_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_ID_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEYS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    vchannel: str
    db_id: int
    collection_id: int
    partition_id: int
    primary_keys: _schema_pb2.IDs
    timestamps: _containers.RepeatedScalarFieldContainer[int]
    num_rows: int
    def __init__(self, vchannel: _Optional[str] = ..., db_id: _Optional[int] = ..., collection_id: _Optional[int] = ..., partition_id: _Optional[int] = ..., primary_keys: _Optional[_Union[_schema_pb2.IDs, _Mapping]] = ..., timestamps: _Optional[_Iterable[int]] = ..., num_rows: _Optional[int] = ...) -> None: ...

class TimeTickMsg(_message.Message):
    __slots__ = ("source",)
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    source: str
    def __init__(self, source: _Optional[str] = ...) -> None: ...

class DdlMsg(_message.Message):
    __slots__ = ("db_id", "collection_id", "partition_id", "collection_name", "partition_name")
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_NAME_FIELD_NUMBER: _ClassVar[int]
    db_id: int
    collection_id: int
    partition_id: int
    collection_name: str
    partition_name: str
    def __init__(self, db_id: _Optional[int] = ..., collection_id: _Optional[int] = ..., partition_id: _Optional[int] = ..., collection_name: _Optional[str] = ..., partition_name: _Optional[str] = ...) -> None: ...

class FlushMsg(_message.Message):
    __slots__ = ("collection_id", "segment_ids")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    collection_id: int
    segment_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, collection_id: _Optional[int] = ..., segment_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class Envelope(_message.Message):
    __slots__ = ("kind", "begin_ts", "end_ts", "source_id", "trace_context", "insert", "delete", "time_tick", "ddl", "flush")
    class TraceContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KIND_FIELD_NUMBER: _ClassVar[int]
    BEGIN_TS_FIELD_NUMBER: _ClassVar[int]
    END_TS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    TRACE_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    INSERT_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    TIME_TICK_FIELD_NUMBER: _ClassVar[int]
    DDL_FIELD_NUMBER: _ClassVar[int]
    FLUSH_FIELD_NUMBER: _ClassVar[int]
    kind: MsgKind
    begin_ts: int
    end_ts: int
    source_id: int
    trace_context: _containers.ScalarMap[str, str]
    insert: InsertMsg
    delete: DeleteMsg
    time_tick: TimeTickMsg
    ddl: DdlMsg
    flush: FlushMsg
    def __init__(self, kind: _Optional[_Union[MsgKind, str]] = ..., begin_ts: _Optional[int] = ..., end_ts: _Optional[int] = ..., source_id: _Optional[int] = ..., trace_context: _Optional[_Mapping[str, str]] = ..., insert: _Optional[_Union[InsertMsg, _Mapping]] = ..., delete: _Optional[_Union[DeleteMsg, _Mapping]] = ..., time_tick: _Optional[_Union[TimeTickMsg, _Mapping]] = ..., ddl: _Optional[_Union[DdlMsg, _Mapping]] = ..., flush: _Optional[_Union[FlushMsg, _Mapping]] = ...) -> None: ...
