"""Builders for read-path tests: schemas, stored row batches, channel envelopes, placeholders.

Envelopes and batches follow docs/datapath.md, so tests can feed a query node exactly what
the proxy would publish and what the data node would flush.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus._proto import msgstream_pb2
from milvus.schema import CollectionSchemaModel, arrow_to_ids, batch_to_ipc, normalize_schema

DIM = 8


def make_schema(pk: str = "int", *, dim: int = DIM, extra_vectors: bool = False, name: str = "c") -> CollectionSchemaModel:
    """pk (Int64 or VarChar), vec (FloatVector[dim]), tag (Int64), title (VarChar); with
    ``extra_vectors`` also bvec (BinaryVector[dim]) and svec (SparseFloatVector)."""
    fields = [
        schema_pb2.FieldSchema(name="pk", is_primary_key=True,
                               data_type=schema_pb2.Int64 if pk == "int" else schema_pb2.VarChar,
                               type_params=[] if pk == "int" else [common_pb2.KeyValuePair(key="max_length", value="64")]),
        schema_pb2.FieldSchema(name="vec", data_type=schema_pb2.FloatVector,
                               type_params=[common_pb2.KeyValuePair(key="dim", value=str(dim))]),
        schema_pb2.FieldSchema(name="tag", data_type=schema_pb2.Int64),
        schema_pb2.FieldSchema(name="title", data_type=schema_pb2.VarChar,
                               type_params=[common_pb2.KeyValuePair(key="max_length", value="64")]),
    ]
    if extra_vectors:
        fields += [
            schema_pb2.FieldSchema(name="bvec", data_type=schema_pb2.BinaryVector,
                                   type_params=[common_pb2.KeyValuePair(key="dim", value=str(dim))]),
            schema_pb2.FieldSchema(name="svec", data_type=schema_pb2.SparseFloatVector),
        ]
    return CollectionSchemaModel(normalize_schema(schema_pb2.CollectionSchema(name=name, fields=fields)))


def sparse_row(pairs: dict[int, float]) -> bytes:
    items = sorted(pairs.items())
    arr = np.zeros(len(items), dtype=[("index", "<u4"), ("value", "<f4")])
    if items:
        arr["index"] = [i for i, _ in items]
        arr["value"] = [v for _, v in items]
    return arr.tobytes()


def make_batch(schema: CollectionSchemaModel, pks: Sequence, ts: int | Sequence[int], vecs: np.ndarray, *,
               tags: Sequence[int] | None = None, bvecs: np.ndarray | None = None,
               svecs: Sequence[dict[int, float]] | None = None,
               row_ids: Sequence[int] | None = None) -> pa.RecordBatch:
    n = len(pks)
    ts_arr = np.full(n, ts, dtype=np.uint64) if np.isscalar(ts) else np.asarray(ts, dtype=np.uint64)
    dim = schema.field("vec").dim
    cols: dict[str, pa.Array] = {
        "_row_id": pa.array(np.asarray(row_ids if row_ids is not None else np.arange(n), dtype=np.int64)),
        "_ts": pa.array(ts_arr),
        "pk": pa.array(list(pks), type=schema.primary_field.arrow_type),
        "vec": pa.FixedSizeListArray.from_arrays(pa.array(np.asarray(vecs, dtype=np.float32).ravel()), dim),
        "tag": pa.array(np.asarray(tags if tags is not None else np.arange(n), dtype=np.int64)),
        "title": pa.array([f"t{p}" for p in pks]),
    }
    if schema.has_field("bvec"):
        packed = np.asarray(bvecs if bvecs is not None else np.zeros((n, dim // 8), np.uint8), dtype=np.uint8)
        cols["bvec"] = pa.FixedSizeBinaryArray.from_buffers(pa.binary(dim // 8), n, [None, pa.py_buffer(packed.tobytes())])
        rows = svecs if svecs is not None else [{} for _ in range(n)]
        cols["svec"] = pa.array([sparse_row(r) for r in rows], type=pa.binary())
    arrays = [cols[f.name].cast(f.type) for f in schema.arrow_schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema.arrow_schema)


def insert_envelope(vchannel: str, collection: int, partition: int, segment: int, batch: pa.RecordBatch,
                    ts: int) -> bytes:
    return msgstream_pb2.Envelope(
        kind=msgstream_pb2.INSERT, begin_ts=ts, end_ts=ts,
        insert=msgstream_pb2.InsertMsg(vchannel=vchannel, collection_id=collection, partition_id=partition,
                                       segment_id=segment, num_rows=batch.num_rows,
                                       arrow_batch=batch_to_ipc(batch)),
    ).SerializeToString()


def delete_envelope(vchannel: str, collection: int, pks: Sequence, ts: int, partition: int = -1) -> bytes:
    return msgstream_pb2.Envelope(
        kind=msgstream_pb2.DELETE, begin_ts=ts, end_ts=ts,
        delete=msgstream_pb2.DeleteMsg(vchannel=vchannel, collection_id=collection, partition_id=partition,
                                       primary_keys=arrow_to_ids(list(pks)), timestamps=[ts] * len(pks),
                                       num_rows=len(pks)),
    ).SerializeToString()


def time_tick_envelope(ts: int) -> bytes:
    return msgstream_pb2.Envelope(kind=msgstream_pb2.TIME_TICK, begin_ts=ts, end_ts=ts,
                                  time_tick=msgstream_pb2.TimeTickMsg(source="test")).SerializeToString()


def placeholder(vectors, kind: int = common_pb2.PlaceholderType.FloatVector) -> bytes:
    if kind == common_pb2.PlaceholderType.FloatVector:
        values = [np.asarray(v, dtype="<f4").tobytes() for v in vectors]
    elif kind == common_pb2.PlaceholderType.BinaryVector:
        values = [np.asarray(v, dtype=np.uint8).tobytes() for v in vectors]
    else:
        values = [sparse_row(v) for v in vectors]
    group = common_pb2.PlaceholderGroup(placeholders=[common_pb2.PlaceholderValue(tag="$0", type=kind, values=values)])
    return group.SerializeToString()


def read_arrow(data: bytes) -> pa.Table:
    with pa.ipc.open_stream(data) as reader:
        return reader.read_all()


def ids_list(ids: schema_pb2.IDs) -> list:
    kind = ids.WhichOneof("id_field")
    return [] if kind is None else list(getattr(ids, kind).data)
