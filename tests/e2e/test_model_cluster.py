"""The model sequences of ``tests/modelcheck.py`` against a cluster of role processes (etcd-less
embedded meta store and the NATS broker the launcher starts, two query nodes, a data node, an
index node), where the lifecycle steps also kill -9 a role and start it again: each
coordinator, the data node, a query node, the index node and the proxy.  After a restart the
test waits until a Strong read answers, then goes on; every check after every step is the
model's (no acknowledged row lost, no deleted row back, every field as last written)."""

from __future__ import annotations

import os
import random
import signal

import pytest
import yaml
from pymilvus import MilvusClient

from milvus.cmd.launcher import ClusterSpec, LocalCluster
from milvus.localsvc import free_port
from tests.conftest import wait_for
from tests.e2e.test_cluster import STARTUP, _env
from tests.modelcheck import LIFECYCLE, SMALL, WRITES, Model, Runner, create_collection

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

def _nested(flat: dict) -> dict:
    tree: dict = {}
    for key, value in flat.items():
        node = tree
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


ROLES = ("rootcoord", "datacoord", "querycoord", "datanode", "querynode", "indexnode", "proxy")


@pytest.fixture
def cluster(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(_nested({
        **SMALL,
        "common.session.ttl": 3.0,
        "common.session.keepaliveInterval": 0.5,
        "proxy.timeTickInterval": 0.05,
        "dataCoord.segment.flushRetryInterval": 1.0,
        "dataCoord.index.checkInterval": 0.5,
        "dataCoord.tickInterval": 0.2,
    })))
    spec = ClusterSpec(tmp_path / "cluster", port=free_port(), config_file=str(base), startup_timeout=STARTUP,
                       querynodes=2, datanodes=1, indexnodes=1)
    cluster = LocalCluster(spec, env=_env())
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _restart(cluster: LocalCluster, role: str, rng: random.Random) -> str:
    child = rng.choice([c for c in cluster.children if c.role == role])
    os.killpg(child.pid, signal.SIGKILL)
    child.proc.wait()
    cluster.spawn(child)
    wait_for(lambda: child.healthy() or not child.alive(), timeout=STARTUP, interval=0.2,
             message=f"the restarted {child.name}")
    assert child.alive(), child.log_tail()
    return child.name


def _serving(runner: Runner) -> bool:
    try:
        runner.c.query("t", filter="", output_fields=["count(*)"], consistency_level="Strong")
        return True
    except Exception:  # noqa: BLE001 - not yet: the roles are still finding each other
        return False


# MODEL_SEEDS="1 2 3" explores more sequences
SEEDS = [int(seed) for seed in os.environ.get("MODEL_SEEDS", "7").split()]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_writes_and_role_restarts_match_the_model(cluster, seed):
    rng = random.Random(seed)
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.spec.port}")
    try:
        create_collection(c, string_pk=False)
        runner = Runner(c, Model(rng, string_pk=False), rng)
        for step in range(7 * len(ROLES)):
            if step % 7 == 6:  # every role in turn, between random steps
                name = _restart(cluster, ROLES[step // 7], rng)
                runner.log.append(f"kill -9 and restart {name}")
                wait_for(lambda: _serving(runner), timeout=120, interval=0.2,
                         message=f"a Strong read after restarting {name}")
            else:
                getattr(runner, rng.choice(WRITES) if rng.random() < 0.7 else rng.choice(LIFECYCLE))()
            runner.check()
        assert len(runner.m.rows) > 100, len(runner.m.rows)  # the sequence kept a real collection
        runner.flush()
        runner.wait_indexed()
        runner.check()
    finally:
        c.close()
