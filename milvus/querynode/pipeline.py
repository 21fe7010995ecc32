"""The channel consumer of a watched vchannel: envelopes from the pchannel into the shard.

It consumes the pchannel from the watch's seek position (the message after it), keeps the
envelopes of its vchannel (inserts into growing segments, deletes into the delete buffer)
and advances the shard's tsafe with the merged time ticks only (``safe_ts``): several proxies
write one pchannel, so a DML envelope at T says nothing about another proxy's older writes
still in flight; the root coordinator's merged tick at T says every write <= T arrived
(docs/datapath.md "Time ticks").  A malformed message is logged and skipped; it never stops
the consumer.

An envelope carrying its writer's trace context is applied under a ``querynode.ApplyInsert``
/ ``ApplyDelete`` span, child of the proxy's span; without one (tracing off) nothing is added.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from milvus._proto import internal_pb2, msgstream_pb2
from milvus.mq.base import MQ, Consumer, MessageID, MQError, Position
from milvus.querynode.deletes import ALL_PARTITIONS
from milvus.querynode.shard import Shard
from milvus.schema import CollectionSchemaModel, ids_to_arrow, ipc_to_batch
from milvus.util.tracing import NO_TRACING, Tracing

log = logging.getLogger(__name__)

_RECEIVE_TIMEOUT = 0.1


def physical_channel(vchannel: str) -> str:
    """``{prefix}-rootcoord-dml_{k}_{collection}v{i}`` -> ``{prefix}-rootcoord-dml_{k}``."""
    head, sep, _ = vchannel.rpartition("_")
    return head if sep else vchannel


def safe_ts(envelope: msgstream_pb2.Envelope) -> int:
    """What an envelope proves arrived: everything up to a (merged) time tick's timestamp;
    nothing for a DML envelope (0), whose writer is only one of the pchannel's proxies."""
    if envelope.kind == msgstream_pb2.TIME_TICK:
        return envelope.end_ts
    return 0


class ChannelConsumer:
    """A thread feeding ``shard`` from its channel until ``stop``."""

    def __init__(self, mq: MQ, shard: Shard, schema: CollectionSchemaModel, subscription: str,
                 position: internal_pb2.MsgPosition | None,
                 segment_positions: dict[int, internal_pb2.MsgPosition] | None = None,
                 tracing: Tracing = NO_TRACING):
        """``segment_positions``: per segment, the last message whose rows of that segment are
        already served (loaded from its binlogs): its replayed rows up to there are skipped."""
        self._mq = mq
        self._tracing = tracing
        self._skip_until: dict[int, MessageID] = {
            seg: mq.id_from_bytes(pos.msg_id) for seg, pos in (segment_positions or {}).items() if pos.msg_id}
        self._shard = shard
        self._schema = schema
        self._pk_type = schema.primary_field.arrow_type
        self._subscription = subscription
        self._position = position
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Consumer | None = None
        self.pchannel = physical_channel(shard.channel)
        self.consumed = 0

    def start(self) -> None:
        consumer = self._mq.subscribe(self.pchannel, self._subscription, Position.EARLIEST)
        try:
            if self._position is not None and self._position.msg_id:
                consumer.seek(self._mq.id_from_bytes(self._position.msg_id))
            else:
                consumer.seek(Position.EARLIEST)
        except Exception:
            consumer.close()
            raise
        self._consumer = consumer
        self._thread = threading.Thread(target=self._run, name=f"qn-consume-{self._shard.channel}", daemon=True)
        self._thread.start()

    def stop(self, unsubscribe: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close()
            if unsubscribe:
                try:
                    self._mq.unsubscribe(self.pchannel, self._subscription)
                except MQError as exc:
                    log.warning("unsubscribe %s from %s: %s", self._subscription, self.pchannel, exc)

    def _run(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self._stop.is_set():
            try:
                message = consumer.receive(timeout=_RECEIVE_TIMEOUT)
            except MQError as exc:
                if not self._stop.is_set():
                    log.error("consuming %s for %s stopped: %s", self.pchannel, self._shard.channel, exc)
                return
            if message is None:
                continue
            vchannel = message.properties.get("vchannel", "")
            try:
                self.apply(message.payload, vchannel, message.id)
            except Exception:  # noqa: BLE001 - one bad message must not stop the channel
                log.exception("skipping a malformed message on %s", self.pchannel)
            self.consumed += 1

    def apply(self, payload: bytes, vchannel: str, msg_id: MessageID | None = None) -> None:
        """Apply one channel message (a serialized Envelope) to the shard."""
        envelope = msgstream_pb2.Envelope.FromString(payload)
        mine = vchannel == self._shard.channel or (not vchannel and envelope.kind != msgstream_pb2.TIME_TICK
                                                     and self._body_channel(envelope) == self._shard.channel)
        if mine:
            if envelope.trace_context:
                self._apply_traced(envelope, msg_id)
            elif envelope.kind == msgstream_pb2.INSERT:
                self._insert(envelope.insert, msg_id)
            elif envelope.kind == msgstream_pb2.DELETE:
                self._delete(envelope.delete)
        self._shard.tsafe.advance(safe_ts(envelope))

    def _apply_traced(self, envelope: msgstream_pb2.Envelope, msg_id: MessageID | None) -> None:
        if envelope.kind == msgstream_pb2.INSERT:
            with self._tracing.message_span("querynode.ApplyInsert", envelope.trace_context):
                self._insert(envelope.insert, msg_id)
        elif envelope.kind == msgstream_pb2.DELETE:
            with self._tracing.message_span("querynode.ApplyDelete", envelope.trace_context):
                self._delete(envelope.delete)

    @staticmethod
    def _body_channel(envelope: msgstream_pb2.Envelope) -> str:
        if envelope.kind == msgstream_pb2.INSERT:
            return envelope.insert.vchannel
        if envelope.kind == msgstream_pb2.DELETE:
            return envelope.delete.vchannel
        return ""

    def _insert(self, msg: msgstream_pb2.InsertMsg, msg_id: MessageID | None) -> None:
        if msg.collection_id != self._shard.collection_id:
            return
        skip_until = self._skip_until.get(msg.segment_id)
        if skip_until is not None and msg_id is not None and msg_id <= skip_until:
            return
        batch = ipc_to_batch(msg.arrow_batch)
        self._shard.insert(msg.segment_id, msg.partition_id, batch)

    def _delete(self, msg: msgstream_pb2.DeleteMsg) -> None:
        if msg.collection_id != self._shard.collection_id:
            return
        pks = ids_to_arrow(msg.primary_keys)
        if pks.type != self._pk_type:
            pks = pks.cast(self._pk_type)
        ts = np.asarray(msg.timestamps, dtype=np.uint64)
        if len(ts) == 1 and len(pks) > 1:
            ts = np.full(len(pks), ts[0], dtype=np.uint64)
        partition = msg.partition_id if msg.partition_id > 0 else ALL_PARTITIONS
        self._shard.delete(pks, ts, partition)
