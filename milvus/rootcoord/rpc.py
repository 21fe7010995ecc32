"""What the root coordinator's RPC mixins share: the service, the decorator that turns
raised ``milvus.errors`` into statuses (``answers``), and key-value property helpers."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.grpc_gen import common_pb2
from milvus.rpc.answers import rpc_answers

log = logging.getLogger("milvus.rootcoord.root_coord")

SERVICE = rootcoord_pb2.DESCRIPTOR.services_by_name["RootCoord"]
OK = errors.OK

answers = rpc_answers(
    SERVICE,
    ready=lambda self: self._serving,
    not_ready=lambda self: "service not ready[rootcoord]",
    log=log,
)


def props(kvs: Iterable[common_pb2.KeyValuePair]) -> dict[str, str]:
    return {kv.key: kv.value for kv in kvs}


def kv_list(values: dict[str, str]) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key=k, value=v) for k, v in values.items()]


def merge_properties(current, updates, delete_keys) -> dict[str, str]:
    merged = props(current)
    merged.update(props(updates))
    for key in delete_keys:
        merged.pop(key, None)
    return merged
