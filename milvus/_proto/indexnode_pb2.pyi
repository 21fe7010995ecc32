from milvus.grpc_gen import common_pb2 as _common_pb2
from milvus._proto import internal_pb2 as _internal_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class IndexState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INDEX_STATE_NONE: _ClassVar[IndexState]
    UNISSUED: _ClassVar[IndexState]
    IN_PROGRESS: _ClassVar[IndexState]
    FINISHED: _ClassVar[IndexState]
    FAILED: _ClassVar[IndexState]
    RETRY: _ClassVar[IndexState]
INDEX_STATE_NONE: IndexState
UNISSUED: IndexState
IN_PROGRESS: IndexState
FINISHED: IndexState
FAILED: IndexState
RETRY: IndexState

class CreateJobRequest(_message.Message):
    __slots__ = ("cluster_id", "buildID", "index_version", "collectionID", "partitionID", "segmentID", "fieldID", "data_paths", "index_params", "type_params", "num_rows", "index_file_prefix", "field_name", "field_type", "dim")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    BUILDID_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    COLLECTIONID_FIELD_NUMBER: _ClassVar[int]
    PARTITIONID_FIELD_NUMBER: _ClassVar[int]
    SEGMENTID_FIELD_NUMBER: _ClassVar[int]
    FIELDID_FIELD_NUMBER: _ClassVar[int]
    DATA_PATHS_FIELD_NUMBER: _ClassVar[int]
    INDEX_PARAMS_FIELD_NUMBER: _ClassVar[int]
    TYPE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    NUM_ROWS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FILE_PREFIX_FIELD_NUMBER: _ClassVar[int]
    FIELD_NAME_FIELD_NUMBER: _ClassVar[int]
    FIELD_TYPE_FIELD_NUMBER: _ClassVar[int]
    DIM_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    buildID: int
    index_version: int
    collectionID: int
    partitionID: int
    segmentID: int
    fieldID: int
    data_paths: _containers.RepeatedScalarFieldContainer[str]
    index_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    type_params: _containers.RepeatedCompositeFieldContainer[_common_pb2.KeyValuePair]
    num_rows: int
    index_file_prefix: str
    field_name: str
    field_type: int
    dim: int
    def __init__(self, cluster_id: _Optional[str] = ..., buildID: _Optional[int] = ..., index_version: _Optional[int] = ..., collectionID: _Optional[int] = ..., partitionID: _Optional[int] = ..., segmentID: _Optional[int] = ..., fieldID: _Optional[int] = ..., data_paths: _Optional[_Iterable[str]] = ..., index_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., type_params: _Optional[_Iterable[_Union[_common_pb2.KeyValuePair, _Mapping]]] = ..., num_rows: _Optional[int] = ..., index_file_prefix: _Optional[str] = ..., field_name: _Optional[str] = ..., field_type: _Optional[int] = ..., dim: _Optional[int] = ...) -> None: ...

class QueryJobsRequest(_message.Message):
    __slots__ = ("cluster_id", "buildIDs")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    BUILDIDS_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    buildIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, cluster_id: _Optional[str] = ..., buildIDs: _Optional[_Iterable[int]] = ...) -> None: ...

class IndexTaskInfo(_message.Message):
    __slots__ = ("buildID", "state", "index_file_keys", "serialized_size", "fail_reason", "index_version")
    BUILDID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FILE_KEYS_FIELD_NUMBER: _ClassVar[int]
    SERIALIZED_SIZE_FIELD_NUMBER: _ClassVar[int]
    FAIL_REASON_FIELD_NUMBER: _ClassVar[int]
    INDEX_VERSION_FIELD_NUMBER: _ClassVar[int]
    buildID: int
    state: IndexState
    index_file_keys: _containers.RepeatedScalarFieldContainer[str]
    serialized_size: int
    fail_reason: str
    index_version: int
    def __init__(self, buildID: _Optional[int] = ..., state: _Optional[_Union[IndexState, str]] = ..., index_file_keys: _Optional[_Iterable[str]] = ..., serialized_size: _Optional[int] = ..., fail_reason: _Optional[str] = ..., index_version: _Optional[int] = ...) -> None: ...

class QueryJobsResponse(_message.Message):
    __slots__ = ("status", "index_infos")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INDEX_INFOS_FIELD_NUMBER: _ClassVar[int]
    status: _common_pb2.Status
    index_infos: _containers.RepeatedCompositeFieldContainer[IndexTaskInfo]
    def __init__(self, status: _Optional[_Union[_common_pb2.Status, _Mapping]] = ..., index_infos: _Optional[_Iterable[_Union[IndexTaskInfo, _Mapping]]] = ...) -> None: ...

class DropJobsRequest(_message.Message):
    __slots__ = ("cluster_id", "buildIDs")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    BUILDIDS_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    buildIDs: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, cluster_id: _Optional[str] = ..., buildIDs: _Optional[_Iterable[int]] = ...) -> None: ...
