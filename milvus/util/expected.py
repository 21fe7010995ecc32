"""The nodes a coordinator that takes over (a restart, a standby) waits for.

When it starts following the nodes' sessions, the nodes live then register with it one by one:
until a node registered (or left), what it owns (channels, index builds) is not an orphan to
hand to another node.  A node that neither registers nor leaves within the grace period gives
up what it owns.  Not thread-safe: the owner calls it under its own lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


class ExpectedNodes:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._ids: frozenset[int] = frozenset()
        self._until = 0.0

    def expect(self, node_ids: Iterable[int], registered: Iterable[int], grace: float) -> None:
        """Wait for ``node_ids`` (those not ``registered`` already) for ``grace`` seconds."""
        self._ids = frozenset(node_ids) - frozenset(registered)
        self._until = self._clock() + grace

    def arrived(self, node_id: int) -> None:
        """The node registered, or left: no longer waited for."""
        self._ids -= {node_id}

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._ids

    def overdue(self) -> frozenset[int]:
        """The nodes still waited for once the grace period is over (no longer waited for
        from now on); empty before that."""
        if not self._ids or self._clock() < self._until:
            return frozenset()
        late, self._ids = self._ids, frozenset()
        return late
