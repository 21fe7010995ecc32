"""``python -m milvus`` and the ``milvus`` console script: the ``milvus`` command.

Arrow C++ picks its default memory pool once, when pyarrow is imported, from the
``ARROW_DEFAULT_MEMORY_POOL`` environment variable; Parquet and IPC reads allocate from that
pool whatever pyarrow's own default is.  The command asks for ``system`` (unless the variable
is set already) before anything imports pyarrow, so those buffers come from glibc, whose freed
memory ``milvus.index.memory`` gives back to the OS; Arrow's mimalloc default kept about 50 MB
of a standalone's freed insert and build buffers resident.
"""

import os
import sys


def main() -> int:
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    from milvus.cmd.cli import main as cli  # imports pyarrow: after the pool is chosen

    return cli()


if __name__ == "__main__":
    sys.exit(main())
