"""A service child started with ``die_with_parent`` (the launcher's etcd, broker and S3 server)
is spawned without a ``preexec_fn`` (no Python runs in a fork of the threaded parent) and still
ends when the thread that started it ends."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from milvus.localsvc.launcher import Service, die_with_parent_command

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")


class _Sleeper(Service):
    name = "sleeper"

    def command(self) -> list[str]:
        return [sys.executable, "-c", "import sys, time; print('up', flush=True); time.sleep(120)"]

    def ready(self) -> bool:
        return "up" in self.log_tail()


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_service_child_ends_with_the_thread_that_started_it_and_no_preexec_fn_runs(tmp_path, monkeypatch):
    seen: list[dict] = []
    real_popen = subprocess.Popen

    def popen(*args, **kwargs):
        seen.append(kwargs)
        return real_popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    service = _Sleeper(tmp_path)
    service.die_with_parent = True
    starter = threading.Thread(target=service.start, kwargs={"timeout": 30.0})
    starter.start()
    starter.join()
    proc = service.proc
    assert proc is not None
    try:
        assert seen and seen[0].get("preexec_fn") is None
        _wait_for(lambda: proc.poll() is not None)  # the starting thread ended: SIGTERM
        assert proc.returncode == -15
    finally:
        service.stop()


def test_the_wrapped_command_keeps_its_pid_and_exit_code_while_the_parent_lives():
    cmd = die_with_parent_command([sys.executable, "-c", "import os, sys; print(os.getpid()); sys.exit(7)"])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 7
    assert int(out.strip()) == proc.pid


def test_a_wrapped_command_whose_parent_is_gone_does_not_run(tmp_path):
    marker = tmp_path / "ran"
    cmd = die_with_parent_command([sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"])
    cmd[4] = "1"  # the parent it names is not its parent: as if that one had died already
    proc = subprocess.run(cmd, timeout=30)
    assert proc.returncode == -15
    assert not marker.exists()


def _serving(status: int, content_type: str, body: bytes):
    """An HTTP server on a free port answering every GET with ``status`` and ``body``."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server hook
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status, content_type, body, s3", [
    (200, "text/plain", b"", True),
    (403, "application/xml", b'<?xml version="1.0"?><Error><Code>MissingAuthenticationToken</Code></Error>', True),
    (404, "text/plain; charset=utf-8", b"404 page not found\n", False),  # a Go server's (etcd, NATS monitor)
])
def test_the_s3_readiness_check_tells_an_s3_server_from_another_on_its_port(tmp_path, status, content_type, body,
                                                                           s3):
    """A port the S3 server was given but another process took: a bare TCP check said ready, and
    the roles then failed on the other server's answers (seen in CI: etcd's 404 for the bucket)."""
    from milvus.localsvc.launcher import NanioService
    server = _serving(status, content_type, body)
    try:
        assert NanioService(tmp_path, port=server.server_port).ready() is s3
    finally:
        server.shutdown()
        server.server_close()


class _Binder(Service):
    """Binds the port it drew, as a server does; exits at once when it cannot."""

    name = "binder"

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self._draw_ports(port=0)

    def command(self) -> list[str]:
        code = ("import socket, time; s = socket.socket(); "
                f"s.bind(('127.0.0.1', {self.port})); s.listen(); print('up', flush=True); time.sleep(120)")
        return [sys.executable, "-c", code]

    def ready(self) -> bool:
        return "up" in self.log_tail()


def test_a_child_whose_drawn_port_was_taken_meanwhile_starts_again_on_another(tmp_path, monkeypatch):
    import socket

    from milvus.localsvc import launcher
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    free = launcher.free_port()
    draws = iter([taken.getsockname()[1], free])
    monkeypatch.setattr(launcher, "free_port", lambda host="127.0.0.1": next(draws))
    service = _Binder(tmp_path)
    try:
        assert service.start(timeout=30).port == free
        assert service.alive()
    finally:
        service.stop()
        taken.close()
