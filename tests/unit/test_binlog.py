"""Segment file formats round-trip, and the PK bloom filter never gives a false negative."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from milvus.binlog import (
    PKStats,
    insert_log_column,
    insert_log_rows,
    read_delta_log,
    read_insert_log,
    write_delta_log,
    write_insert_log,
)
from milvus.util.hashing import shard_of


def test_insert_log_round_trip():
    vecs = np.random.default_rng(0).random((50, 8), dtype=np.float32)
    table = pa.table({
        "_row_id": pa.array(np.arange(50), pa.int64()),
        "_ts": pa.array(np.full(50, 7), pa.uint64()),
        "vec": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), 8),
        "name": pa.array([f"n{i}" if i % 3 else None for i in range(50)]),
    })
    back = read_insert_log(write_insert_log(table))
    assert back.equals(table)
    assert read_insert_log(write_insert_log(table), columns=["name"]).column_names == ["name"]


def _vectors(n: int, dim: int, seed: int = 0) -> pa.FixedSizeListArray:
    vecs = np.random.default_rng(seed).random((n, dim), dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), dim)


def test_insert_log_stores_float_vectors_as_whole_uncompressed_rows():
    table = pa.table({"pk": pa.array(np.arange(100), pa.int64()), "vec": _vectors(100, 16)})
    data = write_insert_log(table)
    stored = pq.read_metadata(pa.BufferReader(data)).row_group(0)
    columns = {stored.column(i).path_in_schema: stored.column(i) for i in range(stored.num_columns)}
    assert set(columns) == {"pk", "vec"}  # not vec.list.element: one value per row
    assert columns["vec"].compression == "UNCOMPRESSED" and columns["pk"].compression == "ZSTD"
    back = read_insert_log(data)
    assert back.schema.field("vec").type == pa.list_(pa.float32(), 16)
    assert back.equals(table)


@pytest.mark.parametrize("value_type", [pa.float32(), pa.float64(), pa.int8(), pa.int64()])
def test_insert_log_packed_columns_round_trip_sliced_chunked_and_null_rows(value_type):
    values = pa.array(np.arange(60 * 4).astype(value_type.to_pandas_dtype()), value_type)
    mask = pa.array([i % 7 == 3 for i in range(60)])
    whole = pa.FixedSizeListArray.from_arrays(values, 4, mask=mask)
    column = pa.chunked_array([whole.slice(5, 20), whole.slice(30, 17), whole.slice(0, 0)])
    table = pa.table({"_row_id": pa.array(np.arange(37), pa.int64()), "vec": column})
    back = read_insert_log(write_insert_log(table))
    assert back.column("vec").to_pylist() == column.to_pylist()
    assert back.schema.field("vec").type == whole.type
    assert insert_log_column(write_insert_log(table), "vec").to_pylist() == column.to_pylist()


def test_insert_log_keeps_a_list_column_it_cannot_pack():
    values = pa.array([float(i) if i % 5 else None for i in range(40)], pa.float32())  # null values inside rows
    table = pa.table({"vec": pa.FixedSizeListArray.from_arrays(values, 4)})
    data = write_insert_log(table)
    assert read_insert_log(data).equals(table)
    assert pq.read_metadata(pa.BufferReader(data)).row_group(0).column(0).path_in_schema == "vec.list.element"


def test_insert_logs_written_before_packing_still_read():
    table = pa.table({"_row_id": pa.array(np.arange(30), pa.int64()), "vec": _vectors(30, 8)})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")  # the earlier layout: a list column
    data = sink.getvalue()
    assert read_insert_log(data).equals(table)
    assert insert_log_column(data, "vec").to_pylist() == table.column("vec").to_pylist()
    assert insert_log_column(data, "absent") is None and insert_log_rows(data) == 30


def test_an_insert_log_column_is_its_fields_by_id():
    """A log written before its field was dropped holds, under the same name, another field's
    values than a field added again later: those are not the new field's (an index of the new
    field is built from nulls there)."""
    old = pa.field("score", pa.int64(), metadata={b"PARQUET:field_id": b"102"})
    data = write_insert_log(pa.Table.from_arrays([pa.array([10, 20], pa.int64())], schema=pa.schema([old])))
    assert insert_log_column(data, "score", 102).to_pylist() == [10, 20]
    assert insert_log_column(data, "score").to_pylist() == [10, 20]  # no id asked: by name
    assert insert_log_column(data, "score", 105) is None


def test_delta_log_round_trip():
    pks, ts = read_delta_log(write_delta_log(np.array([3, 1, 2], dtype=np.int64), [10, 11, 12]))
    assert pks.to_pylist() == [3, 1, 2] and ts.tolist() == [10, 11, 12]
    pks, _ = read_delta_log(write_delta_log(["a", "b"], [1, 2]))
    assert pks.to_pylist() == ["a", "b"]


def test_pk_stats_no_false_negatives_and_few_false_positives():
    keys = np.arange(0, 20000, 2, dtype=np.int64)
    stats = PKStats.from_bytes(PKStats.build(keys).to_bytes())
    assert stats.min == 0 and stats.max == 19998
    assert stats.might_contain(keys).all()
    absent = np.arange(1, 20000, 2, dtype=np.int64)
    assert stats.might_contain(absent).mean() < 0.05
    str_stats = PKStats.build(["x", "y", "z"])
    assert str_stats.might_contain(["x", "y", "z"]).all()
    assert not PKStats.build(np.array([], dtype=np.int64)).might_contain([1]).any()


def test_shard_of_is_stable_and_spread():
    keys = np.arange(10000, dtype=np.int64)
    shards = shard_of(keys, 4)
    assert set(np.unique(shards)) == {0, 1, 2, 3}
    assert (np.bincount(shards) > 2000).all()
    assert (shard_of(keys, 4) == shards).all()
    assert shard_of(["a", "b", "a"], 3)[0] == shard_of(["a"], 3)[0]
    for one in (keys, ["a", "b"], np.zeros(0, np.int64)):  # one shard: every key in it
        assert shard_of(one, 1).tolist() == [0] * len(one) and shard_of(one, 1).dtype == np.int64
