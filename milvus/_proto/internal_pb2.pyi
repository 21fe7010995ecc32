from milvus.grpc_gen import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class StateCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATE_UNKNOWN: _ClassVar[StateCode]
    INITIALIZING: _ClassVar[StateCode]
    HEALTHY: _ClassVar[StateCode]
    ABNORMAL: _ClassVar[StateCode]
    STOPPING: _ClassVar[StateCode]
    STANDBY: _ClassVar[StateCode]
STATE_UNKNOWN: StateCode
INITIALIZING: StateCode
HEALTHY: StateCode
ABNORMAL: StateCode
STOPPING: StateCode
STANDBY: StateCode

class ComponentInfo(_message.Message):
    __slots__ = ("node_id", "role", "state", "address", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    role: str
    state: StateCode
    address: str
    extra: _containers.ScalarMap[str, str]
    def __init__(self, node_id: _Optional[int] = ..., role: _Optional[str] = ..., state: _Optional[_Union[StateCode, str]] = ..., address: _Optional[str] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetComponentStatesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ComponentStates(_message.Message):
    __slots__ = ("state", "subcomponent_states", "status")
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUBCOMPONENT_STATES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    state: ComponentInfo
    subcomponent_states: _containers.RepeatedCompositeFieldContainer[ComponentInfo]
    status: _common_pb2.Status
    def __init__(self, state: _Optional[_Union[ComponentInfo, _Mapping]] = ..., subcomponent_states: _Optional[_Iterable[_Union[ComponentInfo, _Mapping]]] = ..., status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ...) -> None: ...

class MsgPosition(_message.Message):
    __slots__ = ("channel_name", "msg_id", "timestamp", "msg_group")
    CHANNEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MSG_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MSG_GROUP_FIELD_NUMBER: _ClassVar[int]
    channel_name: str
    msg_id: bytes
    timestamp: int
    msg_group: str
    def __init__(self, channel_name: _Optional[str] = ..., msg_id: _Optional[bytes] = ..., timestamp: _Optional[int] = ..., msg_group: _Optional[str] = ...) -> None: ...

class StringResponse(_message.Message):
    __slots__ = ("status", "value")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    value: str
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., value: _Optional[str] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NodeMemory(_message.Message):
    __slots__ = ("node_id", "role", "used_bytes", "total_bytes", "age_ms")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    USED_BYTES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    AGE_MS_FIELD_NUMBER: _ClassVar[int]
    node_id: int
    role: str
    used_bytes: int
    total_bytes: int
    age_ms: int
    def __init__(self, node_id: _Optional[int] = ..., role: _Optional[str] = ..., used_bytes: _Optional[int] = ..., total_bytes: _Optional[int] = ..., age_ms: _Optional[int] = ...) -> None: ...

class GetNodeMemoryRequest(_message.Message):
    __slots__ = ("base",)
    BASE_FIELD_NUMBER: _ClassVar[int]
    base: _common_pb2.MsgBase
    def __init__(self, base: _Optional[_Union[_common_pb2.MsgBase, _Mapping]] = ...) -> None: ...

class GetNodeMemoryResponse(_message.Message):
    __slots__ = ("status", "nodes")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    nodes: _containers.RepeatedCompositeFieldContainer[NodeMemory]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[NodeMemory, _Mapping]]] = ...) -> None: ...
