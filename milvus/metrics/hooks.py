"""Decorators that record the Milvus families around calls, for the composition root to apply.

``rpc_wrap`` fits the ``wrap(method_name, fn)`` hooks of ``milvus.rpc.service_handler``,
``LocalClient`` and the public adapter: it counts each call by method and status (an
exception, or a response whose status carries a non-zero code, is a failure) and observes
its latency.  Request and response fields are read by name (a response's status field found
by its type, ``milvus.errors.status_field``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from milvus.errors import status_field
from milvus.metrics.families import FAIL, SUCCESS, MilvusMetrics

Wrap = Callable[[str, Callable[..., Any]], Callable[..., Any]]


def response_ok(response: Any) -> bool:
    """False when ``response`` (a Status, or a message with a status field) reports an error."""
    where = _STATUS_WHERE.get(type(response), _UNKNOWN)
    if where is _UNKNOWN:
        where = _STATUS_WHERE[type(response)] = _status_where(response)
    if where is None:
        return True
    status = response if where == _SELF else getattr(response, where)
    return not (getattr(status, "code", 0) or getattr(status, "error_code", 0))


# where a response type keeps its status: the message itself (``_SELF``), the name of its
# status field (``status`` nearly everywhere, ``alter_status`` for AlterCollectionSchema), or
# None; found once per type (``hasattr`` on a message that lacks the field raises inside)
_SELF = ""
_UNKNOWN = object()
_STATUS_WHERE: dict[type, str | None] = {}


def _status_where(response: Any) -> str | None:
    if _has_code(response):
        return _SELF
    descriptor = getattr(response, "DESCRIPTOR", None)
    return status_field(descriptor) if descriptor is not None else None


def _has_code(message: Any) -> bool:
    return hasattr(message, "error_code") or (hasattr(message, "code") and hasattr(message, "reason"))


def _elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def _timed(fn: Callable[..., Any], record: Callable[[Any, Any, bool, float], None]) -> Callable[..., Any]:
    def call(request: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            response = fn(request, *args, **kwargs)
        except BaseException:
            record(request, None, False, _elapsed_ms(started))
            raise
        record(request, response, response_ok(response), _elapsed_ms(started))
        return response

    call.__name__ = getattr(fn, "__name__", "call")
    return call


def rpc_wrap(metrics: MilvusMetrics, role: str) -> Wrap:
    """The ``wrap`` recording ``milvus_internal_rpc_*`` for ``role`` (and, for a query node,
    ``milvus_querynode_sq_*`` and the search nq)."""
    count, latency = metrics.rpc_req_count, metrics.rpc_req_latency

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        ok_count, fail_count = count.labels(role, name, SUCCESS), count.labels(role, name, FAIL)
        observe = latency.labels(role, name).observe
        sq = name.lower() if role == "querynode" and name in ("Search", "Query") else None
        if sq is None:
            def record(_request: Any, _response: Any, ok: bool, ms: float) -> None:
                (ok_count if ok else fail_count).inc()
                observe(ms)

            return _timed(fn, record)
        # the query node's read families, their children looked up once
        sq_ok, sq_fail = metrics.querynode_sq_count.labels(sq, SUCCESS), metrics.querynode_sq_count.labels(sq, FAIL)
        sq_observe = metrics.querynode_sq_latency.labels(sq).observe
        nq_observe = metrics.querynode_search_nq.observe if sq == "search" else None

        def record_sq(request: Any, _response: Any, ok: bool, ms: float) -> None:
            (ok_count if ok else fail_count).inc()
            observe(ms)
            (sq_ok if ok else sq_fail).inc()
            sq_observe(ms)
            if nq_observe is not None:
                nq_observe(_nq(request))

        return _timed(fn, record_sq)

    return wrap


def _nq(request: Any) -> int:
    nq = getattr(request, "nq", 0)
    if not nq:
        inner = getattr(request, "req", None)
        nq = getattr(inner, "nq", 0) if inner is not None else 0
    return int(nq or 0)


class PublicServiceMetrics:
    """Records the proxy's ``milvus_proxy_*`` families for one MilvusService call."""

    def __init__(self, metrics: MilvusMetrics, node_id: int | str):
        self._m = metrics
        self._node = str(node_id)
        self._children: dict[tuple[str, bool], tuple[Any, Callable[[float], None]]] = {}

    def _per_call(self, name: str, ok: bool) -> tuple[Any, Callable[[float], None]]:
        """The call's counter and latency observer (label lookups allocate: done once per method)."""
        key = (name, ok)
        children = self._children.get(key)
        if children is None:
            m, node = self._m, self._node
            children = (m.proxy_req_count.labels(node, name, SUCCESS if ok else FAIL),
                        m.proxy_req_latency.labels(node, name).observe)
            self._children[key] = children
        return children

    def record(self, name: str, request: Any, response: Any, ok: bool, ms: float) -> None:
        m, node = self._m, self._node
        counter, observe = self._per_call(name, ok)
        counter.inc()
        observe(ms)
        if not ok:
            return
        if name in ("Insert", "Upsert"):
            m.proxy_insert_vectors.labels(node).inc(int(getattr(request, "num_rows", 0) or 0))
        elif name == "Delete":
            m.proxy_delete_vectors.labels(node).inc(int(getattr(response, "delete_cnt", 0) or 0))
        elif name in ("Search", "HybridSearch"):
            search = self._children.get(("search", True))
            if search is None:
                search = self._children[("search", True)] = (m.proxy_search_vectors.labels(node),
                                                              m.proxy_sq_latency.labels(node, "search").observe)
            search[0].inc(_nq(request))
            search[1](ms)
        elif name == "Query":
            m.proxy_sq_latency.labels(node, "query").observe(ms)


def timed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading)."""
    return _elapsed_ms(started)
