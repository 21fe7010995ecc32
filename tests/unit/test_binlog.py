"""Segment file formats round-trip, and the PK bloom filter never gives a false negative."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from milvus.binlog import PKStats, read_delta_log, read_insert_log, write_delta_log, write_insert_log
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
