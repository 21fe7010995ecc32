"""Key hashing: ``shard_of`` (primary key -> shard) and ``partition_of`` (partition key ->
partition) are deterministic, cover every bucket, agree for equal keys of either form, and
are independent of each other."""

from __future__ import annotations

import numpy as np
import pytest

from milvus.util.hashing import partition_of, shard_of


@pytest.mark.parametrize("hash_of", [shard_of, partition_of])
def test_keys_spread_over_every_bucket_and_equal_keys_agree(hash_of):
    ints = np.arange(10_000, dtype=np.int64)
    buckets = hash_of(ints, 16)
    assert buckets.min() == 0 and buckets.max() == 15
    assert np.bincount(buckets, minlength=16).min() > 10_000 / 16 * 0.8
    assert (hash_of(ints, 16) == buckets).all()
    assert (hash_of(ints[::-1].copy(), 16)[::-1] == buckets).all()  # a key's bucket, not its position
    strings = [f"tenant-{i}" for i in range(2_000)]
    by_string = hash_of(strings, 7)
    assert set(by_string.tolist()) == set(range(7))
    assert hash_of(strings[5:6], 7)[0] == by_string[5]
    with pytest.raises(ValueError):
        hash_of(ints, 0)


def test_a_partition_does_not_fall_on_one_shard_when_keys_equal_primary_keys():
    keys = np.arange(4_000, dtype=np.int64)
    shards, partitions = shard_of(keys, 2), partition_of(keys, 16)
    for p in range(16):
        assert set(shards[partitions == p].tolist()) == {0, 1}
