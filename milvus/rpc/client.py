"""Clients with one method per RPC: over gRPC, or straight into an in-process object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import descriptor as _descriptor

from milvus.rpc.server import message_class
from milvus.util.tracing import trace_headers


class RpcError(Exception):
    """The remote call failed at the transport level (unreachable, deadline, aborted)."""

    def __init__(self, method: str, code: grpc.StatusCode | None, detail: str):
        super().__init__(f"{method}: {code.name if code else 'ERROR'}: {detail}")
        self.method = method
        self.code = code
        self.detail = detail


class GrpcClient:
    """Calls ``service`` on a remote server: ``client.MethodName(request, timeout=...)``.
    A call made inside a traced span carries its trace context as metadata."""

    def __init__(self, channel: grpc.Channel, service: _descriptor.ServiceDescriptor, timeout: float = 60.0):
        self._channel = channel
        self._timeout = timeout
        self._service = service
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            stub = channel.unary_unary(
                path,
                request_serializer=message_class(method.input_type).SerializeToString,
                response_deserializer=message_class(method.output_type).FromString,
            )
            setattr(self, method.name, self._bind(method.name, stub))

    def _bind(self, name: str, stub: Callable[..., Any]) -> Callable[..., Any]:
        default_timeout = self._timeout

        def call(request, timeout: float | None = None):
            try:
                return stub(request, timeout=timeout if timeout is not None else default_timeout,
                            metadata=trace_headers.get() or None)
            except grpc.RpcError as exc:
                raise RpcError(name, exc.code(), exc.details() or "") from None

        call.__name__ = name
        return call

    @classmethod
    def connect(cls, address: str, service: _descriptor.ServiceDescriptor, timeout: float = 60.0) -> GrpcClient:
        channel = grpc.insecure_channel(
            address,
            options=[
                ("grpc.max_receive_message_length", 512 * 1024 * 1024),
                ("grpc.max_send_message_length", 512 * 1024 * 1024),
            ],
        )
        return cls(channel, service, timeout)

    def close(self) -> None:
        self._channel.close()


class LocalClient:
    """The same methods as ``GrpcClient``, calling an in-process implementation directly."""

    def __init__(self, impl: object, service: _descriptor.ServiceDescriptor,
                 wrap: Callable[[str, Callable[..., Any]], Callable[..., Any]] | None = None):
        """``wrap(method_name, fn)`` may decorate each call (metrics), as ``service_handler``'s."""
        for method in service.methods:
            fn = getattr(impl, method.name, None)
            if fn is None:
                raise TypeError(f"{type(impl).__name__} does not implement {service.full_name}.{method.name}")
            setattr(self, method.name, self._bind(wrap(method.name, fn) if wrap is not None else fn))

    @staticmethod
    def _bind(fn: Callable[[Any], Any]) -> Callable[..., Any]:
        def call(request, timeout: float | None = None):
            return fn(request)

        call.__name__ = fn.__name__
        return call

    def close(self) -> None:
        pass
