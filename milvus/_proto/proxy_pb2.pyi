from milvus.grpc_gen import common_pb2 as _common_pb2
from milvus._proto import internal_pb2 as _internal_pb2
from milvus._proto import rootcoord_pb2 as _rootcoord_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvalidateCollMetaCacheRequest(_message.Message):
    __slots__ = ("base", "db_name", "collectionName", "collectionID", "aliases")
    BASE_FIELD_NUMBER: _ClassVar[int]
    DB_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONNAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    db_name: str
    collectionName: str
    collectionID: int
    aliases: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ..., db_name: _Optional[str] = ..., collectionName: _Optional[str] = ..., collectionID: _Optional[int] = ..., aliases: _Optional[_Iterable[str]] = ...) -> None: ...

class GetChannelTimeTickRequest(_message.Message):
    __slots__ = ("base",)
    BASE_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ...) -> None: ...

class GetChannelTimeTickResponse(_message.Message):
    __slots__ = ("status", "tick")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TICK_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    tick: _rootcoord_pb2.ChannelTimeTickMsg
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., tick: _Optional[_Union[_rootcoord_pb2.ChannelTimeTickMsg, _Mapping]] = ...) -> None: ...
