"""``milvus cluster up``: a whole cluster on loopback, every role in a process of its own.

Starts etcd, the message broker (NATS JetStream, or the Pulsar-protocol pulsar-lite) and an
S3 server (nanio) from the project's ``services`` extra, writes one config file for the
roles, then starts each role as ``python -m milvus run ROLE``: the coordinators one by one
(each healthy before the next), then the nodes, then the proxies (the first on ``port``).
Internal gRPC servers bind port 0 (their sessions announce the bound port); each child's
metrics port is a free one, polled on ``/healthz`` for readiness.  With ``standby`` a second
instance of each coordinator (``rootcoord-2``...) starts once the first ones serve: it waits as
standby and takes over when the active one's lease expires (``milvus.cmd.active_standby``).

Stop runs in reverse, tier by tier (proxies, nodes, coordinators, then the services): SIGTERM,
then SIGKILL after a grace period.  Every child also gets SIGTERM if the launcher dies
(Linux), so none outlives it.  While it runs, a role whose process exits is restarted
(``Supervisor``); one that keeps failing is left down and reported.  ``DIR/cluster.json``
lists the children, their pids and ports.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from milvus.cmd.active_standby import STANDBY_KEYS
from milvus.config import Config
from milvus.config.items import ITEMS
from milvus.localsvc import (
    EtcdService,
    NanioService,
    NatsService,
    PulsarLiteService,
    Service,
    free_port,
)

log = logging.getLogger(__name__)

COORDINATORS = ("rootcoord", "datacoord", "querycoord")
NODES = ("datanode", "querynode", "indexnode")
MQ_KINDS = ("nats", "pulsar")
HOST = "127.0.0.1"


class LaunchError(RuntimeError):
    """A service or role did not come up; the message says which and shows its log."""


class Interrupted(RuntimeError):
    """A stop was requested while the cluster was starting."""


@dataclass(frozen=True)
class ClusterSpec:
    data_dir: Path
    port: int = 19530
    proxies: int = 1
    datanodes: int = 1
    querynodes: int = 1
    indexnodes: int = 1
    mq: str = "nats"
    config_file: str | None = None  # a base config for every role
    # a second instance of each coordinator, as standby ({role}.enableActiveStandby)
    standby: bool = False
    startup_timeout: float = 120.0
    stop_timeout: float = 40.0

    def roles(self) -> list[tuple[str, int]]:
        """``(role, count)`` in start order."""
        return [*((role, 1) for role in COORDINATORS), ("datanode", self.datanodes),
                ("querynode", self.querynodes), ("indexnode", self.indexnodes), ("proxy", self.proxies)]


@dataclass
class RoleChild:
    """One ``milvus run ROLE`` child process."""

    name: str  # e.g. querynode-2
    role: str
    port: int  # the gRPC port asked for (0: any)
    metrics_port: int
    log_path: Path
    command: list[str]
    proc: subprocess.Popen[bytes] | None = None
    health: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.metrics_port}/healthz", timeout=1.0) as resp:  # noqa: S310
                if resp.status != 200:
                    return False
                self.health = json.loads(resp.read())
                return True
        except (OSError, ValueError, urllib.error.URLError):
            return False


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, value in sorted(flat.items()):
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


class LocalCluster:
    """The services and role processes of one local cluster."""

    def __init__(self, spec: ClusterSpec, env: Mapping[str, str] | None = None):
        self.spec = spec
        self.data_dir = Path(spec.data_dir).resolve()
        self._env = dict(os.environ if env is None else env)
        self._stop_requested = threading.Event()
        self.services: list[Service] = []
        self.children: list[RoleChild] = []
        self.config_path = self.data_dir / "cluster.yaml"
        self.state_path = self.data_dir / "cluster.json"

    # ---- start --------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Abort a start in progress (safe from a signal handler)."""
        self._stop_requested.set()

    def start(self) -> None:
        """Services, config, roles; on any failure everything started is stopped again."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            settings = self._start_services()
            self._write_config(settings)
            for tier in self._tiers():
                self._start_tier(tier)
            self.write_state()
        except BaseException:
            self.stop()
            raise

    def _start_services(self) -> dict[str, Any]:
        etcd = EtcdService(self.data_dir / "etcd", HOST)
        broker: Service = (NatsService(self.data_dir / "nats", HOST) if self.spec.mq == "nats"
                           else PulsarLiteService(self.data_dir / "pulsar", HOST))
        s3 = NanioService(self.data_dir / "nanio", HOST)
        for service in (etcd, broker, s3):
            self._check_stop()
            service.die_with_parent = True
            log.info("starting %s", service.name)
            service.start(timeout=60.0)
            self.services.append(service)
        settings: dict[str, Any] = {
            "metastore.type": "etcd",
            "etcd.endpoints": [etcd.endpoint],
            "mq.type": self.spec.mq,
            "common.storageType": "minio",
            "minio.address": s3.address,
            "minio.accessKeyID": s3.access_key,
            "minio.secretAccessKey": s3.secret_key,
            "minio.useSSL": False,
            "grpc.address": HOST,
            "metrics.address": HOST,
            # the second and later proxies' internal servers; the first proxy's public port
            # comes from --port, the other roles' from --port 0
            "proxy.internalPort": 0,
        }
        if self.spec.standby:
            settings.update({key: True for key in STANDBY_KEYS.values()})
        if isinstance(broker, NatsService):
            settings["nats.url"] = broker.url
        else:
            settings["pulsar.address"] = broker.url
        return settings

    def _write_config(self, settings: Mapping[str, Any]) -> None:
        """One file with every setting: the base config file and the launcher's environment
        (MILVUS_*), then what the launcher decides; children get no MILVUS_* of their own."""
        config = Config.load(self.spec.config_file, env=self._env, overrides=settings)
        self.config_path.write_text(yaml.safe_dump(_nested(config.as_dict()), sort_keys=True))

    def _child_env(self) -> dict[str, str]:
        owned = {item.env_var for item in ITEMS}
        return {k: v for k, v in self._env.items() if k not in owned}

    def _tiers(self) -> list[list[RoleChild]]:
        tiers: list[list[RoleChild]] = []
        for role, count in self.spec.roles():
            if role in COORDINATORS:
                tiers.append([self._child(role, 1, 1)])
                if self.spec.standby and role == COORDINATORS[-1]:
                    # the standbys once every active one serves: they wait for its lease
                    tiers.append([self._child(coord, 2, 2) for coord in COORDINATORS])
            elif count:
                tier = [self._child(role, i, count) for i in range(1, count + 1)]
                if role == "proxy":
                    tiers.append(tier)
                elif tiers and tiers[-1][0].role in NODES:
                    tiers[-1].extend(tier)  # every kind of node starts together
                else:
                    tiers.append(tier)
        return tiers

    def _child(self, role: str, index: int, count: int) -> RoleChild:
        name = role if role in COORDINATORS and index == 1 else f"{role}-{index}"
        port = self.spec.port if role == "proxy" and index == 1 else 0
        metrics_port = free_port(HOST)
        data_dir = self.data_dir / "roles" / name
        command = [sys.executable, "-m", "milvus", "run", role, "--config", str(self.config_path),
                   "--data-dir", str(data_dir), "--port", str(port), "--metrics-port", str(metrics_port)]
        return RoleChild(name, role, port, metrics_port, self.data_dir / "logs" / f"{name}.log", command)

    def _start_tier(self, tier: list[RoleChild]) -> None:
        for child in tier:
            self._check_stop()
            self.spawn(child)
            self.children.append(child)
        deadline = time.monotonic() + self.spec.startup_timeout
        waiting = list(tier)
        while waiting:
            self._check_stop()
            for child in list(waiting):
                if not child.alive():
                    raise LaunchError(f"{child.name} exited with {child.proc.returncode if child.proc else '?'} "
                                      f"while starting:\n{child.log_tail()}")
                if child.healthy():
                    log.info("%s ready (pid %d)", child.name, child.pid)
                    waiting.remove(child)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(c.name for c in waiting)
                raise LaunchError(f"not healthy after {self.spec.startup_timeout}s: {names}\n"
                                  f"{waiting[0].log_tail()}")
            if waiting:
                time.sleep(0.1)

    def spawn(self, child: RoleChild) -> None:
        """Start (or restart) ``child``'s process; its output is appended to its log."""
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        # the child arranges to die with this process itself (``--parent-pid``): a preexec_fn
        # would run Python in the forked child of this threaded process, which can hang or crash
        with open(child.log_path, "ab") as log_file:
            child.proc = subprocess.Popen(
                [*child.command, "--parent-pid", str(os.getpid())], stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=self._child_env(), start_new_session=True,
            )
        log.info("started %s (pid %d)", child.name, child.proc.pid)

    def _check_stop(self) -> None:
        if self._stop_requested.is_set():
            raise Interrupted("stop requested while starting")

    def write_state(self) -> None:
        proxies = [c for c in self.children if c.role == "proxy"]
        state = {
            "launcher_pid": os.getpid(),
            "proxy_ports": [c.health.get("components", {}).get(c.role, {}).get("ports", [c.port])[0]
                            for c in proxies],
            "config": str(self.config_path),
            "services": [{"name": s.name, "pid": s.proc.pid if s.proc else None} for s in self.services],
            "children": [{"name": c.name, "role": c.role, "pid": c.pid, "metrics_port": c.metrics_port,
                          "log": str(c.log_path)} for c in self.children],
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_path)

    @property
    def proxy_ports(self) -> list[int]:
        return json.loads(self.state_path.read_text())["proxy_ports"]

    # ---- running ------------------------------------------------------------------------

    def exited(self) -> list[RoleChild]:
        """Children whose process ended."""
        return [c for c in self.children if c.proc is not None and c.proc.poll() is not None]

    # ---- stop ---------------------------------------------------------------------------

    def stop(self) -> bool:
        """Stop every child (proxies, nodes, coordinators: reverse start order) and then the
        services.  True when each role exited by itself within the grace period."""
        clean = True
        tiers: list[list[RoleChild]] = []
        for child in self.children:
            if tiers and _tier_of(tiers[-1][0].role) == _tier_of(child.role):
                tiers[-1].append(child)
            else:
                tiers.append([child])
        for tier in reversed(tiers):
            clean = _terminate(tier, self.spec.stop_timeout) and clean
        self.children = []
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:  # noqa: BLE001 - stop the rest regardless
                log.exception("stopping %s failed", service.name)
                clean = False
        self.services = []
        return clean


class Supervisor:
    """Restarts a role whose process exited (it recovers its state from etcd, the broker and
    object storage like any new instance); one that keeps failing (``max_restarts`` within
    ``window`` seconds) is left down and reported."""

    def __init__(self, cluster: LocalCluster, max_restarts: int = 5, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self._cluster = cluster
        self._max = max_restarts
        self._window = window
        self._clock = clock
        self._restarts: dict[str, list[float]] = {}
        self._given_up: set[str] = set()

    def check(self) -> list[RoleChild]:
        """Restart what exited; the children restarted."""
        restarted = []
        for child in self._cluster.exited():
            if child.name in self._given_up:
                continue
            code = child.proc.returncode if child.proc else "?"
            now = self._clock()
            recent = [t for t in self._restarts.get(child.name, []) if now - t < self._window]
            if len(recent) >= self._max:
                self._given_up.add(child.name)
                log.error("%s (pid %s) exited with %s, %d restarts in %.0fs: left down; see %s", child.name,
                          child.pid, code, len(recent), self._window, child.log_path)
                continue
            log.error("%s (pid %s) exited with %s: restarting; see %s", child.name, child.pid, code, child.log_path)
            self._restarts[child.name] = [*recent, now]
            self._cluster.spawn(child)
            restarted.append(child)
        if restarted:
            self._cluster.write_state()
        return restarted


def _tier_of(role: str) -> str:
    return role if role in COORDINATORS else "node" if role in NODES else role


def _terminate(children: list[RoleChild], timeout: float) -> bool:
    procs = [c for c in children if c.alive()]
    for child in procs:
        _signal(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    clean = True
    for child in procs:
        assert child.proc is not None
        try:
            code = child.proc.wait(max(0.0, deadline - time.monotonic()))
            if code != 0:
                log.warning("%s exited with %d", child.name, code)
        except subprocess.TimeoutExpired:
            log.error("%s did not stop within %.0fs: killed", child.name, timeout)
            _signal(child, signal.SIGKILL)
            child.proc.wait()
            clean = False
    return clean


def _signal(child: RoleChild, sig: signal.Signals) -> None:
    if child.proc is None:
        return
    try:
        os.killpg(child.proc.pid, sig)
    except ProcessLookupError:
        pass


def run_cluster(spec: ClusterSpec, env: Mapping[str, str], out: Callable[[str], None]) -> int:
    """``milvus cluster up``: start, stay in the foreground until SIGTERM/SIGINT, tear down.
    Exit code 0 after a clean stop, 1 when the cluster could not start or stop cleanly."""
    cluster = LocalCluster(spec, env)
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()
        cluster.request_stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            cluster.start()
        except Interrupted:
            log.info("stopped while starting")
            return 0
        except Exception as exc:  # noqa: BLE001 - report and exit 1
            log.error("cluster did not start: %s", exc)
            return 1
        out(f"milvus cluster ready: proxy={HOST}:{','.join(map(str, cluster.proxy_ports))} "
            f"data-dir={cluster.data_dir} state={cluster.state_path}\n")
        supervisor = Supervisor(cluster)
        while not stop.wait(0.5):
            supervisor.check()
        log.info("stopping the cluster")
        clean = cluster.stop()
        log.info("cluster stopped%s", "" if clean else " (some roles had to be killed)")
        return 0 if clean else 1
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
