"""The one error table: domain errors carry a Milvus error code and become a ``common.Status``.

Codes follow Milvus 2.4+ (``pkg/util/merr``): the numeric ``code`` that pymilvus 2.4+ reads,
plus the legacy ``ErrorCode`` enum value older clients read.  Roles raise these; the public
and internal gRPC adapters turn them into statuses in one place (``to_status``).
"""

from __future__ import annotations

from milvus.grpc_gen import common_pb2

_LEGACY = common_pb2.ErrorCode
_STATUS_NAME = common_pb2.Status.DESCRIPTOR.full_name


class MilvusError(Exception):
    """A request failed for a reason the caller should be told about."""

    code: int = 65535  # merr "undefined"
    legacy: int = _LEGACY.UnexpectedError

    def __init__(self, message: str, *, code: int | None = None, legacy: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if legacy is not None:
            self.legacy = legacy


def _error(name: str, code: int, legacy: int) -> type[MilvusError]:
    return type(name, (MilvusError,), {"code": code, "legacy": legacy, "__doc__": f"merr code {code}."})


# service
ServiceNotReady = _error("ServiceNotReady", 1, _LEGACY.NotReadyServe)
ServiceUnavailable = _error("ServiceUnavailable", 2, _LEGACY.UnexpectedError)
MemoryLimitExceeded = _error("MemoryLimitExceeded", 3, _LEGACY.MemoryQuotaExhausted)
RateLimited = _error("RateLimited", 8, _LEGACY.RateLimit)
ServiceInternal = _error("ServiceInternal", 5, _LEGACY.UnexpectedError)
Unimplemented = _error("Unimplemented", 10, _LEGACY.UnexpectedError)
# collection / partition / alias / database
CollectionNotFound = _error("CollectionNotFound", 100, _LEGACY.CollectionNotExists)
CollectionNotLoaded = _error("CollectionNotLoaded", 101, _LEGACY.UnexpectedError)
CollectionNumLimitExceeded = _error("CollectionNumLimitExceeded", 102, _LEGACY.UnexpectedError)
CollectionIllegalSchema = _error("CollectionIllegalSchema", 105, _LEGACY.IllegalArgument)
# a write built on an older schema than the collection's (pymilvus refreshes its schema and retries)
CollectionSchemaMismatch = _error("CollectionSchemaMismatch", 109, _LEGACY.SchemaMismatch)
PartitionNotFound = _error("PartitionNotFound", 200, _LEGACY.UnexpectedError)
PartitionNotLoaded = _error("PartitionNotLoaded", 201, _LEGACY.UnexpectedError)
ResourceGroupNotFound = _error("ResourceGroupNotFound", 300, _LEGACY.UnexpectedError)
ResourceGroupAlreadyExist = _error("ResourceGroupAlreadyExist", 301, _LEGACY.UnexpectedError)
ResourceGroupReachLimit = _error("ResourceGroupReachLimit", 302, _LEGACY.UnexpectedError)
ResourceGroupIllegalConfig = _error("ResourceGroupIllegalConfig", 303, _LEGACY.IllegalArgument)
ResourceGroupNodeNotEnough = _error("ResourceGroupNodeNotEnough", 304, _LEGACY.UnexpectedError)
ChannelNotFound = _error("ChannelNotFound", 500, _LEGACY.UnexpectedError)
SegmentNotFound = _error("SegmentNotFound", 600, _LEGACY.UnexpectedError)
IndexNotFound = _error("IndexNotFound", 700, _LEGACY.IndexNotExist)
IndexNotSupported = _error("IndexNotSupported", 701, _LEGACY.IllegalArgument)
IndexDuplicate = _error("IndexDuplicate", 702, _LEGACY.UnexpectedError)
DatabaseNotFound = _error("DatabaseNotFound", 800, _LEGACY.UnexpectedError)
DatabaseNumLimitExceeded = _error("DatabaseNumLimitExceeded", 801, _LEGACY.UnexpectedError)
DatabaseInvalidName = _error("DatabaseInvalidName", 802, _LEGACY.IllegalArgument)
NodeNotFound = _error("NodeNotFound", 901, _LEGACY.UnexpectedError)
IoKeyNotFound = _error("IoKeyNotFound", 1000, _LEGACY.UnexpectedError)
IoFailed = _error("IoFailed", 1001, _LEGACY.UnexpectedError)
ParameterInvalid = _error("ParameterInvalid", 1100, _LEGACY.IllegalArgument)
ParameterMissing = _error("ParameterMissing", 1101, _LEGACY.IllegalArgument)
ParameterTooLarge = _error("ParameterTooLarge", 1102, _LEGACY.IllegalArgument)
PrivilegeNotPermitted = _error("PrivilegeNotPermitted", 1401, _LEGACY.PermissionDenied)
AliasNotFound = _error("AliasNotFound", 1600, _LEGACY.UnexpectedError)
AliasCollectionNameConflict = _error("AliasCollectionNameConflict", 1601, _LEGACY.UnexpectedError)
AliasAlreadyExists = _error("AliasAlreadyExists", 1602, _LEGACY.UnexpectedError)
NeedAuthenticate = _error("NeedAuthenticate", 1800, _LEGACY.PermissionDenied)
# "already exists" for collections/partitions/databases has no dedicated merr code in Milvus:
# it answers ParameterInvalid with the reason
AlreadyExists = _error("AlreadyExists", 1100, _LEGACY.UnexpectedError)
TimeTravelOutOfRange = _error("TimeTravelOutOfRange", 1100, _LEGACY.IllegalArgument)
# internal: between roles only, never answered to a client
DeletesOutOfSync = _error("DeletesOutOfSync", 590, _LEGACY.UnexpectedError)  # a worker lacks a leader's earlier deletes


def to_status(exc: BaseException) -> common_pb2.Status:
    """The status a client sees for ``exc`` (unknown exceptions become an internal error).

    Besides ``MilvusError``, any exception with a ``to_status()`` method (such as
    ``milvus.schema.SchemaError``) answers with the status it builds itself.
    """
    if isinstance(exc, MilvusError):
        return common_pb2.Status(error_code=exc.legacy, code=exc.code, reason=exc.message)
    own = getattr(exc, "to_status", None)
    if callable(own):
        return own()
    return common_pb2.Status(
        error_code=_LEGACY.UnexpectedError, code=ServiceInternal.code, reason=f"internal error: {exc!r}"
    )


def status_field(descriptor) -> str | None:
    """The name of the field of a response message type (its descriptor) that carries its
    ``common.Status`` (``status`` nearly everywhere; AlterCollectionSchema's is
    ``alter_status``); None when it has none."""
    for field in descriptor.fields:
        if field.message_type is not None and field.message_type.full_name == _STATUS_NAME:
            return field.name
    return None


def error_response(response_cls: type, exc: BaseException):
    """A ``response_cls`` message answering ``exc``: the status itself, or a message whose
    status field carries it (every response of the public and internal services has one)."""
    status = to_status(exc)
    if response_cls.DESCRIPTOR.full_name == _STATUS_NAME:
        return status
    return response_cls(**{status_field(response_cls.DESCRIPTOR) or "status": status})


def from_status(status: common_pb2.Status) -> MilvusError:
    """The error a failed ``status`` from another role stands for (code and reason kept)."""
    return MilvusError(status.reason, code=status.code or MilvusError.code, legacy=status.error_code)


def check_status(status: common_pb2.Status) -> None:
    """Raise the error a status from another role carries; return when it is a success."""
    if status.code != 0 or status.error_code != common_pb2.ErrorCode.Success:
        raise from_status(status)


OK = common_pb2.Status()
