"""A gRPC server for descriptor-defined services.

A server runs its calls on a bounded worker pool.  A call that waits on a call to another
server (a query node's shard leader waiting on the other nodes' segment reads) holds its
worker meanwhile; when two servers call each other like that, every worker of both can end
up waiting on a call queued behind them, and nothing moves until the calls time out.  Methods
named as *leaf* methods (they never call another server) therefore run on a second pool of
their own, ``{name}-leaf``: a leaf call never queues behind calls waiting on other servers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent import futures
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


class _Lane(futures.ThreadPoolExecutor):
    """A ``WorkerPool`` as gRPC's per-method executor.  gRPC runs a method on the executor
    its behaviour names in ``experimental_thread_pool`` (an experimental hook: the leaf-lane
    test of tests/unit/test_rpc.py fails if a gRPC release drops it), taken only when that is
    a ``ThreadPoolExecutor``; this one starts no threads of its own and hands every call to
    the pool."""

    def __init__(self, pool: WorkerPool):
        self.pool = pool  # ThreadPoolExecutor.__init__ is not called: none of its state is used

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> futures.Future:
        return self.pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait, cancel_futures=cancel_futures)


class _OnLane:
    """A method's behaviour, run by gRPC on ``lane`` instead of the server's pool."""

    __slots__ = ("_behaviour", "experimental_thread_pool")

    def __init__(self, behaviour: Callable[..., Any], lane: futures.ThreadPoolExecutor):
        self._behaviour = behaviour
        self.experimental_thread_pool = lane

    def __call__(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._behaviour(request, context)


class _LaneInterceptor(grpc.ServerInterceptor):
    """The outermost interceptor: puts the unary methods ``is_leaf(full_method_name)`` names
    on ``lane`` (after every other interceptor wrapped them)."""

    def __init__(self, is_leaf: Callable[[str], bool], lane: futures.ThreadPoolExecutor):
        self._is_leaf = is_leaf
        self._lane = lane
        self._cache: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or handler.unary_unary is None or not self._is_leaf(method):
            return handler
        routed = self._cache.get(method)
        if routed is None:
            routed = grpc.unary_unary_rpc_method_handler(
                _OnLane(handler.unary_unary, self._lane),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
            self._cache[method] = routed
        return routed


class GrpcServer:
    """A threaded gRPC server; ``port=0`` binds a free port, read back from ``.port``.

    Calls run on a pool of ``max_workers`` threads (``{name}-rpc``), except the unary
    methods in ``leaf_methods`` (full names, ``/package.Service/Method``, or bare method
    names), which run on a pool of their own of ``leaf_workers`` threads (``{name}-leaf``,
    ``max_workers`` when None): see the module docstring.  ``active_workers``: how many calls
    of the main pool run at once before a call waits for a busy worker (``WorkerPool``).
    """

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
        leaf_methods: Iterable[str] = (),
        leaf_workers: int | None = None,
        active_workers: int | None = None,
    ):
        self.name = name
        self._leaf_methods = frozenset(leaf_methods)
        self._leaf_workers = leaf_workers if leaf_workers is not None else max_workers
        if self._leaf_methods and self._leaf_workers <= 0:
            raise ValueError("leaf_workers must be greater than 0")
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
        self._active_workers = active_workers
        self._server: grpc.Server | None = None
        self._pool: WorkerPool | None = None
        self._leaf_pool: WorkerPool | None = None
        self.port = 0

    def add_handler(self, handler: grpc.GenericRpcHandler) -> None:
        if self._server is not None:
            raise RuntimeError("add handlers before start()")
        self._handlers.append(handler)

    def is_leaf(self, method: str) -> bool:
        """Whether the full method name ``method`` (``/package.Service/Method``) runs on the leaf pool."""
        return method in self._leaf_methods or method.rsplit("/", 1)[-1] in self._leaf_methods

    def start(self) -> None:
        self._pool = WorkerPool(self._max_workers, name=f"{self.name}-rpc", active_workers=self._active_workers)
        interceptors = self._interceptors
        if self._leaf_methods:
            self._leaf_pool = WorkerPool(self._leaf_workers, name=f"{self.name}-leaf")
            interceptors = [_LaneInterceptor(self.is_leaf, _Lane(self._leaf_pool)), *interceptors]
        server = grpc.server(self._pool, options=self._options, interceptors=interceptors)
        server.add_generic_rpc_handlers(self._handlers)
        port = server.add_insecure_port(f"{self.host}:{self._requested_port}")
        if port == 0:
            raise OSError(f"cannot bind {self.host}:{self._requested_port}")
        server.start()
        self._server, self.port = server, port
        log.info("%s serving on %s:%d", self.name, self.host, port)

    def stop(self, grace: float = 5.0) -> None:
        server, self._server = self._server, None
        pools = [self._pool, self._leaf_pool]
        self._pool = self._leaf_pool = None
        if server is not None:
            server.stop(grace).wait()
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=False)  # idle workers exit now, busy ones once their call returns

    def health(self) -> tuple[bool, dict]:
        return self._server is not None, {"port": self.port}

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"
