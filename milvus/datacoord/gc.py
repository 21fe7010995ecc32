"""Garbage collection of segment files in object storage.

Two rules, each with a grace period so that readers still holding an old view finish first:

* a DROPPED segment's files (its recorded logs and everything under its prefixes) go once
  it has been dropped for ``dropTolerance`` seconds; then its meta is forgotten;
* a file under ``insert_log/``, ``stats_log/`` or ``delta_log/`` that no segment references
  (a data node crashed between writing it and recording it) goes once it is older than
  ``missingTolerance`` seconds.

The collector only does I/O: the data coordinator hands it a snapshot of the meta and
forgets the segments it reports as collected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from milvus._proto import datacoord_pb2
from milvus.datacoord.segments import log_paths
from milvus.storage.base import ObjectStorage
from milvus.tso import parse_ts

log = logging.getLogger(__name__)

LOG_ROOTS = ("insert_log/", "stats_log/", "delta_log/")


def segment_prefixes(segment: datacoord_pb2.SegmentInfo) -> list[str]:
    tail = f"{segment.collection_id}/{segment.partition_id}/{segment.id}/"
    return [root + tail for root in LOG_ROOTS]


@dataclass
class GCResult:
    collected_segments: list[int]
    removed_files: int


class GarbageCollector:
    def __init__(self, storage: ObjectStorage, drop_tolerance: float, missing_tolerance: float,
                 wall_clock: Callable[[], float]):
        self._storage = storage
        self._drop_tolerance = drop_tolerance
        self._missing_tolerance = missing_tolerance
        self._wall_clock = wall_clock

    def collect(self, segments: Iterable[datacoord_pb2.SegmentInfo], keep: set[int] | None = None) -> GCResult:
        """One pass over ``segments`` (every segment in the meta, dropped ones included);
        the files of those in ``keep`` (a snapshot names them) stay, dropped or not."""
        now = self._wall_clock()
        segments = list(segments)
        keep = keep or set()
        referenced: set[str] = set()
        expired: list[datacoord_pb2.SegmentInfo] = []
        for segment in segments:
            if segment.state == datacoord_pb2.DROPPED and segment.id not in keep:
                dropped_s = parse_ts(segment.dropped_at)[0] / 1000.0
                if dropped_s + self._drop_tolerance <= now:
                    expired.append(segment)
                    continue
            referenced.update(log_paths(segment))
        removed = 0
        collected = []
        for segment in expired:
            try:
                for path in log_paths(segment):
                    self._storage.remove(path)
                    removed += 1
                for prefix in segment_prefixes(segment):
                    removed += self._storage.remove_prefix(prefix)
            except Exception:  # noqa: BLE001 - retried on the next pass
                log.exception("gc: cannot remove the files of segment %d", segment.id)
                continue
            collected.append(segment.id)
        removed += self._remove_orphans(referenced, now)
        return GCResult(collected, removed)

    def _remove_orphans(self, referenced: set[str], now: float) -> int:
        removed = 0
        for root in LOG_ROOTS:
            try:
                for info in list(self._storage.list(root)):
                    if info.key in referenced or info.mtime + self._missing_tolerance > now:
                        continue
                    self._storage.remove(info.key)
                    removed += 1
            except Exception:  # noqa: BLE001 - retried on the next pass
                log.exception("gc: cannot scan %s", root)
        return removed
