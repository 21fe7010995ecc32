"""What the data coordinator's RPC modules share: its service and the decorator of its methods."""

from __future__ import annotations

import logging

from milvus._proto import datacoord_pb2
from milvus.rpc.answers import rpc_answers

log = logging.getLogger("milvus.datacoord.coord")

SERVICE = datacoord_pb2.DESCRIPTOR.services_by_name["DataCoord"]

answers = rpc_answers(
    SERVICE,
    ready=lambda self: self._serving,
    not_ready=lambda self: "service not ready[datacoord]",
    log=log,
)
