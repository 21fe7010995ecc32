"""Config: the rendered default file, precedence, coercion, errors, and no reads at import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from milvus.config import ITEMS, Config, ConfigError, render_yaml
from milvus.config.items import ITEMS_BY_KEY

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "milvus.yaml"
    path.write_text(text)
    return path


def test_default_file_is_rendered_from_the_declarations():
    # regenerate with: python -m milvus config render > configs/milvus.yaml
    assert (REPO / "configs" / "milvus.yaml").read_text() == render_yaml()


def test_rendered_yaml_loads_back_to_the_defaults(tmp_path):
    tree = yaml.safe_load(render_yaml())
    assert tree["proxy"]["port"] == 19530
    cfg = Config.load(_write(tmp_path, render_yaml()))
    assert cfg.as_dict() == {item.key: item.default for item in ITEMS}


def test_defaults_without_file_or_env():
    cfg = Config.load()
    assert cfg["proxy.port"] == 19530
    assert cfg["common.dataDir"] == "milvus_data"
    assert cfg["etcd.endpoints"] == ["127.0.0.1:2379"]


def test_env_var_names():
    assert ITEMS_BY_KEY["proxy.port"].env_var == "MILVUS_PROXY_PORT"
    assert ITEMS_BY_KEY["common.session.ttl"].env_var == "MILVUS_COMMON_SESSION_TTL"


def test_precedence_default_file_env_override(tmp_path):
    path = _write(tmp_path, "proxy:\n  port: 1001\nrootCoord:\n  port: 2001\ndataCoord:\n  port: 3001\n")
    env = {"MILVUS_ROOTCOORD_PORT": "2002", "MILVUS_DATACOORD_PORT": "3002", "UNRELATED": "x"}
    cfg = Config.load(path, env=env, overrides={"dataCoord.port": 3003})
    assert cfg["queryCoord.port"] == ITEMS_BY_KEY["queryCoord.port"].default  # default
    assert cfg["proxy.port"] == 1001  # file over default
    assert cfg["rootCoord.port"] == 2002  # env over file
    assert cfg["dataCoord.port"] == 3003  # override over env


def test_with_overrides_returns_a_new_config():
    cfg = Config.load()
    changed = cfg.with_overrides({"proxy.port": "19540"})
    assert changed["proxy.port"] == 19540
    assert cfg["proxy.port"] == 19530


def test_type_coercion_from_strings(tmp_path):
    env = {
        "MILVUS_PROXY_PORT": "19540",
        "MILVUS_MINIO_USESSL": "yes",
        "MILVUS_LOCALMQ_SYNCWRITES": "off",
        "MILVUS_COMMON_SESSION_TTL": "12.5",
    }
    cfg = Config.load(env=env)
    assert cfg["proxy.port"] == 19540
    assert cfg["minio.useSSL"] is True
    assert cfg["localMQ.syncWrites"] is False
    assert cfg["common.session.ttl"] == 12.5
    # YAML scalars of a close type are coerced too
    cfg = Config.load(_write(tmp_path, "common:\n  session:\n    ttl: 7\nproxy:\n  port: '19541'\n"))
    assert cfg["common.session.ttl"] == 7.0 and isinstance(cfg["common.session.ttl"], float)
    assert cfg["proxy.port"] == 19541


def test_list_from_comma_separated_env():
    cfg = Config.load(env={"MILVUS_ETCD_ENDPOINTS": "10.0.0.1:2379, 10.0.0.2:2379,,10.0.0.3:2379"})
    assert cfg["etcd.endpoints"] == ["10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"]


def test_list_from_yaml(tmp_path):
    cfg = Config.load(_write(tmp_path, "etcd:\n  endpoints:\n    - a:1\n    - b:2\n"))
    assert cfg["etcd.endpoints"] == ["a:1", "b:2"]


def test_unknown_key_in_file(tmp_path):
    with pytest.raises(ConfigError, match="proxy.prot"):
        Config.load(_write(tmp_path, "proxy:\n  prot: 1\n"))


def test_unknown_key_in_overrides():
    with pytest.raises(ConfigError, match="nope"):
        Config.load(overrides={"nope": 1})
    with pytest.raises(ConfigError, match="nope"):
        Config.load()["nope"]


@pytest.mark.parametrize("value", ["abc", "12.5", ""])
def test_bad_int(value):
    with pytest.raises(ConfigError, match="MILVUS_PROXY_PORT.*proxy.port.*int"):
        Config.load(env={"MILVUS_PROXY_PORT": value})


def test_bad_int_in_file(tmp_path):
    with pytest.raises(ConfigError, match="proxy.port"):
        Config.load(_write(tmp_path, "proxy:\n  port: 12.5\n"))
    with pytest.raises(ConfigError, match="proxy.port"):
        Config.load(_write(tmp_path, "proxy:\n  port: true\n"))


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_bad_bool(value):
    with pytest.raises(ConfigError, match="minio.useSSL.*bool"):
        Config.load(env={"MILVUS_MINIO_USESSL": value})


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        Config.load(_write(tmp_path, "- just\n- a list\n"))


def test_empty_file_means_defaults(tmp_path):
    assert Config.load(_write(tmp_path, "")).as_dict() == Config.load().as_dict()


def test_section():
    cfg = Config.load()
    assert cfg.section("common.session") == {"ttl": 30.0, "keepaliveInterval": 3.0}


def test_config_is_never_read_at_import_time():
    env = dict(os.environ, MILVUS_PROXY_PORT="not-a-port", MILVUS_MINIO_USESSL="perhaps")
    code = "import milvus.cmd.cli, milvus.cmd.roles, milvus.cmd.lifecycle, milvus.metrics, milvus.util.log"
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
