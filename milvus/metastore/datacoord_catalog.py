"""The data coordinator's catalog: segments, channel checkpoints, channel watches and the
collections and partitions it was told were dropped.

The only code that knows where they live in the meta store.  Keys, under the KV it is given
(already rooted at the cluster's meta prefix)::

    datacoord-meta/segment/{collection}/{partition}/{segment}   SegmentInfo
    datacoord-meta/channel-checkpoint/{vchannel}                MsgPosition
    datacoord-meta/channel-watch/{vchannel}                     ChannelWatchInfo
    datacoord-meta/dropped-collection/{collection}              empty (a marker, kept for good)
    datacoord-meta/dropped-partition/{collection}/{partition}   empty (a marker, kept for good)

``save_binlog_paths`` writes a segment and its channel's checkpoint in one transaction, so
a restart never sees a checkpoint past rows whose binlogs are not recorded.  Batches of
segment writes are split into transactions of at most ``MAX_TXN_OPS`` operations (etcd's
default limit is 128); each such batch is idempotent, so a crash between two batches leaves
a state the next attempt completes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from milvus._proto import datacoord_pb2, internal_pb2
from milvus.kv.base import KV, Delete, Op, Put

ROOT = "datacoord-meta/"
_SEGMENT = ROOT + "segment/"
_CHECKPOINT = ROOT + "channel-checkpoint/"
_WATCH = ROOT + "channel-watch/"
_DROPPED = ROOT + "dropped-collection/"
_DROPPED_PARTITION = ROOT + "dropped-partition/"

MAX_TXN_OPS = 64


def segment_key(collection_id: int, partition_id: int, segment_id: int) -> str:
    return f"{_SEGMENT}{collection_id}/{partition_id}/{segment_id}"


def checkpoint_key(vchannel: str) -> str:
    return f"{_CHECKPOINT}{vchannel}"


def watch_key(vchannel: str) -> str:
    return f"{_WATCH}{vchannel}"


def dropped_collection_key(collection_id: int) -> str:
    return f"{_DROPPED}{collection_id}"


def dropped_partition_key(collection_id: int, partition_id: int) -> str:
    return f"{_DROPPED_PARTITION}{collection_id}/{partition_id}"


def _encode(message) -> bytes:
    return message.SerializeToString(deterministic=True)


def _segment_put(segment: datacoord_pb2.SegmentInfo) -> Put:
    return Put(segment_key(segment.collection_id, segment.partition_id, segment.id), _encode(segment))


class DataCoordCatalog:
    """Typed reads and atomic writes of the data coordinator's metadata."""

    def __init__(self, kv: KV):
        self._kv = kv

    def _commit(self, ops: Sequence[Op]) -> None:
        for start in range(0, len(ops), MAX_TXN_OPS):
            self._kv.txn([], list(ops[start:start + MAX_TXN_OPS]))

    # ---- segments ---------------------------------------------------------------------

    def save_segments(self, segments: Iterable[datacoord_pb2.SegmentInfo]) -> None:
        self._commit([_segment_put(s) for s in segments])

    def save_binlog_paths(
        self, segment: datacoord_pb2.SegmentInfo, checkpoint: internal_pb2.MsgPosition | None
    ) -> None:
        """The segment and (when given) its channel's checkpoint, in one transaction."""
        ops: list[Op] = [_segment_put(segment)]
        if checkpoint is not None:
            ops.append(Put(checkpoint_key(checkpoint.channel_name), _encode(checkpoint)))
        self._kv.txn([], ops)

    def save_segments_atomically(self, segments: Iterable[datacoord_pb2.SegmentInfo]) -> None:
        """Several segments in one transaction (a compaction's results and its dropped sources)."""
        self._kv.txn([], [_segment_put(s) for s in segments])

    def drop_segments(self, segments: Iterable[datacoord_pb2.SegmentInfo]) -> None:
        """Forget segments for good (after their files were collected)."""
        self._commit([Delete(segment_key(s.collection_id, s.partition_id, s.id)) for s in segments])

    def list_segments(self) -> list[datacoord_pb2.SegmentInfo]:
        return [datacoord_pb2.SegmentInfo.FromString(kv.value) for kv in self._kv.range(_SEGMENT)]

    # ---- channel checkpoints ------------------------------------------------------------

    def save_checkpoints(self, checkpoints: Iterable[internal_pb2.MsgPosition]) -> None:
        self._commit([Put(checkpoint_key(cp.channel_name), _encode(cp)) for cp in checkpoints])

    def list_checkpoints(self) -> dict[str, internal_pb2.MsgPosition]:
        out = {}
        for kv in self._kv.range(_CHECKPOINT):
            out[kv.key[len(_CHECKPOINT):]] = internal_pb2.MsgPosition.FromString(kv.value)
        return out

    # ---- channel watches ----------------------------------------------------------------

    def save_watches(self, watches: Iterable[datacoord_pb2.ChannelWatchInfo]) -> None:
        self._commit([Put(watch_key(w.vchannel), _encode(w)) for w in watches])

    def list_watches(self) -> list[datacoord_pb2.ChannelWatchInfo]:
        return [datacoord_pb2.ChannelWatchInfo.FromString(kv.value) for kv in self._kv.range(_WATCH)]

    def drop_channels(self, vchannels: Iterable[str]) -> None:
        """Forget channels: their watch records and checkpoints."""
        ops: list[Op] = []
        for vchannel in vchannels:
            ops += [Delete(watch_key(vchannel)), Delete(checkpoint_key(vchannel))]
        self._commit(ops)

    # ---- dropped collections ------------------------------------------------------------

    def mark_collection_dropped(self, collection_id: int) -> None:
        """Remember for good that the collection was dropped (ids are never reused)."""
        self._kv.put(dropped_collection_key(collection_id), b"")

    def list_dropped_collections(self) -> set[int]:
        return {int(kv.key[len(_DROPPED):]) for kv in self._kv.range(_DROPPED)}

    def mark_partition_dropped(self, collection_id: int, partition_id: int) -> None:
        """Remember for good that the partition was dropped (ids are never reused)."""
        self._kv.put(dropped_partition_key(collection_id, partition_id), b"")

    def list_dropped_partitions(self) -> set[tuple[int, int]]:
        """(collection, partition) of every dropped partition."""
        out = set()
        for kv in self._kv.range(_DROPPED_PARTITION):
            collection, partition = kv.key[len(_DROPPED_PARTITION):].split("/")
            out.add((int(collection), int(partition)))
        return out
