from pymilvus.grpc_gen import common_pb2 as _common_pb2
from milvus._proto import internal_pb2 as _internal_pb2
from milvus._proto import datacoord_pb2 as _datacoord_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

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
