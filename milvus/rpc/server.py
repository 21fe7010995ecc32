"""A gRPC server for descriptor-defined services."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf import descriptor as _descriptor
from google.protobuf import message_factory

from milvus.rpc.pool import WorkerPool

log = logging.getLogger(__name__)


def message_class(desc: _descriptor.Descriptor) -> type:
    return message_factory.GetMessageClass(desc)


def service_handler(
    service: _descriptor.ServiceDescriptor,
    impl: object,
    wrap: Callable[[str, Callable[..., Any]], Callable[..., Any]] | None = None,
    allow_missing: bool = False,
) -> grpc.GenericRpcHandler:
    """A gRPC handler calling ``impl.<MethodName>(request)`` for every unary method of ``service``.

    ``wrap(method_name, fn)`` may decorate each call (metrics, error mapping); the wrapped
    function receives ``(request, context)``.  With ``allow_missing`` (the public service,
    which has more methods than this server offers) a method ``impl`` lacks answers gRPC
    UNIMPLEMENTED instead of failing the wiring.
    """
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in service.methods:
        if method.client_streaming or method.server_streaming:
            continue
        fn = getattr(impl, method.name, None)
        if fn is None:
            if allow_missing:
                continue
            raise TypeError(f"{type(impl).__name__} does not implement {service.full_name}.{method.name}")
        request_cls = message_class(method.input_type)
        response_cls = message_class(method.output_type)

        def call(request, context, _fn=fn):
            return _fn(request)

        behaviour = wrap(method.name, call) if wrap else call
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            behaviour,
            request_deserializer=request_cls.FromString,
            response_serializer=response_cls.SerializeToString,
        )
    return grpc.method_handlers_generic_handler(service.full_name, handlers)


class WrapInterceptor(grpc.ServerInterceptor):
    """Applies a ``wrap(method_name, fn)`` (as ``service_handler`` takes) to every unary
    method a server serves: one place to instrument a whole server."""

    def __init__(self, wrap: Callable[[str, Callable[..., Any]], Callable[..., Any]]):
        self._wrap = wrap
        self._cache: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        wrapped = self._cache.get(method)
        if wrapped is None:
            wrapped = grpc.unary_unary_rpc_method_handler(
                self._wrap(method.rsplit("/", 1)[-1], handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
            self._cache[method] = wrapped
        return wrapped


class GrpcServer:
    """A threaded gRPC server; ``port=0`` binds a free port, read back from ``.port``."""

    def __init__(
        self,
        host: str,
        port: int,
        handlers: Sequence[grpc.GenericRpcHandler],
        max_workers: int = 32,
        max_recv: int = 512 * 1024 * 1024,
        max_send: int = 512 * 1024 * 1024,
        name: str = "grpc",
        interceptors: Sequence[grpc.ServerInterceptor] = (),
    ):
        self.name = name
        self._interceptors = list(interceptors)
        self.host = host
        self._requested_port = port
        self._handlers = list(handlers)
        self._options = [
            ("grpc.max_receive_message_length", max_recv),
            ("grpc.max_send_message_length", max_send),
            ("grpc.so_reuseport", 0),
            # Milvus' keepalive policy: clients may ping every 5 s, with or without calls in
            # flight (pymilvus pings idle channels every 10 s); gRPC core's server default
            # (5 min) answered an idle client's pings with GOAWAY "too_many_pings"
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ]
        self._max_workers = max_workers
        self._server: grpc.Server | None = None
        self._pool: WorkerPool | None = None
        self.port = 0

    def add_handler(self, handler: grpc.GenericRpcHandler) -> None:
        if self._server is not None:
            raise RuntimeError("add handlers before start()")
        self._handlers.append(handler)

    def start(self) -> None:
        self._pool = WorkerPool(self._max_workers, name=f"{self.name}-rpc")
        server = grpc.server(self._pool, options=self._options, interceptors=self._interceptors)
        server.add_generic_rpc_handlers(self._handlers)
        port = server.add_insecure_port(f"{self.host}:{self._requested_port}")
        if port == 0:
            raise OSError(f"cannot bind {self.host}:{self._requested_port}")
        server.start()
        self._server, self.port = server, port
        log.info("%s serving on %s:%d", self.name, self.host, port)

    def stop(self, grace: float = 5.0) -> None:
        server, self._server = self._server, None
        pool, self._pool = self._pool, None
        if server is not None:
            server.stop(grace).wait()
        if pool is not None:
            pool.shutdown(wait=False)  # idle workers exit now, busy ones once their call returns

    def health(self) -> tuple[bool, dict]:
        return self._server is not None, {"port": self.port}

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
