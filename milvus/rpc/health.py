"""Asking a peer how it is: one ``ComponentInfo`` per peer, unreachable ones included.

A coordinator reports its nodes' states as the ``subcomponent_states`` of its own
``GetComponentStates`` answer; the proxy's ``CheckHealth`` reads them.
"""

from __future__ import annotations

from typing import Any

from milvus._proto import internal_pb2
from milvus.rpc.client import RpcError

# a health probe must not stall on a dead peer for long
PROBE_TIMEOUT = 5.0
# where a ComponentInfo says why its state is not HEALTHY
REASON_KEY = "reason"


def component_states(role: str, node_id: int, client: Any,
                     timeout: float = PROBE_TIMEOUT) -> internal_pb2.ComponentStates:
    """``client``'s ``GetComponentStates`` answer, or ABNORMAL with the failure as its reason."""
    try:
        answer = client.GetComponentStates(internal_pb2.GetComponentStatesRequest(), timeout=timeout)
    except RpcError as exc:
        return _abnormal(role, node_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - an in-process peer that fails is unhealthy, not fatal
        return _abnormal(role, node_id, f"{type(exc).__name__}: {exc}")
    states = internal_pb2.ComponentStates()
    states.CopyFrom(answer)
    states.state.role = states.state.role or role
    states.state.node_id = states.state.node_id or node_id
    return states


def probe(role: str, node_id: int, client: Any, timeout: float = PROBE_TIMEOUT) -> internal_pb2.ComponentInfo:
    """``client``'s own state, or ABNORMAL with the failure as its reason."""
    return component_states(role, node_id, client, timeout).state


def _abnormal(role: str, node_id: int, reason: str) -> internal_pb2.ComponentStates:
    return internal_pb2.ComponentStates(state=internal_pb2.ComponentInfo(
        node_id=node_id, role=role, state=internal_pb2.ABNORMAL, extra={REASON_KEY: reason}))


def unhealthy_reason(info: internal_pb2.ComponentInfo) -> str | None:
    """Why ``info`` is not healthy, as Milvus words it; None when it is."""
    if info.state == internal_pb2.HEALTHY:
        return None
    why = info.extra.get(REASON_KEY) or f"state is {internal_pb2.StateCode.Name(info.state)}"
    return f"role {info.role}[nodeID: {info.node_id}] is unhealthy, reason: {why}"
