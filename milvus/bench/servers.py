"""Servers the benchmark measures: ours (``milvus run standalone`` as a child process), and
peers in virtual environments of their own under the cache folder (milvus-lite 3.2.2; real
Milvus 2.3.5 from PyPI, whose package is also named ``milvus`` and so runs as a script in its
own venv).  Peers are installed with pip only when asked (``--peers``), never at import."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from milvus.localsvc import free_port

REPO = Path(__file__).resolve().parents[2]
PEERS = {
    "milvus-lite": ["milvus-lite==3.2.2", "pymilvus>=2.5,<3"],  # its server imports pymilvus.grpc_gen undeclared
    "milvus-2.3.5": ["milvus==2.3.5", "pymilvus==2.3.7"],
}
_MILVUS_235_SCRIPT = """
import signal, sys
from milvus import default_server
default_server.set_base_dir(sys.argv[1])
default_server.listen_port = int(sys.argv[2])
default_server.start()
print("READY", flush=True)
signal.sigwait({signal.SIGTERM, signal.SIGINT})
default_server.stop()
"""


@dataclass
class Server:
    label: str
    uri: str
    proc: subprocess.Popen | None = None
    log: Path | None = None

    def rss_mb(self) -> float:
        return tree_rss_mb(self.proc.pid) if self.proc else float("nan")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        # the server's own children (Milvus 2.3.5's binary, etcd, MinIO) may outlive the launcher
        # and hold fixed ports that the next start of the same server needs
        deadline = time.monotonic() + 30
        while _group_alive(self.proc.pid):
            if time.monotonic() > deadline:
                os.killpg(self.proc.pid, signal.SIGKILL)
                break
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (MiB)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total / 1024


def _wait(ready, proc: subprocess.Popen, log: Path, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start: {tail}")
        time.sleep(0.2)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start_ours(work: Path, repo: Path = REPO) -> Server:
    """Our standalone, ``milvus run standalone`` of the checkout ``repo`` (this one by default)."""
    port, mport = free_port(), free_port()
    log = work / "ours.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MILVUS_")}
    proc = subprocess.Popen([sys.executable, "-m", "milvus", "run", "standalone", "--port", str(port),
                             "--metrics-port", str(mport), "--data-dir", str(work / "ours")],
                            cwd=repo, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT,
                            start_new_session=True)

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{mport}/healthz", timeout=1) as r:  # noqa: S310
                return r.status == 200
        except OSError:
            return False

    _wait(healthy, proc, log, "our standalone server")
    return Server("ours", f"http://127.0.0.1:{port}", proc, log)


def peer_venv(name: str, cache: Path) -> Path:
    """The peer's venv under the cache folder, created with pip on first use."""
    venv = (cache / "venvs" / name).resolve()  # absolute: peers run with their own working directory
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEERS[name]],
                       check=True)
    return venv


def start_lite(venv: Path, work: Path) -> Server:
    port = free_port()
    log = work / "lite.log"
    proc = subprocess.Popen([str(venv / "bin" / "milvus-lite"), "server", "--data-dir", str(work / "lite"),
                             "--host", "127.0.0.1", "--port", str(port)], stdout=open(log, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    _wait(lambda: _port_open(port), proc, log, "milvus-lite")
    return Server("milvus-lite", f"http://127.0.0.1:{port}", proc, log)


def start_milvus235(venv: Path, work: Path) -> Server:
    """Real Milvus 2.3.5 (the PyPI ``milvus`` package's embedded server binary)."""
    port = free_port()
    log = work / "milvus235.log"
    script = work / "milvus235.py"
    script.write_text(_MILVUS_235_SCRIPT)
    proc = subprocess.Popen([str(venv / "bin" / "python"), str(script), str(work / "milvus235"), str(port)],
                            cwd=work, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    _wait(lambda: "READY" in log.read_text(errors="replace"), proc, log, "milvus 2.3.5", timeout=300)
    return Server("milvus-2.3.5", f"http://127.0.0.1:{port}", proc, log)
