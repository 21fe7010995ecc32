"""Writing a sync task: binlog files to object storage, then their record to the data coordinator.

Insert rows become one Parquet insert log (every column) plus a stats log (PK min/max and
bloom filter) sharing its log id; deletes of one partition become one delta log of a new
L0 segment.  Files are written before ``SaveBinlogPaths``; a crash in between leaves
unreferenced files that the data coordinator's GC removes.  ``SaveBinlogPaths`` carries the
channel checkpoint, recorded in the same meta-store transaction as the segment.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus import errors
from milvus._proto import datacoord_pb2, internal_pb2
from milvus.binlog import (
    PKStats,
    delta_log_key,
    insert_log_key,
    stats_log_key,
    write_delta_log,
    write_insert_log,
)
from milvus.datanode.buffer import Position, SyncTask
from milvus.schema import TIMESTAMP_FIELD
from milvus.storage.base import ObjectStorage

WHOLE_ROW_GROUP = 0  # the FieldBinlog field_id of files that hold every column


def msg_position(vchannel: str, position: Position | None) -> internal_pb2.MsgPosition | None:
    if position is None:
        return None
    msg_id = position.msg_id.to_bytes() if position.msg_id is not None else b""
    return internal_pb2.MsgPosition(channel_name=vchannel, msg_id=msg_id, timestamp=position.ts)


def _pk_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_integer(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return np.asarray(column.to_pylist(), dtype=object)


def insert_log_files(storage: ObjectStorage, table: pa.Table, pk_field: str, collection_id: int,
                     partition_id: int, segment_id: int, log_id: int
                     ) -> tuple[datacoord_pb2.FieldBinlog, datacoord_pb2.FieldBinlog]:
    """Write ``table`` (a non-empty batch of a segment's rows) as one insert log and its stats
    log (same log id); returns their ``FieldBinlog`` records (insert, stats)."""
    ts = table.column(TIMESTAMP_FIELD)
    ts_from, ts_to = (int(v.as_py()) for v in (pc.min(ts), pc.max(ts)))
    key = insert_log_key(collection_id, partition_id, segment_id, log_id)
    data = write_insert_log(table)
    storage.put(key, data)
    insert = datacoord_pb2.FieldBinlog(field_id=WHOLE_ROW_GROUP, binlogs=[
        datacoord_pb2.Binlog(entries_num=table.num_rows, timestamp_from=ts_from, timestamp_to=ts_to,
                             log_path=key, log_size=len(data), log_id=log_id)])
    stats = PKStats.build(_pk_values(table.column(pk_field))).to_bytes()
    stats_key = stats_log_key(collection_id, partition_id, segment_id, log_id)
    storage.put(stats_key, stats)
    stats_log = datacoord_pb2.FieldBinlog(field_id=WHOLE_ROW_GROUP, binlogs=[
        datacoord_pb2.Binlog(entries_num=table.num_rows, timestamp_from=ts_from, timestamp_to=ts_to,
                             log_path=stats_key, log_size=len(stats), log_id=log_id)])
    return insert, stats_log


# (succeeded, seconds, rows) of one sync, for the metrics the composition root keeps
SyncObserver = Callable[[bool, float, int], None]


class Syncer:
    """Carries out the sync tasks of one vchannel."""

    def __init__(
        self,
        vchannel: str,
        pk_field: str,
        storage: ObjectStorage,
        datacoord: Any,
        alloc_id: Callable[[int], int],
        node_id: int,
        on_sync: SyncObserver | None = None,
    ):
        self._on_sync = on_sync
        self._vchannel = vchannel
        self._pk_field = pk_field
        self._storage = storage
        self._datacoord = datacoord
        self._alloc_id = alloc_id
        self._node_id = node_id

    def run(self, task: SyncTask, checkpoint: Position) -> None:
        """Persist ``task`` and record it with ``checkpoint``; raises when anything failed."""
        if self._on_sync is None:
            self._run(task, checkpoint)
            return
        started = time.perf_counter()
        try:
            self._run(task, checkpoint)
        except BaseException:
            self._on_sync(False, time.perf_counter() - started, 0)
            raise
        self._on_sync(True, time.perf_counter() - started, task.rows)

    def _run(self, task: SyncTask, checkpoint: Position) -> None:
        request = self._insert_request(task) if task.kind == "insert" else self._delete_request(task)
        request.base.sourceID = self._node_id
        request.channel = self._vchannel
        request.checkpoint.CopyFrom(msg_position(self._vchannel, checkpoint))
        if task.end is not None:
            request.segment_position.CopyFrom(msg_position(self._vchannel, task.end))
        if task.start is not None:
            request.start_position.CopyFrom(msg_position(self._vchannel, task.start))
        errors.check_status(self._datacoord.SaveBinlogPaths(request))

    def _put(self, key: str, data: bytes) -> None:
        self._storage.put(key, data)

    def _insert_request(self, task: SyncTask) -> datacoord_pb2.SaveBinlogPathsRequest:
        request = datacoord_pb2.SaveBinlogPathsRequest(
            segmentID=task.segment_id, collectionID=task.collection_id, partitionID=task.partition_id,
            flushed=task.flushed, num_rows=task.rows, level=datacoord_pb2.SEGMENT_LEVEL_L1,
        )
        table = task.table
        if table is None or table.num_rows == 0:
            return request
        log_id = self._alloc_id(1)
        insert, stats = insert_log_files(self._storage, table, self._pk_field, task.collection_id,
                                         task.partition_id, task.segment_id, log_id)
        request.field2BinlogPaths.append(insert)
        request.field2StatslogPaths.append(stats)
        return request

    def _delete_request(self, task: SyncTask) -> datacoord_pb2.SaveBinlogPathsRequest:
        first = self._alloc_id(2)
        segment_id, log_id = first, first + 1
        key = delta_log_key(task.collection_id, task.partition_id, segment_id, log_id)
        data = write_delta_log(task.pks, task.tss)
        self._put(key, data)
        binlog = datacoord_pb2.Binlog(
            entries_num=task.rows, timestamp_from=int(task.tss.min()), timestamp_to=int(task.tss.max()),
            log_path=key, log_size=len(data), log_id=log_id,
        )
        return datacoord_pb2.SaveBinlogPathsRequest(
            segmentID=segment_id, collectionID=task.collection_id, partitionID=task.partition_id,
            deltalogs=[datacoord_pb2.FieldBinlog(field_id=WHOLE_ROW_GROUP, binlogs=[binlog])],
            flushed=True, num_rows=task.rows, level=datacoord_pb2.SEGMENT_LEVEL_L0,
        )
