"""The on-storage formats of segments: insert logs, delta logs and primary-key stats.

Files are immutable and self-describing:
- insert log: a Parquet file with every column of a batch of rows (``_row_id``, ``_ts``, then
  the user fields, as ``milvus.schema`` lays them out; float vectors stored as whole binary
  rows and read back as fixed-size lists);
- delta log: a Parquet file with columns ``pk`` (int64 or string) and ``_ts`` (uint64);
- stats log: PK min/max and a bloom filter over the keys, to skip segments on delete/get.
Object keys follow DESIGN.md §6.
"""

from milvus.binlog.format import (
    PKStats,
    conform,
    delta_log_key,
    insert_log_column,
    insert_log_key,
    insert_log_rows,
    log_paths,
    read_delta_log,
    read_insert_log,
    stats_log_key,
    write_delta_log,
    write_insert_log,
)

__all__ = [
    "PKStats",
    "conform",
    "delta_log_key",
    "insert_log_column",
    "insert_log_key",
    "insert_log_rows",
    "log_paths",
    "read_delta_log",
    "read_insert_log",
    "stats_log_key",
    "write_delta_log",
    "write_insert_log",
]
