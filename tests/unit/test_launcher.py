"""The local cluster launcher's plan (no processes started): who starts in which tier, on
which port, with which config; the ``milvus cluster up`` usage checks; the supervisor's
restarts (fake processes)."""

from __future__ import annotations

import yaml

from milvus.cmd.cli import main
from milvus.cmd.launcher import ClusterSpec, LocalCluster, Supervisor
from milvus.config import Config


def test_tiers_start_coordinators_one_by_one_then_nodes_together_then_proxies(tmp_path):
    spec = ClusterSpec(tmp_path, port=19999, proxies=2, datanodes=2, querynodes=3, indexnodes=1)
    tiers = LocalCluster(spec, env={})._tiers()
    assert [[c.name for c in tier] for tier in tiers] == [
        ["rootcoord"], ["datacoord"], ["querycoord"],
        ["datanode-1", "datanode-2", "querynode-1", "querynode-2", "querynode-3", "indexnode-1"],
        ["proxy-1", "proxy-2"],
    ]
    ports = {c.name: c.port for tier in tiers for c in tier}
    assert ports["proxy-1"] == 19999
    assert all(port == 0 for name, port in ports.items() if name != "proxy-1")  # bound port is announced
    metrics = [c.metrics_port for tier in tiers for c in tier]
    assert len(set(metrics)) == len(metrics)
    command = tiers[0][0].command
    assert command[1:5] == ["-m", "milvus", "run", "rootcoord"]
    assert command[command.index("--config") + 1] == str(tmp_path.resolve() / "cluster.yaml")


def test_no_node_of_a_kind_asked_for_none(tmp_path):
    spec = ClusterSpec(tmp_path, querynodes=0, indexnodes=0)
    names = [c.name for tier in LocalCluster(spec, env={})._tiers() for c in tier]
    assert names == ["rootcoord", "datacoord", "querycoord", "datanode-1", "proxy-1"]


def test_config_file_folds_base_file_and_env_under_the_launchers_settings(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("queryNode:\n  readTimeout: 7\nmq:\n  type: local\n")
    cluster = LocalCluster(ClusterSpec(tmp_path / "c", config_file=str(base)),
                           env={"MILVUS_PROXY_TIMETICKINTERVAL": "0.05", "MILVUS_MQ_TYPE": "pulsar", "HOME": "/x"})
    cluster.data_dir.mkdir(parents=True)
    cluster._write_config({"mq.type": "nats", "metastore.type": "etcd"})
    config = Config.load(cluster.config_path, env={})
    assert config["queryNode.readTimeout"] == 7.0
    assert config["proxy.timeTickInterval"] == 0.05
    assert config["mq.type"] == "nats" and config["metastore.type"] == "etcd"
    assert yaml.safe_load(cluster.config_path.read_text())["mq"]["type"] == "nats"
    # the children read the file: MILVUS_* settings of the launcher do not reach them
    assert cluster._child_env() == {"HOME": "/x"}


def test_cluster_up_usage_errors(tmp_path, capsys):
    assert main(["cluster", "up", "--data-dir", str(tmp_path), "--proxies", "0"], env={}) == 2
    assert "at least one proxy" in capsys.readouterr().err
    assert main(["cluster", "up", "--data-dir", str(tmp_path), "--querynodes", "-1"], env={}) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("proxy:\n  prot: 1\n")
    assert main(["cluster", "up", "--data-dir", str(tmp_path), "--config", str(bad)], env={}) == 2
    assert "proxy.prot" in capsys.readouterr().err


class _FakeProc:
    def __init__(self, pid: int, code: int | None):
        self.pid = pid
        self.returncode = code

    def poll(self) -> int | None:
        return self.returncode


class _FakeCluster:
    """Children whose processes exit at once when spawned (``crash``) or keep running."""

    def __init__(self, children, crash: set[str]):
        self.children = children
        self.crash = crash
        self.states = 0
        self._pid = 100

    def exited(self):
        return [c for c in self.children if c.proc is not None and c.proc.poll() is not None]

    def spawn(self, child) -> None:
        self._pid += 1
        child.proc = _FakeProc(self._pid, 1 if child.name in self.crash else None)

    def write_state(self) -> None:
        self.states += 1


def test_supervisor_restarts_exited_roles_and_gives_up_on_crash_loops(tmp_path):
    children = [c for tier in LocalCluster(ClusterSpec(tmp_path, indexnodes=0), env={})._tiers() for c in tier]
    fake = _FakeCluster(children, crash={"querycoord"})
    for child in children:
        child.proc = _FakeProc(1, None)
    by_name = {c.name: c for c in children}
    by_name["datanode-1"].proc = _FakeProc(2, -9)  # killed
    by_name["querycoord"].proc = _FakeProc(3, 1)
    now = [0.0]
    supervisor = Supervisor(fake, max_restarts=3, window=60.0, clock=lambda: now[0])
    assert sorted(c.name for c in supervisor.check()) == ["datanode-1", "querycoord"]
    assert by_name["datanode-1"].alive() and fake.states == 1
    for _ in range(5):
        now[0] += 1.0
        supervisor.check()
    assert not by_name["querycoord"].alive()  # a crash loop: three restarts, then left down
    assert fake.states == 3
    now[0] += 100.0
    assert supervisor.check() == []
