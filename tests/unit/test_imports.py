"""What a server process imports: the public protocol without the pymilvus client, and no
backend client that the config does not use (each stays resident for the life of the process).
Run in child processes: ``sys.modules`` is process-wide."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# the pymilvus client and what it brings, the remote backends' clients, tracing
NOT_FOR_A_STANDALONE = ("pymilvus", "pandas", "requests", "pulsar", "nats", "minio", "urllib3", "pyetcd",
                        "opentelemetry")


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_server_command_imports_no_client_and_no_remote_backend():
    out = _run("import sys, json; import milvus.cmd.cli, milvus.cmd.standalone; "
               "print(json.dumps(sorted({name.split('.')[0] for name in sys.modules})))")
    assert set(json.loads(out)) & set(NOT_FOR_A_STANDALONE) == set()


def test_the_public_protocol_is_pymilvus_own_classes_in_either_import_order():
    for first, second in (("milvus", "pymilvus"), ("pymilvus", "milvus")):
        out = _run(f"from {first}.grpc_gen import common_pb2 as a, milvus_pb2 as m\n"
                   f"from {second}.grpc_gen import common_pb2 as b, milvus_pb2 as n\n"
                   "assert a.Status is b.Status and m.SearchRequest is n.SearchRequest\n"
                   "assert m.DESCRIPTOR.services_by_name['MilvusService'] is n.DESCRIPTOR.services_by_name['MilvusService']\n"
                   "print(b.Status(code=5).SerializeToString() == a.Status(code=5).SerializeToString())")
        assert out.strip() == "True"
