"""Which data node consumes which vchannel, persisted so that a restart re-asks the same nodes.

Policy: a new channel goes to the registered data node with the fewest channels (ties to
the lowest node id).  Channels wait unassigned (node 0) while no data node is registered;
a node that joins takes them, and channels move to it from the busiest nodes until no node
has two more than another (``rebalance``: the data coordinator records the new owner first,
so the old one can no longer save binlogs or checkpoints, has it unwatch without flushing,
and the new one replays from the checkpoint: every row after it is still in the MQ).  When
a node leaves, its channels move to the others, which replay them from the checkpoint.  Not thread-safe: the data coordinator calls it under its
lock and makes the calls to the nodes after releasing it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from milvus._proto import datacoord_pb2, internal_pb2
from milvus.metastore.datacoord_catalog import DataCoordCatalog
from milvus.util.expected import ExpectedNodes

UNASSIGNED = 0


def _copy(watch: datacoord_pb2.ChannelWatchInfo) -> datacoord_pb2.ChannelWatchInfo:
    out = datacoord_pb2.ChannelWatchInfo()
    out.CopyFrom(watch)
    return out


class ChannelManager:
    def __init__(self, catalog: DataCoordCatalog, clock: Callable[[], float] = time.monotonic):
        self._catalog = catalog
        self._watches: dict[str, datacoord_pb2.ChannelWatchInfo] = {}
        self._nodes: dict[int, Any] = {}  # node id -> DataNode client
        # live data nodes not registered yet (a coordinator that just took over): their channels stay theirs
        self._expected = ExpectedNodes(clock)

    def recover(self) -> None:
        self._watches = {w.vchannel: w for w in self._catalog.list_watches()}

    # ---- nodes --------------------------------------------------------------------------

    @property
    def node_ids(self) -> list[int]:
        return sorted(self._nodes)

    def client(self, node_id: int) -> Any | None:
        return self._nodes.get(node_id)

    def add_node(self, node_id: int, client: Any) -> list[datacoord_pb2.ChannelWatchInfo]:
        """Register a data node; returns the channels it was given (unassigned ones)."""
        if node_id == UNASSIGNED:
            raise ValueError("data node id 0 is reserved")
        self._nodes[node_id] = client
        self._expected.arrived(node_id)
        return self.assign_orphans()

    def expect(self, node_ids: Iterable[int], grace: float) -> None:
        """These data nodes are live but not registered yet: their channels are not orphans
        for ``grace`` seconds (given to the first node that registers, they would move, and
        move back, for nothing)."""
        self._expected.expect(node_ids, self._nodes, grace)

    def give_up_overdue(self) -> tuple[frozenset[int], list[datacoord_pb2.ChannelWatchInfo]]:
        """The expected nodes that did not register within the grace period, and their
        channels, given to the registered nodes (nothing before the period is over)."""
        late = self._expected.overdue()
        return late, (self.assign_orphans() if late else [])

    def assign_orphans(self) -> list[datacoord_pb2.ChannelWatchInfo]:
        """Give the channels of no registered (or expected) node to the registered ones;
        returns those moved."""
        if not self._nodes:
            return []
        return self._assign([w for w in self._watches.values()
                             if w.node_id not in self._nodes and w.node_id not in self._expected])

    def rebalance(self) -> list[tuple[int, datacoord_pb2.ChannelWatchInfo]]:
        """Move channels from the nodes with the most to those with the fewest until the
        counts differ by at most one; returns (old node, new watch) per moved channel."""
        if len(self._nodes) < 2:
            return []
        owned: dict[int, list[str]] = {n: [] for n in self._nodes}
        for w in self._watches.values():
            if w.node_id in owned:
                owned[w.node_id].append(w.vchannel)
        moves: list[tuple[int, datacoord_pb2.ChannelWatchInfo]] = []
        while True:
            high = max(owned, key=lambda n: (len(owned[n]), -n))
            low = min(owned, key=lambda n: (len(owned[n]), n))
            if len(owned[high]) - len(owned[low]) <= 1:
                break
            vchannel = max(owned[high])
            owned[high].remove(vchannel)
            owned[low].append(vchannel)
            new = _copy(self._watches[vchannel])
            new.node_id = low
            moves.append((high, new))
        self._catalog.save_watches([new for _, new in moves])
        for _, new in moves:
            self._watches[new.vchannel] = new
        return moves

    def remove_node(self, node_id: int) -> list[datacoord_pb2.ChannelWatchInfo]:
        """Forget a data node; returns its channels with their new nodes (maybe unassigned)."""
        self._nodes.pop(node_id, None)
        self._expected.arrived(node_id)
        return self._assign([w for w in self._watches.values() if w.node_id == node_id])

    def _pick(self, load: dict[int, int]) -> int:
        if not self._nodes:
            return UNASSIGNED
        return min(self._nodes, key=lambda n: (load.get(n, 0), n))

    def _assign(self, watches: Iterable[datacoord_pb2.ChannelWatchInfo]) -> list[datacoord_pb2.ChannelWatchInfo]:
        load: dict[int, int] = {}
        for w in self._watches.values():
            load[w.node_id] = load.get(w.node_id, 0) + 1
        changed = []
        for watch in sorted(watches, key=lambda w: w.vchannel):
            new = _copy(watch)
            load[watch.node_id] = load.get(watch.node_id, 0) - 1
            new.node_id = self._pick(load)
            load[new.node_id] = load.get(new.node_id, 0) + 1
            changed.append(new)
        self._catalog.save_watches(changed)
        for new in changed:
            self._watches[new.vchannel] = new
        return [w for w in changed if w.node_id != UNASSIGNED]

    # ---- channels -----------------------------------------------------------------------

    def watch(
        self, collection_id: int, vchannels: Sequence[str], schema: bytes, db_id: int = 0,
        start_positions: Sequence[internal_pb2.MsgPosition] = (),
    ) -> list[datacoord_pb2.ChannelWatchInfo]:
        """Record new channels and assign them; returns the assigned ones (known ones are kept)."""
        new = []
        for i, vchannel in enumerate(vchannels):
            current = self._watches.get(vchannel)
            if current is not None:
                if current.collectionID != collection_id:
                    raise ValueError(f"channel {vchannel} belongs to collection {current.collectionID}")
                continue
            watch = datacoord_pb2.ChannelWatchInfo(
                vchannel=vchannel, collectionID=collection_id, dbID=db_id, schema=schema, node_id=UNASSIGNED,
            )
            if i < len(start_positions):
                watch.start_position.CopyFrom(start_positions[i])
            new.append(watch)
        self._catalog.save_watches(new)
        for watch in new:
            self._watches[watch.vchannel] = watch
        return self._assign(new)

    def get(self, vchannel: str) -> datacoord_pb2.ChannelWatchInfo | None:
        return self._watches.get(vchannel)

    def all(self) -> list[datacoord_pb2.ChannelWatchInfo]:
        return sorted(self._watches.values(), key=lambda w: w.vchannel)

    def of_collection(self, collection_id: int) -> list[datacoord_pb2.ChannelWatchInfo]:
        return [w for w in self.all() if w.collectionID == collection_id]

    def drop(self, vchannels: Iterable[str]) -> list[datacoord_pb2.ChannelWatchInfo]:
        """Forget channels (watch records and checkpoints); returns what they were."""
        gone = [self._watches[v] for v in vchannels if v in self._watches]
        self._catalog.drop_channels(w.vchannel for w in gone)
        for watch in gone:
            del self._watches[watch.vchannel]
        return gone
