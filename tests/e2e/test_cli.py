"""The ``milvus`` command as a user runs it: separate processes, signals, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import milvus
from milvus.kv.etcd import EtcdKV
from milvus.localsvc import free_port
from tests.conftest import wait_for

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def _env(**extra: str) -> dict[str, str]:
    """The test's environment without any MILVUS_* setting leaking in, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILVUS_")}
    env.update(MILVUS_METRICS_ADDRESS="127.0.0.1", MILVUS_GRPC_ADDRESS="127.0.0.1")
    env.update(extra)
    return env


def _milvus(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "milvus", *args], env=env or _env(), cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _get(url: str) -> tuple[int, str] | None:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode()
    except OSError:
        return None


class RoleProcess:
    def __init__(self, proc: subprocess.Popen, log_path: Path, metrics_port: int):
        self.proc = proc
        self.log_path = log_path
        self.metrics_url = f"http://127.0.0.1:{metrics_port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_healthy(self) -> dict:
        def healthy() -> dict | None:
            if self.proc.poll() is not None:
                pytest.fail(f"milvus exited with {self.proc.returncode} before it was healthy:\n{self.log()}")
            answer = _get(self.metrics_url + "/healthz")
            return json.loads(answer[1]) if answer and answer[0] == 200 else None

        return wait_for(healthy, timeout=STARTUP_TIMEOUT, interval=0.1, message="/healthz to answer 200")

    def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"milvus did not exit within {STOP_TIMEOUT}s of {sig.name}:\n{self.log()}")


@contextmanager
def run_role(role: str, tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[RoleProcess]:
    metrics_port = free_port()
    log_path = tmp_path / f"{role}.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "milvus", "run", role, "--data-dir", str(tmp_path / "data"),
             "--port", str(free_port()), "--metrics-port", str(metrics_port), *args],
            env=env, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    try:
        yield RoleProcess(proc, log_path, metrics_port)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_version():
    result = _milvus("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"milvus {milvus.__version__}\n"


def test_config_render_prints_the_default_file():
    result = _milvus("config", "render")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "configs" / "milvus.yaml").read_text()


def test_config_check(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("proxy:\n  port: 19540\n")
    result = _milvus("config", "check", str(good))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text("proxy:\n  prot: 19540\n")
    result = _milvus("config", "check", str(bad))
    assert result.returncode == 2
    assert "proxy.prot" in result.stderr

    result = _milvus("config", "check", str(good), env=_env(MILVUS_LOG_LEVEL="chatty"))
    assert result.returncode == 2
    assert "chatty" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_standalone_serves_health_and_metrics_then_stops_cleanly(tmp_path, sig):
    log_format = "json" if sig is signal.SIGINT else "text"
    with run_role("standalone", tmp_path, _env(MILVUS_LOG_FORMAT=log_format)) as node:
        health = node.wait_healthy()
        assert health["status"] == "healthy"
        assert health["role"] == "standalone"
        assert {"metrics", "kv", "mq", "storage", "session"} <= set(health["components"])

        status, body = _get(node.metrics_url + "/metrics")
        assert status == 200
        assert f'milvus_build_info{{role="standalone",version="{milvus.__version__}"}} 1.0' in body
        assert "process_resident_memory_bytes" in body
        assert "process_cpu_seconds_total" in body

        assert node.stop(sig) == 0
        log = node.log()
    assert "milvus standalone ready: grpc=127.0.0.1:" in log
    assert (tmp_path / "data").is_dir()
    if log_format == "json":
        entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        ready = [e for e in entries if e["msg"].startswith("milvus standalone ready")]
        assert ready and ready[0]["role"] == "standalone" and ready[0]["level"] == "info"
        assert {"ts", "logger", "node_id"} <= set(ready[0])


@pytest.mark.parametrize(
    ("config_text", "env", "expect"),
    [
        ("proxy:\n  port: not-a-port\n", {}, "proxy.port"),
        ("proxy:\n  prot: 1\n", {}, "proxy.prot"),
        ("proxy: [unclosed\n", {}, "YAML"),
        ("", {"MILVUS_MINIO_USESSL": "perhaps"}, "MILVUS_MINIO_USESSL"),
    ],
    ids=["bad-int", "unknown-key", "bad-yaml", "bad-env"],
)
def test_bad_config_exits_2_with_a_message(tmp_path, config_text, env, expect):
    path = tmp_path / "milvus.yaml"
    path.write_text(config_text)
    result = _milvus("run", "standalone", "--config", str(path), "--data-dir", str(tmp_path / "data"),
                     env=_env(**env))
    assert result.returncode == 2
    assert "config error" in result.stderr
    assert expect in result.stderr


def test_missing_config_file_exits_2(tmp_path):
    result = _milvus("run", "proxy", "--config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "absent.yaml" in result.stderr


def test_unknown_role_is_a_usage_error():
    result = _milvus("run", "janitor")
    assert result.returncode == 2
    assert "janitor" in result.stderr


def test_datanode_registers_its_session_in_etcd_and_leaves_on_sigterm(tmp_path, etcd_service):
    root = f"test-cli-{uuid.uuid4().hex[:8]}"
    env = _env(
        MILVUS_METASTORE_TYPE="etcd",
        MILVUS_ETCD_ENDPOINTS=etcd_service.endpoint,
        MILVUS_ETCD_ROOTPATH=root,
        MILVUS_MQ_TYPE="local",
        MILVUS_COMMON_STORAGETYPE="local",
    )
    kv = EtcdKV([etcd_service.endpoint])
    try:
        with run_role("datanode", tmp_path, env) as node:
            health = node.wait_healthy()
            assert health["role"] == "datanode"
            server_id = health["components"]["session"]["server_id"]
            address = health["components"]["session"]["address"]

            def sessions() -> list:
                return kv.range(f"{root}/meta/session/datanode-")

            registered = wait_for(sessions, message="the datanode session in etcd")
            assert [item.key for item in registered] == [f"{root}/meta/session/datanode-{server_id}"]
            record = json.loads(registered[0].value)
            assert record["address"] == address
            assert record["server_id"] == server_id

            assert node.stop(signal.SIGTERM) == 0
            assert sessions() == []
    finally:
        kv.close()
