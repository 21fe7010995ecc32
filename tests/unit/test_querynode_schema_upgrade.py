"""A field added to a loaded collection (AddCollectionField) on the query side: segments get
the column (old rows its default or null), a node learns the schema from the reads and loads
that carry a newer version and never goes back, the query coordinator describes it again."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pyarrow as pa
from pymilvus.grpc_gen import common_pb2, schema_pb2

from milvus import errors
from milvus._proto import querycoord_pb2, querynode_pb2, rootcoord_pb2
from milvus.expr import compile_filter
from milvus.index.scalar import ScalarIndex
from milvus.querynode import SERVICE as QN_SERVICE
from milvus.querynode import QueryNode
from milvus.querynode.collection import CollectionState
from milvus.querynode.indexes import filter_indexes
from milvus.querynode.segments import GrowingSegment, SealedSegment
from milvus.rpc import LocalClient
from milvus.schema import CollectionSchemaModel
from tests.readpath import DIM, insert_envelope, make_batch, make_schema, read_arrow
from tests.unit.test_querycoord import COLL, PART, VCHS, Cluster


class FilteringCluster(Cluster):
    """The query coordinator's test cluster with query nodes that evaluate filters."""

    def add_node(self, node_id):
        node = QueryNode(node_id, self.mq, self.storage, read_timeout=5.0, peer=self.peer,
                         filter_compiler=compile_filter)
        node.start()
        self.nodes[node_id] = node
        self.qc.add_node(node_id, LocalClient(node, QN_SERVICE), f"127.0.0.1:{20000 + node_id}")
        return node

OLD = make_schema()


def _with_added_fields(model: CollectionSchemaModel) -> CollectionSchemaModel:
    proto = schema_pb2.CollectionSchema()
    proto.CopyFrom(model.proto)
    next_id = max(f.fieldID for f in proto.fields) + 1
    proto.fields.add(fieldID=next_id, name="note", data_type=schema_pb2.VarChar, nullable=True,
                     type_params=[common_pb2.KeyValuePair(key="max_length", value="16")],
                     default_value=schema_pb2.ValueField(string_data="n/a"))
    proto.fields.add(fieldID=next_id + 1, name="extra", data_type=schema_pb2.Int32, nullable=True)
    return CollectionSchemaModel(proto)


NEW = _with_added_fields(OLD)


def new_batch(pks, ts, notes, extras) -> pa.RecordBatch:
    old = make_batch(OLD, pks, ts, np.zeros((len(pks), DIM), np.float32))
    return pa.RecordBatch.from_arrays([*old.columns, pa.array(notes, pa.string()), pa.array(extras, pa.int32())],
                                      schema=NEW.arrow_schema)


def old_batch(pks, ts) -> pa.RecordBatch:
    return make_batch(OLD, pks, ts, np.zeros((len(pks), DIM), np.float32))


# ---- segments -------------------------------------------------------------------------------


def test_a_growing_segment_takes_a_newer_batchs_column_instead_of_dropping_it():
    segment = GrowingSegment(1, COLL, PART, VCHS[0])
    segment.append(old_batch([1, 2], 10))
    segment.append(new_batch([3], 20, ["hi"], [5]))
    segment.append(old_batch([4], 30))  # a proxy still on the old schema
    table = segment.view().table
    assert table.column("note").to_pylist() == ["n/a", "n/a", "hi", "n/a"]
    assert table.column("extra").to_pylist() == [None, None, 5, None]


def test_segments_upgrade_to_a_schema_with_added_fields():
    growing = GrowingSegment(1, COLL, PART, VCHS[0])
    growing.append(old_batch([1], 10))
    growing.upgrade(NEW.arrow_schema)
    assert growing.view().table.column("note").to_pylist() == ["n/a"]
    growing.append(old_batch([2], 20))
    assert growing.view().table.column("extra").to_pylist() == [None, None]
    sealed = SealedSegment(2, COLL, PART, VCHS[0], pa.Table.from_batches([old_batch([1, 2], 10)]))
    sealed.upgrade(NEW.arrow_schema)
    assert sealed.view().table.column("note").to_pylist() == ["n/a", "n/a"]
    assert sealed.backfilled == {"note", "extra"}


def test_an_index_built_before_the_column_was_filled_is_not_used_for_filters():
    class TwoRowIndex(ScalarIndex):
        num_rows = 2

        def __init__(self):  # noqa: D107 - only its type and row count matter here
            pass

    entry = SimpleNamespace(index=TwoRowIndex())
    extra_id = NEW.field("extra").field_id
    sealed = SealedSegment(2, COLL, PART, VCHS[0], pa.Table.from_batches([old_batch([1, 2], 10)]),
                           indexes={extra_id: entry})
    assert list(filter_indexes(sealed.view(), NEW)) == ["extra"]
    sealed.upgrade(NEW.arrow_schema)
    assert filter_indexes(sealed.view(), NEW) == {}


def test_a_collection_state_never_goes_back_to_an_older_schema():
    state = CollectionState(COLL, OLD, 1)
    assert not state.upgrade(1, NEW.proto.SerializeToString())  # same version: kept
    assert state.upgrade(2, NEW.proto.SerializeToString())
    assert state.schema.has_field("note") and state.schema_version == 2
    assert not state.upgrade(1, OLD.proto.SerializeToString())
    assert state.schema.has_field("note")


# ---- the node and the query coordinator ------------------------------------------------------


class VersionedRootCoord:
    def __init__(self, schema: CollectionSchemaModel):
        self.schema, self.version = schema, 0

    def DescribeCollectionInternal(self, request):
        info = rootcoord_pb2.CollectionInfo(id=COLL, schema=self.schema.proto.SerializeToString(),
                                            virtual_channels=VCHS, shards_num=2, schema_version=self.version)
        return rootcoord_pb2.DescribeCollectionInternalResponse(status=errors.OK, collection=info)


def _query(c: Cluster, node_id: int, ts: int, expr: str = "", fields=("note", "extra"), carry: bool = True):
    request = querynode_pb2.ShardRequest(
        collectionID=COLL, channels=VCHS, guarantee_ts=ts, expr=expr,
        output_field_ids=[NEW.field(n).field_id for n in fields])
    if carry:
        request.schema_version, request.schema = 1, NEW.proto.SerializeToString()
    resp = c.nodes[node_id].Query(request)
    assert resp.status.code == 0, resp.status.reason
    table = read_arrow(resp.arrow_fields) if resp.arrow_fields else None
    pks = list(resp.ids.int_id.data)
    order = np.argsort(pks)
    return [pks[i] for i in order], {n: [table.column(n)[int(i)].as_py() for i in order] for n in fields}


def test_a_loaded_collection_serves_an_added_field_for_old_and_new_rows(tmp_path):
    c = FilteringCluster(tmp_path)
    c.rootcoord = c.qc._targets._rootcoord = VersionedRootCoord(OLD)
    try:
        c.flush(5, VCHS[0], [1, 2], 100)  # sealed, written before the field
        c.insert(VCHS[1], 6, [3], 110)  # growing, before the field
        c.tick(200)
        c.qc.LoadCollection(querycoord_pb2.LoadCollectionRequest(collectionID=COLL))
        c.qc.check_once()

        c.rootcoord.schema, c.rootcoord.version = NEW, 1  # AddCollectionField
        # a read carrying the new schema: old rows read the default or null
        assert _query(c, 1, 200) == ([1, 2, 3], {"note": ["n/a"] * 3, "extra": [None] * 3})
        c.producer.send(_envelope(VCHS[1], 6, new_batch([4], 210, ["x"], [7]), 210), {"vchannel": VCHS[1]})
        c.tick(300)
        assert _query(c, 1, 300, expr="extra > 3") == ([4], {"note": ["x"], "extra": [7]})
        assert _query(c, 1, 300, expr='note == "n/a"')[0] == [1, 2, 3]
        assert _query(c, 1, 300, expr="extra is null")[0] == [1, 2, 3]

        # a node that starts serving now learns the schema from the coordinator's loads
        c.add_node(2)
        c.qc.remove_node(1)
        c.qc.check_once()
        c.qc.check_once()
        assert _query(c, 2, 300, expr="extra > 3", carry=False) == ([4], {"note": ["x"], "extra": [7]})
        assert _query(c, 2, 300, expr="extra is null", carry=False)[0] == [1, 2, 3]
    finally:
        c.close()


def _envelope(vch, segment, batch, ts):
    return insert_envelope(vch, COLL, PART, segment, batch, ts)
