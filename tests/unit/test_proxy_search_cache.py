"""What the proxy's read path remembers between calls: search parameters parsed once per
distinct set, output fields resolved once per list, the Collection reused while the meta
cache answers the same info; and that none of it changes an answer or an error."""

from __future__ import annotations

import pytest
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from milvus import errors
from milvus._proto import querycoord_pb2, querynode_pb2, rootcoord_pb2
from milvus.proxy import dql as dql_module
from milvus.proxy.callers import Caller
from milvus.proxy.channel_writer import ChannelWriter
from milvus.proxy.collections import Collections
from milvus.proxy.dql import Dql, DqlParams
from milvus.proxy.meta_cache import MetaCache
from milvus.proxy.service import CallInfo
from milvus.schema import SchemaError
from milvus.tso import compose_ts

NOW_MS = 1_700_000_000_000


def _schema() -> bytes:
    return schema_pb2.CollectionSchema(name="c", fields=[
        schema_pb2.FieldSchema(fieldID=100, name="id", data_type=schema_pb2.Int64, is_primary_key=True),
        schema_pb2.FieldSchema(fieldID=101, name="vec", data_type=schema_pb2.FloatVector,
                               type_params=[common_pb2.KeyValuePair(key="dim", value="2")]),
        schema_pb2.FieldSchema(fieldID=102, name="n", data_type=schema_pb2.Int64),
    ]).SerializeToString()


def _info(version: int = 0) -> rootcoord_pb2.CollectionInfo:
    return rootcoord_pb2.CollectionInfo(id=7, name="c", db_name="default", schema=_schema(), schema_version=version,
                                        virtual_channels=["v0"], physical_channels=["p0"],
                                        consistency_level=common_pb2.Eventually,
                                        partitions=[rootcoord_pb2.PartitionInfo(id=8, name="_default")])


class _QueryNode:
    def __init__(self):
        self.requests: list[querynode_pb2.ShardRequest] = []

    def Search(self, request):  # noqa: N802 - the RPC's name
        self.requests.append(querynode_pb2.ShardRequest.FromString(request.SerializeToString()))
        answer = querynode_pb2.ShardSearchResults(num_queries=1, top_k=request.topk, metric_type="L2", read_ts=5,
                                                  scores=[0.5] * 2, topks=[2])
        answer.ids.int_id.data.extend([11, 12])
        return answer


class _QueryCoord:
    def GetShardLeaders(self, request):  # noqa: N802 - the RPC's name
        response = querycoord_pb2.GetShardLeadersResponse()
        leader = response.replicas.add().shard_leaders.add()
        leader.node_id, leader.address, leader.channel_name = 1, "here", "v0"
        return response


class _Stack:
    def __init__(self):
        self.info = _info()
        self.fetches = 0
        self.activated: list[list[str]] = []
        self.node = _QueryNode()
        self.cache = MetaCache(self._fetch)
        self.collections = Collections(self.cache, None, on_channels=lambda p: self.activated.append(list(p)))
        self.dql = Dql(self.collections, Caller(_QueryCoord(), "querycoord"), lambda _n, _a: self.node, None,
                       lambda: compose_ts(NOW_MS, 0), DqlParams(max_topk=100))

    def _fetch(self, db, name, cid):
        self.fetches += 1
        return self.info


def _request(**params: str) -> milvus_pb2.SearchRequest:
    pairs = {"topk": "2", "metric_type": "L2", "anns_field": "vec", "params": '{"ef": 64}', **params}
    return milvus_pb2.SearchRequest(collection_name="c", nq=1, use_default_consistency=True, search_params=[
        common_pb2.KeyValuePair(key=k, value=v) for k, v in pairs.items()])


def test_repeated_searches_answer_the_same_and_parse_once():
    stack = _Stack()
    first = stack.dql.search("default", _request())
    assert stack.dql.search("default", _request()).SerializeToString() == first.SerializeToString()
    assert len(stack.dql._shapes) == 1
    sent = stack.node.requests[-1]
    assert (sent.topk, sent.anns_field, sent.metric_type, sent.search_params) == (2, "vec", "L2", b'{"ef": 64}')
    assert list(first.results.ids.int_id.data) == [11, 12] and first.results.top_k == 2
    # another limit is another set of parameters, not the remembered one
    third = stack.dql.search("default", _request(topk="1"))
    assert third.results.top_k == 1 and stack.node.requests[-1].topk == 1
    assert len(stack.dql._shapes) == 2


def test_a_travel_timestamp_in_the_params_is_left_out_of_what_the_nodes_get():
    stack = _Stack()
    travel = compose_ts(NOW_MS - 1000, 0)
    for _ in range(2):
        stack.dql.search("default", _request(params=f'{{"ef": 8, "travel_timestamp": {travel}}}'))
        assert stack.node.requests[-1].search_params == b'{"ef": 8}'
        assert stack.node.requests[-1].travel_ts == travel


@pytest.mark.parametrize(("params", "message"), [
    ({"params": "[1]"}, "search params must be a JSON object, got [1]"),
    ({"topk": "ten"}, "topk [ten] is invalid, should be an integer"),
    ({"offset": "x"}, "offset [x] is invalid, should be an integer"),
    ({"topk": "0"}, "topk [0] is invalid, it should be in range [1, 100], and offset + topk <= 100"),
    ({"topk": "60", "offset": "50"}, "topk [60] is invalid, it should be in range [1, 100], and offset + topk <= 100"),
    ({"offset": "-1"}, "offset [-1] is invalid, should be >= 0"),
    ({"travel_timestamp": "soon"}, "travel_timestamp [soon] is invalid, should be an integer"),
])
def test_bad_parameters_fail_every_time_with_the_same_error(params, message):
    stack = _Stack()
    for _ in range(3):
        with pytest.raises(errors.ParameterInvalid) as caught:
            stack.dql.search("default", _request(**params))
        assert caught.value.message == message
    assert stack.node.requests == []


def test_an_invalid_travel_timestamp_in_the_params_is_ignored_when_the_request_has_one():
    stack = _Stack()
    request = _request(travel_timestamp="soon")
    request.travel_timestamp = compose_ts(NOW_MS - 1000, 0)
    stack.dql.search("default", request)
    assert stack.node.requests[-1].travel_ts == request.travel_timestamp
    with pytest.raises(errors.ParameterInvalid):
        stack.dql.search("default", _request(travel_timestamp="soon"))  # the same parameters, no timestamp


def test_the_remembered_parameter_sets_are_bounded(monkeypatch):
    monkeypatch.setattr(dql_module, "_SHAPES_MAX", 3)
    stack = _Stack()
    for ef in range(10):
        stack.dql.search("default", _request(params=f'{{"ef": {ef}}}'))
        assert stack.node.requests[-1].search_params == f'{{"ef": {ef}}}'.encode()
        assert len(stack.dql._shapes) <= 3


def test_output_fields_are_resolved_once_per_list_and_errors_are_not_remembered():
    stack = _Stack()
    coll = stack.collections.get("default", "c")
    out = coll.output_fields(["n"])
    assert coll.output_fields(("n",)) is out
    assert [f.name for f in out.fields] == ["n"] and out.names == ["n"]
    for _ in range(2):
        with pytest.raises(SchemaError, match="field nope not exist"):
            coll.output_fields(["nope"])
    assert ("nope",) not in coll._outputs
    request = _request()
    request.output_fields.append("nope")
    with pytest.raises(SchemaError, match="field nope not exist"):
        stack.dql.search("default", request)


def test_the_collection_is_reused_while_the_cache_answers_the_same_info():
    stack = _Stack()
    first = stack.collections.get("default", "c")
    assert stack.collections.get("default", "c") is first
    assert stack.activated == [["p0"], ["p0"]]  # the channels are activated on every call still
    stack.cache.invalidate("default", ["c"])
    stack.info = _info()  # the same schema version: a new Collection around the same model
    second = stack.collections.get("default", "c")
    assert second is not first and second.info is stack.info and second.schema is first.schema
    stack.cache.invalidate("default", ["c"])
    stack.info = _info(version=1)
    assert stack.collections.get("default", "c").schema is not first.schema
    assert stack.fetches == 3


def test_the_id_field_follows_the_primary_key_type():
    stack = _Stack()
    assert stack.collections.get("default", "c").id_field == "int_id"


class _MQ:
    def __init__(self):
        self.created: list[str] = []

    def create_producer(self, name):
        self.created.append(name)
        return object()


def test_activating_a_channel_creates_its_producer_once():
    mq = _MQ()
    writer = ChannelWriter(mq, lambda: 1, lambda _msg: None)
    for _ in range(3):
        writer.activate(["p0", "p1"])
    writer.activate(["p1", "p2"])
    assert mq.created == ["p0", "p1", "p2"]


def test_call_info_from_metadata():
    info = CallInfo.from_metadata([("dbname", "db1"), ("identifier", "9"), ("client-request-id", "r"),
                                   ("user-agent", "x"), ("dbname", "db2"), ("authorization", "cm9vdDpNaWx2dXM=")])
    assert info == CallInfo(db_name="db2", identifier="9", request_id="r",
                            authorization="cm9vdDpNaWx2dXM=")  # a header sent twice: the last one
    assert CallInfo.from_metadata(None) == CallInfo() == ("", "", "", "")
    assert CallInfo.from_metadata([]).db_name == ""
