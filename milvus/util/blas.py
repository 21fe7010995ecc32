"""The thread pools of the BLAS libraries loaded beside faiss' OpenMP team.

numpy's OpenBLAS (the scipy-openblas build numpy wheels ship) runs its matrix products on a
thread pool of its own (pthreads), and its threads spin for a while after each product.  A
server computes small products with it for every search over rows that have no index (growing
segments, small or unindexed sealed ones): ``nq x dim`` queries times ``dim x rows`` vectors.
Next to faiss' OpenMP threads searching an index in the same request, the two pools take the
same cores from each other: through pymilvus on 2 cores, nq=10 searches of 100k x 128 HNSW
fell from 361 to 83 per second once 1,000 single-row inserts had made a growing segment.  Two
standalones side by side (50k x 128 HNSW plus 500 growing rows, nq=10): 91 -> 287 QPS and
20.7 -> 5.5 ms of server CPU per call with numpy's BLAS on one thread; nq=1 searches did not
move (a single query is a matrix-vector product, which OpenBLAS runs on one thread anyway).

``single_thread_own_pool_blas`` (once per server process, before its roles start) sets every
loaded BLAS library with a thread pool of its own to one thread.  A BLAS threaded by OpenMP
(faiss' own OpenBLAS, which faiss' IVF training and flat searches use) shares the OpenMP team
and is left as it is; so is the team itself.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def single_thread_own_pool_blas() -> list[str]:
    """Limit to one thread every loaded BLAS library whose threads are not OpenMP's; returns
    the files of the libraries limited (none without ``threadpoolctl``)."""
    import numpy  # noqa: F401 - loads numpy's BLAS, so that it is found

    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # an optional speed-up: a missing package changes nothing else
        log.debug("threadpoolctl is not installed: numpy's BLAS keeps its threads")
        return []
    limited = []
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and lib.info().get("threading_layer") != "openmp":
            lib.set_num_threads(1)
            limited.append(lib.filepath)
    return limited
