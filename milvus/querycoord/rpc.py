"""What the query coordinator's RPC mixins share: the service and the decorator that turns
raised ``milvus.errors`` into statuses (``answers``)."""

from __future__ import annotations

import logging

from milvus._proto import querycoord_pb2
from milvus.rpc.answers import rpc_answers

log = logging.getLogger("milvus.querycoord.coord")

SERVICE = querycoord_pb2.DESCRIPTOR.services_by_name["QueryCoord"]

answers = rpc_answers(
    SERVICE,
    ready=lambda self: self._serving,
    not_ready=lambda self: "service not ready[querycoord]",
    log=log,
)
