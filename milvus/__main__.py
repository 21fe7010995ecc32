"""``python -m milvus`` and the ``milvus`` console script: the ``milvus`` command.

Arrow C++ picks its default memory pool once, when pyarrow is imported, from the
``ARROW_DEFAULT_MEMORY_POOL`` environment variable; Parquet and IPC reads allocate from that
pool whatever pyarrow's own default is.  The command asks for ``system`` (unless the variable
is set already) before anything imports pyarrow, so those buffers come from glibc, whose freed
memory ``milvus.index.memory`` gives back to the OS; Arrow's mimalloc default kept about 50 MB
of a standalone's freed insert and build buffers resident.

gRPC core likewise reads ``GRPC_EXPERIMENTS`` once, when grpc is imported.  The command turns
the ``event_engine_listener`` experiment off (unless the variable is set already): with it on
(grpcio's default), the connections a Python server accepts are served by EventEngine threads,
one more thread hop per call than the classic listener whose sockets the server's own poller
reads.  Measured with grpcio 1.85 on 2 cores, serial nq=1 search through pymilvus: server CPU
per call 790 -> 660 us, 830 -> 925 QPS; a trivial unary method 245 -> 200 us.  A grpcio that no
longer knows the experiment logs one line and runs as before.
"""

import os
import sys


def main() -> int:
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    os.environ.setdefault("GRPC_EXPERIMENTS", "-event_engine_listener")  # before anything imports grpc
    from milvus.cmd.cli import main as cli  # imports pyarrow: after the pool is chosen

    return cli()


if __name__ == "__main__":
    sys.exit(main())
