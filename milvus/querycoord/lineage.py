"""Compaction lineage: the served segments a target segment replaces beyond its own sources.

A compaction result names its sources (``compaction_from``), and a leader stops reading them
in the step it starts reading the result (``Shard.add_sealed``, ``Shard.sync_view``).  When a
result is compacted again before any node served it (two compaction rounds between two
checker rounds, or while this coordinator restarted), the new result names only that unserved
middle segment, and the segments the nodes still serve — its sources — are named by nothing
in the target: a leader would read them beside the result that holds their rows, and count
them twice.  ``served_ancestors`` walks the lineage back through such unserved segments (the
data coordinator keeps a dropped segment's info until GC) to the served ones; the coordinator
adds those to the result's ``compaction_from`` before it loads the result or syncs a view.

Lineage is immutable, so the walk's lookups are cached by the caller (``Lineage``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from milvus._proto import datacoord_pb2
from milvus.querycoord.target import CollectionTarget, check

log = logging.getLogger(__name__)

MAX_DEPTH = 16  # compactions of one segment between two rounds; deeper chains are left as they are
_CACHED = 100_000  # dropped segments whose sources are remembered


def served_ancestors(target: CollectionTarget, served: Iterable[int],
                     sources_of: Callable[[list[int]], Mapping[int, tuple[int, ...]]],
                     max_depth: int = MAX_DEPTH) -> dict[int, tuple[int, ...]]:
    """Target segment -> the served segments it replaces through unserved compaction results
    (not already among its sources).  ``sources_of``: segment -> its ``compaction_from``, for
    the ids asked (unknown ones left out).  Nothing is looked up unless some served segment
    is neither in the target nor a direct source of a target segment."""
    served = set(served)
    direct = {s for info in target.sealed.values() for s in info.compaction_from}
    orphans = served - set(target.sealed) - direct
    if not orphans:
        return {}
    found: dict[int, set[int]] = {}
    # per target segment, the unserved sources not in the target: the middles of a chain
    frontier = {seg_id: {s for s in info.compaction_from if s not in served and s not in target.sealed}
                for seg_id, info in target.sealed.items()}
    frontier = {seg_id: middles for seg_id, middles in frontier.items() if middles}
    seen: set[int] = set()
    missing = set(orphans)  # not found yet: once every orphan is, the walk ends
    for _ in range(max_depth):
        if not frontier or not missing:
            break
        wanted = sorted({s for middles in frontier.values() for s in middles} - seen)
        lineage = dict(sources_of(wanted)) if wanted else {}
        seen.update(wanted)
        nxt: dict[int, set[int]] = {}
        for seg_id, middles in frontier.items():
            for middle in middles:
                for source in lineage.get(middle, ()):
                    if source in orphans:
                        found.setdefault(seg_id, set()).add(source)
                        missing.discard(source)
                    elif source not in served and source not in target.sealed:
                        nxt.setdefault(seg_id, set()).add(source)
        frontier = nxt
    return {seg_id: tuple(sorted(ids)) for seg_id, ids in found.items()}


class Lineage:
    """The data coordinator's record of dropped segments' sources, asked once per segment."""

    def __init__(self, datacoord: Any):
        self._datacoord = datacoord
        self._lock = threading.Lock()
        self._sources: dict[int, tuple[int, ...]] = {}

    def sources_of(self, segment_ids: list[int]) -> dict[int, tuple[int, ...]]:
        with self._lock:
            out = {s: self._sources[s] for s in segment_ids if s in self._sources}
        missing = [s for s in segment_ids if s not in out]
        if not missing:
            return out
        resp = self._datacoord.GetSegmentInfo(datacoord_pb2.GetSegmentInfoRequest(
            segmentIDs=missing, includeUnHealthy=True))
        check(resp.status, f"segment infos of {missing}")
        fetched = {info.id: tuple(info.compaction_from) for info in resp.infos}
        with self._lock:
            if len(self._sources) + len(fetched) > _CACHED:
                self._sources.clear()
            self._sources.update(fetched)
        return {**out, **fetched}

    def expand(self, target: CollectionTarget, served: Iterable[int]) -> CollectionTarget:
        """``target`` with the served ancestors of each result added to its ``compaction_from``
        (the same target when there are none)."""
        extra = served_ancestors(target, served, self.sources_of)
        if not extra:
            return target
        sealed = dict(target.sealed)
        for seg_id, ancestors in extra.items():
            info = datacoord_pb2.SegmentInfo()
            info.CopyFrom(sealed[seg_id])
            info.compaction_from.extend(ancestors)
            sealed[seg_id] = info
        log.info("collection %d: compaction results replace served segments through unserved ones: %s",
                 target.collection_id, extra)
        return dataclasses.replace(target, sealed=sealed)
