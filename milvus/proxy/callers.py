"""Calling another role's client from the proxy: transport failures and error statuses both
become ``milvus.errors`` exceptions, so the service adapter maps them in its one place."""

from __future__ import annotations

from typing import Any

from milvus import errors
from milvus.grpc_gen import common_pb2
from milvus.rpc import RpcError


class Caller:
    def __init__(self, client: Any, role: str):
        self.client = client
        self._role = role

    def __call__(self, method: str, request: Any) -> Any:
        try:
            response = getattr(self.client, method)(request)
        except RpcError as exc:
            raise errors.ServiceUnavailable(f"service unavailable: {self._role} {exc}") from None
        status = response if isinstance(response, common_pb2.Status) else response.status
        errors.check_status(status)
        return response
