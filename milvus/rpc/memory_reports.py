"""The newest memory report of each node a coordinator looks after, kept in memory: the data
coordinator gets them pushed (``ReportNodeMemory``), the query coordinator reads them from
the distributions it asks for.  ``GetNodeMemory`` answers them with their age, and the
proxies' quota guards judge (``milvus/proxy/quota.py``); a node that stops reporting ages
there, a node whose session ended is forgotten here."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from milvus import errors
from milvus._proto import internal_pb2


class MemoryReports:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._reports: dict[int, tuple[internal_pb2.NodeMemory, float]] = {}

    def put(self, report: internal_pb2.NodeMemory) -> None:
        kept = internal_pb2.NodeMemory()
        kept.CopyFrom(report)
        kept.ClearField("age_ms")
        with self._lock:
            self._reports[report.node_id] = (kept, self._clock())

    def forget(self, node_id: int) -> None:
        with self._lock:
            self._reports.pop(node_id, None)

    def answer(self) -> internal_pb2.GetNodeMemoryResponse:
        now = self._clock()
        resp = internal_pb2.GetNodeMemoryResponse(status=errors.OK)
        with self._lock:
            reports = sorted(self._reports.items())
        for _, (report, at) in reports:
            node = resp.nodes.add()
            node.CopyFrom(report)
            node.age_ms = max(0, int((now - at) * 1000))
        return resp
