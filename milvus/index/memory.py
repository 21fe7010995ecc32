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
load and searches with neither, 306 MB with both.  It also fixes glibc's mmap threshold at
``MMAP_THRESHOLD`` (``mallopt(M_MMAP_THRESHOLD)``): by default glibc raises the threshold to
the size of each mapped block freed, up to 32 MB, after which the large buffers of syncs,
growing segments and builds come from the heaps, where what small objects later take of them
stays resident whatever ``malloc_trim`` does.  Above a fixed 16 MB they are mapped and
unmapped on their own.  Measured with the benchmark's steps (``milvus bench`` data, 100k x
128, HNSW), resident size of the standalone: at the end (loaded, searched) 220-253 MB (three
runs) -> 207; after 100k rows in 10k-row inserts 207-235 -> 187-209 (four runs).  A 1 MB
threshold took the insert peak lower still (150 MB) but cost 8-10 % of 10k-row insert
throughput (each 5 MB message buffer mapped and faulted in afresh); 16 MB is within the
noise of glibc's own rule there.
``set_memory_pool`` changes pyarrow's
default only: Arrow C++'s own default, which Parquet and IPC reads allocate from, is fixed
when pyarrow is imported, from ``ARROW_DEFAULT_MEMORY_POOL``, which the ``milvus`` command
sets (``milvus/__main__.py``); that took another 50 MB off a loaded standalone.

``arrow_without_pandas`` (also once, before threads start) keeps pandas out of a server
process: pyarrow imports pandas, when it is installed (pymilvus depends on it), on the first
``pa.array`` of any process, only to ask whether the value is a pandas object: 40 MB resident
for nothing a server does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
from collections.abc import Callable
from importlib.machinery import ModuleSpec

import pyarrow as pa

log = logging.getLogger(__name__)


ARENAS = 2
MMAP_THRESHOLD = 16 << 20  # bytes
_M_ARENA_MAX = -8  # glibc's malloc.h
_M_MMAP_THRESHOLD = -3


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
    """Few glibc arenas, a fixed mmap threshold and the system allocator for Arrow (see the
    module docstring)."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is not None and _malloc_trim() is not None:
        mallopt(_M_ARENA_MAX, ARENAS)
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    try:
        pa.set_memory_pool(pa.system_memory_pool())
    except Exception:  # noqa: BLE001 - keep Arrow's default pool
        log.debug("cannot switch Arrow to the system allocator", exc_info=True)


class _NoPandas:
    """A meta path finder for which pandas is not installed."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if name == "pandas":
            raise ModuleNotFoundError("pandas is kept out of this process's pyarrow", name=name)
        return None


def arrow_without_pandas() -> None:
    """pyarrow's pandas checks answer "no pandas" without importing it (see the module docstring).

    pyarrow tries the import once for those checks and remembers the answer, so the first
    ``pa.array`` is made while pandas cannot be found; an explicit conversion
    (``Table.to_pandas``) still imports it.  Call before other threads use pyarrow; does
    nothing where pandas is already imported."""
    if "pandas" in sys.modules:
        return
    sys.meta_path.insert(0, _NoPandas)
    try:
        pa.array([0])
    finally:
        sys.meta_path.remove(_NoPandas)


def release_free_memory() -> None:
    """Return freed heap memory to the operating system (cheap enough after every build/load)."""
    try:
        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - best effort: an allocator without the call
        log.debug("arrow pool cannot release unused memory", exc_info=True)
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
