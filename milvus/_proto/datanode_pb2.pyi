from milvus.grpc_gen import common_pb2 as _common_pb2
from milvus._proto import internal_pb2 as _internal_pb2
from milvus._proto import datacoord_pb2 as _datacoord_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompactionTaskState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMPACTION_EXECUTING: _ClassVar[CompactionTaskState]
    COMPACTION_COMPLETED: _ClassVar[CompactionTaskState]
    COMPACTION_FAILED: _ClassVar[CompactionTaskState]
COMPACTION_EXECUTING: CompactionTaskState
COMPACTION_COMPLETED: CompactionTaskState
COMPACTION_FAILED: CompactionTaskState

class WatchDmChannelRequest(_message.Message):
    __slots__ = ("base", "vchannel", "schema", "segments")
    BASE_FIELD_NUMBER: _ClassVar[int]
    VCHANNEL_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    vchannel: _datacoord_pb2.VchannelInfo
    schema: bytes
    segments: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.SegmentInfo]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., vchannel: _Optional[_Union[_datacoord_pb2.VchannelInfo, _Mapping]] = ..., schema: _Optional[bytes] = ..., segments: _Optional[_Iterable[_Union[_datacoord_pb2.SegmentInfo, _Mapping]]] = ...) -> None: ...

class UnwatchDmChannelRequest(_message.Message):
    __slots__ = ("base", "channel_name", "drop")
    BASE_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    DROP_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    channel_name: str
    drop: bool
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., channel_name: _Optional[str] = ..., drop: _Optional[bool] = ...) -> None: ...

class FlushSegmentsRequest(_message.Message):
    __slots__ = ("base", "dbID", "collectionID", "segmentIDs", "channel_name", "flush_ts")
    BASE_FIELD_NUMBER: _ClassVar[int]
    DBID_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    FLUSH_TS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    dbID: int
    collectionID: int
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    channel_name: str
    flush_ts: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., dbID: _Optional[int] = ..., collectionID: _Optional[int] = ..., segmentIDs: _Optional[_Iterable[int]] = ..., channel_name: _Optional[str] = ..., flush_ts: _Optional[int] = ...) -> None: ...

class CompactionSegmentBinlogs(_message.Message):
    __slots__ = ("segmentID", "collectionID", "partitionID", "level", "insert_logs", "deltalogs")
    SEGMENTID_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    INSERT_LOGS_FIELD_NUMBER: _ClassVar[int]
    DELTALOGS_FIELD_NUMBER: _ClassVar[int]
    segmentID: int
    collectionID: int
    partitionID: int
    level: int
    insert_logs: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.FieldBinlog]
    deltalogs: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.FieldBinlog]
    def __init__(self, segmentID: _Optional[int] = ..., collectionID: _Optional[int] = ..., partitionID: _Optional[int] = ..., level: _Optional[int] = ..., insert_logs: _Optional[_Iterable[_Union[_datacoord_pb2.FieldBinlog, _Mapping]]] = ..., deltalogs: _Optional[_Iterable[_Union[_datacoord_pb2.FieldBinlog, _Mapping]]] = ...) -> None: ...

class CompactionGroup(_message.Message):
    __slots__ = ("sourceIDs", "resultID", "skip_if_unchanged", "partitionID")
    SOURCEIDS_FIELD_NUMBER: _ClassVar[int]
    RESULTID_FIELD_NUMBER: _ClassVar[int]
    SKIP_IF_UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    sourceIDs: _containers.RepeatedScalarFieldContainer[int]
    resultID: int
    skip_if_unchanged: bool
    partitionID: int
    def __init__(self, sourceIDs: _Optional[_Iterable[int]] = ..., resultID: _Optional[int] = ..., skip_if_unchanged: _Optional[bool] = ..., partitionID: _Optional[int] = ...) -> None: ...

class CompactionPlan(_message.Message):
    __slots__ = ("base", "planID", "channel", "collectionID", "timestamp", "segments", "groups", "schema", "expire_ts", "schema_current")
    BASE_FIELD_NUMBER: _ClassVar[int]
    PLANID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_CURRENT_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    planID: int
    channel: str
    collectionID: int
    timestamp: int
    segments: _containers.RepeatedCompositeFieldContainer[CompactionSegmentBinlogs]
    groups: _containers.RepeatedCompositeFieldContainer[CompactionGroup]
    schema: bytes
    expire_ts: int
    schema_current: bool
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., planID: _Optional[int] = ..., channel: _Optional[str] = ..., collectionID: _Optional[int] = ..., timestamp: _Optional[int] = ..., segments: _Optional[_Iterable[_Union[CompactionSegmentBinlogs, _Mapping]]] = ..., groups: _Optional[_Iterable[_Union[CompactionGroup, _Mapping]]] = ..., schema: _Optional[bytes] = ..., expire_ts: _Optional[int] = ..., schema_current: _Optional[bool] = ...) -> None: ...

class CompactionResultSegment(_message.Message):
    __slots__ = ("segmentID", "partitionID", "compactionFrom", "num_of_rows", "insert_logs", "statslogs", "unchanged")
    SEGMENTID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    COMPACTIONFROM_FIELD_NUMBER: _ClassVar[int]
    NUM_OF_ROWS_FIELD_NUMBER: _ClassVar[int]
    INSERT_LOGS_FIELD_NUMBER: _ClassVar[int]
    STATSLOGS_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    segmentID: int
    partitionID: int
    compactionFrom: _containers.RepeatedScalarFieldContainer[int]
    num_of_rows: int
    insert_logs: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.FieldBinlog]
    statslogs: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.FieldBinlog]
    unchanged: bool
    def __init__(self, segmentID: _Optional[int] = ..., partitionID: _Optional[int] = ..., compactionFrom: _Optional[_Iterable[int]] = ..., num_of_rows: _Optional[int] = ..., insert_logs: _Optional[_Iterable[_Union[_datacoord_pb2.FieldBinlog, _Mapping]]] = ..., statslogs: _Optional[_Iterable[_Union[_datacoord_pb2.FieldBinlog, _Mapping]]] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class CompactionPlanResult(_message.Message):
    __slots__ = ("planID", "state", "segments", "fail_reason", "channel")
    PLANID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    planID: int
    state: CompactionTaskState
    segments: _containers.RepeatedCompositeFieldContainer[CompactionResultSegment]
    fail_reason: str
    channel: str
    def __init__(self, planID: _Optional[int] = ..., state: _Optional[_Union[CompactionTaskState, str]] = ..., segments: _Optional[_Iterable[_Union[CompactionResultSegment, _Mapping]]] = ..., fail_reason: _Optional[str] = ..., channel: _Optional[str] = ...) -> None: ...

class GetCompactionResultsRequest(_message.Message):
    __slots__ = ("base", "planIDs")
    BASE_FIELD_NUMBER: _ClassVar[int]
    PLANIDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    planIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., planIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class GetCompactionResultsResponse(_message.Message):
    __slots__ = ("status", "results")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    results: _containers.RepeatedCompositeFieldContainer[CompactionPlanResult]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., results: _Optional[_Iterable[_Union[CompactionPlanResult, _Mapping]]] = ...) -> None: ...
