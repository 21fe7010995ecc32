"""Picking groups and iterator batches from a merged search ranking."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from milvus.proxy.search_select import (
    IteratorState,
    IteratorStates,
    _select_groups_small,
    _select_groups_vectorized,
    group_codes,
    next_state,
    select_groups,
)


def test_group_codes_treat_null_as_a_group():
    codes = group_codes(pa.array(["a", None, "b", "a", None]))
    assert codes[0] == codes[3] and codes[1] == codes[4] == -1 and codes[2] not in (codes[0], -1)
    assert group_codes(pa.array([True, False, True])).tolist()[0] == group_codes(pa.array([True, False, True]))[2]


def test_groups_by_best_hit_each_with_its_best_hits():
    ranked = np.array([10, 11, 12, 13, 14, 15, 16])  # row numbers, best first
    codes = np.zeros(20, dtype=np.int64)
    codes[[10, 11, 12, 13, 14, 15, 16]] = [5, 7, 5, 9, 7, 5, 9]
    got = select_groups(ranked, codes, offset=0, limit=2, group_size=2, exhausted=False)
    assert got.rows.tolist() == [10, 12, 11, 14] and got.complete
    page = select_groups(ranked, codes, offset=1, limit=2, group_size=1, exhausted=False)
    assert page.rows.tolist() == [11, 13] and page.complete


def test_incomplete_until_groups_fill_or_the_ranking_is_exhausted():
    ranked = np.array([0, 1, 2])
    codes = np.array([1, 2, 1])
    assert not select_groups(ranked, codes, offset=0, limit=3, group_size=1, exhausted=False).complete
    assert not select_groups(ranked, codes, offset=0, limit=2, group_size=2, exhausted=False).complete
    done = select_groups(ranked, codes, offset=0, limit=3, group_size=2, exhausted=True)
    assert done.complete and done.rows.tolist() == [0, 2, 1]


def test_short_rankings_pick_the_groups_the_vectorized_path_picks():
    """A short ranking is grouped in one Python pass: the same rows, the same completeness."""
    rng = np.random.default_rng(3)
    for _ in range(400):
        n = int(rng.integers(1, 80))
        ranked = rng.permutation(200)[:n]
        codes = rng.integers(-1, int(rng.integers(1, 12)), size=200)
        args = (int(rng.integers(0, 4)), int(rng.integers(1, 6)), int(rng.integers(1, 4)), bool(rng.integers(0, 2)))
        small, vectorized = _select_groups_small(ranked, codes, *args), _select_groups_vectorized(ranked, codes, *args)
        assert small.rows.tolist() == vectorized.rows.tolist() and small.complete == vectorized.complete, args
    long = np.arange(2000)  # past the short path's length: the vectorized one answers
    got = select_groups(long, np.arange(2000) % 7, offset=0, limit=3, group_size=2, exhausted=False)
    assert got.rows.tolist() == [0, 7, 1, 8, 2, 9] and got.complete


def test_iterator_state_remembers_hits_tied_with_the_bound():
    first = next_state(None, None, np.array([0.5, 1.0, 1.0], dtype=np.float32), [7, 3, 9], "L2")
    assert first == IteratorState(1.0, frozenset({3, 9}), "L2")
    same_bound = next_state(first, 1.0, np.array([1.0], dtype=np.float32), [12], "L2")
    assert same_bound.ties == {3, 9, 12}
    moved = next_state(same_bound, 1.0, np.array([1.0, 2.0], dtype=np.float32), [13, 4], "L2")
    assert moved == IteratorState(2.0, frozenset({4}), "L2")
    assert next_state(moved, 2.0, np.zeros(0, dtype=np.float32), [], "L2") is moved
    states = IteratorStates(capacity=2)
    for token in ("a", "b", "c"):
        states.put(token, first)
    assert states.get("a") is None and states.get("c") == first
