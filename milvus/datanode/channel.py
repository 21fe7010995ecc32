"""One vchannel's consumer thread: receive, buffer, write when due, checkpoint, acknowledge.

The thread owns its ``ChannelBuffer``; other threads only queue flush requests.  Writes run
on this thread, in order, so a buffer never changes while it is being written.  When a
write fails (storage or data coordinator unreachable) the thread stops consuming, waits
``retry_backoff`` and plans again: buffers are kept, nothing is skipped.

Acknowledgements (cumulative, as every backend's are): the newest message the checkpoint
has passed is acknowledged after each write and each checkpoint report, so a broker that
deletes acknowledged messages never loses one a replay still needs.  The consumer always
seeks to the checkpoint on start, so acknowledgements never decide where a replay begins.
The messages waiting for their acknowledgement are kept without their payloads: every
message of the pchannel waits while any buffer of this vchannel holds the checkpoint back
(up to ``max_buffer_age``), and the buffers already hold what a sync needs of them.
After writes of ``RELEASE_AFTER_BYTES`` or more, the freed heap memory goes back to the OS
(``release_free_memory``: a few ms; the resident size otherwise stays at the buffers' peak).

Tracing: an envelope that carries its writer's trace context is buffered under a
``datanode.BufferInsert``/``BufferDelete`` span (child of the proxy's); the write of a segment
runs under a ``datanode.Sync`` span, child of the first such buffer span and linked to the
others.  Envelopes without a trace context (tracing off) cost nothing extra.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from milvus import errors
from milvus._proto import datacoord_pb2, msgstream_pb2
from milvus.datanode.buffer import ChannelBuffer, Position, id_le
from milvus.datanode.params import DataNodeParams
from milvus.datanode.sync import Syncer, msg_position
from milvus.index.memory import release_free_memory
from milvus.mq.base import MQ, Consumer, Message
from milvus.util.tracing import NO_TRACING, Tracing, trace_headers

log = logging.getLogger(__name__)

VCHANNEL_PROPERTY = "vchannel"
# buffer spans a sync span links to, at most (per segment; the rest are not linked)
_MAX_TRACE_LINKS = 32
# after writes of at least this many buffered bytes, freed heap memory goes back to the OS
RELEASE_AFTER_BYTES = 8 * 1024 * 1024


def pchannel_of(vchannel: str) -> str:
    """``{pchannel}_{collection}v{shard}`` -> ``{pchannel}``."""
    head, sep, tail = vchannel.rpartition("_")
    if not sep or "v" not in tail:
        raise ValueError(f"not a virtual channel name: {vchannel!r}")
    return head


def _ack_handle(message: Message) -> Message:
    """``message`` less its payload: what ``Consumer.ack`` needs of it (its channel, its id and
    a backend's own fields), without pinning the payload until the checkpoint passes it."""
    if not message.payload:
        return message
    return dataclasses.replace(message, payload=b"")


class ChannelWorker:
    def __init__(
        self,
        mq: MQ,
        consumer: Consumer,
        buffer: ChannelBuffer,
        syncer: Syncer,
        datacoord: Any,
        params: DataNodeParams,
        node_id: int,
        clock: Callable[[], float],
        tracing: Tracing = NO_TRACING,
    ):
        self.vchannel = buffer.vchannel
        self._tracing = tracing
        # per segment (0: deletes), the headers of the traced buffer spans its next sync links to
        self._trace_links: dict[int, list[dict[str, str]]] = {}
        self._mq = mq
        self._consumer = consumer
        self._buffer = buffer
        self._syncer = syncer
        self._datacoord = datacoord
        self._params = params
        self._node_id = node_id
        self._clock = clock
        self._requests: queue.SimpleQueue[tuple[int, list[int]]] = queue.SimpleQueue()
        self._unacked: collections.deque[Message] = collections.deque()
        self._ackable: Message | None = None  # the newest message the checkpoint has passed
        self._stop = threading.Event()
        self._reported: Position | None = None
        self._last_report = clock()
        self._thread = threading.Thread(target=self._run, name=f"datanode-{node_id}-{self.vchannel}", daemon=True)

    # ---- control (any thread) -----------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def request_flush(self, flush_ts: int, segment_ids: list[int]) -> None:
        self._requests.put((flush_ts, segment_ids))

    def stop(self, drop: bool = False) -> None:
        """Stop consuming, keep nothing: unpersisted data is replayed from the checkpoint."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join()
        self._consumer.close()
        if drop:
            try:
                self._mq.unsubscribe(self._consumer.channel, self._consumer.subscription)
            except Exception:  # noqa: BLE001 - the subscription is only retention state
                log.warning("cannot drop subscription %s", self._consumer.subscription, exc_info=True)

    # ---- the consumer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._step():
                    self._stop.wait(self._params.retry_backoff)
            except Exception:  # noqa: BLE001 - the thread must outlive one bad step
                if self._stop.is_set():
                    return
                log.exception("data node channel %s: step failed", self.vchannel)
                self._stop.wait(self._params.retry_backoff)

    def _step(self) -> bool:
        """Receive one message and write what is due; False when a write failed (back off)."""
        while True:
            try:
                flush_ts, ids = self._requests.get_nowait()
            except queue.Empty:
                break
            self._buffer.request_flush(flush_ts, ids)
        if not self._sync():
            return False
        message = self._consumer.receive(timeout=self._params.poll_timeout)
        if message is not None:
            self._handle(message)
            if not self._sync():
                return False
        self._trim()
        self._maybe_report()
        return True

    def _handle(self, message: Message) -> None:
        self._unacked.append(_ack_handle(message))
        target = message.properties.get(VCHANNEL_PROPERTY)
        if target and target != self.vchannel:
            self._buffer.consume(message.id, None)
            return
        try:
            envelope = msgstream_pb2.Envelope.FromString(message.payload)
        except Exception:  # noqa: BLE001 - a foreign or corrupt message must not stop the channel
            log.error("data node channel %s: undecodable message %r skipped", self.vchannel, message.id)
            self._buffer.consume(message.id, None)
            return
        if envelope.trace_context:
            self._consume_traced(message, envelope)
        else:
            self._buffer.consume(message.id, envelope)

    def _consume_traced(self, message: Message, envelope: msgstream_pb2.Envelope) -> None:
        insert = envelope.kind == msgstream_pb2.INSERT
        with self._tracing.message_span("datanode.BufferInsert" if insert else "datanode.BufferDelete",
                                        envelope.trace_context):
            self._buffer.consume(message.id, envelope)
            headers = dict(trace_headers.get())
        if headers:
            links = self._trace_links.setdefault(envelope.insert.segment_id if insert else 0, [])
            if len(links) < _MAX_TRACE_LINKS:
                links.append(headers)

    def _run_sync(self, task: Any, checkpoint: Position) -> None:
        links = self._trace_links.get(task.segment_id) if self._trace_links else None
        if not links:
            self._syncer.run(task, checkpoint)
            return
        with self._tracing.message_span("datanode.Sync", links[0], links):
            self._syncer.run(task, checkpoint)

    def _sync(self) -> bool:
        plan = self._buffer.plan()
        if not plan.tasks and not plan.flush_upto:
            return True
        written = sum(task.table.nbytes for task in plan.tasks if task.table is not None)
        ok = self._write(plan)
        if ok and written >= RELEASE_AFTER_BYTES:
            del plan
            release_free_memory()  # the written buffers are garbage now
        return ok

    def _write(self, plan: Any) -> bool:
        for task in plan.tasks:
            checkpoint = self._buffer.checkpoint(excluding=[task.key])
            try:
                self._run_sync(task, checkpoint)
            except errors.SegmentNotFound:
                log.error("data node channel %s: segment %d is unknown to the data coordinator; "
                          "its %d buffered rows are dropped", self.vchannel, task.segment_id, task.rows)
                self._buffer.drop_segment(task.segment_id)
                self._trace_links.pop(task.segment_id, None)
                continue
            except Exception as exc:  # noqa: BLE001 - retried after a backoff, buffers kept
                log.warning("data node channel %s: sync of %s failed: %s", self.vchannel, task.key, exc)
                return False
            self._buffer.done(task)
            self._trace_links.pop(task.segment_id, None)
            self._reported = checkpoint
            self._trim()
            self._ack()
        if plan.flush_upto:
            # the checkpoint must show the flush even when nothing needed writing
            if not self._report(force=True):
                return False
            self._buffer.finish_flush(plan.flush_upto)
        return True

    def _maybe_report(self) -> None:
        if self._clock() - self._last_report >= self._params.checkpoint_interval:
            self._report()
            self._report_time_tick()

    def _report_time_tick(self) -> None:
        """The newest time tick consumed (flow control: proxies refuse writes while it lags)."""
        request = datacoord_pb2.ReportTimeTicksRequest(
            time_ticks=[datacoord_pb2.ChannelTimeTick(channel_name=self.vchannel, timestamp=self._buffer.tsafe)])
        request.base.sourceID = self._node_id
        try:
            errors.check_status(self._datacoord.ReportTimeTicks(request))
        except Exception as exc:  # noqa: BLE001 - reported again at the next interval
            log.debug("data node channel %s: time tick report failed: %s", self.vchannel, exc)

    def _report(self, force: bool = False) -> bool:
        checkpoint = self._buffer.checkpoint()
        self._last_report = self._clock()
        if not force and checkpoint == self._reported:
            return True
        request = datacoord_pb2.UpdateChannelCheckpointRequest(
            channel_checkpoints=[msg_position(self.vchannel, checkpoint)])
        request.base.sourceID = self._node_id
        try:
            errors.check_status(self._datacoord.UpdateChannelCheckpoint(request))
        except Exception as exc:  # noqa: BLE001 - reported again later
            log.warning("data node channel %s: checkpoint report failed: %s", self.vchannel, exc)
            return False
        self._reported = checkpoint
        self._trim()
        self._ack()
        return True

    def _trim(self) -> None:
        """Let go of the messages the checkpoint has passed, keeping the newest to acknowledge."""
        upto = self._buffer.checkpoint().msg_id
        if upto is None:
            return
        while self._unacked and id_le(self._unacked[0].id, upto):
            self._ackable = self._unacked.popleft()

    def _ack(self) -> None:
        message, self._ackable = self._ackable, None
        if message is None:
            return
        try:
            self._consumer.ack(message)
        except Exception as exc:  # noqa: BLE001 - retention only; the next ack covers it
            log.warning("data node channel %s: ack failed: %s", self.vchannel, exc)
