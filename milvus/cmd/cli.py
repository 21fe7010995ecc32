"""The ``milvus`` command: run a role, run a local cluster, print the version, render or check
a config file.

Exit codes: 0 success (and after a clean stop), 1 a component failed to start or stop,
2 bad usage or a bad config.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

import milvus
from milvus.cmd.cluster_roles import CLUSTER_COMPONENTS
from milvus.cmd.launcher import MQ_KINDS, ClusterSpec, run_cluster
from milvus.cmd.lifecycle import install_signal_handlers
from milvus.cmd.roles import PORT_KEYS, ROLES, build_process
from milvus.cmd.standalone import COMPONENTS
from milvus.config import Config, ConfigError, render_yaml
from milvus.index.memory import arrow_without_pandas, configure_allocators
from milvus.localsvc import die_with_parent
from milvus.util.blas import single_thread_own_pool_blas
from milvus.util.log import check_format, parse_level, setup_logging
from milvus.util.tracing import check_exporter

log = logging.getLogger("milvus.cmd")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="milvus", description="A vector database with the architecture of Milvus 2.x.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run one role (or every role in one process: standalone)")
    run.add_argument("role", choices=ROLES, metavar="ROLE", help=" | ".join(ROLES))
    run.add_argument("--config", metavar="FILE", help="YAML config file (MILVUS_* env vars override it)")
    run.add_argument("--data-dir", metavar="DIR", help="overrides common.dataDir")
    run.add_argument("--port", type=int, metavar="N", help="overrides the role's gRPC port (e.g. proxy.port)")
    run.add_argument("--metrics-port", type=int, metavar="N", help="overrides metrics.port")
    run.add_argument("--parent-pid", type=int, metavar="PID",
                     help="stop (SIGTERM) when process PID, which started this one, ends (Linux)")

    cluster = commands.add_parser("cluster", help="a local cluster: every role in a process of its own")
    cluster_commands = cluster.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    up = cluster_commands.add_parser(
        "up", help="start etcd, the broker, an S3 server and every role on loopback; stop on SIGTERM/SIGINT")
    up.add_argument("--data-dir", metavar="DIR", required=True, help="where services and roles keep their files")
    up.add_argument("--port", type=int, default=19530, metavar="N", help="the (first) proxy's public port")
    up.add_argument("--proxies", type=int, default=1, metavar="K")
    up.add_argument("--datanodes", type=int, default=1, metavar="K")
    up.add_argument("--querynodes", type=int, default=1, metavar="K")
    up.add_argument("--indexnodes", type=int, default=1, metavar="K")
    up.add_argument("--mq", choices=MQ_KINDS, default="nats", help="the message broker (default: nats)")
    up.add_argument("--config", metavar="FILE", help="base YAML config for every role")
    up.add_argument("--standby", action="store_true",
                    help="a second instance of each coordinator, taking over when the active one dies")

    commands.add_parser("bench", add_help=False,
                        help="measure a server through pymilvus beside the in-process ceiling (milvus bench --help)")

    config = commands.add_parser("config", help="render the default config or check a config file")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_commands.add_parser("render", help="print the default YAML config with every setting")
    check = config_commands.add_parser("check", help="load a config file (and MILVUS_* env) and report errors")
    check.add_argument("file", metavar="FILE")
    return parser


def _load_config(path: str | None, env: Mapping[str, str], overrides: Mapping[str, Any]) -> Config:
    """Config.load with file and YAML errors reported as ConfigError."""
    try:
        return Config.load(path, env=env, overrides=overrides)
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def _run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    if args.parent_pid:
        die_with_parent(args.parent_pid)
    overrides: dict[str, Any] = {}
    if args.data_dir is not None:
        overrides["common.dataDir"] = args.data_dir
    if args.metrics_port is not None:
        overrides["metrics.port"] = args.metrics_port
    if args.port is not None:
        overrides[PORT_KEYS[args.role]] = args.port
    try:
        config = _load_config(args.config, env, overrides)
        log_context = setup_logging(config["log.level"], config["log.format"], args.role)
    except (ConfigError, ValueError) as exc:
        sys.stderr.write(f"milvus: config error: {exc}\n")
        return EXIT_USAGE

    configure_allocators()  # before the roles start threads: freed memory can go back to the OS
    arrow_without_pandas()
    single_thread_own_pool_blas()  # numpy's BLAS threads would contend with faiss' OpenMP team
    process = build_process(args.role, config, {**COMPONENTS, **CLUSTER_COMPONENTS})

    def ready() -> None:
        log_context.node_id = process.session.server_id
        log.info("%s", process.ready_message())

    log.info("starting milvus %s %s", args.role, milvus.__version__)
    with install_signal_handlers(process.runner):
        code = process.runner.run(on_ready=ready)
    if process.runner.abandoned:
        # threads of the abandoned components could keep the interpreter alive: the stop
        # timeout is a promise to whoever sent the signal, so leave now
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _cluster_up(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    counts = {"proxies": args.proxies, "datanodes": args.datanodes, "querynodes": args.querynodes,
              "indexnodes": args.indexnodes}
    if any(count < 0 for count in counts.values()) or args.proxies < 1:
        sys.stderr.write("milvus: a cluster needs at least one proxy and no negative counts\n")
        return EXIT_USAGE
    missing = [role for role, count in (("indexnode", args.indexnodes), ("datanode", args.datanodes),
                                         ("querynode", args.querynodes)) if count and role not in CLUSTER_COMPONENTS]
    if missing:
        sys.stderr.write(f"milvus: cannot run {', '.join(missing)} as a cluster role yet\n")
        return EXIT_USAGE
    try:
        config = _load_config(args.config, env, {})
        setup_logging(config["log.level"], config["log.format"], "launcher")
    except (ConfigError, ValueError) as exc:
        sys.stderr.write(f"milvus: config error: {exc}\n")
        return EXIT_USAGE
    spec = ClusterSpec(Path(args.data_dir), port=args.port, mq=args.mq, config_file=args.config,
                       standby=args.standby, **counts)

    def out(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    return run_cluster(spec, env, out)


def _config_check(path: str, env: Mapping[str, str]) -> int:
    try:
        config = _load_config(path, env, {})
        parse_level(config["log.level"])
        check_format(config["log.format"])
        check_exporter(config["trace.exporter"])
    except (ConfigError, ValueError) as exc:
        sys.stderr.write(f"milvus: config error: {exc}\n")
        return EXIT_USAGE
    sys.stdout.write(f"{path}: ok\n")
    return EXIT_OK


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``milvus`` command; returns the process exit code."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        # the benchmark drives a server through the pymilvus client: imported only for this command,
        # so a server process does not carry the client (pandas, requests: 50+ MB)
        from milvus.bench import main as bench

        return bench.main(argv[1:])
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    if args.version:
        sys.stdout.write(f"milvus {milvus.__version__}\n")
        return EXIT_OK
    if args.command == "run":
        return _run(args, env)
    if args.command == "cluster":
        return _cluster_up(args, env)
    if args.command == "config":
        if args.config_command == "render":
            sys.stdout.write(render_yaml())
            return EXIT_OK
        return _config_check(args.file, env)
    parser.print_usage(sys.stderr)
    return EXIT_USAGE
