"""The oldest and the newest supported pymilvus clients drive the same scenario against a real
``milvus run standalone``: the newest is the one installed here; the oldest (2.4) lives in its
own environment under ``.venv-clients/`` (made by ``make install-test``), since a client that
old cannot share an environment with the server's protocol bindings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES
from tests.e2e.test_standalone import standalone

REPO = Path(__file__).resolve().parents[2]
SCENARIO = Path(__file__).with_name("client_scenario.py")
OLD_CLIENT_PYTHON = REPO / ".venv-clients" / "pymilvus-2.4" / "bin" / "python"


def _run_scenario(python: str, port: int) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([python, str(SCENARIO), "127.0.0.1", str(port)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=SCENARIO.parent)
    assert proc.returncode == 0, f"scenario failed under {python}:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with standalone(tmp_path_factory.mktemp("compat") / "data") as srv:
        yield srv


def test_newest_client(server):
    import pymilvus

    assert f"ok pymilvus {pymilvus.__version__}" in _run_scenario(sys.executable, server.port)


def test_oldest_client(server):
    if not OLD_CLIENT_PYTHON.exists():
        message = f"{OLD_CLIENT_PYTHON} missing: run `make install-test`"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    assert "ok pymilvus 2.4." in _run_scenario(str(OLD_CLIENT_PYTHON), server.port)
