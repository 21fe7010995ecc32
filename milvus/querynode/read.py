"""The first half of every read: pick the read timestamp, then, per segment, the rows a
request may see (MVCC visibility at T, the filter, the primary keys asked for)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus._proto import querynode_pb2
from milvus.errors import ChannelNotFound, ParameterInvalid, SegmentNotFound, ServiceUnavailable
from milvus.querynode.collection import CollectionState
from milvus.querynode.deletes import DeleteSnapshot
from milvus.querynode.filters import FilterCompiler, compile_filter, evaluate
from milvus.querynode.indexes import filter_indexes
from milvus.querynode.segments import SegmentView
from milvus.querynode.shard import Shard
from milvus.schema import TIMESTAMP_FIELD, CollectionSchemaModel, ids_to_arrow


@dataclass
class SegmentRows:
    view: SegmentView
    mask: np.ndarray  # rows the request may see (read-only when shared: ``every_row``)
    visible: int | None = None  # how many rows ``mask`` keeps, when known


def every_row(view: SegmentView) -> np.ndarray:
    """An all-True mask over the view's rows, built once per segment and shared (read-only)."""
    def ones(n: int) -> np.ndarray:
        mask = np.ones(n, dtype=bool)
        mask.flags.writeable = False
        return mask
    return view.derived("every_row", lambda t: ones(t.num_rows), lambda a, b: ones(len(a) + len(b)))


def _min_ts(view: SegmentView) -> int:
    """The oldest row timestamp of the view (cached on the segment)."""
    def build(t: pa.Table) -> int:
        oldest = pc.min(t.column(TIMESTAMP_FIELD)).as_py() if t.num_rows else None
        return int(oldest if oldest is not None else 0)
    return view.derived("min_ts", build, min)


def _max_ts(view: SegmentView) -> int:
    """The newest row timestamp of the view (cached on the segment)."""
    def build(t: pa.Table) -> int:
        newest = pc.max(t.column(TIMESTAMP_FIELD)).as_py() if t.num_rows else None
        return int(newest or 0)
    return view.derived("max_ts", build, max)


@dataclass(frozen=True)
class RemoteRead:
    """Sealed segments of one channel the leader view has on another node: read there."""

    channel: str
    node_id: int
    address: str
    segment_ids: tuple[int, ...]
    deletes: DeleteSnapshot  # the leader's deletes of the channel (the worker gets those it lacks)
    view_version: int


@dataclass
class ReadSet:
    read_ts: int
    schema: CollectionSchemaModel
    segments: list[SegmentRows]
    remote: list[RemoteRead] = field(default_factory=list)
    deletes_held: int = 0  # a leader's request: how many of its deletes this node holds now
    # every local segment's rows the read covers whatever its filter (truncated ones left out):
    # the collection statistics a BM25 search weighs terms by
    views: list[SegmentView] = field(default_factory=list)


class FilterCache:
    """A ``FilterCompiler`` that remembers the last ``capacity`` filters compiled without
    template values (a row filter is a pure function of the rows: reusable by every read).
    An entry is only reused for the very schema object it was compiled for."""

    def __init__(self, compiler: FilterCompiler, capacity: int = 256):
        self._compiler = compiler
        self._capacity = capacity
        self._items: OrderedDict[tuple[int, str], tuple[CollectionSchemaModel, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, schema: CollectionSchemaModel, expr: str, template_values: Mapping[str, Any]) -> Any:
        if template_values:
            return self._compiler(schema, expr, template_values)
        key = (id(schema), expr)
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0] is schema:
                self._items.move_to_end(key)
                return item[1]
        compiled = self._compiler(schema, expr, template_values)
        with self._lock:
            self._items[key] = (schema, compiled)
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return compiled


def leading_shards(state: CollectionState, channels: list[str]) -> list[tuple[str, Shard, int]]:
    """Each channel's shard with its ``watch_epoch``, read before the channel is found watched:
    an unwatch after this check changes the epoch, so the read's ``Shard.read_set`` refuses it."""
    out = []
    for channel in channels:
        shard = state.shard(channel)
        if shard is None:
            raise ChannelNotFound(f"channel {channel} of collection {state.collection_id} is not served by this node")
        epoch = shard.watch_epoch
        if not state.is_watched(channel) or state.shard(channel) is not shard:
            raise ChannelNotFound(f"channel {channel} of collection {state.collection_id} is not served by this node")
        if not shard.synced:
            # watched, its first leader view not given yet: its segments here alone could be a
            # short answer (a proxy routed here from leaders it knew before); another replica answers
            raise ChannelNotFound(f"channel {channel} of collection {state.collection_id} is not serviceable on "
                                  f"this node yet: its leader view is not synced")
        out.append((channel, shard, epoch))
    return out


def read_timestamp(state: CollectionState, shards: Sequence[tuple[str, Shard, int]], guarantee_ts: int,
                   travel_ts: int, timeout: float) -> int:
    """Wait until the tsafe of every channel of ``shards`` (``leading_shards``) reached the
    request's timestamps; return T."""
    wait_for = max(guarantee_ts, travel_ts)
    tsafes = []
    for channel, shard, epoch in shards:
        tsafe = shard.tsafe  # an unwatch closes it (and puts a new one in place) after changing the epoch
        if shard.watch_epoch != epoch or not tsafe.wait(wait_for, timeout):
            if shard.watch_epoch != epoch:
                raise ChannelNotFound(f"channel {channel} of collection {state.collection_id} is no longer "
                                      f"watched by this node")
            raise ServiceUnavailable(
                f"channel {channel} is not serviceable: tsafe {tsafe.get()} did not reach "
                f"{wait_for} within {timeout:g}s")
        tsafes.append(tsafe.get())
    if travel_ts:
        return travel_ts
    return min(tsafes) if tsafes else wait_for


def _wanted_pks(req: querynode_pb2.ShardRequest, schema: CollectionSchemaModel) -> pa.Array | None:
    if not req.HasField("primary_keys"):
        return None
    wanted = ids_to_arrow(req.primary_keys)
    if wanted.type != schema.primary_field.arrow_type:
        wanted = wanted.cast(schema.primary_field.arrow_type)
    return wanted


def prepare_read(state: CollectionState, req: querynode_pb2.ShardRequest, compiler: FilterCompiler | None,
                 timeout: float) -> ReadSet:
    """What a read sees of the channels this node leads: its own segments' rows, and the
    segments the leader view has on other nodes (``ReadSet.remote``, read there)."""
    schema = state.schema
    channels = list(req.channels) or sorted(state.shards())
    row_filter = compile_filter(compiler, schema, req.expr, req.expr_template_values)
    partitions = state.read_partitions(list(req.partitionIDs))
    shards = leading_shards(state, channels)
    read_ts = read_timestamp(state, shards, req.guarantee_ts, req.travel_ts, timeout)
    wanted_pks = _wanted_pks(req, schema)
    out: list[SegmentRows] = []
    remote: list[RemoteRead] = []
    views: list[SegmentView] = []
    for channel, shard, epoch in shards:
        deletes = shard.deletes.snapshot()
        version = shard.view_version
        # one step: the segments here and where the view reads the others, refused when the
        # channel was unwatched since it was found watched (its view gone: the local segments alone)
        segments, elsewhere = shard.read_set(partitions, epoch)
        remote += [RemoteRead(channel, node, shard.address_of(node), tuple(sorted(ids)), deletes, version)
                   for node, ids in sorted(elsewhere.items())]
        out += _visible_rows(schema, segments, (deletes,), read_ts, wanted_pks, row_filter, req.truncated_ts, views)
    return ReadSet(read_ts, schema, out, remote, views=views)


def prepare_segments_read(state: CollectionState, req: querynode_pb2.ShardRequest,
                          compiler: FilterCompiler | None) -> ReadSet:
    """A leader's request to this node as a worker: exactly ``req.segment_ids`` of the one
    channel, at ``travel_ts``, with their own deletes and the leader's: those this node holds
    from earlier requests and the newer ones in ``req.deletes`` (``Shard.receive_deletes``)."""
    schema = state.schema
    if len(req.channels) != 1:
        raise ParameterInvalid("a read of given segments names exactly one channel")
    channel = req.channels[0]
    shard = state.shard(channel)
    if shard is None:
        raise SegmentNotFound(f"segments {list(req.segment_ids)} of {channel} are not served by this node")
    segments, missing = shard.sealed_many(req.segment_ids)
    if missing:
        raise SegmentNotFound(f"segments {missing} of {channel} are not served by this node")
    row_filter = compile_filter(compiler, schema, req.expr, req.expr_template_values)
    deletes = [shard.deletes.snapshot()]
    held = 0
    if req.deletes and not req.deletes_source:
        raise ParameterInvalid("a leader's deletes came without their source (deletes_source)")
    if req.deletes_source:
        shipped = shard.receive_deletes(req.deletes_source, req.deletes_start, req.deletes_end, req.deletes,
                                        schema.primary_field.arrow_type)
        deletes.append(shipped)
        held = len(shipped)
    views: list[SegmentView] = []
    rows = _visible_rows(schema, segments, deletes, req.travel_ts, _wanted_pks(req, schema), row_filter,
                         req.truncated_ts, views)
    return ReadSet(req.travel_ts, schema, rows, deletes_held=held, views=views)


def _visible_rows(schema: CollectionSchemaModel, segments, deletes: Sequence[DeleteSnapshot], read_ts: int,
                  wanted_pks: pa.Array | None, row_filter: Any, truncated_ts: int = 0,
                  views: list[SegmentView] | None = None) -> list[SegmentRows]:
    """The rows of ``segments`` a read at ``read_ts`` sees: written by then, not deleted by
    then, and written after ``truncated_ts`` (the proxy sends it to every read but a time
    travel to before the truncation).  ``views`` gets the view of every segment left after
    the truncation, whether or not the filter keeps any of its rows."""
    pk_name = schema.primary_field.name
    cut = truncated_ts
    out: list[SegmentRows] = []
    for segment in segments:
        view = segment.view()
        if not view.num_rows or (cut and _max_ts(view) <= cut):
            continue  # no row, or every row truncated
        if views is not None:
            views.append(view)
        hidden = segment.deletes.hidden(view, pk_name, deletes)
        partial = bool(cut) and _min_ts(view) <= cut
        if (not partial and hidden.first > read_ts and wanted_pks is None and row_filter is None
                and _max_ts(view) <= read_ts):
            # every row visible (the usual search of a sealed segment): no per-row work
            out.append(SegmentRows(view, every_row(view), view.num_rows))
            continue
        mask = hidden.visible(view.ts(), read_ts, inserted=_max_ts(view) <= read_ts)
        if partial:
            mask &= view.ts() > np.uint64(cut)
        if wanted_pks is not None and mask.any():
            mask &= _pk_mask(view, pk_name, wanted_pks)
        if row_filter is not None and mask.any():
            mask &= _filter_mask(schema, view, row_filter)
        if mask.any():
            out.append(SegmentRows(view, mask))
    return out


def _sorted_keys(keys: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer keys in ascending order, with the row of each (None: the rows are in key order
    already, as the keys a client numbers in turn usually are; nothing is copied then)."""
    values = keys.to_numpy(zero_copy_only=False)
    if len(values) < 2 or bool(np.all(values[1:] >= values[:-1])):
        return values, None
    order = np.argsort(values, kind="stable").astype(np.int32 if len(values) < 2**31 else np.int64)
    return values[order], order


def _pk_mask(view: SegmentView, pk_name: str, wanted: pa.Array) -> np.ndarray:
    """The rows of the view whose primary key is one of ``wanted``.  A sealed segment with
    integer keys finds them by binary search in its keys sorted once (kept on the segment);
    otherwise every row's key is looked up in ``wanted``."""
    pks = view.pk(pk_name)
    if not view.sealed or not pa.types.is_integer(pks.type) or len(wanted) * 16 > len(pks):
        return pc.is_in(pks, value_set=wanted).to_numpy(zero_copy_only=False)
    keys, order = view.derived(("sorted_pks", pk_name), lambda t: _sorted_keys(view.pk(pk_name)))
    targets = wanted.to_numpy(zero_copy_only=False)
    lo, hi = np.searchsorted(keys, targets, "left"), np.searchsorted(keys, targets, "right")
    found = hi - lo
    if found.max(initial=0) <= 1:
        at = lo[found == 1]
    else:  # a key on several rows (a sealed segment may hold a key twice): every one of them
        counts = found[found > 0]
        first = np.repeat(lo[found > 0], counts)
        at = first + np.arange(len(first)) - np.repeat(np.cumsum(counts) - counts, counts)
    mask = np.zeros(len(pks), dtype=bool)
    mask[at if order is None else order[at]] = True
    return mask


def _filter_mask(schema: CollectionSchemaModel, view: SegmentView, row_filter: Any) -> np.ndarray:
    """The filter's mask over the view's rows; for a sealed segment (rows that never change)
    kept in the segment's ``filter_masks`` and shared (read-only)."""
    def build() -> np.ndarray:
        return evaluate(row_filter, view.table, filter_indexes(view, schema))
    key = getattr(row_filter, "cache_key", None)
    if key is None or not view.sealed:
        return build()
    return view.segment.filter_masks.get(key, view.table, build)


def output_table(schema: CollectionSchemaModel, names: list[str], hits: list[tuple[SegmentView, np.ndarray]],
                 order: np.ndarray | None = None) -> pa.Table:
    """The ``names`` columns of the rows ``hits`` lists (view, offsets), concatenated in that
    order, then permuted by ``order`` when given."""
    arrow_schema = pa.schema([schema.field(n).arrow_field for n in names])
    columns: list[list[pa.Array]] = [[] for _ in names]
    for view, offsets in hits:
        idx = pa.array(offsets, type=pa.int64())
        for i, name in enumerate(names):
            if name in view.table.column_names:
                col = view.table.column(name).take(idx)
                columns[i].extend(col.chunks)
            else:  # a segment written before the field existed
                columns[i].append(pa.nulls(len(offsets), arrow_schema.field(name).type))
    arrays = []
    for i, fld in enumerate(arrow_schema):
        chunks = [c.cast(fld.type) if c.type != fld.type else c for c in columns[i]]
        arrays.append(pa.concat_arrays(chunks) if chunks else pa.array([], type=fld.type))
    table = pa.Table.from_arrays(arrays, schema=arrow_schema)
    if order is not None:
        table = table.take(pa.array(order, type=pa.int64()))
    return table


def table_to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()
