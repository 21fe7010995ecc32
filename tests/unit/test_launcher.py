"""The local cluster launcher's plan (no processes started): who starts in which tier, on
which port, with which config; and the ``milvus cluster up`` usage checks."""

from __future__ import annotations

import yaml

from milvus.cmd.cli import main
from milvus.cmd.launcher import ClusterSpec, LocalCluster
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
