"""The ``milvus`` command's process-wide settings that must be in place before the libraries
that read them are imported (``milvus/__main__.py``)."""

import subprocess
import sys

CHILD = r"""
import os, sys
given = sys.argv[1]
if given == "-":
    os.environ.pop("GRPC_EXPERIMENTS", None)
else:
    os.environ["GRPC_EXPERIMENTS"] = given
sys.argv = ["milvus", "--version"]
from milvus.__main__ import main
assert "grpc" not in sys.modules, "grpc imported before the command chose its experiments"
assert main() == 0
print(os.environ["GRPC_EXPERIMENTS"])
"""


def _experiments(given: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHILD, given], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1]


def test_the_milvus_command_turns_the_event_engine_listener_off():
    assert _experiments("-") == "-event_engine_listener"


def test_an_operator_choice_of_grpc_experiments_is_kept():
    assert _experiments("event_engine_listener") == "event_engine_listener"
