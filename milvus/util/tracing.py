"""Tracing of requests across roles: OpenTelemetry spans when configured, nothing when not.

``open_tracing(config, role)`` gives the process's ``Tracing``.  Off (``trace.exporter``
``noop``/``none``, the default) it is ``NO_TRACING``: its wraps are None, so no call is
decorated and OpenTelemetry is never imported (it is an optional dependency, the
``tracing`` extra).  On, ``milvus.util.otel`` makes a span around every served call
(``server_wrap``, on gRPC servers) and every in-process call (``local_wrap``, on
``LocalClient``), and a span's context travels on to the next role as W3C trace-context
headers: the current span's headers sit in ``trace_headers``, which ``GrpcClient`` sends as
metadata.  The current trace id is also put in ``milvus.util.log.trace_id`` for the logs.

Traces also follow the message queue: the proxy copies ``trace_headers`` into each DML
envelope's ``trace_context`` (``message_context``; empty when off), and the consumers that
apply it (data node buffer and sync, query node growing segments) open ``message_span``s
under it.  With tracing off the envelope's map stays empty and no consumer does any work.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from contextvars import ContextVar
from typing import Any, Protocol

# the W3C trace-context headers of the span current in this context: what outgoing calls carry
trace_headers: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("trace_headers", default=())

OFF = ("noop", "none")
EXPORTERS = (*OFF, "stdout", "otlp")

# ``wrap(method_name, fn) -> fn``, as ``service_handler`` and ``LocalClient`` take
Wrap = Callable[[str, Callable[..., Any]], Callable[..., Any]]


class Tracing(Protocol):
    name: str
    enabled: bool

    def server_wrap(self, role: str) -> Wrap | None:
        """Decorates a served method ``fn(request, context)``; None when off."""

    def local_wrap(self, role: str) -> Wrap | None:
        """Decorates an in-process call ``fn(request)``; None when off."""

    def message_span(self, name: str, carrier: Mapping[str, str],
                     links: Sequence[Mapping[str, str]] = ()) -> AbstractContextManager[Any]:
        """A consumer span of handling a message: child of the span whose W3C headers are
        ``carrier`` (an envelope's ``trace_context``), linked to the spans of ``links``;
        while it runs its own headers are in ``trace_headers``.  A no-op when off."""

    # a lifecycle component: stop flushes the spans not exported yet
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def health(self) -> tuple[bool, dict[str, Any]]: ...


class NoTracing:
    name = "tracing"
    enabled = False

    def server_wrap(self, role: str) -> Wrap | None:
        return None

    def local_wrap(self, role: str) -> Wrap | None:
        return None

    def message_span(self, name: str, carrier: Mapping[str, str],
                     links: Sequence[Mapping[str, str]] = ()) -> AbstractContextManager[Any]:
        return nullcontext()

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {"exporter": "noop"}


NO_TRACING: Tracing = NoTracing()


def message_context() -> dict[str, str]:
    """The trace context a message written now carries (the current span's W3C headers);
    empty when no span is current, so with tracing off nothing is propagated."""
    return dict(trace_headers.get())


def check_exporter(exporter: str) -> None:
    """ValueError unless ``exporter`` is a known ``trace.exporter``."""
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown trace exporter {exporter!r} (expected one of {', '.join(EXPORTERS)})")


def open_tracing(config: Any, role: str, span_exporter: Any = None) -> Tracing:
    """The tracing ``config`` asks for (``trace.*``), spans named after ``role``'s calls.
    ``span_exporter`` (an OpenTelemetry ``SpanExporter``, tests) turns tracing on and
    replaces the configured exporter."""
    exporter = config["trace.exporter"]
    check_exporter(exporter)
    if exporter in OFF and span_exporter is None:
        return NO_TRACING
    # imported here, only when tracing is on: OpenTelemetry is an optional dependency
    from milvus.util.otel import OtelTracing

    return OtelTracing(role, exporter, endpoint=config["trace.otlp.endpoint"], secure=config["trace.otlp.secure"],
                       sample_fraction=config["trace.sampleFraction"], span_exporter=span_exporter)


def chain(*wraps: Wrap | None) -> Wrap | None:
    """One wrap applying each of ``wraps`` (the first outermost); None when all are None."""
    present = [wrap for wrap in wraps if wrap is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        for each in reversed(present):
            fn = each(name, fn)
        return fn

    return wrap
