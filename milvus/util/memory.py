"""How much memory this process holds and how much it may hold: what data and query nodes
report to their coordinators for flow control (``milvus/proxy/quota.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


class MemoryUsage(NamedTuple):
    used: int  # bytes resident
    total: int  # bytes available: the cgroup's limit when one is set, else the machine's memory

    @property
    def fraction(self) -> float:
        return self.used / self.total if self.total > 0 else 0.0


# what a node is given to measure itself (tests pass their own)
MemoryProbe = Callable[[], MemoryUsage]


def process_memory() -> MemoryUsage:
    """This process' resident memory over the memory it may use; (0, 0) where unknown."""
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[1]) * page
        total = page * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, IndexError):
        return MemoryUsage(0, 0)
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
            break
    return MemoryUsage(used, total)
