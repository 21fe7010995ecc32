"""Insert, delete and upsert (docs/datapath.md "Insert / delete / upsert").

Rows are validated into one stored Arrow batch, split by shard (hash of the primary key),
given segments by the data coordinator, and published under one timestamp T per request
through the ``ChannelWriter``; a call returns only once every envelope is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from milvus import errors
from milvus._proto import datacoord_pb2, msgstream_pb2, rootcoord_pb2
from milvus.expr import pk_terms
from milvus.grpc_gen import schema_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.channel_writer import ChannelWriter
from milvus.proxy.collections import KEY_MODE_PARTITION_NAMES, Collection, Collections
from milvus.proxy.quota import DELETE, INSERT, UPSERT, QuotaCenter
from milvus.schema import (
    TIMESTAMP_FIELD,
    FieldInfo,
    arrow_to_ids,
    batch_to_ipc,
    fields_to_arrow,
    merge_partial_update,
)
from milvus.util.hashing import partition_of, shard_of
from milvus.util.tracing import message_context

ALL_PARTITIONS = -1
_REPLACE = schema_pb2.FieldPartialUpdateOp.REPLACE
# keep each insert envelope well under the broker's message size limit
_MESSAGE_FILL = 0.5


@dataclass(frozen=True)
class Mutation:
    ids: schema_pb2.IDs
    count: int
    timestamp: int


def _keys(column: pa.Array | pa.ChunkedArray) -> np.ndarray | list[str]:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_integer(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.int64)
    return column.to_pylist()


class Dml:
    def __init__(self, collections: Collections, rootcoord: Caller, datacoord: Caller, writer: ChannelWriter,
                 max_message_size: int, query_pks: Callable[[str, str, str, str, Sequence[str]], list],
                 quota: QuotaCenter | None = None,
                 stored_rows: Callable[[Collection, list[str], pa.Array, list[FieldInfo]], pa.Table | None] | None
                 = None):
        """``query_pks(db, collection, partition, expr, template values)`` runs a delete
        filter as a Strong query and returns the matching primary keys; ``stored_rows(collection,
        partition names, keys, fields)`` reads the stored rows of keys at Strong consistency
        (``None`` when none exists): what a partial update merges into."""
        self._collections = collections
        self._rootcoord = rootcoord
        self._datacoord = datacoord
        self._writer = writer
        self._max_bytes = max(1024, int(max_message_size * _MESSAGE_FILL))
        self._query_pks = query_pks
        self._quota = quota  # flow control: refuses writes (RateLimited) while the data path lags
        self._stored_rows = stored_rows
        self._merge_locks: dict[int, threading.Lock] = {}  # per collection: one partial update at a time
        self._merge_locks_guard = threading.Lock()

    # ---- helpers --------------------------------------------------------------------

    def _alloc_ids(self, count: int) -> np.ndarray:
        first = self._rootcoord("AllocID", rootcoord_pb2.AllocIDRequest(count=count)).ID
        return np.arange(first, first + count, dtype=np.int64)

    def _partition(self, coll: Collection, name: str) -> int:
        return coll.partition_id(name or self._collections.default_partition)

    def _check_partition_name(self, coll: Collection, name: str) -> None:
        """The named partition exists; in partition key mode, that none is named."""
        if coll.partition_key is not None:
            if name:
                raise errors.ParameterInvalid(KEY_MODE_PARTITION_NAMES)
        else:
            self._partition(coll, name)

    def _by_partition(self, coll: Collection, name: str, batch: pa.RecordBatch) -> list[tuple[int, pa.RecordBatch]]:
        """The rows of ``batch`` by partition: all in the named one (or the default), or in
        partition key mode each in the partition its key hashes to."""
        if coll.partition_key is None:
            return [(self._partition(coll, name), batch)]
        partitions = coll.key_partitions  # a name given was refused by _check_partition_name
        where = partition_of(_keys(batch.column(coll.partition_key)), len(partitions))
        if (where == where[0]).all():
            return [(partitions[int(where[0])], batch)]  # every row in one partition: no copy
        return [(partitions[i], batch.take(pa.array(np.flatnonzero(where == i))))
                for i in np.unique(where).tolist()]

    def _split(self, coll: Collection, keys: np.ndarray | list) -> list[np.ndarray]:
        """Row indexes of each shard."""
        shards = shard_of(keys if isinstance(keys, np.ndarray) else list(keys), len(coll.vchannels))
        return [np.flatnonzero(shards == i) for i in range(len(coll.vchannels))]

    def _chunks(self, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        if batch.num_rows == 0:
            return []
        per_row = max(1, batch.nbytes // batch.num_rows)
        step = max(1, self._max_bytes // per_row)
        return [batch.slice(i, step) for i in range(0, batch.num_rows, step)]

    def _assign(self, coll: Collection, partition: int, counts: dict[str, int]) -> dict[str, int]:
        wanted = [datacoord_pb2.SegmentIDRequest(count=n, channel_name=v, collectionID=coll.id, partitionID=partition)
                  for v, n in counts.items() if n]
        if not wanted:
            return {}
        try:
            response = self._datacoord("AssignSegmentID",
                                       datacoord_pb2.AssignSegmentIDRequest(segmentIDRequests=wanted))
        except errors.MilvusError as exc:
            self._collections.not_found(coll, exc)  # dropped: forgotten here, *NotFound raised
            raise
        out = {}
        for assignment in response.segIDAssignments:
            errors.check_status(assignment.status)
            out[assignment.channel_name] = assignment.segID
        return out

    def _insert_plan(self, coll: Collection, partition: int, batch: pa.RecordBatch):
        """Per vchannel: its rows (as chunks) and their segment."""
        keys = _keys(batch.column(coll.schema.primary_field.name))
        parts = {}
        for vchannel, rows in zip(coll.vchannels, self._split(coll, keys), strict=True):
            if len(rows) == batch.num_rows:
                parts[vchannel] = batch  # every row to this shard (one shard): no copy
            elif len(rows):
                parts[vchannel] = batch.take(pa.array(rows))
        segments = self._assign(coll, partition, {v: b.num_rows for v, b in parts.items()})
        return parts, segments

    def _insert_plans(self, coll: Collection, partition_name: str, batch: pa.RecordBatch):
        """(partition, rows per vchannel, segment per vchannel) of every partition rows go to."""
        return [(partition, *self._insert_plan(coll, partition, rows))
                for partition, rows in self._by_partition(coll, partition_name, batch)]

    def _all_insert_envelopes(self, coll: Collection, plans, ts: int, out, trace: dict[str, str]) -> None:
        for partition, parts, segments in plans:
            self._insert_envelopes(coll, partition, parts, segments, ts, out, trace)

    @staticmethod
    def _pchannels(coll: Collection, plans) -> list[str]:
        pchannel_of = coll.pchannel_of
        return list(dict.fromkeys(pchannel_of[v] for _, parts, _ in plans for v in parts))

    def _insert_envelopes(self, coll: Collection, partition: int, parts, segments, ts: int, out,
                          trace: dict[str, str]) -> None:
        pchannel_of = coll.pchannel_of
        ts_index = parts and next(iter(parts.values())).schema.get_field_index(TIMESTAMP_FIELD)
        for vchannel, part in parts.items():
            stamped = part.set_column(ts_index, TIMESTAMP_FIELD, pa.array(np.full(part.num_rows, ts, np.uint64)))
            for chunk in self._chunks(stamped):
                out.setdefault(pchannel_of[vchannel], []).append((vchannel, msgstream_pb2.Envelope(
                    kind=msgstream_pb2.INSERT, begin_ts=ts, end_ts=ts, trace_context=trace,
                    insert=msgstream_pb2.InsertMsg(
                        vchannel=vchannel, db_id=coll.info.db_id, collection_id=coll.id, partition_id=partition,
                        segment_id=segments[vchannel], num_rows=chunk.num_rows, arrow_batch=batch_to_ipc(chunk),
                        schema_version=coll.info.schema_version))))

    def _delete_envelopes(self, coll: Collection, partition: int, keys, ts: int, out,
                          trace: dict[str, str]) -> None:
        pchannel_of = coll.pchannel_of
        key_list = keys if isinstance(keys, np.ndarray) else np.array(keys, dtype=object)
        for vchannel, rows in zip(coll.vchannels, self._split(coll, keys), strict=True):
            if not len(rows):
                continue
            chosen = key_list[rows]
            ids = arrow_to_ids(chosen if isinstance(keys, np.ndarray) else [str(k) for k in chosen])
            out.setdefault(pchannel_of[vchannel], []).append((vchannel, msgstream_pb2.Envelope(
                kind=msgstream_pb2.DELETE, begin_ts=ts, end_ts=ts, trace_context=trace,
                delete=msgstream_pb2.DeleteMsg(
                    vchannel=vchannel, db_id=coll.info.db_id, collection_id=coll.id, partition_id=partition,
                    primary_keys=ids, timestamps=[ts] * len(rows), num_rows=len(rows)))))

    def _batch(self, coll: Collection, fields_data, num_rows: int, *, upsert: bool,
               partial: bool = False, keep_ids: bool = False) -> pa.RecordBatch:
        if num_rows <= 0:
            raise errors.ParameterInvalid(f"num_rows should be greater than 0, got {num_rows}")
        allow = keep_ids or any(kv.key == "allow_insert_auto_id" and kv.value.lower() == "true"
                                for kv in coll.info.properties)
        return fields_to_arrow(coll.schema, list(fields_data), num_rows, row_ids=self._alloc_ids(num_rows),
                               timestamps=0, upsert=upsert, partial_update=partial, allow_insert_auto_id=allow)

    def _check_keys(self, coll: Collection, keys) -> np.ndarray | list:
        if coll.schema.primary_field.data_type == schema_pb2.Int64:
            try:
                return np.asarray([int(k) for k in keys], dtype=np.int64)
            except (TypeError, ValueError):
                raise errors.ParameterInvalid("the primary key is Int64: every key must be an integer") from None
        if not all(isinstance(k, str) for k in keys):
            raise errors.ParameterInvalid("the primary key is VarChar: every key must be a string")
        return list(keys)

    def _admit(self, kind: str, coll: Collection, nbytes: Callable[[], int]) -> None:
        """Flow control: raises RateLimited before anything of the request is written."""
        if self._quota is not None:
            self._quota.check(kind, coll.id, coll.info.created_ts, nbytes)

    # ---- the requests ---------------------------------------------------------------

    @staticmethod
    def _check_schema_timestamp(coll: Collection, schema_ts: int) -> None:
        """A write whose rows pymilvus shaped by a schema older than the collection's (its
        ``schema_timestamp``: the ``update_timestamp`` of the DescribeCollection it used) is
        refused with SchemaMismatch, on which pymilvus describes the collection again and
        retries (Milvus' rule): built on a stale schema, a new field's values come as dynamic
        keys named like the field, which are refused, and a dropped field's as a field that is
        no more."""
        if schema_ts and schema_ts < coll.info.updated_ts:
            raise errors.CollectionSchemaMismatch(
                f"collection schema mismatch[collection={coll.name}]: the request was built on the schema "
                f"of {schema_ts}, the collection changed at {coll.info.updated_ts}")

    def insert(self, db: str, name: str, partition_name: str, fields_data, num_rows: int,
               schema_ts: int = 0, keep_ids: bool = False) -> Mutation:
        """``keep_ids``: the rows' primary keys are taken even when the collection generates
        them (a snapshot restore's rows keep theirs)."""
        coll = self._collections.get(db, name)
        self._check_schema_timestamp(coll, schema_ts)
        self._check_partition_name(coll, partition_name)
        self._admit(INSERT, coll, lambda: sum(f.ByteSize() for f in fields_data))
        self._collections.ensure_watched(coll)
        batch = self._batch(coll, fields_data, num_rows, upsert=False, keep_ids=keep_ids)
        plans = self._insert_plans(coll, partition_name, batch)
        trace = message_context()  # taken here: ``build`` may run on another thread

        def build(ts: int):
            out: dict = {}
            self._all_insert_envelopes(coll, plans, ts, out, trace)
            return out

        ts = self._writer.write(self._pchannels(coll, plans), build)
        pks = batch.column(coll.schema.primary_field.name)
        return Mutation(arrow_to_ids(pks), batch.num_rows, ts)

    def delete(self, db: str, name: str, partition_name: str, expr: str, template_values) -> Mutation:
        coll = self._collections.get(db, name)
        if partition_name and coll.partition_key is not None:
            raise errors.ParameterInvalid(KEY_MODE_PARTITION_NAMES)
        partition = self._partition(coll, partition_name) if partition_name else ALL_PARTITIONS
        if not expr.strip():
            raise errors.ParameterInvalid("delete plan can't be empty or always true : " + expr)
        keys = pk_terms(expr, coll.schema.primary_field, template_values)
        if keys is None:
            keys = self._query_pks(db, name, partition_name, expr, template_values)
        keys = self._check_keys(coll, list(dict.fromkeys(keys)))
        self._admit(DELETE, coll, lambda: 8 * len(keys) if isinstance(keys, np.ndarray) else
                    sum(len(k) for k in keys))
        self._collections.ensure_watched(coll)
        if len(keys) == 0:
            return Mutation(arrow_to_ids(keys), 0, 0)
        trace = message_context()

        def build(ts: int):
            out: dict = {}
            self._delete_envelopes(coll, partition, keys, ts, out, trace)
            return out

        ts = self._writer.write(coll.pchannel_of.values(), build)
        return Mutation(arrow_to_ids(keys), len(keys), ts)

    def upsert(self, db: str, name: str, partition_name: str, fields_data, num_rows: int,
               partial_update: bool = False, field_ops=(), schema_ts: int = 0) -> Mutation:
        coll = self._collections.get(db, name)
        self._check_schema_timestamp(coll, schema_ts)
        self._check_field_ops(field_ops)
        if partial_update and self._stored_rows is None:
            raise errors.ParameterInvalid("partial update needs the read path, which this proxy does not have")
        self._check_partition_name(coll, partition_name)
        self._admit(UPSERT, coll, lambda: sum(f.ByteSize() for f in fields_data))
        self._collections.ensure_watched(coll)
        batch = self._batch(coll, fields_data, num_rows, upsert=True, partial=partial_update)
        keys = _keys(batch.column(coll.schema.primary_field.name))
        if len(set(keys.tolist() if isinstance(keys, np.ndarray) else keys)) != len(keys):
            raise errors.ParameterInvalid("duplicate primary keys are not allowed in the same batch")
        if not partial_update:
            return self._write_upsert(coll, partition_name, batch, keys)
        with self._merge_lock(coll.id):  # a concurrent partial update of this proxy reads after this one wrote
            merged = merge_partial_update(coll.schema, batch, self._stored(coll, partition_name, batch))
            return self._write_upsert(coll, partition_name, merged, keys)

    @staticmethod
    def _check_field_ops(field_ops) -> None:
        for op in field_ops:
            if op.op != _REPLACE:
                name = schema_pb2.FieldPartialUpdateOp.OpType.Name(op.op)
                raise errors.ParameterInvalid(f"field op {name} of field {op.field_name} is not supported by this "
                                              f"server (only REPLACE)")

    def _merge_lock(self, collection_id: int) -> threading.Lock:
        with self._merge_locks_guard:
            return self._merge_locks.setdefault(collection_id, threading.Lock())

    def _stored(self, coll: Collection, partition_name: str, batch: pa.RecordBatch) -> pa.Table | None:
        """The stored rows of the batch's keys, as Milvus reads them for a partial update: in
        the named partition (the default one when none is named), in every partition in
        partition key mode."""
        assert self._stored_rows is not None  # checked by ``upsert``
        fields = [f for f in coll.schema.fields if not f.is_function_output]
        partitions = [] if coll.partition_key is not None else [partition_name or self._collections.default_partition]
        return self._stored_rows(coll, partitions, batch.column(coll.schema.primary_field.name), fields)

    def _write_upsert(self, coll: Collection, partition_name: str, batch: pa.RecordBatch, keys) -> Mutation:
        """One write: the keys deleted in every partition, the rows inserted, both at one T."""
        plans = self._insert_plans(coll, partition_name, batch)
        trace = message_context()

        def build(ts: int):
            out: dict = {}
            self._delete_envelopes(coll, ALL_PARTITIONS, keys, ts, out, trace)
            self._all_insert_envelopes(coll, plans, ts, out, trace)
            return out

        ts = self._writer.write(coll.pchannel_of.values(), build)
        return Mutation(arrow_to_ids(batch.column(coll.schema.primary_field.name)), batch.num_rows, ts)
