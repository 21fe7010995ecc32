from pymilvus.grpc_gen import common_pb2 as _common_pb2
from pymilvus.grpc_gen import schema_pb2 as _schema_pb2
from milvus._proto import internal_pb2 as _internal_pb2
from milvus._proto import datacoord_pb2 as _datacoord_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QWatchDmChannelRequest(_message.Message):
    __slots__ = ("base", "replicaID", "vchannel", "schema", "partitionIDs")
    BASE_FIELD_NUMBER: _ClassVar[int]
    REPLICAID_FIELD_NUMBER: _ClassVar[int]
    VCHANNEL_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    replicaID: int
    vchannel: _datacoord_pb2.VchannelInfo
    schema: bytes
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., replicaID: _Optional[int] = ..., vchannel: _Optional[_Union[_datacoord_pb2.VchannelInfo, _Mapping]] = ..., schema: _Optional[bytes] = ..., partitionIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class QUnwatchDmChannelRequest(_message.Message):
    __slots__ = ("base", "collectionID", "channel_name")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    channel_name: str
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., channel_name: _Optional[str] = ...) -> None: ...

class LoadSegmentsRequest(_message.Message):
    __slots__ = ("base", "replicaID", "collectionID", "segments", "schema")
    BASE_FIELD_NUMBER: _ClassVar[int]
    REPLICAID_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    replicaID: int
    collectionID: int
    segments: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.SegmentInfo]
    schema: bytes
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., replicaID: _Optional[int] = ..., collectionID: _Optional[int] = ..., segments: _Optional[_Iterable[_Union[_datacoord_pb2.SegmentInfo, _Mapping]]] = ..., schema: _Optional[bytes] = ...) -> None: ...

class ReleaseSegmentsRequest(_message.Message):
    __slots__ = ("base", "collectionID", "segmentIDs")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., segmentIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class ShardRequest(_message.Message):
    __slots__ = ("base", "collectionID", "partitionIDs", "channels", "guarantee_ts", "travel_ts", "serialized_plan", "placeholder_group", "topk", "nq", "output_field_ids", "metric_type", "search_params")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    GUARANTEE_TS_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_TS_FIELD_NUMBER: _ClassVar[int]
    SERIALIZED_PLAN_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDER_GROUP_FIELD_NUMBER: _ClassVar[int]
    TOPK_FIELD_NUMBER: _ClassVar[int]
    NQ_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_IDS_FIELD_NUMBER: _ClassVar[int]
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEARCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    channels: _containers.RepeatedScalarFieldContainer[str]
    guarantee_ts: int
    travel_ts: int
    serialized_plan: bytes
    placeholder_group: bytes
    topk: int
    nq: int
    output_field_ids: _containers.RepeatedScalarFieldContainer[int]
    metric_type: str
    search_params: bytes
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., partitionIDs: _Optional[_Iterable[int]] = ..., channels: _Optional[_Iterable[str]] = ..., guarantee_ts: _Optional[int] = ..., travel_ts: _Optional[int] = ..., serialized_plan: _Optional[bytes] = ..., placeholder_group: _Optional[bytes] = ..., topk: _Optional[int] = ..., nq: _Optional[int] = ..., output_field_ids: _Optional[_Iterable[int]] = ..., metric_type: _Optional[str] = ..., search_params: _Optional[bytes] = ...) -> None: ...

class ShardSearchResults(_message.Message):
    __slots__ = ("status", "num_queries", "top_k", "ids", "scores", "topks", "arrow_fields", "metric_type")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NUM_QUERIES_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    TOPKS_FIELD_NUMBER: _ClassVar[int]
    ARROW_FIELDS_FIELD_NUMBER: _ClassVar[int]
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    num_queries: int
    top_k: int
    ids: _schema_pb2.IDs
    scores: _containers.RepeatedScalarFieldContainer[float]
    topks: _containers.RepeatedScalarFieldContainer[int]
    arrow_fields: bytes
    metric_type: str
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., num_queries: _Optional[int] = ..., top_k: _Optional[int] = ..., ids: _Optional[_Union[_schema_pb2.IDs, _Mapping]] = ..., scores: _Optional[_Iterable[float]] = ..., topks: _Optional[_Iterable[int]] = ..., arrow_fields: _Optional[bytes] = ..., metric_type: _Optional[str] = ...) -> None: ...

class ShardQueryResults(_message.Message):
    __slots__ = ("status", "ids", "arrow_fields", "count")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    ARROW_FIELDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    ids: _schema_pb2.IDs
    arrow_fields: bytes
    count: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., ids: _Optional[_Union[_schema_pb2.IDs, _Mapping]] = ..., arrow_fields: _Optional[bytes] = ..., count: _Optional[int] = ...) -> None: ...
