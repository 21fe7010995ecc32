"""``python -m milvus``: the ``milvus`` command."""

import sys

from milvus.cmd.cli import main

if __name__ == "__main__":
    sys.exit(main())
