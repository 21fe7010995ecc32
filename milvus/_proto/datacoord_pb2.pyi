from milvus.grpc_gen import common_pb2 as _common_pb2
from milvus._proto import internal_pb2 as _internal_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SegmentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENT_STATE_NONE: _ClassVar[SegmentState]
    GROWING: _ClassVar[SegmentState]
    SEALED: _ClassVar[SegmentState]
    FLUSHING: _ClassVar[SegmentState]
    FLUSHED: _ClassVar[SegmentState]
    DROPPED: _ClassVar[SegmentState]

class SegmentLevel(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEGMENT_LEVEL_LEGACY: _ClassVar[SegmentLevel]
    SEGMENT_LEVEL_L0: _ClassVar[SegmentLevel]
    SEGMENT_LEVEL_L1: _ClassVar[SegmentLevel]
    SEGMENT_LEVEL_L2: _ClassVar[SegmentLevel]
SEGMENT_STATE_NONE: SegmentState
GROWING: SegmentState
SEALED: SegmentState
FLUSHING: SegmentState
FLUSHED: SegmentState
DROPPED: SegmentState
SEGMENT_LEVEL_LEGACY: SegmentLevel
SEGMENT_LEVEL_L0: SegmentLevel
SEGMENT_LEVEL_L1: SegmentLevel
SEGMENT_LEVEL_L2: SegmentLevel

class FieldBinlog(_message.Message):
    __slots__ = ("field_id", "binlogs")
    FIELD_ID_FIELD_NUMBER: _ClassVar[int]
    BINLOGS_FIELD_NUMBER: _ClassVar[int]
    field_id: int
    binlogs: _containers.RepeatedCompositeFieldContainer[Binlog]
    def __init__(self, field_id: _Optional[int] = ..., binlogs: _Optional[_Iterable[_Union[Binlog, _Mapping]]] = ...) -> None: ...

class Binlog(_message.Message):
    __slots__ = ("entries_num", "timestamp_from", "timestamp_to", "log_path", "log_size", "log_id")
    ENTRIES_NUM_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FROM_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_TO_FIELD_NUMBER: _ClassVar[int]
    LOG_PATH_FIELD_NUMBER: _ClassVar[int]
    LOG_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    entries_num: int
    timestamp_from: int
    timestamp_to: int
    log_path: str
    log_size: int
    log_id: int
    def __init__(self, entries_num: _Optional[int] = ..., timestamp_from: _Optional[int] = ..., timestamp_to: _Optional[int] = ..., log_path: _Optional[str] = ..., log_size: _Optional[int] = ..., log_id: _Optional[int] = ...) -> None: ...

class SegmentInfo(_message.Message):
    __slots__ = ("id", "collection_id", "partition_id", "insert_channel", "num_of_rows", "state", "max_row_num", "last_expire_time", "start_position", "dml_position", "binlogs", "statslogs", "deltalogs", "compaction_from", "level", "dropped_at", "db_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_ID_FIELD_NUMBER: _ClassVar[int]
    INSERT_CHANNEL_FIELD_NUMBER: _ClassVar[int]
    NUM_OF_ROWS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MAX_ROW_NUM_FIELD_NUMBER: _ClassVar[int]
    LAST_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_POSITION_FIELD_NUMBER: _ClassVar[int]
    DML_POSITION_FIELD_NUMBER: _ClassVar[int]
    BINLOGS_FIELD_NUMBER: _ClassVar[int]
    STATSLOGS_FIELD_NUMBER: _ClassVar[int]
    DELTALOGS_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_FROM_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    DROPPED_AT_FIELD_NUMBER: _ClassVar[int]
    DB_ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    collection_id: int
    partition_id: int
    insert_channel: str
    num_of_rows: int
    state: SegmentState
    max_row_num: int
    last_expire_time: int
    start_position: _internal_pb2.MsgPosition
    dml_position: _internal_pb2.MsgPosition
    binlogs: _containers.RepeatedCompositeFieldContainer[FieldBinlog]
    statslogs: _containers.RepeatedCompositeFieldContainer[FieldBinlog]
    deltalogs: _containers.RepeatedCompositeFieldContainer[FieldBinlog]
    compaction_from: _containers.RepeatedScalarFieldContainer[int]
    level: int
    dropped_at: int
    db_id: int
    def __init__(self, id: _Optional[int] = ..., collection_id: _Optional[int] = ..., partition_id: _Optional[int] = ..., insert_channel: _Optional[str] = ..., num_of_rows: _Optional[int] = ..., state: _Optional[_Union[SegmentState, str]] = ..., max_row_num: _Optional[int] = ..., last_expire_time: _Optional[int] = ..., start_position: _Optional[_Union[_internal_pb2.MsgPosition, _Mapping]] = ..., dml_position: _Optional[_Union[_internal_pb2.MsgPosition, _Mapping]] = ..., binlogs: _Optional[_Iterable[_Union[FieldBinlog, _Mapping]]] = ..., statslogs: _Optional[_Iterable[_Union[FieldBinlog, _Mapping]]] = ..., deltalogs: _Optional[_Iterable[_Union[FieldBinlog, _Mapping]]] = ..., compaction_from: _Optional[_Iterable[int]] = ..., level: _Optional[int] = ..., dropped_at: _Optional[int] = ..., db_id: _Optional[int] = ...) -> None: ...

class SegmentIDRequest(_message.Message):
    __slots__ = ("count", "channel_name", "collectionID", "partitionID")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    count: int
    channel_name: str
    collectionID: int
    partitionID: int
    def __init__(self, count: _Optional[int] = ..., channel_name: _Optional[str] = ..., collectionID: _Optional[int] = ..., partitionID: _Optional[int] = ...) -> None: ...

class AssignSegmentIDRequest(_message.Message):
    __slots__ = ("base", "segmentIDRequests")
    BASE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDREQUESTS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    segmentIDRequests: _containers.RepeatedCompositeFieldContainer[SegmentIDRequest]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., segmentIDRequests: _Optional[_Iterable[_Union[SegmentIDRequest, _Mapping]]] = ...) -> None: ...

class SegmentIDAssignment(_message.Message):
    __slots__ = ("segID", "channel_name", "count", "collectionID", "partitionID", "expire_time", "status")
    SEGID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    segID: int
    channel_name: str
    count: int
    collectionID: int
    partitionID: int
    expire_time: int
    status: _common_pb2.Status
    def __init__(self, segID: _Optional[int] = ..., channel_name: _Optional[str] = ..., count: _Optional[int] = ..., collectionID: _Optional[int] = ..., partitionID: _Optional[int] = ..., expire_time: _Optional[int] = ..., status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ...) -> None: ...

class AssignSegmentIDResponse(_message.Message):
    __slots__ = ("segIDAssignments", "status")
    SEGIDASSIGNMENTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    segIDAssignments: _containers.RepeatedCompositeFieldContainer[SegmentIDAssignment]
    status: _common_pb2.Status
    def __init__(self, segIDAssignments: _Optional[_Iterable[_Union[SegmentIDAssignment, _Mapping]]] = ..., status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ...) -> None: ...

class FlushRequest(_message.Message):
    __slots__ = ("base", "dbID", "segmentIDs", "collectionID")
    BASE_FIELD_NUMBER: _ClassVar[int]
    DBID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    dbID: int
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    collectionID: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., dbID: _Optional[int] = ..., segmentIDs: _Optional[_Iterable[int]] = ..., collectionID: _Optional[int] = ...) -> None: ...

class FlushResponse(_message.Message):
    __slots__ = ("status", "dbID", "collectionID", "segmentIDs", "flushSegmentIDs", "flush_ts")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DBID_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    FLUSHSEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    FLUSH_TS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    dbID: int
    collectionID: int
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    flushSegmentIDs: _containers.RepeatedScalarFieldContainer[int]
    flush_ts: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., dbID: _Optional[int] = ..., collectionID: _Optional[int] = ..., segmentIDs: _Optional[_Iterable[int]] = ..., flushSegmentIDs: _Optional[_Iterable[int]] = ..., flush_ts: _Optional[int] = ...) -> None: ...

class SaveBinlogPathsRequest(_message.Message):
    __slots__ = ("base", "segmentID", "collectionID", "partitionID", "field2BinlogPaths", "field2StatslogPaths", "deltalogs", "checkpoint", "flushed", "channel", "num_rows", "level", "segment_position", "start_position")
    BASE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTID_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    FIELD2BINLOGPATHS_FIELD_NUMBER: _ClassVar[int]
    FIELD2STATSLOGPATHS_FIELD_NUMBER: _ClassVar[int]
    DELTALOGS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    FLUSHED_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_POSITION_FIELD_NUMBER: _ClassVar[int]
    START_POSITION_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    segmentID: int
    collectionID: int
    partitionID: int
    field2BinlogPaths: _containers.RepeatedCompositeFieldContainer[FieldBinlog]
    field2StatslogPaths: _containers.RepeatedCompositeFieldContainer[FieldBinlog]
    deltalogs: _containers.RepeatedCompositeFieldContainer[FieldBinlog]
    checkpoint: _internal_pb2.MsgPosition
    flushed: bool
    channel: str
    num_rows: int
    level: int
    segment_position: _internal_pb2.MsgPosition
    start_position: _internal_pb2.MsgPosition
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., segmentID: _Optional[int] = ..., collectionID: _Optional[int] = ..., partitionID: _Optional[int] = ..., field2BinlogPaths: _Optional[_Iterable[_Union[FieldBinlog, _Mapping]]] = ..., field2StatslogPaths: _Optional[_Iterable[_Union[FieldBinlog, _Mapping]]] = ..., deltalogs: _Optional[_Iterable[_Union[FieldBinlog, _Mapping]]] = ..., checkpoint: _Optional[_Union[_internal_pb2.MsgPosition, _Mapping]] = ..., flushed: _Optional[bool] = ..., channel: _Optional[str] = ..., num_rows: _Optional[int] = ..., level: _Optional[int] = ..., segment_position: _Optional[_Union[_internal_pb2.MsgPosition, _Mapping]] = ..., start_position: _Optional[_Union[_internal_pb2.MsgPosition, _Mapping]] = ...) -> None: ...

class GetSegmentInfoRequest(_message.Message):
    __slots__ = ("base", "segmentIDs", "includeUnHealthy")
    BASE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    INCLUDEUNHEALTHY_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    includeUnHealthy: bool
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., segmentIDs: _Optional[_Iterable[int]] = ..., includeUnHealthy: _Optional[bool] = ...) -> None: ...

class GetSegmentInfoResponse(_message.Message):
    __slots__ = ("status", "infos")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INFOS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    infos: _containers.RepeatedCompositeFieldContainer[SegmentInfo]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., infos: _Optional[_Iterable[_Union[SegmentInfo, _Mapping]]] = ...) -> None: ...

class GetRecoveryInfoRequest(_message.Message):
    __slots__ = ("base", "collectionID", "partitionIDs")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., partitionIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class VchannelInfo(_message.Message):
    __slots__ = ("collectionID", "channelName", "seek_position", "flushedSegmentIds", "unflushedSegmentIds", "dropped_segmentIds")
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    CHANNELNAME_FIELD_NUMBER: _ClassVar[int]
    SEEK_POSITION_FIELD_NUMBER: _ClassVar[int]
    FLUSHEDSEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    UNFLUSHEDSEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    collectionID: int
    channelName: str
    seek_position: _internal_pb2.MsgPosition
    flushedSegmentIds: _containers.RepeatedScalarFieldContainer[int]
    unflushedSegmentIds: _containers.RepeatedScalarFieldContainer[int]
    dropped_segmentIds: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, collectionID: _Optional[int] = ..., channelName: _Optional[str] = ..., seek_position: _Optional[_Union[_internal_pb2.MsgPosition, _Mapping]] = ..., flushedSegmentIds: _Optional[_Iterable[int]] = ..., unflushedSegmentIds: _Optional[_Iterable[int]] = ..., dropped_segmentIds: _Optional[_Iterable[int]] = ...) -> None: ...

class GetRecoveryInfoResponse(_message.Message):
    __slots__ = ("status", "channels", "segments")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    channels: _containers.RepeatedCompositeFieldContainer[VchannelInfo]
    segments: _containers.RepeatedCompositeFieldContainer[SegmentInfo]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., channels: _Optional[_Iterable[_Union[VchannelInfo, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[SegmentInfo, _Mapping]]] = ...) -> None: ...

class WatchChannelsRequest(_message.Message):
    __slots__ = ("collectionID", "channelNames", "properties", "schema", "start_positions", "dbID")
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    CHANNELNAMES_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    START_POSITIONS_FIELD_NUMBER: _ClassVar[int]
    DBID_FIELD_NUMBER: _ClassVar[int]
    collectionID: int
    channelNames: _containers.RepeatedScalarFieldContainer[str]
    properties: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    schema: bytes
    start_positions: _containers.RepeatedCompositeFieldContainer[_internal_pb2.MsgPosition]
    dbID: int
    def __init__(self, collectionID: _Optional[int] = ..., channelNames: _Optional[_Iterable[str]] = ..., properties: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., schema: _Optional[bytes] = ..., start_positions: _Optional[_Iterable[_Union[_internal_pb2.MsgPosition, _Mapping]]] = ..., dbID: _Optional[int] = ...) -> None: ...

class ChannelWatchInfo(_message.Message):
    __slots__ = ("vchannel", "collectionID", "dbID", "node_id", "schema", "start_position")
    VCHANNEL_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    DBID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    START_POSITION_FIELD_NUMBER: _ClassVar[int]
    vchannel: str
    collectionID: int
    dbID: int
    node_id: int
    schema: bytes
    start_position: _internal_pb2.MsgPosition
    def __init__(self, vchannel: _Optional[str] = ..., collectionID: _Optional[int] = ..., dbID: _Optional[int] = ..., node_id: _Optional[int] = ..., schema: _Optional[bytes] = ..., start_position: _Optional[_Union[_internal_pb2.MsgPosition, _Mapping]] = ...) -> None: ...

class GetFlushStateRequest(_message.Message):
    __slots__ = ("base", "collectionID", "segmentIDs", "flush_ts")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    FLUSH_TS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    flush_ts: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., segmentIDs: _Optional[_Iterable[int]] = ..., flush_ts: _Optional[int] = ...) -> None: ...

class GetFlushStateResponse(_message.Message):
    __slots__ = ("status", "flushed")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FLUSHED_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    flushed: bool
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., flushed: _Optional[bool] = ...) -> None: ...

class DropCollectionRequest(_message.Message):
    __slots__ = ("base", "collectionID")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ...) -> None: ...

class DropPartitionRequest(_message.Message):
    __slots__ = ("base", "collectionID", "partitionID")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    partitionID: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., partitionID: _Optional[int] = ...) -> None: ...

class GetCollectionStatisticsRequest(_message.Message):
    __slots__ = ("base", "collectionID", "partitionIDs", "truncated_ts")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_TS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    truncated_ts: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., partitionIDs: _Optional[_Iterable[int]] = ..., truncated_ts: _Optional[int] = ...) -> None: ...

class GetCollectionStatisticsResponse(_message.Message):
    __slots__ = ("status", "row_count")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    row_count: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., row_count: _Optional[int] = ...) -> None: ...

class UpdateChannelCheckpointRequest(_message.Message):
    __slots__ = ("base", "channel_checkpoints")
    BASE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    channel_checkpoints: _containers.RepeatedCompositeFieldContainer[_internal_pb2.MsgPosition]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., channel_checkpoints: _Optional[_Iterable[_Union[_internal_pb2.MsgPosition, _Mapping]]] = ...) -> None: ...

class FieldIndex(_message.Message):
    __slots__ = ("collectionID", "fieldID", "indexID", "index_name", "type_params", "index_params", "user_index_params", "is_auto_index", "create_time", "deleted", "field_name", "field_type")
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    FIELDID_FIELD_NUMBER: _ClassVar[int]
    INDEXID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    USER_INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    IS_AUTO_INDEX_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    FIELD_TYPE_FIELD_NUMBER: _ClassVar[int]
    collectionID: int
    fieldID: int
    indexID: int
    index_name: str
    type_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    index_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    user_index_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    is_auto_index: bool
    create_time: int
    deleted: bool
    field_name: str
    field_type: int
    def __init__(self, collectionID: _Optional[int] = ..., fieldID: _Optional[int] = ..., indexID: _Optional[int] = ..., index_name: _Optional[str] = ..., type_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., index_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., user_index_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., is_auto_index: _Optional[bool] = ..., create_time: _Optional[int] = ..., deleted: _Optional[bool] = ..., field_name: _Optional[str] = ..., field_type: _Optional[int] = ...) -> None: ...

class SegmentIndex(_message.Message):
    __slots__ = ("collectionID", "partitionID", "segmentID", "num_rows", "indexID", "buildID", "nodeID", "index_version", "state", "fail_reason", "index_file_keys", "serialized_size", "create_time", "deleted", "fieldID")
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTID_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    INDEXID_FIELD_NUMBER: _ClassVar[int]
    BUILDID_FIELD_NUMBER: _ClassVar[int]
    NODEID_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    INDEX_FILE_KEYS_FIELD_NUMBER: _ClassVar[int]
    SERIALIZED_SIZE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    FIELDID_FIELD_NUMBER: _ClassVar[int]
    collectionID: int
    partitionID: int
    segmentID: int
    num_rows: int
    indexID: int
    buildID: int
    nodeID: int
    index_version: int
    state: _common_pb2.IndexState
    fail_reason: str
    index_file_keys: _containers.RepeatedScalarFieldContainer[str]
    serialized_size: int
    create_time: int
    deleted: bool
    fieldID: int
    def __init__(self, collectionID: _Optional[int] = ..., partitionID: _Optional[int] = ..., segmentID: _Optional[int] = ..., num_rows: _Optional[int] = ..., indexID: _Optional[int] = ..., buildID: _Optional[int] = ..., nodeID: _Optional[int] = ..., index_version: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.IndexState, str]] = ..., fail_reason: _Optional[str] = ..., index_file_keys: _Optional[_Iterable[str]] = ..., serialized_size: _Optional[int] = ..., create_time: _Optional[int] = ..., deleted: _Optional[bool] = ..., fieldID: _Optional[int] = ...) -> None: ...

class CreateIndexRequest(_message.Message):
    __slots__ = ("base", "collectionID", "fieldID", "index_name", "type_params", "index_params", "user_index_params", "is_auto_index", "field_name", "field_type")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    FIELDID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    USER_INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    IS_AUTO_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    FIELD_TYPE_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    fieldID: int
    index_name: str
    type_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    index_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    user_index_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    is_auto_index: bool
    field_name: str
    field_type: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., fieldID: _Optional[int] = ..., index_name: _Optional[str] = ..., type_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., index_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., user_index_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., is_auto_index: _Optional[bool] = ..., field_name: _Optional[str] = ..., field_type: _Optional[int] = ...) -> None: ...

class IndexInfo(_message.Message):
    __slots__ = ("collectionID", "fieldID", "index_name", "indexID", "type_params", "index_params", "user_index_params", "indexed_rows", "total_rows", "pending_index_rows", "state", "index_state_fail_reason", "is_auto_index", "field_name")
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    FIELDID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    INDEXID_FIELD_NUMBER: _ClassVar[int]
    TYPE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    USER_INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INDEXED_ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROWS_FIELD_NUMBER: _ClassVar[int]
    PENDING_INDEX_ROWS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INDEX_STATE_FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    IS_AUTO_INDEX_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    collectionID: int
    fieldID: int
    index_name: str
    indexID: int
    type_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    index_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    user_index_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    indexed_rows: int
    total_rows: int
    pending_index_rows: int
    state: _common_pb2.IndexState
    index_state_fail_reason: str
    is_auto_index: bool
    field_name: str
    def __init__(self, collectionID: _Optional[int] = ..., fieldID: _Optional[int] = ..., index_name: _Optional[str] = ..., indexID: _Optional[int] = ..., type_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., index_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., user_index_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., indexed_rows: _Optional[int] = ..., total_rows: _Optional[int] = ..., pending_index_rows: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.IndexState, str]] = ..., index_state_fail_reason: _Optional[str] = ..., is_auto_index: _Optional[bool] = ..., field_name: _Optional[str] = ...) -> None: ...

class DescribeIndexRequest(_message.Message):
    __slots__ = ("base", "collectionID", "index_name", "timestamp")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    index_name: str
    timestamp: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., index_name: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...

class DescribeIndexResponse(_message.Message):
    __slots__ = ("status", "index_infos")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INDEX_INFOS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    index_infos: _containers.RepeatedCompositeFieldContainer[IndexInfo]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., index_infos: _Optional[_Iterable[_Union[IndexInfo, _Mapping]]] = ...) -> None: ...

class DropIndexRequest(_message.Message):
    __slots__ = ("base", "collectionID", "partitionIDs", "index_name", "drop_all")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    DROP_ALL_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    index_name: str
    drop_all: bool
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., partitionIDs: _Optional[_Iterable[int]] = ..., index_name: _Optional[str] = ..., drop_all: _Optional[bool] = ...) -> None: ...

class GetIndexStateRequest(_message.Message):
    __slots__ = ("base", "collectionID", "index_name")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    index_name: str
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., index_name: _Optional[str] = ...) -> None: ...

class GetIndexStateResponse(_message.Message):
    __slots__ = ("status", "state", "fail_reason")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    state: _common_pb2.IndexState
    fail_reason: str
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., state: _Optional[_Union[_common_pb2.IndexState, str]] = ..., fail_reason: _Optional[str] = ...) -> None: ...

class GetSegmentIndexStateRequest(_message.Message):
    __slots__ = ("base", "collectionID", "index_name", "segmentIDs")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    index_name: str
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., index_name: _Optional[str] = ..., segmentIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class SegmentIndexState(_message.Message):
    __slots__ = ("segmentID", "state", "fail_reason", "index_name")
    SEGMENTID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    segmentID: int
    state: _common_pb2.IndexState
    fail_reason: str
    index_name: str
    def __init__(self, segmentID: _Optional[int] = ..., state: _Optional[_Union[_common_pb2.IndexState, str]] = ..., fail_reason: _Optional[str] = ..., index_name: _Optional[str] = ...) -> None: ...

class GetSegmentIndexStateResponse(_message.Message):
    __slots__ = ("status", "states")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    states: _containers.RepeatedCompositeFieldContainer[SegmentIndexState]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., states: _Optional[_Iterable[_Union[SegmentIndexState, _Mapping]]] = ...) -> None: ...

class GetIndexBuildProgressRequest(_message.Message):
    __slots__ = ("base", "collectionID", "index_name")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    index_name: str
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., index_name: _Optional[str] = ...) -> None: ...

class GetIndexBuildProgressResponse(_message.Message):
    __slots__ = ("status", "indexed_rows", "total_rows", "pending_index_rows")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INDEXED_ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROWS_FIELD_NUMBER: _ClassVar[int]
    PENDING_INDEX_ROWS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    indexed_rows: int
    total_rows: int
    pending_index_rows: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., indexed_rows: _Optional[int] = ..., total_rows: _Optional[int] = ..., pending_index_rows: _Optional[int] = ...) -> None: ...

class IndexFilePathInfo(_message.Message):
    __slots__ = ("segmentID", "fieldID", "indexID", "buildID", "index_name", "index_params", "index_file_keys", "serialized_size", "index_version", "num_rows")
    SEGMENTID_FIELD_NUMBER: _ClassVar[int]
    FIELDID_FIELD_NUMBER: _ClassVar[int]
    INDEXID_FIELD_NUMBER: _ClassVar[int]
    BUILDID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FILE_KEYS_FIELD_NUMBER: _ClassVar[int]
    SERIALIZED_SIZE_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    segmentID: int
    fieldID: int
    indexID: int
    buildID: int
    index_name: str
    index_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    index_file_keys: _containers.RepeatedScalarFieldContainer[str]
    serialized_size: int
    index_version: int
    num_rows: int
    def __init__(self, segmentID: _Optional[int] = ..., fieldID: _Optional[int] = ..., indexID: _Optional[int] = ..., buildID: _Optional[int] = ..., index_name: _Optional[str] = ..., index_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., index_file_keys: _Optional[_Iterable[str]] = ..., serialized_size: _Optional[int] = ..., index_version: _Optional[int] = ..., num_rows: _Optional[int] = ...) -> None: ...

class GetIndexInfosRequest(_message.Message):
    __slots__ = ("base", "collectionID", "segmentIDs", "index_name")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    index_name: str
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., segmentIDs: _Optional[_Iterable[int]] = ..., index_name: _Optional[str] = ...) -> None: ...

class GetIndexInfosResponse(_message.Message):
    __slots__ = ("status", "infos")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INFOS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    infos: _containers.RepeatedCompositeFieldContainer[IndexFilePathInfo]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., infos: _Optional[_Iterable[_Union[IndexFilePathInfo, _Mapping]]] = ...) -> None: ...

class AlterIndexRequest(_message.Message):
    __slots__ = ("base", "collectionID", "index_name", "params", "delete_keys")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    INDEX_NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    DELETE_KEYS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    index_name: str
    params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    delete_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., index_name: _Optional[str] = ..., params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., delete_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class ManualCompactionRequest(_message.Message):
    __slots__ = ("base", "collectionID", "ttl_seconds", "expire_ts")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    ttl_seconds: int
    expire_ts: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., ttl_seconds: _Optional[int] = ..., expire_ts: _Optional[int] = ...) -> None: ...

class ManualCompactionResponse(_message.Message):
    __slots__ = ("status", "compactionID", "compactionPlanCount")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COMPACTIONID_FIELD_NUMBER: _ClassVar[int]
    COMPACTIONPLANCOUNT_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    compactionID: int
    compactionPlanCount: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., compactionID: _Optional[int] = ..., compactionPlanCount: _Optional[int] = ...) -> None: ...

class GetCompactionStateRequest(_message.Message):
    __slots__ = ("base", "compactionID")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COMPACTIONID_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    compactionID: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., compactionID: _Optional[int] = ...) -> None: ...

class CompactionPlanInfo(_message.Message):
    __slots__ = ("planID", "sources", "targets", "state", "fail_reason", "channel")
    PLANID_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    planID: int
    sources: _containers.RepeatedScalarFieldContainer[int]
    targets: _containers.RepeatedScalarFieldContainer[int]
    state: int
    fail_reason: str
    channel: str
    def __init__(self, planID: _Optional[int] = ..., sources: _Optional[_Iterable[int]] = ..., targets: _Optional[_Iterable[int]] = ..., state: _Optional[int] = ..., fail_reason: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class GetCompactionStateResponse(_message.Message):
    __slots__ = ("status", "state", "executing", "completed", "failed", "timeout", "plans", "collectionID")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXECUTING_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PLANS_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    state: int
    executing: int
    completed: int
    failed: int
    timeout: int
    plans: _containers.RepeatedCompositeFieldContainer[CompactionPlanInfo]
    collectionID: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., state: _Optional[int] = ..., executing: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., timeout: _Optional[int] = ..., plans: _Optional[_Iterable[_Union[CompactionPlanInfo, _Mapping]]] = ..., collectionID: _Optional[int] = ...) -> None: ...

class ChannelTimeTick(_message.Message):
    __slots__ = ("channel_name", "timestamp")
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    channel_name: str
    timestamp: int
    def __init__(self, channel_name: _Optional[str] = ..., timestamp: _Optional[int] = ...) -> None: ...

class ReportTimeTicksRequest(_message.Message):
    __slots__ = ("base", "time_ticks")
    BASE_FIELD_NUMBER: _ClassVar[int]
    TIME_TICKS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    time_ticks: _containers.RepeatedCompositeFieldContainer[ChannelTimeTick]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., time_ticks: _Optional[_Iterable[_Union[ChannelTimeTick, _Mapping]]] = ...) -> None: ...

class GetChannelTimeTicksRequest(_message.Message):
    __slots__ = ("base", "collectionID")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ...) -> None: ...

class GetChannelTimeTicksResponse(_message.Message):
    __slots__ = ("status", "time_ticks")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TIME_TICKS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    time_ticks: _containers.RepeatedCompositeFieldContainer[ChannelTimeTick]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., time_ticks: _Optional[_Iterable[_Union[ChannelTimeTick, _Mapping]]] = ...) -> None: ...

class ReportNodeMemoryRequest(_message.Message):
    __slots__ = ("base", "memory")
    BASE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    memory: _internal_pb2.NodeMemory
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., memory: _Optional[_Union[_internal_pb2.NodeMemory, _Mapping]] = ...) -> None: ...

class ImportJob(_message.Message):
    __slots__ = ("id", "db_name", "collection_id", "collection_name", "partition_name", "files", "state", "row_count", "total_rows", "reason", "create_time", "proxy_id", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITION_NAME_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROWS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PROXY_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    db_name: str
    collection_id: int
    collection_name: str
    partition_name: str
    files: _containers.RepeatedScalarFieldContainer[str]
    state: int
    row_count: int
    total_rows: int
    reason: str
    create_time: int
    proxy_id: int
    update_time: int
    def __init__(self, id: _Optional[int] = ..., db_name: _Optional[str] = ..., collection_id: _Optional[int] = ..., collection_name: _Optional[str] = ..., partition_name: _Optional[str] = ..., files: _Optional[_Iterable[str]] = ..., state: _Optional[int] = ..., row_count: _Optional[int] = ..., total_rows: _Optional[int] = ..., reason: _Optional[str] = ..., create_time: _Optional[int] = ..., proxy_id: _Optional[int] = ..., update_time: _Optional[int] = ...) -> None: ...

class SaveImportJobRequest(_message.Message):
    __slots__ = ("base", "job")
    BASE_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    job: ImportJob
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., job: _Optional[_Union[ImportJob, _Mapping]] = ...) -> None: ...

class ListImportJobsRequest(_message.Message):
    __slots__ = ("base", "job_id", "collection_id", "limit")
    BASE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    job_id: int
    collection_id: int
    limit: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., job_id: _Optional[int] = ..., collection_id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListImportJobsResponse(_message.Message):
    __slots__ = ("status", "jobs")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    jobs: _containers.RepeatedCompositeFieldContainer[ImportJob]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[ImportJob, _Mapping]]] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("id", "name", "description", "collection_id", "db_name", "create_ts", "collection", "segment_ids", "manifest", "protect_until_ms", "dropped")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    PROTECT_UNTIL_MS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    description: str
    collection_id: int
    db_name: str
    create_ts: int
    collection: bytes
    segment_ids: _containers.RepeatedScalarFieldContainer[int]
    manifest: str
    protect_until_ms: int
    dropped: bool
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., collection_id: _Optional[int] = ..., db_name: _Optional[str] = ..., create_ts: _Optional[int] = ..., collection: _Optional[bytes] = ..., segment_ids: _Optional[_Iterable[int]] = ..., manifest: _Optional[str] = ..., protect_until_ms: _Optional[int] = ..., dropped: _Optional[bool] = ...) -> None: ...

class SnapshotManifest(_message.Message):
    __slots__ = ("segments", "indexes")
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    INDEXES_FIELD_NUMBER: _ClassVar[int]
    segments: _containers.RepeatedCompositeFieldContainer[SegmentInfo]
    indexes: _containers.RepeatedCompositeFieldContainer[FieldIndex]
    def __init__(self, segments: _Optional[_Iterable[_Union[SegmentInfo, _Mapping]]] = ..., indexes: _Optional[_Iterable[_Union[FieldIndex, _Mapping]]] = ...) -> None: ...

class SnapshotPin(_message.Message):
    __slots__ = ("id", "snapshot_id", "expires_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_MS_FIELD_NUMBER: _ClassVar[int]
    id: int
    snapshot_id: int
    expires_ms: int
    def __init__(self, id: _Optional[int] = ..., snapshot_id: _Optional[int] = ..., expires_ms: _Optional[int] = ...) -> None: ...

class CreateSnapshotRequest(_message.Message):
    __slots__ = ("base", "snapshot", "compaction_protection_seconds")
    BASE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_PROTECTION_SECONDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    snapshot: Snapshot
    compaction_protection_seconds: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., snapshot: _Optional[_Union[Snapshot, _Mapping]] = ..., compaction_protection_seconds: _Optional[int] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("base", "collection_id", "name", "db_name")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collection_id: int
    name: str
    db_name: str
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collection_id: _Optional[int] = ..., name: _Optional[str] = ..., db_name: _Optional[str] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ("status", "snapshots")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOTS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    snapshots: _containers.RepeatedCompositeFieldContainer[Snapshot]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., snapshots: _Optional[_Iterable[_Union[Snapshot, _Mapping]]] = ...) -> None: ...

class PinSnapshotRequest(_message.Message):
    __slots__ = ("base", "collection_id", "name", "ttl_seconds")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collection_id: int
    name: str
    ttl_seconds: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collection_id: _Optional[int] = ..., name: _Optional[str] = ..., ttl_seconds: _Optional[int] = ...) -> None: ...

class PinSnapshotResponse(_message.Message):
    __slots__ = ("status", "pin_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PIN_ID_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    pin_id: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., pin_id: _Optional[int] = ...) -> None: ...

class UnpinSnapshotRequest(_message.Message):
    __slots__ = ("base", "pin_id")
    BASE_FIELD_NUMBER: _ClassVar[int]
    PIN_ID_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    pin_id: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., pin_id: _Optional[int] = ...) -> None: ...

class RestoreJob(_message.Message):
    __slots__ = ("id", "snapshot_name", "source_collection_id", "db_name", "collection_name", "state", "progress", "reason", "start_time", "time_cost", "proxy_id", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    TIME_COST_FIELD_NUMBER: _ClassVar[int]
    PROXY_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    snapshot_name: str
    source_collection_id: int
    db_name: str
    collection_name: str
    state: int
    progress: int
    reason: str
    start_time: int
    time_cost: int
    proxy_id: int
    update_time: int
    def __init__(self, id: _Optional[int] = ..., snapshot_name: _Optional[str] = ..., source_collection_id: _Optional[int] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ..., state: _Optional[int] = ..., progress: _Optional[int] = ..., reason: _Optional[str] = ..., start_time: _Optional[int] = ..., time_cost: _Optional[int] = ..., proxy_id: _Optional[int] = ..., update_time: _Optional[int] = ...) -> None: ...

class SaveRestoreJobRequest(_message.Message):
    __slots__ = ("base", "job")
    BASE_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    job: RestoreJob
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., job: _Optional[_Union[RestoreJob, _Mapping]] = ...) -> None: ...

class ListRestoreJobsRequest(_message.Message):
    __slots__ = ("base", "job_id", "db_name", "collection_name")
    BASE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_NAME_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    job_id: int
    db_name: str
    collection_name: str
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., job_id: _Optional[int] = ..., db_name: _Optional[str] = ..., collection_name: _Optional[str] = ...) -> None: ...

class ListRestoreJobsResponse(_message.Message):
    __slots__ = ("status", "jobs")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    jobs: _containers.RepeatedCompositeFieldContainer[RestoreJob]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[RestoreJob, _Mapping]]] = ...) -> None: ...
