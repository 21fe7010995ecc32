from milvus.grpc_gen import common_pb2 as _common_pb2
from milvus.grpc_gen import schema_pb2 as _schema_pb2
from milvus._proto import internal_pb2 as _internal_pb2
from milvus._proto import datacoord_pb2 as _datacoord_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QWatchDmChannelRequest(_message.Message):
    __slots__ = ("base", "replicaID", "vchannel", "schema", "partitionIDs", "unflushed_segments", "schema_version")
    BASE_FIELD_NUMBER: _ClassVar[int]
    REPLICAID_FIELD_NUMBER: _ClassVar[int]
    VCHANNEL_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    UNFLUSHED_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    replicaID: int
    vchannel: _datacoord_pb2.VchannelInfo
    schema: bytes
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    unflushed_segments: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.SegmentInfo]
    schema_version: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., replicaID: _Optional[int] = ..., vchannel: _Optional[_Union[_datacoord_pb2.VchannelInfo, _Mapping]] = ..., schema: _Optional[bytes] = ..., partitionIDs: _Optional[_Iterable[int]] = ..., unflushed_segments: _Optional[_Iterable[_Union[_datacoord_pb2.SegmentInfo, _Mapping]]] = ..., schema_version: _Optional[int] = ...) -> None: ...

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
    __slots__ = ("base", "replicaID", "collectionID", "segments", "schema", "index_infos", "schema_version")
    BASE_FIELD_NUMBER: _ClassVar[int]
    REPLICAID_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    INDEX_INFOS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    replicaID: int
    collectionID: int
    segments: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.SegmentInfo]
    schema: bytes
    index_infos: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.IndexFilePathInfo]
    schema_version: int
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., replicaID: _Optional[int] = ..., collectionID: _Optional[int] = ..., segments: _Optional[_Iterable[_Union[_datacoord_pb2.SegmentInfo, _Mapping]]] = ..., schema: _Optional[bytes] = ..., index_infos: _Optional[_Iterable[_Union[_datacoord_pb2.IndexFilePathInfo, _Mapping]]] = ..., schema_version: _Optional[int] = ...) -> None: ...

class ReleaseSegmentsRequest(_message.Message):
    __slots__ = ("base", "collectionID", "segmentIDs")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTIDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    segmentIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., segmentIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class QLoadPartitionsRequest(_message.Message):
    __slots__ = ("base", "collectionID", "partitionIDs")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., partitionIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class QReleasePartitionsRequest(_message.Message):
    __slots__ = ("base", "collectionID", "partitionIDs")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., partitionIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class ShardRequest(_message.Message):
    __slots__ = ("base", "collectionID", "partitionIDs", "channels", "guarantee_ts", "travel_ts", "placeholder_group", "topk", "nq", "output_field_ids", "metric_type", "search_params", "anns_field", "expr", "expr_template_values", "primary_keys", "limit", "offset", "count_only", "segment_ids", "deletes", "deletes_source", "deletes_start", "deletes_end", "bm25_k1", "bm25_b", "bm25_avgdl", "truncated_ts", "schema_version", "schema")
    class ExprTemplateValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _schema_pb2.TemplateValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_schema_pb2.TemplateValue, _Mapping]] = ...) -> None: ...
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    GUARANTEE_TS_FIELD_NUMBER: _ClassVar[int]
    TRAVEL_TS_FIELD_NUMBER: _ClassVar[int]
    PLACEHOLDER_GROUP_FIELD_NUMBER: _ClassVar[int]
    TOPK_FIELD_NUMBER: _ClassVar[int]
    NQ_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_IDS_FIELD_NUMBER: _ClassVar[int]
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    SEARCH_PARAMS_FIELD_NUMBER: _ClassVar[int]
    ANNS_FIELD_FIELD_NUMBER: _ClassVar[int]
    EXPR_FIELD_NUMBER: _ClassVar[int]
    EXPR_TEMPLATE_VALUES_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEYS_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    COUNT_ONLY_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    DELETES_FIELD_NUMBER: _ClassVar[int]
    DELETES_SOURCE_FIELD_NUMBER: _ClassVar[int]
    DELETES_START_FIELD_NUMBER: _ClassVar[int]
    DELETES_END_FIELD_NUMBER: _ClassVar[int]
    BM25_K1_FIELD_NUMBER: _ClassVar[int]
    BM25_B_FIELD_NUMBER: _ClassVar[int]
    BM25_AVGDL_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_TS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    channels: _containers.RepeatedScalarFieldContainer[str]
    guarantee_ts: int
    travel_ts: int
    placeholder_group: bytes
    topk: int
    nq: int
    output_field_ids: _containers.RepeatedScalarFieldContainer[int]
    metric_type: str
    search_params: bytes
    anns_field: str
    expr: str
    expr_template_values: _containers.MessageMap[str, _schema_pb2.TemplateValue]
    primary_keys: _schema_pb2.IDs
    limit: int
    offset: int
    count_only: bool
    segment_ids: _containers.RepeatedScalarFieldContainer[int]
    deletes: bytes
    deletes_source: str
    deletes_start: int
    deletes_end: int
    bm25_k1: float
    bm25_b: float
    bm25_avgdl: float
    truncated_ts: int
    schema_version: int
    schema: bytes
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., partitionIDs: _Optional[_Iterable[int]] = ..., channels: _Optional[_Iterable[str]] = ..., guarantee_ts: _Optional[int] = ..., travel_ts: _Optional[int] = ..., placeholder_group: _Optional[bytes] = ..., topk: _Optional[int] = ..., nq: _Optional[int] = ..., output_field_ids: _Optional[_Iterable[int]] = ..., metric_type: _Optional[str] = ..., search_params: _Optional[bytes] = ..., anns_field: _Optional[str] = ..., expr: _Optional[str] = ..., expr_template_values: _Optional[_Mapping[str, _schema_pb2.TemplateValue]] = ..., primary_keys: _Optional[_Union[_schema_pb2.IDs, _Mapping]] = ..., limit: _Optional[int] = ..., offset: _Optional[int] = ..., count_only: _Optional[bool] = ..., segment_ids: _Optional[_Iterable[int]] = ..., deletes: _Optional[bytes] = ..., deletes_source: _Optional[str] = ..., deletes_start: _Optional[int] = ..., deletes_end: _Optional[int] = ..., bm25_k1: _Optional[float] = ..., bm25_b: _Optional[float] = ..., bm25_avgdl: _Optional[float] = ..., truncated_ts: _Optional[int] = ..., schema_version: _Optional[int] = ..., schema: _Optional[bytes] = ...) -> None: ...

class BM25Stats(_message.Message):
    __slots__ = ("status", "num_rows", "total_length", "terms", "row_counts", "deletes_held")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_LENGTH_FIELD_NUMBER: _ClassVar[int]
    TERMS_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNTS_FIELD_NUMBER: _ClassVar[int]
    DELETES_HELD_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    num_rows: int
    total_length: float
    terms: _containers.RepeatedScalarFieldContainer[int]
    row_counts: _containers.RepeatedScalarFieldContainer[int]
    deletes_held: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., num_rows: _Optional[int] = ..., total_length: _Optional[float] = ..., terms: _Optional[_Iterable[int]] = ..., row_counts: _Optional[_Iterable[int]] = ..., deletes_held: _Optional[int] = ...) -> None: ...

class ShardSearchResults(_message.Message):
    __slots__ = ("status", "num_queries", "top_k", "ids", "scores", "topks", "arrow_fields", "metric_type", "read_ts", "deletes_held")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NUM_QUERIES_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    TOPKS_FIELD_NUMBER: _ClassVar[int]
    ARROW_FIELDS_FIELD_NUMBER: _ClassVar[int]
    METRIC_TYPE_FIELD_NUMBER: _ClassVar[int]
    READ_TS_FIELD_NUMBER: _ClassVar[int]
    DELETES_HELD_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    num_queries: int
    top_k: int
    ids: _schema_pb2.IDs
    scores: _containers.RepeatedScalarFieldContainer[float]
    topks: _containers.RepeatedScalarFieldContainer[int]
    arrow_fields: bytes
    metric_type: str
    read_ts: int
    deletes_held: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., num_queries: _Optional[int] = ..., top_k: _Optional[int] = ..., ids: _Optional[_Union[_schema_pb2.IDs, _Mapping]] = ..., scores: _Optional[_Iterable[float]] = ..., topks: _Optional[_Iterable[int]] = ..., arrow_fields: _Optional[bytes] = ..., metric_type: _Optional[str] = ..., read_ts: _Optional[int] = ..., deletes_held: _Optional[int] = ...) -> None: ...

class ShardQueryResults(_message.Message):
    __slots__ = ("status", "ids", "arrow_fields", "count", "read_ts", "timestamps", "deletes_held")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    ARROW_FIELDS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    READ_TS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    DELETES_HELD_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    ids: _schema_pb2.IDs
    arrow_fields: bytes
    count: int
    read_ts: int
    timestamps: _containers.RepeatedScalarFieldContainer[int]
    deletes_held: int
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., ids: _Optional[_Union[_schema_pb2.IDs, _Mapping]] = ..., arrow_fields: _Optional[bytes] = ..., count: _Optional[int] = ..., read_ts: _Optional[int] = ..., timestamps: _Optional[_Iterable[int]] = ..., deletes_held: _Optional[int] = ...) -> None: ...

class GetDataDistributionRequest(_message.Message):
    __slots__ = ("base",)
    BASE_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ...) -> None: ...

class ChannelDistribution(_message.Message):
    __slots__ = ("channel_name", "collectionID", "tsafe", "partitionIDs", "serviceable", "leader_view", "delete_rows")
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    TSAFE_FIELD_NUMBER: _ClassVar[int]
    PARTITIONIDS_FIELD_NUMBER: _ClassVar[int]
    SERVICEABLE_FIELD_NUMBER: _ClassVar[int]
    LEADER_VIEW_FIELD_NUMBER: _ClassVar[int]
    DELETE_ROWS_FIELD_NUMBER: _ClassVar[int]
    channel_name: str
    collectionID: int
    tsafe: int
    partitionIDs: _containers.RepeatedScalarFieldContainer[int]
    serviceable: bool
    leader_view: _containers.RepeatedCompositeFieldContainer[SegmentLocation]
    delete_rows: int
    def __init__(self, channel_name: _Optional[str] = ..., collectionID: _Optional[int] = ..., tsafe: _Optional[int] = ..., partitionIDs: _Optional[_Iterable[int]] = ..., serviceable: _Optional[bool] = ..., leader_view: _Optional[_Iterable[_Union[SegmentLocation, _Mapping]]] = ..., delete_rows: _Optional[int] = ...) -> None: ...

class SegmentLocation(_message.Message):
    __slots__ = ("segmentID", "partitionID", "node_id", "address", "num_rows", "compaction_from", "deltalogs")
    SEGMENTID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    COMPACTION_FROM_FIELD_NUMBER: _ClassVar[int]
    DELTALOGS_FIELD_NUMBER: _ClassVar[int]
    segmentID: int
    partitionID: int
    node_id: int
    address: str
    num_rows: int
    compaction_from: _containers.RepeatedScalarFieldContainer[int]
    deltalogs: _containers.RepeatedCompositeFieldContainer[_datacoord_pb2.FieldBinlog]
    def __init__(self, segmentID: _Optional[int] = ..., partitionID: _Optional[int] = ..., node_id: _Optional[int] = ..., address: _Optional[str] = ..., num_rows: _Optional[int] = ..., compaction_from: _Optional[_Iterable[int]] = ..., deltalogs: _Optional[_Iterable[_Union[_datacoord_pb2.FieldBinlog, _Mapping]]] = ...) -> None: ...

class SyncDistributionRequest(_message.Message):
    __slots__ = ("base", "collectionID", "channel", "sealed", "dropped")
    BASE_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    collectionID: int
    channel: str
    sealed: _containers.RepeatedCompositeFieldContainer[SegmentLocation]
    dropped: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., collectionID: _Optional[int] = ..., channel: _Optional[str] = ..., sealed: _Optional[_Iterable[_Union[SegmentLocation, _Mapping]]] = ..., dropped: _Optional[_Iterable[int]] = ...) -> None: ...

class SegmentDistribution(_message.Message):
    __slots__ = ("id", "collectionID", "partitionID", "channel", "num_rows", "sealed", "index_build_ids")
    ID_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    SEALED_FIELD_NUMBER: _ClassVar[int]
    INDEX_BUILD_IDS_FIELD_NUMBER: _ClassVar[int]
    id: int
    collectionID: int
    partitionID: int
    channel: str
    num_rows: int
    sealed: bool
    index_build_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[int] = ..., collectionID: _Optional[int] = ..., partitionID: _Optional[int] = ..., channel: _Optional[str] = ..., num_rows: _Optional[int] = ..., sealed: _Optional[bool] = ..., index_build_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class GetDataDistributionResponse(_message.Message):
    __slots__ = ("status", "node_id", "channels", "segments", "memory")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    node_id: int
    channels: _containers.RepeatedCompositeFieldContainer[ChannelDistribution]
    segments: _containers.RepeatedCompositeFieldContainer[SegmentDistribution]
    memory: _internal_pb2.NodeMemory
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., node_id: _Optional[int] = ..., channels: _Optional[_Iterable[_Union[ChannelDistribution, _Mapping]]] = ..., segments: _Optional[_Iterable[_Union[SegmentDistribution, _Mapping]]] = ..., memory: _Optional[_Union[_internal_pb2.NodeMemory, _Mapping]] = ...) -> None: ...
