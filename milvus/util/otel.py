"""OpenTelemetry behind ``milvus.util.tracing``: imported only when tracing is on."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from milvus.util import log as milvus_log
from milvus.util.tracing import Wrap, trace_headers

log = logging.getLogger(__name__)


def _otlp_exporter(endpoint: str, secure: bool) -> Any:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    except ImportError as exc:
        raise ValueError("trace.exporter 'otlp' needs opentelemetry-exporter-otlp-proto-grpc "
                         "(pip install 'milvus-py[tracing]')") from exc
    return OTLPSpanExporter(endpoint=endpoint, insecure=not secure)


class OtelTracing:
    """Spans on a private ``TracerProvider`` (no process-global OpenTelemetry state)."""

    name = "tracing"
    enabled = True

    def __init__(self, role: str, exporter: str, *, endpoint: str = "", secure: bool = False,
                 sample_fraction: float = 1.0, span_exporter: Any = None):
        self.exporter = exporter if span_exporter is None else "custom"
        self._provider = TracerProvider(resource=Resource.create({"service.name": f"milvus-{role}"}),
                                        sampler=ParentBased(TraceIdRatioBased(sample_fraction)))
        if span_exporter is not None:
            self._provider.add_span_processor(SimpleSpanProcessor(span_exporter))
        elif exporter == "stdout":
            self._provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            self._provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(endpoint, secure)))
        self._tracer = self._provider.get_tracer("milvus")
        self._propagator = TraceContextTextMapPropagator()

    @contextmanager
    def span(self, name: str, carrier: Mapping[str, str] | None = None,
             kind: SpanKind = SpanKind.INTERNAL, links: Sequence[Mapping[str, str]] = ()) -> Iterator[Any]:
        """A span named ``name``, child of the context in ``carrier`` (incoming headers) or
        else of the current span, linked to the spans whose headers are ``links``; while it
        runs, its headers and trace id are current."""
        parent = self._propagator.extract(carrier) if carrier else None
        span_links = []
        for headers in links:
            linked = get_current_span(self._propagator.extract(headers)).get_span_context()
            if linked.is_valid:
                span_links.append(Link(linked))
        with self._tracer.start_as_current_span(name, context=parent, kind=kind, links=span_links or None,
                                                record_exception=True, set_status_on_exception=True) as span:
            headers: dict[str, str] = {}
            self._propagator.inject(headers)
            context = span.get_span_context()
            trace_token = milvus_log.trace_id.set(format(context.trace_id, "032x") if context.is_valid else None)
            headers_token = trace_headers.set(tuple(headers.items()))
            try:
                yield span
            finally:
                trace_headers.reset(headers_token)
                milvus_log.trace_id.reset(trace_token)

    def server_wrap(self, role: str) -> Wrap:
        def wrap(method: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            span_name = f"{role}.{method}"

            def traced(request: Any, context: Any) -> Any:
                carrier = {key: value for key, value in (context.invocation_metadata() or ())
                           if isinstance(value, str)}
                with self.span(span_name, carrier, SpanKind.SERVER) as span:
                    response = fn(request, context)
                    _mark_status(span, response)
                    return response

            traced.__name__ = method
            return traced

        return wrap

    def message_span(self, name: str, carrier: Mapping[str, str],
                     links: Sequence[Mapping[str, str]] = ()) -> Any:
        return self.span(name, carrier, SpanKind.CONSUMER, links)

    def local_wrap(self, role: str) -> Wrap:
        def wrap(method: str, fn: Callable[..., Any]) -> Callable[..., Any]:
            span_name = f"{role}.{method}"

            def traced(request: Any) -> Any:
                with self.span(span_name, dict(trace_headers.get()), SpanKind.SERVER) as span:
                    response = fn(request)
                    _mark_status(span, response)
                    return response

            traced.__name__ = method
            return traced

        return wrap

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self._provider.shutdown()

    def health(self) -> tuple[bool, dict[str, Any]]:
        return True, {"exporter": self.exporter}


def _mark_status(span: Any, response: Any) -> None:
    """An error status in the answer (the internal services answer errors, not raise them)."""
    status = getattr(response, "status", response)
    code = getattr(status, "code", 0)
    if isinstance(code, int) and code != 0:
        span.set_status(Status(StatusCode.ERROR, getattr(status, "reason", "")))
