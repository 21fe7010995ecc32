"""The greedy step both balancers take (channels between leaders, sealed segments between the
members of a replica): while the most and the least loaded nodes are further apart than
``tolerance`` of the mean load, move the item of the most loaded node whose move narrows
that gap the most (strictly by more than half the slack, so nothing moves back and forth)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def narrowing_moves(owner: MutableMapping[K, int], weight: Callable[[K], int], load: MutableMapping[int, int],
                    nodes: Sequence[int], tolerance: float,
                    movable: Callable[[K], bool] = lambda _: True) -> list[tuple[K, int, int]]:
    """The moves ``(item, source, target)`` in order; ``owner`` (item -> node) and ``load``
    (node -> summed weight) are updated as they are planned.  Each item moves at most once."""
    moves: list[tuple[K, int, int]] = []
    if len(nodes) < 2:
        return moves
    slack = max(1.0, tolerance * sum(load[n] for n in nodes) / len(nodes))
    moved: set[K] = set()
    while True:
        high = max(nodes, key=lambda n: (load[n], -n))
        low = min(nodes, key=lambda n: (load[n], n))
        gap = load[high] - load[low]
        if gap <= slack:
            return moves
        best = None
        for item in sorted(i for i, n in owner.items() if n == high and i not in moved and movable(i)):
            new_gap = abs(gap - 2 * weight(item))
            if gap - new_gap > slack / 2 and (best is None or new_gap < best[0]):
                best = (new_gap, item)
        if best is None:
            return moves
        item = best[1]
        owner[item] = low
        load[high] -= weight(item)
        load[low] += weight(item)
        moved.add(item)
        moves.append((item, high, low))
