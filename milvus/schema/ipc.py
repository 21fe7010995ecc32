"""Arrow IPC stream bytes for row batches carried in messages (``InsertMsg.arrow_batch``)."""

from __future__ import annotations

import pyarrow as pa


def batch_to_ipc(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def ipc_to_batch(data: bytes) -> pa.RecordBatch:
    """The rows in ``data`` as one record batch (several batches are concatenated)."""
    with pa.ipc.open_stream(data) as reader:
        schema = reader.schema
        batches = list(reader)
    if len(batches) == 1:
        return batches[0]
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=schema)
    return pa.Table.from_batches(batches, schema=schema).combine_chunks().to_batches()[0]
