"""Rows written before a field was added: defaults, nulls, and never a dropped column."""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus._proto import datanode_pb2, indexnode_pb2, msgstream_pb2
from milvus.binlog import conform, read_insert_log
from milvus.datanode.buffer import ChannelBuffer, Position
from milvus.datanode.compactor import Compactor
from milvus.datanode.sync import insert_log_files
from milvus.indexnode.task import read_column
from milvus.mq.local import LocalMessageID
from milvus.schema import CollectionSchemaModel, batch_to_ipc
from milvus.schema.evolve import concat_versions, conform_batch, field_default
from milvus.storage.local import LocalStorage

COLL, PART, VCH = 7, 1, "by-dev-rootcoord-dml_0_7v0"
BASE = [
    schema_pb2.FieldSchema(fieldID=100, name="pk", data_type=schema_pb2.Int64, is_primary_key=True),
    schema_pb2.FieldSchema(fieldID=101, name="v", data_type=schema_pb2.Float),
]
ADDED = [
    schema_pb2.FieldSchema(fieldID=102, name="plain", data_type=schema_pb2.Int32, nullable=True),
    schema_pb2.FieldSchema(fieldID=103, name="tag", data_type=schema_pb2.VarChar, nullable=True,
                           type_params=[common_pb2.KeyValuePair(key="max_length", value="8")],
                           default_value=schema_pb2.ValueField(string_data="none")),
]
OLD = CollectionSchemaModel(schema_pb2.CollectionSchema(name="c", fields=BASE))
NEW = CollectionSchemaModel(schema_pb2.CollectionSchema(name="c", fields=BASE + ADDED))


def old_rows(pks: list[int], ts: int = 10) -> pa.Table:
    n = len(pks)
    return pa.Table.from_arrays([pa.array(pks, pa.int64()), pa.array([ts] * n, pa.uint64()),
                                 pa.array(pks, pa.int64()), pa.array([1.0] * n, pa.float32())],
                                schema=OLD.arrow_schema)


def new_rows(pks: list[int], ts: int = 20) -> pa.Table:
    n = len(pks)
    return pa.Table.from_arrays([pa.array(pks, pa.int64()), pa.array([ts] * n, pa.uint64()),
                                 pa.array(pks, pa.int64()), pa.array([2.0] * n, pa.float32()),
                                 pa.array(pks, pa.int32()), pa.array(["x"] * n, pa.string())],
                                schema=NEW.arrow_schema)


def test_an_added_field_carries_its_default_in_the_arrow_schema():
    assert field_default(NEW.arrow_schema.field("tag")) == "none"
    assert field_default(NEW.arrow_schema.field("plain")) is None


def test_old_rows_read_the_default_or_null():
    table = conform(old_rows([1, 2]), NEW.arrow_schema)
    assert table.column("tag").to_pylist() == ["none", "none"]
    assert table.column("plain").to_pylist() == [None, None]
    batch = conform_batch(old_rows([3]).to_batches()[0], NEW.arrow_schema)
    assert batch.column(batch.schema.get_field_index("tag")).to_pylist() == ["none"]


def test_a_stale_schema_keeps_newer_columns_only_when_asked():
    assert "tag" not in conform(new_rows([1]), OLD.arrow_schema).column_names
    kept = conform(new_rows([1]), OLD.arrow_schema, keep_extra=True)
    assert kept.column("tag").to_pylist() == ["x"] and kept.column("plain").to_pylist() == [1]


def test_versions_concatenate_with_the_newest_columns():
    table = concat_versions([old_rows([1]), new_rows([2])])
    assert table.column_names == NEW.arrow_schema.names
    assert table.column("tag").to_pylist() == ["none", "x"]
    assert table.column("plain").to_pylist() == [None, 2]


def _insert(table: pa.Table, ts: int) -> msgstream_pb2.Envelope:
    return msgstream_pb2.Envelope(kind=msgstream_pb2.INSERT, begin_ts=ts, end_ts=ts, insert=msgstream_pb2.InsertMsg(
        vchannel=VCH, collection_id=COLL, partition_id=PART, segment_id=11, num_rows=table.num_rows,
        arrow_batch=batch_to_ipc(table.to_batches()[0])))


def test_a_data_node_buffer_spanning_the_change_writes_the_new_column():
    buf = ChannelBuffer(VCH, Position(None, 0), None, lambda: 0.0)
    buf.consume(LocalMessageID(1), _insert(old_rows([1, 2]), 10))
    buf.consume(LocalMessageID(2), _insert(new_rows([3]), 20))
    buf.request_flush(30, [11])
    buf.consume(LocalMessageID(3), msgstream_pb2.Envelope(kind=msgstream_pb2.TIME_TICK, begin_ts=30, end_ts=30))
    (task,) = buf.plan().tasks
    assert task.table.column("tag").to_pylist() == ["none", "none", "x"]
    assert task.table.column("plain").to_pylist() == [None, None, 3]


def test_compaction_with_a_stale_plan_schema_keeps_the_added_column(tmp_path):
    storage = LocalStorage(tmp_path)
    ids = itertools.count(5000)
    segments = []
    for sid, table in ((1, old_rows([1, 2])), (2, new_rows([3]))):
        insert, _ = insert_log_files(storage, table, "pk", COLL, PART, sid, sid * 10)
        segments.append(datanode_pb2.CompactionSegmentBinlogs(segmentID=sid, collectionID=COLL, partitionID=PART,
                                                              insert_logs=[insert]))
    plan = datanode_pb2.CompactionPlan(
        planID=1, channel=VCH, collectionID=COLL, timestamp=50, schema=OLD.proto.SerializeToString(),
        segments=segments, groups=[datanode_pb2.CompactionGroup(sourceIDs=[1, 2], resultID=100, partitionID=PART)])
    (out,) = Compactor(storage, lambda n: next(ids)).run(plan).segments
    table = read_insert_log(storage.get(out.insert_logs[0].binlogs[0].log_path)).sort_by("pk")
    assert table.column("tag").to_pylist() == ["none", "none", "x"]
    assert table.column("plain").to_pylist() == [None, None, 3]


def test_compaction_with_the_current_schema_leaves_dropped_columns_out(tmp_path):
    # NEW's rows compacted by a plan whose schema is current and lacks the added fields: they were dropped
    storage = LocalStorage(tmp_path)
    insert, _ = insert_log_files(storage, new_rows([1, 2]), "pk", COLL, PART, 1, 10)
    plan = datanode_pb2.CompactionPlan(
        planID=1, channel=VCH, collectionID=COLL, timestamp=50, schema=OLD.proto.SerializeToString(),
        schema_current=True, groups=[datanode_pb2.CompactionGroup(sourceIDs=[1], resultID=100, partitionID=PART)],
        segments=[datanode_pb2.CompactionSegmentBinlogs(segmentID=1, collectionID=COLL, partitionID=PART,
                                                        insert_logs=[insert])])
    (out,) = Compactor(storage, lambda n: 7).run(plan).segments
    table = read_insert_log(storage.get(out.insert_logs[0].binlogs[0].log_path))
    assert table.column_names == OLD.arrow_schema.names
    assert table.column("pk").to_pylist() == [1, 2]


def test_an_index_over_a_segment_older_than_the_field_is_all_null(tmp_path):
    storage = LocalStorage(tmp_path)
    insert, _ = insert_log_files(storage, old_rows([1, 2, 3]), "pk", COLL, PART, 1, 10)
    request = indexnode_pb2.CreateJobRequest(data_paths=[b.log_path for b in insert.binlogs], field_name="plain",
                                             field_type=schema_pb2.Int32)
    column = read_column(storage, request)
    assert column.type == pa.int32() and column.to_pylist() == [None] * 3
    assert np.all(column.is_null().to_numpy(zero_copy_only=False))


# ---- dropped fields: a column is its field's by name and field id ---------------------

def _field(name: str, field_id: int, typ: pa.DataType | None = None, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ or pa.int64(), nullable=nullable, metadata={b"PARQUET:field_id": str(field_id).encode()})


PK = _field("pk", 100)
SCORE_OLD = _field("score", 102)  # dropped later
SCORE_NEW = _field("score", 105, nullable=True)  # added again under the same name


def _table(fields, columns) -> pa.Table:
    return pa.Table.from_arrays([pa.array(c, f.type) for f, c in zip(fields, columns, strict=True)],
                                schema=pa.schema(fields))


def test_a_dropped_fields_column_never_reads_as_a_new_field_of_its_name():
    before = _table([PK, SCORE_OLD], [[1, 2], [10, 20]])
    after = _table([PK, SCORE_NEW], [[3], [-3]])
    got = concat_versions([before, after])
    assert got.column("score").to_pylist() == [None, None, -3]
    assert got.schema.field("score").metadata == SCORE_NEW.metadata
    # either order: the larger field id is the newer field
    assert concat_versions([after, before]).column("score").to_pylist() == [-3, None, None]
    # a reader of the current schema
    assert conform(before, pa.schema([PK, SCORE_NEW])).column("score").to_pylist() == [None, None]
    assert conform(after, pa.schema([PK, SCORE_NEW])).column("score").to_pylist() == [-3]


def test_a_reader_with_a_stale_schema_keeps_the_newer_fields_values():
    after = _table([PK, SCORE_NEW], [[3], [-3]])
    got = conform(after, pa.schema([PK, SCORE_OLD]), keep_extra=True)
    assert got.column("score").to_pylist() == [-3] and got.schema.field("score") == SCORE_NEW
    # without keep_extra the stale reader reads its own (missing) field
    assert conform(after, pa.schema([PK, SCORE_OLD])).column("score").to_pylist() == [None]


def test_rows_without_a_dropped_non_nullable_field_are_written_with_rows_that_have_it(tmp_path):
    with_score = _table([PK, SCORE_OLD], [[1, 2], [10, 20]])
    without = _table([PK], [[3]])
    got = concat_versions([with_score, without])
    assert got.column("score").to_pylist() == [10, 20, None]
    assert got.schema.field("score").nullable  # Parquet refuses nulls in a non-nullable column
    import pyarrow.parquet as pq
    pq.write_table(got, tmp_path / "rows.parquet")
    assert pq.read_table(tmp_path / "rows.parquet").column("score").to_pylist() == [10, 20, None]


def test_a_growing_segment_holds_batches_with_and_without_a_dropped_field():
    from milvus.querynode.segments import GrowingSegment
    ts = _field("_ts", 1, pa.uint64())
    seg = GrowingSegment(1, COLL, PART, VCH)
    seg.append(_table([PK, ts, SCORE_OLD], [[1], [5], [10]]).to_batches()[0])
    seg.append(_table([PK, ts], [[2], [6]]).to_batches()[0])  # written after the drop
    seg.append(_table([PK, ts, SCORE_NEW], [[3], [7], [-3]]).to_batches()[0])  # after the re-add
    table = seg.view().table
    assert table.column("pk").to_pylist() == [1, 2, 3]
    assert table.column("score").to_pylist() == [None, None, -3]
