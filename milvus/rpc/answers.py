"""The one decorator every role's RPC methods share: refuse while the role is not serving,
and turn any exception into the response's status (through the one error table)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf import descriptor as _descriptor

from milvus import errors
from milvus.rpc.server import message_class

R = TypeVar("R")


def rpc_answers(
    service: _descriptor.ServiceDescriptor,
    *,
    ready: Callable[[Any], bool],
    not_ready: Callable[[Any], str],
    log: logging.Logger,
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A decorator for the methods of ``service``'s implementation.

    ``ready(self)`` says whether the role serves now; ``not_ready(self)`` is the message of the
    ServiceNotReady error answered otherwise.  Unexpected exceptions (not Milvus errors) are
    logged with their traceback before they become an internal-error status.
    """

    def decorate(fn: Callable[..., R]) -> Callable[..., R]:
        response_cls = message_class(service.methods_by_name[fn.__name__].output_type)

        @functools.wraps(fn)
        def call(self: Any, request: Any) -> R:
            try:
                if not ready(self):
                    raise errors.ServiceNotReady(not_ready(self))
                return fn(self, request)
            except Exception as exc:  # noqa: BLE001 - the one place errors become statuses
                if not isinstance(exc, errors.MilvusError) and not hasattr(exc, "to_status"):
                    log.exception("%s.%s failed", type(self).__name__, fn.__name__)
                return errors.error_response(response_cls, exc)

        return call

    return decorate
