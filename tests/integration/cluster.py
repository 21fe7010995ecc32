"""Every standalone role in this process (``build_cluster``) on the embedded backends under a
temporary data directory, with the public service on 127.0.0.1 (port 0): the real pymilvus
SDK talks to it.  Starting another on the same directory reopens the same data (restart)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymilvus import MilvusClient, connections

from milvus.cmd.backends import open_kv, open_mq, open_storage
from milvus.cmd.standalone import Cluster, build_cluster
from milvus.config import Config
from milvus.mq.base import MQ
from milvus.storage.base import ObjectStorage

FAST = {
    "proxy.timeTickInterval": 0.05,
    "dataCoord.tickInterval": 0.1,
    "dataCoord.index.checkInterval": 0.1,
    "dataNode.checkpoint.updateInterval": 0.2,
}


@dataclass
class Stack:
    """A running cluster and the backends it is on (for tests that add nodes of their own)."""

    cluster: Cluster
    mq: MQ
    storage: ObjectStorage

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.cluster.port}"

    @contextmanager
    def client(self) -> Iterator[MilvusClient]:
        """A MilvusClient of the cluster, closed afterwards."""
        c = MilvusClient(uri=self.uri)
        try:
            yield c
        finally:
            c.close()

    @contextmanager
    def orm(self, alias: str) -> Iterator[str]:
        """An ORM connection ``alias`` to the cluster, disconnected afterwards."""
        connections.connect(alias, uri=self.uri)
        try:
            yield alias
        finally:
            connections.disconnect(alias)


@contextmanager
def running_stack(data_dir: Path, overrides: dict[str, Any] | None = None) -> Iterator[Stack]:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = Config.load(overrides={"common.dataDir": str(data_dir), **FAST, **(overrides or {})})
    kv, mq, storage = open_kv(config), open_mq(config), open_storage(config)
    cluster = build_cluster(config, kv, mq, storage, "127.0.0.1", 0, max_workers=8)
    try:
        cluster.start()
        yield Stack(cluster, mq, storage)
    finally:
        cluster.stop()
        storage.close()
        mq.close()
        kv.close()


@contextmanager
def running_cluster(data_dir: Path, overrides: dict[str, Any] | None = None) -> Iterator[Cluster]:
    with running_stack(data_dir, overrides) as stack:
        yield stack.cluster
