"""A delete read back from a delta log after the channel brought it (or read twice) is held
once by a shard's delete log (``DeleteBuffer.add_unseen``), without changing what it hides."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from milvus.querynode.deletes import ALL_PARTITIONS, DeleteBuffer, visible_mask


def _ts(*values: int) -> np.ndarray:
    return np.asarray(values, np.uint64)


def _held(log: DeleteBuffer) -> list[tuple]:
    table = log.snapshot().table
    return sorted(zip(table["pk"].to_pylist(), table["ts"].to_pylist(), table["partition"].to_pylist(), strict=True))


@pytest.mark.parametrize("keys", [pa.array([1, 2, 3]), pa.array(["a", "b", "c"])], ids=["int", "varchar"])
def test_deletes_the_channel_brought_are_not_held_again(keys):
    log = DeleteBuffer()
    log.add(keys, _ts(10, 11, 12), 5)
    # the delta log has the same three and a fourth the channel delivered after the watch started
    more = pa.concat_arrays([keys, keys.slice(0, 1)])
    assert log.add_unseen(more, _ts(10, 11, 12, 20), 5) == 1
    assert len(log) == 4
    assert log.add_unseen(more, _ts(10, 11, 12, 20), 5) == 0  # the segment loaded again
    assert len(log) == 4


def test_the_same_key_at_another_timestamp_or_wider_scope_is_kept():
    log = DeleteBuffer()
    log.add(pa.array([1, 2]), _ts(10, 10), 5)
    # another time: a second delete of the key; every partition: hides more than partition 5's
    assert log.add_unseen(pa.array([1, 2]), _ts(11, 10), ALL_PARTITIONS) == 2
    assert _held(log) == [(1, 10, 5), (1, 11, -1), (2, 10, -1), (2, 10, 5)]
    # partition 5's delete of 2 at 10 is held twice over now; partition 6's is covered by every partition's
    assert log.add_unseen(pa.array([2, 2]), _ts(10, 10), 6) == 0
    assert log.add_unseen(pa.array([1]), _ts(10), 6) == 1  # 1 at 10 was held for partition 5 only


def test_duplicates_within_one_delta_log_are_held_once():
    log = DeleteBuffer()
    assert log.add_unseen(pa.array([7, 7, 8]), _ts(3, 3, 3)) == 2
    assert _held(log) == [(7, 3, -1), (8, 3, -1)]


def test_the_rows_hidden_are_the_same_with_or_without_the_copies():
    rng = np.random.default_rng(3)
    pks = pa.array(rng.integers(0, 200, 2000))
    ts = rng.integers(1, 1000, 2000).astype(np.uint64)
    doubled, once = DeleteBuffer(), DeleteBuffer()
    doubled.add(pks, ts, 5)
    doubled.add(pks, ts, 5)
    once.add(pks, ts, 5)
    assert once.add_unseen(pks, ts, 5) == 0
    assert len(once) == 2000 and len(doubled) == 4000
    row_pks = pa.array(np.arange(200))
    row_ts = rng.integers(1, 1000, 200).astype(np.uint64)
    for read_ts in (1, 300, 999, 2000):
        np.testing.assert_array_equal(
            visible_mask(row_pks, row_ts, read_ts, once.snapshot().latest(read_ts, 5)),
            visible_mask(row_pks, row_ts, read_ts, doubled.snapshot().latest(read_ts, 5)))


def test_a_channel_replaying_read_back_deletes_is_checked_only_then():
    log = DeleteBuffer()
    assert not log.may_hold(_ts(1))
    log.add_unseen(pa.array([1, 2]), _ts(10, 20))
    assert log.may_hold(_ts(20, 30)) and log.may_hold(_ts(5))
    assert not log.may_hold(_ts(21, 40))
