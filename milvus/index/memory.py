"""Giving memory back to the operating system after the large, short-lived allocations of an
index build, a segment load or a sync (read buffers, serialized index files, faiss' build
scratch, insert messages).

Freed memory otherwise stays in the process: glibc keeps it in per-thread arenas (gRPC and
faiss threads each get one) and Arrow's allocator keeps freed pages for reuse, so the
resident size stays at the high-water mark of the last build or load.  ``release_free_memory``
returns what is free (glibc ``malloc_trim`` and the Arrow pool's ``release_unused``); it frees
nothing that is in use, and does nothing where glibc is not the C library.

``configure_allocators`` (called once by a server process before its roles start threads)
makes that effective: at most ``ARENAS`` glibc arenas (``mallopt(M_ARENA_MAX)``: many
threads' arenas keep many partly used heaps that trimming cannot return), and Arrow buffers
from the system allocator (mimalloc keeps freed segments), which ``malloc_trim`` reaches.
Measured on a standalone with 100k x 128 vectors and an HNSW index: 415 MB resident after
load and searches with neither, 306 MB with both.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable

import pyarrow as pa

log = logging.getLogger(__name__)


ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


def _malloc_trim() -> Callable[[int], int] | None:
    return getattr(_libc(), "malloc_trim", None)  # None: not glibc


def configure_allocators() -> None:
    """Few glibc arenas and the system allocator for Arrow (see the module docstring)."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is not None and _malloc_trim() is not None:
        mallopt(_M_ARENA_MAX, ARENAS)
    try:
        pa.set_memory_pool(pa.system_memory_pool())
    except Exception:  # noqa: BLE001 - keep Arrow's default pool
        log.debug("cannot switch Arrow to the system allocator", exc_info=True)


def release_free_memory() -> None:
    """Return freed heap memory to the operating system (cheap enough after every build/load)."""
    try:
        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - best effort: an allocator without the call
        log.debug("arrow pool cannot release unused memory", exc_info=True)
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
