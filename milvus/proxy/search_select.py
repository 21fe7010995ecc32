"""Which merged search hits a request gets: a page (offset/limit), groups (``group_by_field``),
or the next batch of a search iterator (v2).

The proxy merges the shards' hits of each query into one ranking (best first, ties by
primary key); shards answer with their best ``topk``, so the merged ranking is an exact
prefix of the ranking over every visible row.  These functions pick from that prefix and say
when it is too short to decide (then the proxy asks again with a larger ``topk``).
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def group_codes(values: pa.Array) -> np.ndarray:
    """An integer per row, equal for equal values (null is a group of its own)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    if pa.types.is_boolean(values.type):
        values = values.cast(pa.int8())
    encoded = pc.dictionary_encode(values).indices
    return np.asarray(pc.fill_null(encoded.cast(pa.int64()), -1).to_numpy(zero_copy_only=False), dtype=np.int64)


@dataclass(frozen=True)
class Grouped:
    rows: np.ndarray  # the chosen hits, group by group (groups by their best hit), best first
    complete: bool  # False: the prefix was too short to know the answer


def select_groups(ranked: np.ndarray, codes: np.ndarray, *, offset: int, limit: int, group_size: int,
                  exhausted: bool) -> Grouped:
    """Groups ``offset .. offset+limit`` of the ranking ``ranked`` (row numbers, best first;
    ``codes[row]`` its group), each with its best ``group_size`` hits."""
    if not len(ranked):
        return Grouped(np.zeros(0, dtype=np.int64), True)
    if len(ranked) <= _SMALL:
        return _select_groups_small(ranked, codes, offset, limit, group_size, exhausted)
    return _select_groups_vectorized(ranked, codes, offset, limit, group_size, exhausted)


def _select_groups_vectorized(ranked: np.ndarray, codes: np.ndarray, offset: int, limit: int, group_size: int,
                              exhausted: bool) -> Grouped:
    c = codes[ranked]
    uniq, first = np.unique(c, return_index=True)
    group_order = uniq[np.argsort(first, kind="stable")]  # groups by their best hit
    wanted = group_order[offset:offset + limit]
    # rank of each hit inside its group
    order = np.lexsort((np.arange(len(c)), c))
    sorted_codes = c[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    run = np.repeat(starts, np.diff(np.r_[starts, len(c)]))
    within = np.empty(len(c), dtype=np.int64)
    within[order] = np.arange(len(c)) - run
    position = {int(g): i for i, g in enumerate(wanted)}
    keep = np.isin(c, wanted) & (within < group_size)
    picked = np.flatnonzero(keep)
    rank_of_group = np.array([position[int(g)] for g in c[picked]], dtype=np.int64) if len(picked) else picked
    picked = picked[np.lexsort((picked, rank_of_group))]
    complete = exhausted
    if not complete:
        sizes = np.bincount(rank_of_group, minlength=len(wanted)) if len(wanted) else np.zeros(0, np.int64)
        complete = len(group_order) >= offset + limit and bool((sizes >= group_size).all())
    return Grouped(ranked[picked], complete)


_SMALL = 512  # hits up to which a Python loop beats a dozen numpy calls (a search asks for 64 or so)


def _select_groups_small(ranked: np.ndarray, codes: np.ndarray, offset: int, limit: int, group_size: int,
                         exhausted: bool) -> Grouped:
    """``select_groups`` for a short ranking, one pass in Python (the same answer)."""
    order: list[int] = []  # groups by their best hit
    hits: dict[int, list[int]] = {}
    for i, g in enumerate(codes[ranked].tolist()):
        mine = hits.get(g)
        if mine is None:
            order.append(g)
            hits[g] = [i]
        elif len(mine) < group_size:
            mine.append(i)
    wanted = order[offset:offset + limit]
    picked = np.asarray([i for g in wanted for i in hits[g]], dtype=np.int64)
    complete = exhausted or (len(order) >= offset + limit and all(len(hits[g]) >= group_size for g in wanted))
    return Grouped(ranked[picked], complete)


@dataclass
class IteratorState:
    bound: float  # score of the last hit returned
    ties: frozenset  # primary keys returned so far whose score equals ``bound``
    metric: str


class IteratorStates:
    """Search iterator (v2) states by token, the most recent ``capacity`` kept."""

    def __init__(self, capacity: int = 4096):
        self._capacity = capacity
        self._states: OrderedDict[str, IteratorState] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def new_token() -> str:
        return uuid.uuid4().hex

    def get(self, token: str) -> IteratorState | None:
        with self._lock:
            state = self._states.get(token)
            if state is not None:
                self._states.move_to_end(token)
            return state

    def put(self, token: str, state: IteratorState) -> None:
        with self._lock:
            self._states[token] = state
            self._states.move_to_end(token)
            while len(self._states) > self._capacity:
                self._states.popitem(last=False)


def next_state(previous: IteratorState | None, bound_used: float | None, scores: np.ndarray, pks: list,
               metric: str) -> IteratorState | None:
    """The state after a batch with ``scores``/``pks`` (best first)."""
    if not len(scores):
        return previous
    last = float(np.float32(scores[-1]))
    ties = {pk for pk, s in zip(pks, scores, strict=True) if float(np.float32(s)) == last}
    if previous is not None and bound_used is not None and previous.bound == last:
        ties |= previous.ties
    return IteratorState(last, frozenset(ties), metric)
