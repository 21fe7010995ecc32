"""Freed memory goes back to the operating system: ``configure_allocators`` (few glibc arenas,
a fixed mmap threshold, Arrow on the system allocator) and ``release_free_memory`` (trim)
after a large transient Arrow allocation bring the resident size back down, and freed
multi-megabyte blocks go back at once.  Run in a child process: the allocator
settings are process-wide."""

from __future__ import annotations

import subprocess
import sys

CHILD = r"""
import numpy as np, pyarrow as pa
from milvus.index.memory import configure_allocators, release_free_memory

def anon_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("RssAnon:")) / 1024

configure_allocators()
assert pa.default_memory_pool().backend_name == "system", pa.default_memory_pool().backend_name
before = anon_mb()
part = pa.array(np.random.default_rng(1).random(4_000_000))  # 32 MB, numpy's memory
big = pa.concat_arrays([part, part])  # 64 MB allocated by Arrow
big.validate(full=True)  # touch every page
del part
peak = anon_mb()
del big
release_free_memory()
after = anon_mb()
assert peak - before > 40, (before, peak)
assert after - before < 0.5 * (peak - before), (before, peak, after)
print("ok", before, peak, after)
"""


def test_transient_arrow_memory_is_returned_after_release():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


MMAP_CHILD = r"""
import ctypes
from milvus.index.memory import configure_allocators

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]

def anon_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("RssAnon:")) / 1024

def touched(size):
    block = libc.malloc(size)
    ctypes.memset(block, 1, size)
    return block

configure_allocators()
libc.free(touched(30 << 20))  # a 30 MB mapped block freed: by its own rule glibc would now keep such blocks
before = anon_mb()
buffers, pins = [], []
for _ in range(3):
    buffers.append(touched(20 << 20))  # above the fixed threshold
    pins.append(touched(200 << 10))  # a live block above each (from the heap), so the heap cannot shrink from its top
peak = anon_mb()
for block in buffers:
    libc.free(block)
after = anon_mb()  # no trim: only blocks mapped on their own are back
assert peak - before > 30, (before, peak)
assert after - before < 0.25 * (peak - before), (before, peak, after)
print("ok", before, peak, after)
"""


def test_multi_megabyte_buffers_go_back_to_the_os_when_freed_without_a_trim():
    out = subprocess.run([sys.executable, "-c", MMAP_CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


def test_release_is_harmless_in_this_process():
    from milvus.index.memory import release_free_memory
    release_free_memory()
    release_free_memory()


NO_PANDAS_CHILD = r"""
import sys
import numpy as np, pyarrow as pa
from milvus.index.memory import arrow_without_pandas

arrow_without_pandas()
table = pa.table({"a": pa.array(np.arange(3)), "s": pa.array(["x", "y", "z"])})
assert pa.chunked_array([table["a"]]).to_numpy().tolist() == [0, 1, 2]
assert "pandas" not in sys.modules, "pa.array imported pandas"
assert table.to_pandas()["a"].tolist() == [0, 1, 2]  # asked for: still there
print("ok")
"""


def test_arrow_without_pandas_keeps_pandas_unloaded_until_asked_for():
    out = subprocess.run([sys.executable, "-c", NO_PANDAS_CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


POOL_CHILD = r"""
import io, os, sys
os.environ.pop("ARROW_DEFAULT_MEMORY_POOL", None)
sys.argv = ["milvus", "--version"]
from milvus.__main__ import main
assert main() == 0
assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system"
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
sink = io.BytesIO()
pq.write_table(pa.table({"a": np.arange(100_000)}), sink)
table = pq.read_table(io.BytesIO(sink.getvalue()), use_threads=False)  # Arrow C++'s default pool
assert pa.mimalloc_memory_pool().bytes_allocated() == 0, pa.mimalloc_memory_pool().bytes_allocated()
assert pa.system_memory_pool().bytes_allocated() >= table.nbytes
print("ok")
"""


def test_the_milvus_command_puts_arrow_cpp_on_the_system_allocator():
    out = subprocess.run([sys.executable, "-c", POOL_CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "ok"
