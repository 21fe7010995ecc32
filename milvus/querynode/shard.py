"""One shard (vchannel) of a collection on a query node: its growing and sealed segments,
its deletes and its tsafe.

Hand-off: ``add_sealed`` puts a sealed segment in place and drops the growing copy with the
same id in one step under the shard lock, and from then on inserts for that id coming from
the channel are ignored (the sealed copy holds them).  A reader takes its list of segments
under the same lock, so it sees either the growing copy or the sealed one, never both and
never neither.  A compaction result swaps out its sources (``compaction_from``) the same way
(they are still answered to a leader that names them, ``sealed_many``, until released).

Leader view (segment-level distribution): the query coordinator tells a shard leader which
node serves each sealed segment of the channel (``sync_view``).  A segment served elsewhere
is read there (``remote``); its growing copy and any local sealed copy here are left out of
reads from the same step on, and so are the compaction sources of every segment in the view.
A leader's read takes its local segments and the view's remote ones in one step
(``read_set``), refused once the channel was unwatched since the read found it watched.

A worker keeps the deletes its leaders send along with their requests, one copy per leader's
log (``receive_deletes``): a leader sends only those past what the worker said it holds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from milvus.errors import ChannelNotFound, DeletesOutOfSync, ParameterInvalid
from milvus.querynode.deletes import DeleteBuffer, DeleteSnapshot, read_ipc_deletes
from milvus.querynode.segments import GrowingSegment, SealedSegment, Segment
from milvus.querynode.tsafe import TSafe

_RECEIVED_LOGS = 4  # leaders' delete logs a worker keeps per channel (an evicted one is sent again)


@dataclass(frozen=True)
class SegmentRef:
    segment_id: int
    partition_id: int
    num_rows: int
    sealed: bool
    index_build_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Location:
    """A sealed segment of the channel as the leader view has it."""

    segment_id: int
    partition_id: int
    node_id: int
    address: str = ""
    num_rows: int = 0
    compaction_from: tuple[int, ...] = field(default=())


class Shard:
    def __init__(self, collection_id: int, channel: str, tsafe: int = 0):
        self.collection_id = collection_id
        self.channel = channel
        self.tsafe = TSafe(tsafe)
        self.deletes = DeleteBuffer()
        self._lock = threading.Lock()
        self._growing: dict[int, GrowingSegment] = {}
        self._sealed: dict[int, SealedSegment] = {}
        # sealed segments a compaction result served here replaced: no longer read here, but
        # still answered to a leader whose view names them (until the view moved and they are released)
        self._replaced: dict[int, SealedSegment] = {}
        # segment ids whose rows are (or were) served sealed: their channel inserts are dropped
        self._excluded: set[int] = set()
        # sources of compaction results served here: never served again (the result holds their rows)
        self._compacted: set[int] = set()
        # the leader view: every sealed segment of the channel and where it is served
        self._view: tuple[Location, ...] = ()
        self._remote: dict[int, Location] = {}  # segments read on other nodes
        self._hidden: frozenset[int] = frozenset()  # local segments not read (remote or replaced)
        self._synced = False
        self._version = 0
        # changes whenever the channel stops being watched here (``drop_growing``, ``close``):
        # a leader's read only takes its segments while the epoch it found watched still holds
        self._epoch = 0
        self._seen: set[int] = set()  # segments of other nodes whose delta logs were read here
        # a worker's copies of its leaders' delete logs, by source (the most recently used last)
        self._received: OrderedDict[str, DeleteBuffer] = OrderedDict()
        self._received_lock = threading.Lock()
        self._schema: pa.Schema | None = None  # the stored schema once a field was added (upgrade)

    # ---- writes from the channel ---------------------------------------------------------

    def insert(self, segment_id: int, partition_id: int, batch: pa.RecordBatch) -> bool:
        """Append channel rows to the growing segment; False when the segment is excluded."""
        with self._lock:
            if segment_id in self._excluded:
                return False
            segment = self._growing.get(segment_id)
            if segment is None:
                segment = self._growing[segment_id] = GrowingSegment(
                    segment_id, self.collection_id, partition_id, self.channel, self._schema)
            # appending under the shard lock keeps hand-off atomic with respect to inserts
            segment.append(batch)
        return True

    def upgrade(self, schema: pa.Schema) -> None:
        """The collection's schema gained fields: every segment here (and every later growing
        one) gets their columns, old rows reading each field's default or null."""
        with self._lock:
            self._schema = schema
            segments = [*self._growing.values(), *self._sealed.values(), *self._replaced.values()]
            for segment in segments:
                segment.upgrade(schema)

    def delete(self, pks: pa.Array, ts: np.ndarray, partition_id: int) -> None:
        """Deletes from the channel (kept once when a delta log brought them already)."""
        if self.deletes.may_hold(ts):
            self.deletes.add_unseen(pks, ts, partition_id)
        else:
            self.deletes.add(pks, ts, partition_id)

    def delete_read_back(self, pks: pa.Array, ts: np.ndarray, partition_id: int) -> None:
        """Deletes read from a delta log: those the channel or another delta log brought are held once."""
        self.deletes.add_unseen(pks, ts, partition_id)

    # ---- distribution changes ------------------------------------------------------------

    def exclude(self, segment_ids: Iterable[int]) -> None:
        """Ignore channel inserts of these segments (flushed or dropped before the watch)."""
        with self._lock:
            for segment_id in segment_ids:
                self._excluded.add(segment_id)
                self._growing.pop(segment_id, None)

    def add_sealed(self, segment: SealedSegment, replaces: Iterable[int] = ()) -> bool:
        """Serve ``segment``; its growing copy, if any, goes in the same step, and so do the
        sealed segments it ``replaces`` (a compaction's sources: readers see the sources or the
        result, never both, never neither).  False (nothing changes) when ``segment`` itself was
        replaced by a compaction result already served here."""
        with self._lock:
            if segment.segment_id in self._compacted:
                return False
            for source in replaces:
                replaced = self._sealed.pop(source, None)
                if replaced is not None:
                    self._replaced[source] = replaced
                self._compacted.add(source)
                self._excluded.add(source)
                self._growing.pop(source, None)
                self._remote.pop(source, None)  # a source the view reads elsewhere: not beside its result
            if self._schema is not None:
                segment.upgrade(self._schema)  # read before a field was added here
            self._sealed[segment.segment_id] = segment
            self._excluded.add(segment.segment_id)
            self._growing.pop(segment.segment_id, None)
        return True

    def sync_view(self, view: Iterable[Location], node_id: int, dropped: Iterable[int] = ()) -> None:
        """The leader view (``node_id``: this node): segments of other nodes are read there
        from now on, their growing copies go, and so do compaction sources of the view's
        segments and the ``dropped`` ones (no longer in the target)."""
        view = tuple(view)
        remote = {loc.segment_id: loc for loc in view if loc.node_id != node_id}
        replaced = {s for loc in view for s in loc.compaction_from} | set(dropped)
        with self._lock:
            for segment_id in (*remote, *replaced):
                self._excluded.add(segment_id)
                self._growing.pop(segment_id, None)
            for segment_id in replaced | self._compacted:  # replaced by a compaction result served here
                remote.pop(segment_id, None)
            self._view = view
            self._version += 1
            self._remote = remote
            self._hidden = frozenset(remote) | frozenset(replaced)
            self._synced = True

    def deltas_read(self, segment_id: int) -> bool:
        """Whether the delta logs of ``segment_id`` (served on another node) were read here."""
        with self._lock:
            return segment_id in self._seen

    def mark_deltas_read(self, segment_id: int) -> None:
        with self._lock:
            self._seen.add(segment_id)

    def view(self) -> tuple[Location, ...]:
        with self._lock:
            return self._view

    @property
    def view_version(self) -> int:
        return self._version

    @property
    def watch_epoch(self) -> int:
        """Read it before checking that the channel is watched: ``read_set(epoch=...)`` then
        refuses a read the channel's unwatch (or drop) overtook."""
        return self._epoch

    @property
    def synced(self) -> bool:
        return self._synced

    def sealed(self, segment_id: int) -> SealedSegment | None:
        with self._lock:
            return self._sealed.get(segment_id)

    def has_sealed(self, segment_id: int) -> bool:
        with self._lock:
            return segment_id in self._sealed

    def release_sealed(self, segment_ids: Iterable[int]) -> list[int]:
        released = []
        with self._lock:
            for segment_id in segment_ids:
                if self._sealed.pop(segment_id, None) is not None or \
                        self._replaced.pop(segment_id, None) is not None:
                    released.append(segment_id)
        return released

    # ---- reads ---------------------------------------------------------------------------

    def segments(self, partitions: frozenset[int] | None = None) -> list[Segment]:
        """Every segment served now (of ``partitions`` when given): one consistent set."""
        return self.read_set(partitions)[0]

    def read_set(self, partitions: frozenset[int] | None = None, epoch: int | None = None
                 ) -> tuple[list[Segment], dict[int, list[int]]]:
        """``segments`` here and, in the same step, the view's segments on other nodes by node.
        ``epoch``: the ``watch_epoch`` of a leader's read; ChannelNotFound when the channel was
        unwatched (or dropped) since: its leader view is gone, the local segments alone would
        be a short answer."""
        with self._lock:
            if epoch is not None and epoch != self._epoch:
                raise ChannelNotFound(f"channel {self.channel} of collection {self.collection_id} is no "
                                      f"longer watched by this node")
            segments: list[Segment] = [*self._sealed.values(), *self._growing.values()]
            hidden, remote = self._hidden, list(self._remote.values())
        if hidden:
            segments = [s for s in segments if s.segment_id not in hidden]
        if partitions is not None:
            segments = [s for s in segments if s.partition_id in partitions]
        by_node: dict[int, list[int]] = {}
        for loc in remote:
            if partitions is None or loc.partition_id in partitions:
                by_node.setdefault(loc.node_id, []).append(loc.segment_id)
        return segments, by_node

    def address_of(self, node_id: int) -> str:
        with self._lock:
            return next((loc.address for loc in self._remote.values() if loc.node_id == node_id), "")

    def receive_deletes(self, source: str, start: int, end: int, data: bytes, pk_type: pa.DataType
                        ) -> DeleteSnapshot:
        """The deletes of a leader's log ``source`` held here, extended by ``data`` (its
        positions [start, end), ``DeleteSnapshot.to_ipc``).  DeletesOutOfSync when this node
        holds fewer than ``start`` of them (restarted, or never sent the earlier ones): the
        leader sends them all again."""
        with self._received_lock:
            log = self._received.get(source)
            held = len(log) if log is not None else 0
            if start > held:
                raise DeletesOutOfSync(f"query node holds {held} deletes of {source} in {self.channel}, "
                                       f"not the {start} the request starts after")
            if log is None:
                log = self._received[source] = DeleteBuffer()
                while len(self._received) > _RECEIVED_LOGS:
                    self._received.popitem(last=False)
            if end > held:
                table = read_ipc_deletes(data, pk_type)
                if table is None or table.num_rows != end - start:
                    raise ParameterInvalid(f"deletes [{start}, {end}) of {source} came with "
                                           f"{0 if table is None else table.num_rows} rows")
                for batch in table.slice(held - start).to_batches():
                    log.append(batch)
            self._received.move_to_end(source)
            return log.snapshot()

    def sealed_many(self, segment_ids: Iterable[int]) -> tuple[list[SealedSegment], list[int]]:
        """The sealed segments served here among ``segment_ids``, and the ids not served."""
        found, missing = [], []
        with self._lock:
            for segment_id in segment_ids:
                segment = self._sealed.get(segment_id) or self._replaced.get(segment_id)
                if segment is None:
                    missing.append(segment_id)
                else:
                    found.append(segment)
        return found, missing

    def drop_growing(self) -> None:
        """The channel is no longer watched here: its growing rows go, sealed segments stay."""
        with self._lock:
            self._growing.clear()
            self._view, self._remote, self._hidden, self._synced = (), {}, frozenset(), False
            self._epoch += 1
            self.tsafe.close()
            self.tsafe = TSafe(0)  # a later watch starts again from its seek position

    def has_sealed_segments(self) -> bool:
        with self._lock:
            return bool(self._sealed or self._replaced)

    def refs(self) -> list[SegmentRef]:
        """Every segment held here (those the view reads elsewhere, and replaced ones, included)."""
        with self._lock:
            segments: list[Segment] = [*self._sealed.values(), *self._replaced.values(), *self._growing.values()]
        return [SegmentRef(s.segment_id, s.partition_id, s.num_rows, s.sealed,
                           tuple(sorted(i.build_id for i in getattr(s, "indexes", {}).values())))
                for s in segments]

    def close(self) -> None:
        with self._lock:
            self._epoch += 1
        self.tsafe.close()
