"""The shard leader as delegator (segment-level distribution).

A leader reads its own segments of a channel and sends one request per other node that the
leader view names for the channel's other sealed segments (``SearchSegments`` /
``QuerySegments`` with ``ShardRequest.segment_ids``, at the leader's read timestamp, with the
leader's deletes of the channel the worker does not hold yet, ``deletes_start`` being where the
worker's last answer said it stood: reads that never call further, served on the worker's leaf
pool, so that two leaders reading each other's segments cannot hold each other's every
worker), then merges the
answers the way one node merges its segments: search hits best first, ties by primary key,
one hit per key, ``topk`` per query; query rows by primary key, the newest row of a key,
then ``[offset, offset + limit)``; counts added.

A worker that cannot answer (unreachable, or no longer serving a segment) fails the whole
read with a retriable error: a read is never answered with some segments missing.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus import errors
from milvus._proto import querynode_pb2
from milvus.querynode import distance
from milvus.querynode.read import ReadSet, RemoteRead
from milvus.schema import ids_to_arrow

log = logging.getLogger(__name__)

# answers of a worker that lost a segment the view still names (a move in flight)
STALE_CODES = frozenset({errors.SegmentNotFound.code, errors.CollectionNotLoaded.code})


@dataclass
class SearchPart:
    """Hits of one node: per query ``topks[i]`` entries, best first; fields row-aligned."""

    pks: pa.Array
    scores: np.ndarray  # float32, user-facing
    topks: np.ndarray  # int64
    table: pa.Table | None


@dataclass
class QueryPart:
    pks: pa.Array
    ts: np.ndarray  # uint64 insert timestamps
    table: pa.Table | None


class WorkerFailed(errors.ServiceUnavailable):
    """A worker did not answer for its segments; ``stale`` when it said it no longer serves them."""

    def __init__(self, message: str, stale: bool = False):
        super().__init__(message)
        self.stale = stale


def read_ipc(data: bytes) -> pa.Table | None:
    if not data:
        return None
    with pa.ipc.open_stream(data) as reader:
        return reader.read_all()


class _Held:
    """The last ``capacity`` (worker, source) -> deletes held answers (a forgotten one: the
    worker's next request starts at 0)."""

    def __init__(self, capacity: int = 1024):
        self._capacity = capacity
        self._items: OrderedDict[tuple[int, str], int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, str], default: int) -> int:
        with self._lock:
            return self._items.get(key, default)

    def set(self, key: tuple[int, str], held: int) -> None:
        with self._lock:
            self._items[key] = held
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


class Delegator:
    """Sends a leader's requests to workers: ``peer(node_id, address)`` gives a client of a
    query node; ``timeout`` bounds each call.  ``workers`` threads (started as needed) wait on
    the calls: as many as the gRPC server's pool runs leader calls (32), so a leader call in
    flight never queues its segment reads behind the other leader calls' reads."""

    def __init__(self, node_id: int, peer: Callable[[int, str], Any] | None, timeout: float, workers: int = 32):
        self._node_id = node_id
        self._peer = peer
        self._timeout = timeout
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._held = _Held()  # (worker, deletes source) -> how many of those deletes it holds

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=f"querynode-{self._node_id}-delegate")
        return self._pool

    def send(self, method: str, request: querynode_pb2.ShardRequest, read: ReadSet) -> list[Future]:
        """One call per remote part of ``read``, running while the leader reads its own segments."""
        return [self._executor().submit(self._call, method, request, part, read.read_ts) for part in read.remote]

    def _source(self, part: RemoteRead) -> str:
        return f"{self._node_id}/{part.channel}/{part.deletes.epoch}"

    @staticmethod
    def _request(request: querynode_pb2.ShardRequest, part: RemoteRead, read_ts: int, source: str,
                 start: int) -> querynode_pb2.ShardRequest:
        out = querynode_pb2.ShardRequest()
        out.CopyFrom(request)
        del out.partitionIDs[:]
        out.channels[:] = [part.channel]
        out.segment_ids[:] = part.segment_ids
        out.guarantee_ts = 0
        out.travel_ts = read_ts
        out.deletes_source = source
        out.deletes_start = start
        out.deletes_end = len(part.deletes)
        out.deletes = part.deletes.to_ipc(start)
        if request.limit > 0:  # the leader applies the offset to the merged rows
            out.limit = request.limit + max(request.offset, 0)
        out.offset = 0
        return out

    def _call(self, method: str, request: querynode_pb2.ShardRequest, part: RemoteRead, read_ts: int) -> Any:
        """Ask the worker, sending the deletes past those it said it holds; all of them once
        more when it no longer holds those (DeletesOutOfSync)."""
        where = f"query node {part.node_id} (segments {list(part.segment_ids)} of {part.channel})"
        if self._peer is None:
            raise WorkerFailed(f"{where}: this node has no client of other query nodes")
        source = self._source(part)
        start = min(self._held.get((part.node_id, source), 0), len(part.deletes))
        response = self._ask(method, self._request(request, part, read_ts, source, start), part, where)
        if response.status.code == errors.DeletesOutOfSync.code and start:
            log.info("querynode %d sends %s every delete of %s again: %s", self._node_id, where, source,
                     response.status.reason)
            response = self._ask(method, self._request(request, part, read_ts, source, 0), part, where)
        status = response.status
        if status.code != 0 or status.error_code != 0:
            raise WorkerFailed(f"{where} failed: {status.reason}", stale=status.code in STALE_CODES)
        self._held.set((part.node_id, source), response.deletes_held)
        return response

    def _ask(self, method: str, request: querynode_pb2.ShardRequest, part: RemoteRead, where: str) -> Any:
        try:
            return getattr(self._peer(part.node_id, part.address), method)(request, timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001 - any transport failure: the read is retried
            raise WorkerFailed(f"{where} did not answer: {exc}") from None

    @staticmethod
    def gather(futures: Sequence[Future]) -> list[Any]:
        """Every worker's answer; the first failure once all have finished."""
        answers, failure = [], None
        for future in futures:
            try:
                answers.append(future.result())
            except WorkerFailed as exc:
                failure = failure or exc
        if failure is not None:
            raise failure
        return answers


def search_part(response: querynode_pb2.ShardSearchResults, pk_type: pa.DataType) -> SearchPart:
    pks = ids_to_arrow(response.ids)
    return SearchPart(pks.cast(pk_type) if pks.type != pk_type else pks, np.asarray(response.scores, np.float32),
                      np.asarray(response.topks, np.int64), read_ipc(response.arrow_fields))


def query_part(response: querynode_pb2.ShardQueryResults, pk_type: pa.DataType) -> QueryPart:
    pks = ids_to_arrow(response.ids)
    return QueryPart(pks.cast(pk_type) if pks.type != pk_type else pks, np.asarray(response.timestamps, np.uint64),
                     read_ipc(response.arrow_fields))


def _codes(pks: pa.Array) -> np.ndarray:
    """Integers ordered like the keys (equal keys, equal codes)."""
    if pa.types.is_integer(pks.type) and not pks.null_count:
        return np.asarray(pks.to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.asarray(pc.rank(pks, sort_keys="ascending", tiebreaker="dense").to_numpy(), dtype=np.int64)


def _tables(parts: Sequence[SearchPart | QueryPart], names: list[str], rows: np.ndarray) -> pa.Table | None:
    if not names:
        return None
    present = [p.table for p in parts if p.table is not None and p.table.num_rows]
    if not present:
        first = next((p.table for p in parts if p.table is not None), None)
        return first.slice(0, 0) if first is not None else None
    table = pa.concat_tables(present, promote_options="permissive")
    return table.take(pa.array(rows, type=pa.int64()))


def merge_search(parts: Sequence[SearchPart], nq: int, topk: int, metric: str, names: list[str]) -> SearchPart:
    pks = pa.concat_arrays([p.pks for p in parts])
    codes = _codes(pks)
    keys = distance.rank_key(np.concatenate([p.scores for p in parts]).astype(np.float32, copy=False), metric)
    hit = distance.is_hit(keys)  # a part's score that is no hit (a NaN) is dropped, as on one node
    bases = np.cumsum([0] + [len(p.pks) for p in parts])
    starts = [np.concatenate([[0], np.cumsum(p.topks)]) if len(p.topks) else np.zeros(nq + 1, np.int64)
              for p in parts]
    chosen, topks = [], []
    for q in range(nq):
        rows = np.concatenate([np.arange(bases[i] + s[q], bases[i] + s[q + 1], dtype=np.int64)
                               for i, s in enumerate(starts)])
        rows = rows[hit[rows]]
        order = np.lexsort((codes[rows], keys[rows]))
        _, first = np.unique(codes[rows][order], return_index=True)  # each key's best hit
        picked = rows[order[np.sort(first)[:topk]]]
        chosen.append(picked)
        topks.append(len(picked))
    rows = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    return SearchPart(pks.take(pa.array(rows, type=pa.int64())),
                      np.concatenate([p.scores for p in parts])[rows].astype(np.float32, copy=False),
                      np.asarray(topks, np.int64), _tables(parts, names, rows))


def merge_query(parts: Sequence[QueryPart], limit: int, offset: int, names: list[str]) -> QueryPart:
    pks = pa.concat_arrays([p.pks for p in parts])
    ts = np.concatenate([p.ts for p in parts]).astype(np.uint64, copy=False)
    codes = _codes(pks)
    order = np.lexsort((-ts.astype(np.int64), codes))  # by key, the newest row first
    keep = np.ones(len(order), dtype=bool)
    keep[1:] = codes[order][1:] != codes[order][:-1]
    rows = order[keep]
    start = max(offset, 0)
    rows = rows[start:start + limit] if limit > 0 else rows[start:]
    return QueryPart(pks.take(pa.array(rows, type=pa.int64())), ts[rows], _tables(parts, names, rows))
