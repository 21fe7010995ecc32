"""The first half of every read: pick the read timestamp, then, per segment, the rows a
request may see (MVCC visibility at T, the filter, the primary keys asked for)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus._proto import querynode_pb2
from milvus.errors import ChannelNotFound, ServiceUnavailable
from milvus.querynode.collection import CollectionState
from milvus.querynode.deletes import visible_mask
from milvus.querynode.filters import FilterCompiler, compile_filter, evaluate
from milvus.querynode.indexes import filter_indexes
from milvus.querynode.segments import SegmentView
from milvus.schema import CollectionSchemaModel, ids_to_arrow


@dataclass
class SegmentRows:
    view: SegmentView
    mask: np.ndarray  # rows the request may see


@dataclass
class ReadSet:
    read_ts: int
    schema: CollectionSchemaModel
    segments: list[SegmentRows]


def read_timestamp(state: CollectionState, channels: list[str], guarantee_ts: int, travel_ts: int,
                   timeout: float) -> int:
    """Wait until every channel's tsafe reached the request's timestamps; return T."""
    wait_for = max(guarantee_ts, travel_ts)
    tsafes = []
    for channel in channels:
        shard = state.shard(channel)
        if shard is None or not state.is_watched(channel):
            raise ChannelNotFound(f"channel {channel} of collection {state.collection_id} is not served by this node")
        if not shard.tsafe.wait(wait_for, timeout):
            raise ServiceUnavailable(
                f"channel {channel} is not serviceable: tsafe {shard.tsafe.get()} did not reach "
                f"{wait_for} within {timeout:g}s")
        tsafes.append(shard.tsafe.get())
    if travel_ts:
        return travel_ts
    return min(tsafes) if tsafes else wait_for


def prepare_read(state: CollectionState, req: querynode_pb2.ShardRequest, compiler: FilterCompiler | None,
                 timeout: float) -> ReadSet:
    schema = state.schema
    channels = list(req.channels) or sorted(state.shards())
    row_filter = compile_filter(compiler, schema, req.expr, req.expr_template_values)
    partitions = state.read_partitions(list(req.partitionIDs))
    read_ts = read_timestamp(state, channels, req.guarantee_ts, req.travel_ts, timeout)
    pk_name = schema.primary_field.name
    wanted_pks = None
    if req.HasField("primary_keys"):
        wanted_pks = ids_to_arrow(req.primary_keys)
        if wanted_pks.type != schema.primary_field.arrow_type:
            wanted_pks = wanted_pks.cast(schema.primary_field.arrow_type)

    out: list[SegmentRows] = []
    for channel in channels:
        shard = state.shard(channel)
        if shard is None:
            raise ChannelNotFound(f"channel {channel} of collection {state.collection_id} was released")
        segments = shard.segments(partitions)
        deletes = shard.deletes.snapshot()
        for segment in segments:
            view = segment.view()
            if not view.num_rows:
                continue
            pks = view.pk(pk_name)
            ts = view.ts()
            latest = deletes.latest(read_ts, segment.partition_id) if len(deletes) else None
            mask = visible_mask(pks, ts, read_ts, latest)
            if wanted_pks is not None and mask.any():
                mask &= pc.is_in(pks, value_set=wanted_pks).to_numpy(zero_copy_only=False)
            if row_filter is not None and mask.any():
                mask &= evaluate(row_filter, view.table, filter_indexes(view, schema))
            if mask.any():
                out.append(SegmentRows(view, mask))
    return ReadSet(read_ts, schema, out)


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
