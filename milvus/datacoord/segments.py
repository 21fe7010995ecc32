"""Segment meta (in memory, persisted through the catalog) and the allocation policy.

Allocation: one growing segment per (vchannel, partition).  A request for ``n`` rows goes
to that segment when it still has room (``allocated + n <= maxRows``); otherwise the
segment is sealed and a new one takes the rows (a request larger than ``maxRows`` gets a
segment of its own).  Once ``sealProportion`` of ``maxRows`` is allocated the segment is
sealed.  Every assignment expires at ``expire_ts``: the writer must send the rows with a
smaller timestamp, so a sealed segment is complete on its channel once tsafe passes the
latest expiry of its assignments (its ``last_expire_time``), which is the flush timestamp
the data node waits for.

Allocated row counts and expiries live in memory only; after a restart a segment counts
its persisted rows as allocated and every expiry is taken as "now + expiration", which is
later than any assignment handed out before the restart.

Not thread-safe: the data coordinator calls it under its lock.  Every change is persisted
before the in-memory copy is replaced (copy on write), so a failed write changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from milvus._proto import datacoord_pb2, internal_pb2
from milvus.datacoord.params import DataCoordParams
from milvus.metastore.datacoord_catalog import DataCoordCatalog

GROWING = datacoord_pb2.GROWING
SEALED = datacoord_pb2.SEALED
FLUSHED = datacoord_pb2.FLUSHED
DROPPED = datacoord_pb2.DROPPED
L0 = datacoord_pb2.SEGMENT_LEVEL_L0
L1 = datacoord_pb2.SEGMENT_LEVEL_L1


@dataclass
class _Allocation:
    allocated: int
    created_at: float  # monotonic seconds
    flush_sent_at: float | None = None


def copy_segment(segment: datacoord_pb2.SegmentInfo) -> datacoord_pb2.SegmentInfo:
    out = datacoord_pb2.SegmentInfo()
    out.CopyFrom(segment)
    return out


def _merge_logs(current: Iterable[datacoord_pb2.FieldBinlog], new: Iterable[datacoord_pb2.FieldBinlog],
                out) -> None:
    """``out`` (a repeated FieldBinlog) = ``current`` plus the logs of ``new`` not there yet (by log id)."""
    by_field: dict[int, datacoord_pb2.FieldBinlog] = {}
    for group in list(current) + list(new):
        merged = by_field.get(group.field_id)
        if merged is None:
            merged = by_field[group.field_id] = datacoord_pb2.FieldBinlog(field_id=group.field_id)
        seen = {b.log_id for b in merged.binlogs}
        merged.binlogs.extend(b for b in group.binlogs if b.log_id not in seen or b.log_id == 0)
    del out[:]
    out.extend(by_field[f] for f in sorted(by_field))


def _entries(groups: Iterable[datacoord_pb2.FieldBinlog]) -> int:
    """Rows in a segment's logs: every group holds every row, so count the first group."""
    for group in groups:
        return sum(b.entries_num for b in group.binlogs)
    return 0


def log_paths(segment: datacoord_pb2.SegmentInfo) -> list[str]:
    return [b.log_path for groups in (segment.binlogs, segment.statslogs, segment.deltalogs)
            for group in groups for b in group.binlogs if b.log_path]


class SegmentManager:
    def __init__(self, catalog: DataCoordCatalog, params: DataCoordParams, clock: Callable[[], float]):
        self._catalog = catalog
        self._params = params
        self._clock = clock
        self._segments: dict[int, datacoord_pb2.SegmentInfo] = {}
        self._alloc: dict[int, _Allocation] = {}
        self._growing: dict[tuple[str, int], int] = {}  # (vchannel, partition) -> segment id

    # ---- reading ------------------------------------------------------------------------

    def recover(self, expire_floor: int) -> None:
        """Load every segment from the catalog; ``expire_floor`` bounds older assignments."""
        self._segments.clear()
        self._alloc.clear()
        self._growing.clear()
        now = self._clock()
        for segment in self._catalog.list_segments():
            self._segments[segment.id] = segment
            if segment.state in (GROWING, SEALED):
                segment.last_expire_time = max(segment.last_expire_time, expire_floor)
                self._alloc[segment.id] = _Allocation(segment.num_of_rows, now)
            if segment.state == GROWING:
                self._growing[(segment.insert_channel, segment.partition_id)] = segment.id

    def get(self, segment_id: int) -> datacoord_pb2.SegmentInfo | None:
        return self._segments.get(segment_id)

    def select(
        self,
        collection_id: int | None = None,
        channel: str | None = None,
        states: Iterable[int] | None = None,
        partition_ids: Iterable[int] | None = None,
    ) -> list[datacoord_pb2.SegmentInfo]:
        wanted_states = set(states) if states is not None else None
        wanted_parts = set(partition_ids) if partition_ids else None
        out = []
        for segment in self._segments.values():
            if collection_id is not None and segment.collection_id != collection_id:
                continue
            if channel is not None and segment.insert_channel != channel:
                continue
            if wanted_states is not None and segment.state not in wanted_states:
                continue
            # L0 segments of "every partition" (-1) belong to any partition selection
            if wanted_parts is not None and segment.partition_id not in wanted_parts and segment.partition_id != -1:
                continue
            out.append(segment)
        return sorted(out, key=lambda s: s.id)

    # ---- allocation ----------------------------------------------------------------------

    def allocate(
        self, channel: str, collection_id: int, partition_id: int, count: int, expire_ts: int,
        new_id: Callable[[], int], db_id: int = 0,
    ) -> tuple[datacoord_pb2.SegmentInfo, list[datacoord_pb2.SegmentInfo]]:
        """The segment that takes ``count`` rows, and the segments this sealed."""
        max_rows = self._params.segment_max_rows
        sealed: list[datacoord_pb2.SegmentInfo] = []
        key = (channel, partition_id)
        segment = self._segments.get(self._growing.get(key, -1))
        if segment is not None:
            alloc = self._alloc[segment.id]
            if alloc.allocated > 0 and alloc.allocated + count > max_rows:
                sealed += self.seal([segment])
                segment = None
        if segment is None:
            segment = datacoord_pb2.SegmentInfo(
                id=new_id(), collection_id=collection_id, partition_id=partition_id, insert_channel=channel,
                state=GROWING, max_row_num=max_rows, level=L1, db_id=db_id,
            )
            self._catalog.save_segments([segment])
            self._segments[segment.id] = segment
            self._alloc[segment.id] = _Allocation(0, self._clock())
            self._growing[key] = segment.id
        alloc = self._alloc[segment.id]
        alloc.allocated += count
        segment.last_expire_time = max(segment.last_expire_time, expire_ts)
        if alloc.allocated >= max_rows * self._params.seal_proportion:
            sealed += self.seal([segment])
            segment = self._segments[segment.id]
        return segment, sealed

    def seal(self, segments: Iterable[datacoord_pb2.SegmentInfo]) -> list[datacoord_pb2.SegmentInfo]:
        """Seal growing segments (no more allocations); returns the sealed copies."""
        changed = []
        for segment in segments:
            if segment.state != GROWING:
                continue
            new = copy_segment(segment)
            new.state = SEALED
            changed.append(new)
        self._catalog.save_segments(changed)
        for new in changed:
            self._replace(new)
        return changed

    def expired(self, now: float) -> list[datacoord_pb2.SegmentInfo]:
        """Growing segments older than the segment max life."""
        return [self._segments[sid] for sid in self._growing.values()
                if now - self._alloc[sid].created_at >= self._params.segment_max_life]

    def flush_due(self, now: float) -> list[datacoord_pb2.SegmentInfo]:
        """Sealed segments whose flush request was never sent or should be sent again."""
        due = []
        for segment in self._segments.values():
            if segment.state != SEALED:
                continue
            sent = self._alloc.setdefault(segment.id, _Allocation(segment.num_of_rows, now)).flush_sent_at
            if sent is None or now - sent >= self._params.flush_retry_interval:
                due.append(segment)
        return sorted(due, key=lambda s: s.id)

    def flush_sent(self, segment_ids: Iterable[int], now: float) -> None:
        for sid in segment_ids:
            alloc = self._alloc.get(sid)
            if alloc is not None:
                alloc.flush_sent_at = now

    # ---- binlogs and drops -------------------------------------------------------------------

    def save_binlog_paths(
        self, request: datacoord_pb2.SaveBinlogPathsRequest, checkpoint: internal_pb2.MsgPosition | None
    ) -> datacoord_pb2.SegmentInfo | None:
        """Record a data node's sync of one segment (and the channel checkpoint) atomically.

        Idempotent: logs already recorded (same log id) are not added twice.  Returns None
        when the segment was dropped meanwhile (the sync is ignored).  Raises KeyError for an
        unknown segment unless the request creates an L0 segment.
        """
        current = self._segments.get(request.segmentID)
        if current is None:
            if request.level != L0:
                raise KeyError(request.segmentID)
            current = datacoord_pb2.SegmentInfo(
                id=request.segmentID, collection_id=request.collectionID, partition_id=request.partitionID,
                insert_channel=request.channel, state=FLUSHED, level=L0,
            )
        if current.state == DROPPED:
            return None
        new = copy_segment(current)
        _merge_logs(current.binlogs, request.field2BinlogPaths, new.binlogs)
        _merge_logs(current.statslogs, request.field2StatslogPaths, new.statslogs)
        _merge_logs(current.deltalogs, request.deltalogs, new.deltalogs)
        new.num_of_rows = _entries(new.deltalogs if new.level == L0 else new.binlogs)
        if request.HasField("segment_position") and (
            not new.HasField("dml_position") or request.segment_position.timestamp >= new.dml_position.timestamp
        ):
            new.dml_position.CopyFrom(request.segment_position)
        if request.HasField("start_position") and not new.HasField("start_position"):
            new.start_position.CopyFrom(request.start_position)
        if request.flushed:
            new.state = FLUSHED
        self._catalog.save_binlog_paths(new, checkpoint)
        self._replace(new)
        return new

    def mark_dropped(self, segments: Iterable[datacoord_pb2.SegmentInfo], ts: int) -> list[datacoord_pb2.SegmentInfo]:
        changed = []
        for segment in segments:
            if segment.state == DROPPED:
                continue
            new = copy_segment(segment)
            new.state = DROPPED
            new.dropped_at = ts
            changed.append(new)
        self._catalog.save_segments(changed)
        for new in changed:
            self._replace(new)
        return changed

    def commit_compaction(self, new: Iterable[datacoord_pb2.SegmentInfo],
                          dropped: Iterable[datacoord_pb2.SegmentInfo], ts: int) -> None:
        """A compaction's result segments (FLUSHED) and its dropped sources, in one transaction."""
        changed = list(new)
        for segment in dropped:
            gone = copy_segment(segment)
            gone.state = DROPPED
            gone.dropped_at = ts
            changed.append(gone)
        self._catalog.save_segments_atomically(changed)
        for segment in changed:
            self._replace(segment)

    def forget(self, segment_ids: Iterable[int]) -> None:
        """Remove segments from the meta store for good (their files are gone)."""
        gone = [self._segments[sid] for sid in segment_ids if sid in self._segments]
        self._catalog.drop_segments(gone)
        for segment in gone:
            self._segments.pop(segment.id, None)
            self._alloc.pop(segment.id, None)

    def _replace(self, segment: datacoord_pb2.SegmentInfo) -> None:
        self._segments[segment.id] = segment
        key = (segment.insert_channel, segment.partition_id)
        if segment.state == GROWING:
            self._growing[key] = segment.id
        elif self._growing.get(key) == segment.id:
            del self._growing[key]
        if segment.state in (FLUSHED, DROPPED):
            self._alloc.pop(segment.id, None)
