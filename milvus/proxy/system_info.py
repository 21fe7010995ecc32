"""GetMetrics: the cluster's topology as Milvus' ``system_info`` metric reports it (what Attu's
system view, birdwatcher and Milvus' own test tools read).

The request is JSON naming the metric (``{"metric_type": "system_info"}``); the answer is JSON
too: ``nodes_info``, one entry per role instance (this proxy, each coordinator and the nodes
each coordinator knows, from the same ``GetComponentStates`` answers CheckHealth reads), each
with its ``infos`` (``type``, ``id``, ``name``, ``has_error`` and ``error_reason``, the
``system_info`` of the build, ``hardware_infos``: address, and the memory data and query
nodes report to their coordinators, the CPU count and memory of this proxy's machine) and
the nodes it is ``connected`` to; and ``connections``, this proxy's links to the
coordinators.  The other metric types Milvus names (``system_statistics``, ``system_logs``)
are refused as Milvus refuses a type it does not know.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import milvus
from milvus import errors
from milvus._proto import internal_pb2
from milvus.rpc.health import component_states, unhealthy_reason

log = logging.getLogger(__name__)

SYSTEM_INFO = "system_info"


def metric_type(request: str) -> str:
    """The ``metric_type`` a GetMetrics request's JSON names."""
    try:
        parsed = json.loads(request or "")
    except ValueError:
        raise errors.ParameterInvalid(f"failed to parse metric type: invalid request {request!r}") from None
    kind = parsed.get("metric_type") if isinstance(parsed, dict) else None
    if not isinstance(kind, str) or not kind:
        raise errors.ParameterInvalid(f"failed to parse metric type: no metric_type in {request!r}")
    return kind


def _node(info: internal_pb2.ComponentInfo, build: dict[str, str], hardware: dict[str, Any],
          connected: Sequence[internal_pb2.ComponentInfo], now: str) -> dict[str, Any]:
    reason = unhealthy_reason(info)
    return {
        "identifier": info.node_id,
        "connected": [{"connected_identifier": c.node_id, "type": "forward", "target_type": c.role}
                      for c in connected],
        "infos": {
            "has_error": reason is not None,
            "error_reason": reason or "",
            "name": f"{info.role}{info.node_id}",
            "hardware_infos": {"ip": info.address, **hardware},
            "system_info": build,
            "created_time": "",
            "updated_time": now,
            "type": info.role,
            "id": info.node_id,
            "system_configurations": {},
        },
    }


class SystemInfo:
    """Answers GetMetrics for one proxy.  ``coordinators``: (role, client) of each coordinator;
    ``node_memory(client)`` the memory reports a coordinator holds (``GetNodeMemory``)."""

    def __init__(self, proxy: Callable[[], internal_pb2.ComponentInfo], deploy_mode: str,
                 coordinators: Sequence[tuple[str, Any]]):
        self._proxy = proxy
        self._coordinators = list(coordinators)
        self._build = {
            "system_version": f"milvus-py {milvus.__version__}",
            "deploy_mode": deploy_mode,
            "build_version": milvus.__version__,
            "build_time": "",
            "used_go_version": f"Python {platform.python_version()}",
        }

    def component_name(self) -> str:
        info = self._proxy()
        return f"{info.role}{info.node_id}"

    def answer(self, request: str) -> str:
        kind = metric_type(request)
        if kind != SYSTEM_INFO:
            raise errors.ParameterInvalid(f"unsupported metric type: {kind} (this server reports {SYSTEM_INFO})")
        return json.dumps(self._system_info())

    def _memory(self) -> dict[tuple[str, int], internal_pb2.NodeMemory]:
        reports: dict[tuple[str, int], internal_pb2.NodeMemory] = {}
        for role, client in self._coordinators:
            if not hasattr(client, "GetNodeMemory"):
                continue
            try:
                nodes = client.GetNodeMemory(internal_pb2.GetNodeMemoryRequest()).nodes
            except Exception:  # noqa: BLE001 - the topology is still answered, without memory
                log.debug("%s answered no memory reports", role, exc_info=True)
                continue
            reports.update({(n.role, n.node_id): n for n in nodes})
        return reports

    def _system_info(self) -> dict[str, Any]:
        now = datetime.now(timezone.utc).isoformat()
        memory = self._memory()

        def hardware(info: internal_pb2.ComponentInfo) -> dict[str, Any]:
            report = memory.get((info.role, info.node_id))
            if report is None:
                return {}
            return {"memory": report.total_bytes, "memory_usage": report.used_bytes}

        proxy = self._proxy()
        coordinators = [component_states(role, 0, client) for role, client in self._coordinators]
        own = {"cpu_core_count": os.cpu_count() or 0, **_machine_memory()}
        nodes = [_node(proxy, self._build, own, [c.state for c in coordinators], now)]
        for states in coordinators:
            members = list(states.subcomponent_states)
            nodes.append(_node(states.state, self._build, hardware(states.state), members, now))
            nodes.extend(_node(m, self._build, hardware(m), [], now) for m in members)
        return {
            "nodes_info": nodes,
            "connections": {
                "name": f"{proxy.role}{proxy.node_id}",
                "connected_components": [{"target_name": f"{c.state.role}{c.state.node_id}",
                                          "target_type": c.state.role} for c in coordinators],
            },
        }


def _machine_memory() -> dict[str, int]:
    """This machine's memory in bytes (``memory``; empty where the system does not say)."""
    try:
        return {"memory": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")}
    except (ValueError, OSError, AttributeError):
        return {}
