"""A server process runs numpy's BLAS (its own pthreads pool) on one thread, and leaves faiss'
OpenMP team, and any BLAS threaded by OpenMP, as they are (``milvus.util.blas``)."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import json
import faiss, numpy
from threadpoolctl import threadpool_info
from milvus.util.blas import single_thread_own_pool_blas
before = threadpool_info()
limited = single_thread_own_pool_blas()
print(json.dumps({"before": before, "after": threadpool_info(), "limited": limited}))
"""


def test_numpys_own_pool_blas_runs_on_one_thread_and_openmp_is_left_alone():
    # a child process: the limit is for the rest of the process that sets it
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True)
    report = json.loads(out.stdout.strip().splitlines()[-1])
    before = {lib["filepath"]: lib for lib in report["before"]}
    after = {lib["filepath"]: lib for lib in report["after"]}
    own_pool = [path for path, lib in after.items()
                if lib["user_api"] == "blas" and lib.get("threading_layer") != "openmp"]
    assert own_pool, "numpy's BLAS was not found"
    assert sorted(report["limited"]) == sorted(own_pool)
    for path, lib in after.items():
        if path in own_pool:
            assert lib["num_threads"] == 1
        else:  # OpenMP, and BLAS on OpenMP: untouched
            assert lib["num_threads"] == before[path]["num_threads"]
