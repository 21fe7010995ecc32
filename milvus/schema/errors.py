"""Schema errors and the one table of Milvus status codes they map to.

Milvus answers every bad request with a ``common.Status`` carrying two codes: the numeric
``code`` that 2.4+ clients read (``merr`` codes such as 1100 "invalid parameter") and the
deprecated ``error_code`` enum older clients read.  pymilvus raises
``MilvusException(code=status.code, message=status.reason)``, so ``reason`` is what the user
sees; Milvus formats it as ``"<message>: <code text>"`` and so does :meth:`SchemaError.to_status`.
``SchemaError`` is a :class:`milvus.errors.MilvusError`, so handlers of the project's one
error table catch it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from milvus.errors import MilvusError
from milvus.grpc_gen import common_pb2


@dataclass(frozen=True)
class _Code:
    code: int
    legacy: int  # common_pb2.ErrorCode
    text: str
    input_error: bool


# merr codes used by the schema package (numbers as in Milvus pkg/util/merr/errors.go).
PARAMETER_INVALID = 1100
PARAMETER_MISSING = 1101
FIELD_NOT_FOUND = 1700
FIELD_NAME_INVALID = 1701
UNEXPECTED = 65535

_CODES: dict[int, _Code] = {
    PARAMETER_INVALID: _Code(PARAMETER_INVALID, common_pb2.IllegalArgument, "invalid parameter", True),
    PARAMETER_MISSING: _Code(PARAMETER_MISSING, common_pb2.IllegalArgument, "missing parameter", True),
    FIELD_NOT_FOUND: _Code(FIELD_NOT_FOUND, common_pb2.UnexpectedError, "field not found", True),
    FIELD_NAME_INVALID: _Code(FIELD_NAME_INVALID, common_pb2.UnexpectedError, "field name invalid", True),
    UNEXPECTED: _Code(UNEXPECTED, common_pb2.UnexpectedError, "unexpected error", False),
}


class SchemaError(MilvusError):
    """A schema or column-data problem, with the Milvus status it should be answered with."""

    def __init__(self, message: str, code: int = PARAMETER_INVALID) -> None:
        if code not in _CODES:
            raise ValueError(f"unknown schema error code {code}")
        super().__init__(message, code=code, legacy=_CODES[code].legacy)

    def __str__(self) -> str:
        return self.reason

    @property
    def error_code(self) -> int:
        """The deprecated ``common.ErrorCode`` value for clients older than 2.4."""
        return self.legacy

    @property
    def is_input_error(self) -> bool:
        return _CODES[self.code].input_error

    @property
    def reason(self) -> str:
        return f"{self.message}: {_CODES[self.code].text}"

    def to_status(self) -> common_pb2.Status:
        status = common_pb2.Status(code=self.code, error_code=self.error_code, reason=self.reason)
        if self.is_input_error:
            status.extra_info["is_input_error"] = "true"
        return status


def invalid(message: str) -> SchemaError:
    return SchemaError(message, PARAMETER_INVALID)


def missing(message: str) -> SchemaError:
    return SchemaError(message, PARAMETER_MISSING)
