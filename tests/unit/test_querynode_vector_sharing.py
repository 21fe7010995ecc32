"""A sealed segment keeps its raw float vectors once: when an index of the field stores them
verbatim (FLAT, HNSW, SCANN with raw data; L2/IP), the segment's vector column becomes a
zero-copy view of the index's copy; otherwise (quantized indexes, COSINE, other rows) the
column stays as loaded.  Readers (exact search, output of the vector field) see the same
values either way."""

from __future__ import annotations

import gc

import numpy as np
import pyarrow as pa
import pytest

from milvus.index import DENSE, build_index, load_index
from milvus.querynode.indexes import SegmentIndex
from milvus.querynode.read import output_table
from milvus.querynode.segments import SealedSegment
from milvus.schema import CollectionSchemaModel
from milvus.schema.model import FIELD_ID_KEY

N, DIM = 600, 16
RNG = np.random.default_rng(7)
X = RNG.normal(size=(N, DIM)).astype(np.float32)
VEC_ID = 101
BUILD = {"HNSW": {"M": 8, "efConstruction": 40}, "IVF_SQ8": {"nlist": 8}, "FLAT": {}, "IVF_FLAT": {"nlist": 8},
         "SCANN": {"nlist": 8}}


def _table(x: np.ndarray = X) -> pa.Table:
    vec_type = pa.list_(pa.field("item", pa.float32()), DIM)
    fields = [pa.field("id", pa.int64(), metadata={FIELD_ID_KEY: b"100"}),
              pa.field("vec", vec_type, metadata={FIELD_ID_KEY: str(VEC_ID).encode()})]
    vec = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel(), pa.float32()), type=vec_type)
    return pa.Table.from_arrays([pa.array(np.arange(len(x)), pa.int64()), vec], schema=pa.schema(fields))


def _index(index_type: str, metric: str = "L2", x: np.ndarray = X) -> SegmentIndex:
    files = build_index(index_type, metric, BUILD[index_type], x, kind=DENSE, dim=DIM, num_rows=len(x))
    return SegmentIndex(1, VEC_ID, "vec", load_index(files.__getitem__))


def _vec_buffer(segment: SealedSegment) -> pa.Buffer:
    return segment.view().table.column("vec").chunk(0).values.buffers()[1]


def _values(segment: SealedSegment) -> np.ndarray:
    col = segment.view().table.column("vec").combine_chunks()
    return np.asarray(col.values.to_numpy()).reshape(len(col), DIM)


@pytest.mark.parametrize("index_type,metric", [("HNSW", "L2"), ("HNSW", "IP"), ("FLAT", "L2"), ("SCANN", "L2")])
def test_column_served_from_the_index_copy(index_type, metric):
    entry = _index(index_type, metric)
    stored = entry.index.stored_vectors()
    assert stored is not None and stored.size == X.nbytes
    segment = SealedSegment(1, 2, 3, "ch", _table(), {VEC_ID: entry})
    assert _vec_buffer(segment).address == stored.address  # no second copy
    np.testing.assert_array_equal(_values(segment), X)
    # the view outlives the index object: the buffer keeps the index's memory alive
    view = segment.view()
    segment.set_indexes({})
    del entry, stored
    gc.collect()
    np.testing.assert_array_equal(np.asarray(view.dense(_field()).matrix), X)


@pytest.mark.parametrize("index_type,metric", [("IVF_SQ8", "L2"), ("IVF_FLAT", "L2"), ("HNSW", "COSINE")])
def test_column_kept_when_the_index_has_no_verbatim_copy(index_type, metric):
    table = _table()
    before = table.column("vec").chunk(0).values.buffers()[1].address
    segment = SealedSegment(1, 2, 3, "ch", table, {VEC_ID: _index(index_type, metric)})
    assert _vec_buffer(segment).address == before
    np.testing.assert_array_equal(_values(segment), X)


def test_index_over_other_rows_is_not_used_for_the_column():
    other = X[::-1].copy()
    segment = SealedSegment(1, 2, 3, "ch", _table(), {VEC_ID: _index("HNSW", x=other)})
    np.testing.assert_array_equal(_values(segment), X)


def test_index_handed_over_later_swaps_the_column_and_outputs_match():
    segment = SealedSegment(1, 2, 3, "ch", _table())
    schema = CollectionSchemaModel(_schema_proto())
    offsets = np.array([5, 0, 599, 17])
    before = output_table(schema, ["vec"], [(segment.view(), offsets)])
    entry = _index("HNSW")
    segment.set_indexes({VEC_ID: entry})
    assert _vec_buffer(segment).address == entry.index.stored_vectors().address
    after = output_table(schema, ["vec"], [(segment.view(), offsets)])
    assert before.equals(after)
    np.testing.assert_array_equal(np.asarray(segment.view().dense(_field()).matrix)[offsets], X[offsets])


def _schema_proto():
    from pymilvus.grpc_gen import schema_pb2 as spb
    from pymilvus.grpc_gen.common_pb2 import KeyValuePair
    return spb.CollectionSchema(name="c", fields=[
        spb.FieldSchema(fieldID=100, name="id", data_type=spb.Int64, is_primary_key=True),
        spb.FieldSchema(fieldID=VEC_ID, name="vec", data_type=spb.FloatVector,
                        type_params=[KeyValuePair(key="dim", value=str(DIM))])])


def _field():
    return CollectionSchemaModel(_schema_proto()).field("vec")
