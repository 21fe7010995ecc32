"""``/metrics`` (Prometheus text exposition) and ``/healthz`` over HTTP, on a background thread."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

HealthCheck = Callable[[], tuple[bool, dict[str, Any]]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.server.registry))
        elif path == "/healthz":
            status, body = self._health()
            self._send(status, "application/json", json.dumps(body, default=str).encode())
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")

    def _health(self) -> tuple[int, dict[str, Any]]:
        try:
            ok, detail = self.server.health()
        except Exception as exc:  # noqa: BLE001 - a failing check is an unhealthy answer
            log.exception("health check failed")
            return 503, {"status": "unhealthy", "reasons": [f"health check failed: {exc!r}"]}
        body = {"status": "healthy" if ok else "unhealthy", **detail}
        return (200 if ok else 503), body

    def _send(self, status: int, content_type: str, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], registry: CollectorRegistry, health: HealthCheck):
        self.registry = registry
        self.health = health
        super().__init__(address, _Handler)


class MetricsServer:
    """Serves ``registry`` and ``health`` on ``host:port`` (0: any free port) once started.

    ``health()`` returns ``(ok, detail)``: 200 with ``{"status": "healthy", **detail}`` when
    ok, 503 with ``{"status": "unhealthy", **detail}`` otherwise.  Usable as a lifecycle
    component.
    """

    name = "metrics"

    def __init__(self, registry: CollectorRegistry, host: str, port: int, health: HealthCheck):
        self._registry = registry
        self._host = host
        self._port = port
        self._health = health
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        """The port actually bound (the requested one before ``start``)."""
        return self._server.server_address[1] if self._server is not None else self._port

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("metrics server already started")
        self._server = _Server((self._host, self._port), self._registry, self._health)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"metrics-http-{self.port}", daemon=True,
        )
        self._thread.start()
        log.info("metrics server listening on %s", self.address)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()
        self._port = server.server_address[1]
        self._server = self._thread = None

    def health(self) -> tuple[bool, dict[str, Any]]:
        alive = self._thread is not None and self._thread.is_alive()
        return alive, {"address": self.address}

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
