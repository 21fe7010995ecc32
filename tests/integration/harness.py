"""An in-process stack for integration tests: the meta store, RootCoord and a Proxy served
on 127.0.0.1 (port 0), wired the way standalone wires them (in-process clients).

``running_stack(data_dir)`` starts one and stops it on exit; starting another on the same
``data_dir`` reopens the same meta store, which is how restart recovery is tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milvus._proto import proxy_pb2
from milvus.config import Config
from milvus.kv import LocalKV, PrefixedKV
from milvus.proxy import MilvusServiceAdapter, Proxy, ProxyParams
from milvus.rootcoord import SERVICE as ROOTCOORD_SERVICE
from milvus.rootcoord import RootCoord
from milvus.rpc import GrpcServer, LocalClient

PROXY_SERVICE = proxy_pb2.DESCRIPTOR.services_by_name["Proxy"]


@dataclass
class Stack:
    config: Config
    kv: LocalKV
    meta_kv: PrefixedKV
    rootcoord: RootCoord
    proxies: list[Proxy]
    servers: list[GrpcServer]
    _proxy_clients: list[Any] = field(default_factory=list)

    @property
    def proxy(self) -> Proxy:
        return self.proxies[0]

    @property
    def port(self) -> int:
        return self.servers[0].port

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_proxy(self) -> GrpcServer:
        """Another proxy on the same root coordinator, served on its own port."""
        proxy = Proxy(LocalClient(self.rootcoord, ROOTCOORD_SERVICE), ProxyParams.from_config(self.config))
        proxy.start()
        server = GrpcServer("127.0.0.1", 0, [MilvusServiceAdapter(proxy).handler()], max_workers=8, name="proxy")
        server.start()
        self.proxies.append(proxy)
        self.servers.append(server)
        self._proxy_clients.append(LocalClient(proxy, PROXY_SERVICE))
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop(grace=0)
        for proxy in self.proxies:
            proxy.stop()
        self.rootcoord.stop()
        self.meta_kv.close()
        self.kv.close()


def start_stack(data_dir: Path, overrides: dict[str, Any] | None = None) -> Stack:
    config = Config.load(overrides={"common.dataDir": str(data_dir), **(overrides or {})})
    data_dir.mkdir(parents=True, exist_ok=True)
    kv = LocalKV(str(data_dir / "meta.sqlite3"))
    meta_kv = PrefixedKV(kv, f"{config['etcd.rootPath']}/{config['etcd.metaSubPath']}/")
    stack = Stack(config, kv, meta_kv, rootcoord=None, proxies=[], servers=[])  # type: ignore[arg-type]
    stack.rootcoord = RootCoord.from_config(meta_kv, config, proxies=lambda: stack._proxy_clients)
    try:
        stack.rootcoord.start()
        stack.add_proxy()
    except BaseException:
        stack.stop()
        raise
    return stack


@contextmanager
def running_stack(data_dir: Path, overrides: dict[str, Any] | None = None) -> Iterator[Stack]:
    stack = start_stack(data_dir, overrides)
    try:
        yield stack
    finally:
        stack.stop()
