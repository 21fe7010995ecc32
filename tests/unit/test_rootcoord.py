"""RootCoord on the embedded meta store: every RPC, its errors as statuses, and recovery."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from pymilvus.grpc_gen import common_pb2, milvus_pb2
from pymilvus.grpc_gen import schema_pb2 as spb

from milvus._proto import internal_pb2, rootcoord_pb2
from milvus.config import Config
from milvus.kv import LocalKV, PrefixedKV
from milvus.metastore import RootCoordCatalog
from milvus.rootcoord import RootCoord, RootCoordParams
from milvus.rootcoord.root_coord import SERVICE
from milvus.rpc import LocalClient
from milvus.tso import IDAllocator, TimestampOracle
from tests.conftest import wait_for

KV = common_pb2.KeyValuePair


def schema(name="c", *, dynamic=False, partition_key=False, dim=8) -> spb.CollectionSchema:
    fields = [
        spb.FieldSchema(name="id", data_type=spb.Int64, is_primary_key=True),
        spb.FieldSchema(name="vec", data_type=spb.FloatVector, type_params=[KV(key="dim", value=str(dim))]),
    ]
    if partition_key:
        fields.append(spb.FieldSchema(name="tenant", data_type=spb.Int64, is_partition_key=True))
    return spb.CollectionSchema(name=name, fields=fields, enable_dynamic_field=dynamic)


def create_req(name="c", db="", **kw) -> milvus_pb2.CreateCollectionRequest:
    schema_kw = {k: kw.pop(k) for k in ("dynamic", "partition_key", "dim") if k in kw}
    return milvus_pb2.CreateCollectionRequest(
        db_name=db, collection_name=name, schema=schema(name, **schema_kw).SerializeToString(), **kw)


class Harness:
    def __init__(self, path, params=None, datacoord=None, querycoord=None, clock=time.monotonic):
        self.path = path
        self.clock = clock
        self.params = params or RootCoordParams(dml_channel_num=4, max_shards=4)
        self.invalidations: list = []
        self.datacoord, self.querycoord = datacoord, querycoord
        self._open()

    def _open(self):
        self.store = LocalKV(str(self.path / "meta.sqlite3"))
        self.kv = PrefixedKV(self.store, "by-dev/meta/")
        self.rc = self._new_rootcoord()
        self.rc.start()

    def _new_rootcoord(self) -> RootCoord:
        proxy = _RecordingProxy(self.invalidations)
        return RootCoord(RootCoordCatalog(self.kv), TimestampOracle(self.kv), IDAllocator(self.kv, batch=100),
                         self.params, proxies=lambda: [proxy],
                         datacoord=lambda: self.datacoord, querycoord=lambda: self.querycoord, clock=self.clock)

    def restart(self):
        self.close()
        self._open()

    def close(self):
        self.rc.stop()
        self.kv.close()
        self.store.close()

    def describe(self, name="c", db="", cid=0) -> rootcoord_pb2.DescribeCollectionInternalResponse:
        return self.rc.DescribeCollectionInternal(
            rootcoord_pb2.DescribeCollectionInternalRequest(db_name=db, collection_name=name, collection_id=cid))


class _RecordingProxy:
    def __init__(self, sink):
        self.sink = sink

    def InvalidateCollectionMetaCache(self, request):
        self.sink.append(request)
        return common_pb2.Status()


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def ok(status):
    assert status.code == 0 and status.error_code == 0, status
    return status


def err(status, code):
    assert status.code == code, status
    return status.reason


# ---- component, clocks, ids ----------------------------------------------------------


def test_component_state_and_not_ready(tmp_path):
    h = Harness(tmp_path)
    assert h.rc.GetComponentStates(internal_pb2.GetComponentStatesRequest()).state.state == internal_pb2.HEALTHY
    h.rc.stop()
    assert err(h.rc.ListDatabases(milvus_pb2.ListDatabasesRequest()).status, 1) == "service not ready[rootcoord]"
    h.kv.close()
    h.store.close()


def test_alloc_timestamp_and_ids_are_increasing_and_survive_restart(h):
    t1 = h.rc.AllocTimestamp(rootcoord_pb2.AllocTimestampRequest(count=5))
    t2 = h.rc.AllocTimestamp(rootcoord_pb2.AllocTimestampRequest())
    assert t1.count == 5 and t2.count == 1 and t2.timestamp >= t1.timestamp + 5
    i1 = h.rc.AllocID(rootcoord_pb2.AllocIDRequest(count=3))
    i2 = h.rc.AllocID(rootcoord_pb2.AllocIDRequest(count=1))
    assert i2.ID >= i1.ID + 3
    h.restart()
    assert h.rc.AllocTimestamp(rootcoord_pb2.AllocTimestampRequest()).timestamp > t2.timestamp
    assert h.rc.AllocID(rootcoord_pb2.AllocIDRequest()).ID > i2.ID


def test_local_client_has_every_method(h):
    client = LocalClient(h.rc, SERVICE)
    assert client.ListDatabases(milvus_pb2.ListDatabasesRequest()).db_names == ["default"]


# ---- databases -----------------------------------------------------------------------


def test_databases(h):
    ok(h.rc.CreateDatabase(milvus_pb2.CreateDatabaseRequest(db_name="db1", properties=[KV(key="k", value="v")])))
    assert "already exist" in err(h.rc.CreateDatabase(milvus_pb2.CreateDatabaseRequest(db_name="db1")), 1100)
    listed = h.rc.ListDatabases(milvus_pb2.ListDatabasesRequest())
    assert list(listed.db_names) == ["default", "db1"] and len(set(listed.db_ids)) == 2
    described = h.rc.DescribeDatabase(milvus_pb2.DescribeDatabaseRequest(db_name="db1"))
    assert described.db_name == "db1" and described.properties[0].value == "v"
    ok(h.rc.AlterDatabase(milvus_pb2.AlterDatabaseRequest(db_name="db1", properties=[KV(key="x", value="1")])))
    ok(h.rc.AlterDatabase(milvus_pb2.AlterDatabaseRequest(db_name="db1", delete_keys=["k"])))
    props = h.rc.DescribeDatabase(milvus_pb2.DescribeDatabaseRequest(db_name="db1")).properties
    assert [(p.key, p.value) for p in props] == [("x", "1")]
    reason = err(h.rc.DescribeDatabase(milvus_pb2.DescribeDatabaseRequest(db_name="nope")).status, 800)
    assert reason == "database not found[database=nope]"

    ok(h.rc.CreateCollection(create_req(db="db1")))
    reason = err(h.rc.DropDatabase(milvus_pb2.DropDatabaseRequest(db_name="db1")), 65535)
    assert reason == "database:db1 not empty, must drop all collections before drop database"
    ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(db_name="db1", collection_name="c")))
    ok(h.rc.DropDatabase(milvus_pb2.DropDatabaseRequest(db_name="db1")))
    ok(h.rc.DropDatabase(milvus_pb2.DropDatabaseRequest(db_name="db1")))  # idempotent
    assert err(h.rc.DropDatabase(milvus_pb2.DropDatabaseRequest(db_name="default")), 65535) == \
        "can not drop default database"


def test_database_limit(tmp_path):
    h = Harness(tmp_path, RootCoordParams(max_databases=2))
    try:
        ok(h.rc.CreateDatabase(milvus_pb2.CreateDatabaseRequest(db_name="a")))
        reason = err(h.rc.CreateDatabase(milvus_pb2.CreateDatabaseRequest(db_name="b")), 801)
        assert reason == "exceeded the limit number of database[limit=2]"
    finally:
        h.close()


# ---- collections ---------------------------------------------------------------------


def test_create_collection_assigns_ids_channels_and_default_partition(h):
    ok(h.rc.CreateCollection(create_req(dynamic=True, shards_num=2,
                                        consistency_level=common_pb2.Session,
                                        properties=[KV(key="collection.ttl.seconds", value="60")])))
    info = h.describe().collection
    stored = spb.CollectionSchema.FromString(info.schema)
    assert [(f.fieldID, f.name, f.is_dynamic) for f in stored.fields] == [
        (100, "id", False), (101, "vec", False), (102, "$meta", True)]
    assert info.shards_num == 2 and info.db_name == "default" and info.num_partitions == 1
    assert list(info.physical_channels) == ["by-dev-rootcoord-dml_0", "by-dev-rootcoord-dml_1"]
    assert list(info.virtual_channels) == [f"by-dev-rootcoord-dml_0_{info.id}v0", f"by-dev-rootcoord-dml_1_{info.id}v1"]
    assert info.consistency_level == common_pb2.Session
    assert [(p.name, p.collection_id) for p in info.partitions] == [("_default", info.id)]
    assert info.created_ts > 0 and info.updated_ts == info.created_ts
    assert h.describe(name="", cid=info.id).collection.name == "c"

    # the next collection's shards go to the least used physical channels
    ok(h.rc.CreateCollection(create_req("d", shards_num=3)))
    assert list(h.describe("d").collection.physical_channels) == [
        "by-dev-rootcoord-dml_2", "by-dev-rootcoord-dml_3", "by-dev-rootcoord-dml_0"]


def test_create_collection_is_idempotent_but_refuses_a_different_definition(h):
    ok(h.rc.CreateCollection(create_req()))
    cid = h.describe().collection.id
    ok(h.rc.CreateCollection(create_req()))
    assert h.describe().collection.id == cid
    reason = err(h.rc.CreateCollection(create_req(dim=16)), 1100)
    assert reason == "create duplicate collection with different parameters, collection: c"


def test_create_collection_bad_input(h):
    assert "schema does not contain vector field" in err(h.rc.CreateCollection(
        milvus_pb2.CreateCollectionRequest(collection_name="c", schema=spb.CollectionSchema(
            name="c", fields=[spb.FieldSchema(name="id", data_type=spb.Int64, is_primary_key=True)],
        ).SerializeToString())), 1100)
    assert "the first character of a collection name" in err(h.rc.CreateCollection(create_req("1c")), 1100)
    assert err(h.rc.CreateCollection(create_req(shards_num=5)), 65535) == \
        "maximum shards's number should be limited to 4"
    assert "num_partitions should only be specified" in err(h.rc.CreateCollection(create_req(num_partitions=3)), 65535)
    assert "collection ttl" in err(h.rc.CreateCollection(
        create_req(properties=[KV(key="collection.ttl.seconds", value="x")])), 1100)
    assert err(h.rc.CreateCollection(create_req(db="nope")), 800) == "database not found[database=nope]"
    bad = milvus_pb2.CreateCollectionRequest(collection_name="c", schema=b"\xff\xff")
    assert "cannot be parsed" in err(h.rc.CreateCollection(bad), 1100)
    assert h.rc.ShowCollectionsInternal(rootcoord_pb2.ShowCollectionsInternalRequest()).collections == []


def test_partition_key_collection_gets_physical_partitions(h):
    ok(h.rc.CreateCollection(create_req(partition_key=True)))
    names = [p.name for p in h.describe().collection.partitions]
    assert names == [f"_default_{i}" for i in range(16)]
    ok(h.rc.CreateCollection(create_req("d", partition_key=True, num_partitions=3)))
    assert h.describe("d").collection.num_partitions == 3
    reason = err(h.rc.CreatePartition(milvus_pb2.CreatePartitionRequest(collection_name="c", partition_name="p")),
                 65535)
    assert reason == "disable create partition if partition key mode is used"


def test_has_describe_show(h):
    ok(h.rc.CreateDatabase(milvus_pb2.CreateDatabaseRequest(db_name="db1")))
    ok(h.rc.CreateCollection(create_req("a")))
    ok(h.rc.CreateCollection(create_req("b", db="db1")))
    assert h.rc.HasCollection(milvus_pb2.HasCollectionRequest(collection_name="a")).value
    assert not h.rc.HasCollection(milvus_pb2.HasCollectionRequest(collection_name="b")).value
    assert h.rc.HasCollection(milvus_pb2.HasCollectionRequest(db_name="db1", collection_name="b")).value
    assert not h.rc.HasCollection(milvus_pb2.HasCollectionRequest(db_name="nope", collection_name="b")).value
    reason = err(h.describe("b").status, 100)
    assert reason == "collection not found[database=default][collection=b]"
    assert err(h.describe(name="", cid=12345).status, 100) == "collection not found[collection=12345]"
    show = h.rc.ShowCollectionsInternal
    assert [c.name for c in show(rootcoord_pb2.ShowCollectionsInternalRequest(db_name="default")).collections] == ["a"]
    assert [c.name for c in show(rootcoord_pb2.ShowCollectionsInternalRequest()).collections] == ["a", "b"]
    assert err(show(rootcoord_pb2.ShowCollectionsInternalRequest(db_name="x")).status, 800)


def test_alter_collection_properties(h):
    ok(h.rc.CreateCollection(create_req(properties=[KV(key="a", value="1")])))
    created = h.describe().collection
    ok(h.rc.AlterCollection(milvus_pb2.AlterCollectionRequest(
        collection_name="c", properties=[KV(key="a", value="2"), KV(key="b", value="3")])))
    ok(h.rc.AlterCollection(milvus_pb2.AlterCollectionRequest(collection_name="c", delete_keys=["a"])))
    info = h.describe().collection
    assert [(p.key, p.value) for p in info.properties] == [("b", "3")]
    assert info.updated_ts > created.updated_ts and info.created_ts == created.created_ts
    assert err(h.rc.AlterCollection(milvus_pb2.AlterCollectionRequest(
        collection_name="c", properties=[KV(key="a", value="1")], delete_keys=["b"])), 1100)
    assert err(h.rc.AlterCollection(milvus_pb2.AlterCollectionRequest(collection_name="zz")), 100)


def test_rename_collection(h):
    ok(h.rc.CreateDatabase(milvus_pb2.CreateDatabaseRequest(db_name="db1")))
    ok(h.rc.CreateCollection(create_req("a")))
    ok(h.rc.CreateCollection(create_req("b")))
    cid = h.describe("a").collection.id
    rename = h.rc.RenameCollection
    ok(rename(milvus_pb2.RenameCollectionRequest(oldName="a", newName="a2")))
    renamed = h.describe("a2").collection
    assert renamed.id == cid and spb.CollectionSchema.FromString(renamed.schema).name == "a2"
    assert err(h.describe("a").status, 100)
    assert "duplicated new collection name default:b" in err(
        rename(milvus_pb2.RenameCollectionRequest(oldName="a2", newName="b")), 1100)
    assert err(rename(milvus_pb2.RenameCollectionRequest(oldName="zz", newName="y")), 100)
    assert err(rename(milvus_pb2.RenameCollectionRequest(oldName="a2", newName="y", newDBName="nope")), 800)

    ok(h.rc.CreateAlias(milvus_pb2.CreateAliasRequest(collection_name="a2", alias="al")))
    assert "unsupported use an alias" in err(rename(milvus_pb2.RenameCollectionRequest(oldName="al", newName="q")),
                                             65535)
    assert "must drop all aliases" in err(
        rename(milvus_pb2.RenameCollectionRequest(oldName="a2", newName="a3", newDBName="db1")), 65535)
    ok(h.rc.DropAlias(milvus_pb2.DropAliasRequest(alias="al")))
    ok(rename(milvus_pb2.RenameCollectionRequest(oldName="a2", newName="a3", newDBName="db1")))
    moved = h.describe("a3", db="db1").collection
    assert moved.id == cid and moved.db_name == "db1"
    assert err(h.describe("a2").status, 100)


def test_drop_collection(h):
    ok(h.rc.CreateCollection(create_req()))
    ok(h.rc.CreateAlias(milvus_pb2.CreateAliasRequest(collection_name="c", alias="al")))
    assert err(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="al")), 65535) == \
        "cannot drop the collection via alias = al"
    assert "because it has associated aliases ['al']" in err(
        h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")), 65535)
    ok(h.rc.DropAlias(milvus_pb2.DropAliasRequest(alias="al")))
    ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")))
    ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")))  # idempotent
    ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(db_name="nope", collection_name="c")))
    assert h.kv.range("root-coord/collection") == [] and h.kv.range("root-coord/partitions") == []
    assert h.rc.finish_drops() and h.kv.range("root-coord/dropping") == []
    # its channels went back to the pool
    ok(h.rc.CreateCollection(create_req("d")))
    assert list(h.describe("d").collection.physical_channels) == ["by-dev-rootcoord-dml_0"]


# ---- finishing drops: the query and data coordinators release what it had -------------


class _Coordinator:
    """A fake DataCoord + QueryCoord: records (method, collection, partitions) per call; the
    first ``failures`` calls answer an error status (or raise, as an unreachable one does)."""

    def __init__(self, failures=0, raises=False):
        self.calls: list = []
        self.failures, self.raises = failures, raises

    def _answer(self, method, request, partitions=()):
        self.calls.append((method, request.collectionID, tuple(partitions), request.base.msg_type))
        if self.failures:
            self.failures -= 1
            if self.raises:
                raise ConnectionError("coordinator unreachable")
            return common_pb2.Status(code=65535, error_code=common_pb2.UnexpectedError, reason="not now")
        return common_pb2.Status()

    def ReleaseCollection(self, request, timeout=None):
        return self._answer("ReleaseCollection", request)

    def DropCollection(self, request, timeout=None):
        return self._answer("DropCollection", request)

    def ReleasePartitions(self, request, timeout=None):
        return self._answer("ReleasePartitions", request, request.partitionIDs)

    def DropPartition(self, request, timeout=None):
        return self._answer("DropPartition", request, [request.partitionID])

    def methods(self):
        return [call[:3] for call in self.calls]


def _slow_retries(**kw) -> RootCoordParams:
    """Retries only when kicked (a drop) or asked (``finish_drops``): the tests drive them."""
    return RootCoordParams(dml_channel_num=4, max_shards=4, drop_retry_interval=3600, **kw)


def _dropping(h) -> list:
    return h.kv.range("root-coord/dropping")


def test_drop_collection_releases_it_in_the_query_then_the_data_coordinator(tmp_path):
    data, query = _Coordinator(), _Coordinator()
    h = Harness(tmp_path, _slow_retries(), datacoord=data, querycoord=query)
    try:
        ok(h.rc.CreateCollection(create_req(shards_num=2)))
        cid = h.describe().collection.id
        ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")))
        # gone for callers at once, its name free; the proxies were told
        assert err(h.describe().status, 100).startswith("collection not found")
        assert h.invalidations[-1].collectionID == cid
        assert h.rc.finish_drops()
        assert query.methods() == [("ReleaseCollection", cid, ())]
        assert query.calls[0][3] == common_pb2.ReleaseCollection
        assert data.methods() == [("DropCollection", cid, ())]
        assert data.calls[0][3] == common_pb2.DropCollection
        assert _dropping(h) == []
        # its two channels went back to the pool: a new collection gets the first ones again
        ok(h.rc.CreateCollection(create_req("d", shards_num=2)))
        assert list(h.describe("d").collection.physical_channels) == ["by-dev-rootcoord-dml_0", "by-dev-rootcoord-dml_1"]
    finally:
        h.close()


def test_a_dropped_name_is_free_before_the_drop_is_finished(tmp_path):
    data = _Coordinator(failures=1000)
    h = Harness(tmp_path, _slow_retries(), datacoord=data)
    try:
        ok(h.rc.CreateCollection(create_req()))
        old = h.describe().collection.id
        ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")))
        assert not h.rc.finish_drops()
        ok(h.rc.CreateCollection(create_req()))
        new = h.describe().collection.id
        assert new != old and len(_dropping(h)) == 1
        listed = h.rc.ShowCollectionsInternal(rootcoord_pb2.ShowCollectionsInternalRequest()).collections
        assert [c.id for c in listed] == [new]
        assert h.describe("", cid=old).status.code == 100
        assert {call[1] for call in data.calls} == {old}
    finally:
        h.close()


@pytest.mark.parametrize("raises", [False, True], ids=["error-status", "unreachable"])
def test_a_failed_drop_is_retried_until_it_is_finished(tmp_path, raises):
    data, query = _Coordinator(failures=2, raises=raises), _Coordinator()
    params = RootCoordParams(dml_channel_num=4, max_shards=4, drop_retry_interval=0.01)
    h = Harness(tmp_path, params, datacoord=data, querycoord=query)
    try:
        ok(h.rc.CreateCollection(create_req()))
        cid = h.describe().collection.id
        ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")))
        wait_for(lambda: _dropping(h) == [], message="the drop finished by the retries")
        assert data.methods() == [("DropCollection", cid, ())] * 3
        assert query.methods() == [("ReleaseCollection", cid, ())] * 3  # releasing again is harmless
        assert h.rc.finish_drops()
    finally:
        h.close()


def test_a_drop_that_keeps_failing_logs_one_warning_then_reminders_then_one_info_line(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="milvus.rootcoord")
    now = [1000.0]
    data = _Coordinator(failures=1000, raises=True)
    h = Harness(tmp_path, _slow_retries(drop_remind_interval=60), datacoord=data, clock=lambda: now[0])

    def lines(level):
        return [r.getMessage() for r in caplog.records if r.levelno == level and r.name.startswith("milvus.rootcoord")]
    try:
        ok(h.rc.CreateCollection(create_req()))
        cid = h.describe().collection.id
        ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")))  # kicks a first try
        wait_for(lambda: lines(logging.WARNING), message="the first failure logged")
        assert lines(logging.WARNING) == [f"could not finish dropping collection c ({cid}) yet: ConnectionError: "
                                          "coordinator unreachable (retrying; a reminder every 60s while it fails)"]
        assert all(r.exc_info is None for r in caplog.records if r.levelno >= logging.INFO)
        # the finisher's own rounds (at start and on the drop's kick) made one attempt or two:
        # stopped here, so the test drives every later one
        h.rc._drops.stop()
        first = len(data.calls)
        for step in (10, 20, 29):  # retried, quietly
            now[0] += step
            assert not h.rc.finish_drops()
        assert len(lines(logging.WARNING)) == 1
        now[0] += 1  # a minute since the first failure: one reminder
        assert not h.rc.finish_drops()
        assert len(lines(logging.WARNING)) == 2
        assert lines(logging.WARNING)[1].startswith(f"still could not finish dropping collection c ({cid}) "
                                                    f"after {first + 4} attempts in 60s")
        data.failures = 0
        now[0] += 5
        assert h.rc.finish_drops()
        assert [m for m in lines(logging.INFO) if "finish" in m] == [
            f"finish dropping collection c ({cid}): done after {first + 4} failed attempts in 65s"]
        assert len(lines(logging.WARNING)) == 2 and len(data.calls) == first + 5
    finally:
        h.close()


def test_the_drop_reminder_interval_comes_from_the_config():
    assert RootCoordParams.from_config(Config.load()).drop_remind_interval == 60.0
    config = Config.load(overrides={"rootCoord.dropRemindInterval": 5})
    assert RootCoordParams.from_config(config).drop_remind_interval == 5.0


def test_a_restarted_root_coordinator_resumes_unfinished_drops(tmp_path):
    h = Harness(tmp_path, _slow_retries(), datacoord=_Coordinator(failures=1000, raises=True))
    try:
        ok(h.rc.CreateCollection(create_req()))
        ok(h.rc.CreatePartition(milvus_pb2.CreatePartitionRequest(collection_name="c", partition_name="p")))
        cid = h.describe().collection.id
        ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")))
        assert not h.rc.finish_drops()
        h.datacoord = _Coordinator()
        h.restart()
        wait_for(lambda: _dropping(h) == [], message="the drop resumed after the restart")
        assert h.datacoord.methods() == [("DropCollection", cid, ())]
        assert h.describe().status.code == 100
        assert h.kv.range("root-coord/partitions") == [] and h.kv.range("root-coord/collection") == []
    finally:
        h.close()


def test_drop_partition_releases_it_and_drops_its_segments(tmp_path):
    data, query = _Coordinator(failures=1), _Coordinator()
    h = Harness(tmp_path, _slow_retries(), datacoord=data, querycoord=query)
    try:
        ok(h.rc.CreateCollection(create_req()))
        ok(h.rc.CreatePartition(milvus_pb2.CreatePartitionRequest(collection_name="c", partition_name="p")))
        cid = h.describe().collection.id
        pid = h.describe().collection.partitions[-1].id
        ok(h.rc.DropPartition(milvus_pb2.DropPartitionRequest(collection_name="c", partition_name="p")))
        assert [p.name for p in h.describe().collection.partitions] == ["_default"]
        wait_for(lambda: data.calls, message="the first try")
        h.restart()  # the failed one is resumed
        assert h.rc.finish_drops()
        assert query.methods()[-1] == ("ReleasePartitions", cid, (pid,))
        assert query.calls[-1][3] == common_pb2.DropPartition
        assert data.methods() == [("DropPartition", cid, (pid,))] * 2
        assert _dropping(h) == []
    finally:
        h.close()


def test_dropping_a_collection_finishes_its_dropping_partitions_with_it(tmp_path):
    data = _Coordinator(failures=1000)
    h = Harness(tmp_path, _slow_retries(), datacoord=data)
    try:
        ok(h.rc.CreateCollection(create_req()))
        ok(h.rc.CreatePartition(milvus_pb2.CreatePartitionRequest(collection_name="c", partition_name="p")))
        cid = h.describe().collection.id
        ok(h.rc.DropPartition(milvus_pb2.DropPartitionRequest(collection_name="c", partition_name="p")))
        assert not h.rc.finish_drops()
        ok(h.rc.DropCollection(milvus_pb2.DropCollectionRequest(collection_name="c")))
        data.failures = 0
        data.calls.clear()
        assert h.rc.finish_drops()
        assert data.methods() == [("DropCollection", cid, ())]
        assert _dropping(h) == []
    finally:
        h.close()


# ---- partitions ----------------------------------------------------------------------


def test_partitions(h):
    ok(h.rc.CreateCollection(create_req()))
    part = milvus_pb2.CreatePartitionRequest
    ok(h.rc.CreatePartition(part(collection_name="c", partition_name="p1")))
    ok(h.rc.CreatePartition(part(collection_name="c", partition_name="p1")))  # idempotent
    assert err(h.rc.CreatePartition(part(collection_name="zz", partition_name="p1")), 100)
    has = h.rc.HasPartition
    assert has(milvus_pb2.HasPartitionRequest(collection_name="c", partition_name="p1")).value
    assert not has(milvus_pb2.HasPartitionRequest(collection_name="c", partition_name="p2")).value
    shown = h.rc.ShowPartitions(milvus_pb2.ShowPartitionsRequest(collection_name="c"))
    assert list(shown.partition_names) == ["_default", "p1"] and len(shown.partitionIDs) == 2
    assert all(shown.created_utc_timestamps) and list(shown.inMemory_percentages) == [0, 0]
    picked = h.rc.ShowPartitions(milvus_pb2.ShowPartitionsRequest(collection_name="c", partition_names=["p1"]))
    assert list(picked.partition_names) == ["p1"]
    missing = h.rc.ShowPartitions(milvus_pb2.ShowPartitionsRequest(collection_name="c", partition_names=["x"]))
    assert err(missing.status, 200) == "partition not found[partition=x]"
    assert h.describe().collection.num_partitions == 2

    drop = milvus_pb2.DropPartitionRequest
    assert err(h.rc.DropPartition(drop(collection_name="c", partition_name="_default")), 65535) == \
        "default partition cannot be deleted"
    ok(h.rc.DropPartition(drop(collection_name="c", partition_name="p1")))
    ok(h.rc.DropPartition(drop(collection_name="c", partition_name="p1")))  # idempotent
    assert [p.name for p in h.describe().collection.partitions] == ["_default"]


def test_partition_limit(tmp_path):
    h = Harness(tmp_path, RootCoordParams(max_partitions=2))
    try:
        ok(h.rc.CreateCollection(create_req()))
        ok(h.rc.CreatePartition(milvus_pb2.CreatePartitionRequest(collection_name="c", partition_name="p1")))
        reason = err(h.rc.CreatePartition(milvus_pb2.CreatePartitionRequest(collection_name="c", partition_name="p2")),
                     65535)
        assert reason == "partition number (2) exceeds max configuration (2), collection: c"
    finally:
        h.close()


# ---- aliases -------------------------------------------------------------------------


def test_aliases(h):
    ok(h.rc.CreateCollection(create_req("a")))
    ok(h.rc.CreateCollection(create_req("b")))
    create = h.rc.CreateAlias
    ok(create(milvus_pb2.CreateAliasRequest(collection_name="a", alias="al")))
    ok(create(milvus_pb2.CreateAliasRequest(collection_name="a", alias="al")))  # the same again
    reason = err(create(milvus_pb2.CreateAliasRequest(collection_name="b", alias="al")), 1602)
    assert reason == "al is alias to another collection: a: alias already exist[database=default][alias=al]"
    assert err(create(milvus_pb2.CreateAliasRequest(collection_name="a", alias="b")), 1601) == \
        "alias and collection name conflict[database=default][alias=b]"
    assert err(create(milvus_pb2.CreateAliasRequest(collection_name="zz", alias="x")), 100)
    assert err(h.rc.CreateCollection(create_req("al")), 1601) == \
        "collection name [al] conflicts with an existing alias, please choose a unique name"

    # an alias resolves like the collection's name
    assert h.describe("al").collection.name == "a"
    assert list(h.describe("a").collection.aliases) == ["al"]
    described = h.rc.DescribeAlias(milvus_pb2.DescribeAliasRequest(alias="al"))
    assert (described.db_name, described.alias, described.collection) == ("default", "al", "a")
    assert err(h.rc.DescribeAlias(milvus_pb2.DescribeAliasRequest(alias="x")).status, 1600) == \
        "alias not found[database=default][alias=x]"

    ok(h.rc.AlterAlias(milvus_pb2.AlterAliasRequest(collection_name="b", alias="al")))
    assert h.describe("al").collection.name == "b"
    assert err(h.rc.AlterAlias(milvus_pb2.AlterAliasRequest(collection_name="b", alias="x")), 1600)
    assert err(h.rc.AlterAlias(milvus_pb2.AlterAliasRequest(collection_name="zz", alias="al")), 100)

    ok(create(milvus_pb2.CreateAliasRequest(collection_name="a", alias="al2")))
    listed = h.rc.ListAliases(milvus_pb2.ListAliasesRequest())
    assert list(listed.aliases) == ["al", "al2"]
    assert list(h.rc.ListAliases(milvus_pb2.ListAliasesRequest(collection_name="b")).aliases) == ["al"]
    assert err(h.rc.ListAliases(milvus_pb2.ListAliasesRequest(collection_name="zz")).status, 100)

    ok(h.rc.DropAlias(milvus_pb2.DropAliasRequest(alias="al")))
    ok(h.rc.DropAlias(milvus_pb2.DropAliasRequest(alias="al")))  # dropping a missing alias is a no-op
    assert err(h.describe("al").status, 100)


# ---- cache invalidation, serialisation, recovery -------------------------------------


def test_proxies_are_told_about_changed_collections(h):
    ok(h.rc.CreateCollection(create_req()))
    ok(h.rc.CreateAlias(milvus_pb2.CreateAliasRequest(collection_name="c", alias="al")))
    h.invalidations.clear()
    ok(h.rc.AlterCollection(milvus_pb2.AlterCollectionRequest(collection_name="c", properties=[KV(key="a")])))
    [request] = h.invalidations
    assert (request.db_name, request.collectionName, list(request.aliases)) == ("default", "c", ["al"])
    assert request.collectionID == h.describe().collection.id
    h.invalidations.clear()
    err(h.rc.AlterCollection(milvus_pb2.AlterCollectionRequest(collection_name="zz")), 100)
    assert h.invalidations == []  # nothing changed, nothing to tell


def test_concurrent_creates_of_one_name_make_one_collection(h):
    results = []

    def create():
        results.append(h.rc.CreateCollection(create_req()))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s.code == 0 for s in results)
    assert len(h.rc.ShowCollectionsInternal(rootcoord_pb2.ShowCollectionsInternalRequest()).collections) == 1


def test_restart_recovers_everything(h):
    ok(h.rc.CreateDatabase(milvus_pb2.CreateDatabaseRequest(db_name="db1")))
    ok(h.rc.CreateCollection(create_req("a", shards_num=2, dynamic=True)))
    ok(h.rc.CreateCollection(create_req("b", db="db1", partition_key=True, num_partitions=2)))
    ok(h.rc.CreatePartition(milvus_pb2.CreatePartitionRequest(collection_name="a", partition_name="p")))
    ok(h.rc.CreateAlias(milvus_pb2.CreateAliasRequest(collection_name="a", alias="al")))
    ok(h.rc.AlterCollection(milvus_pb2.AlterCollectionRequest(collection_name="a", properties=[KV(key="k", value="v")])))
    before_a, before_b = h.describe("a").collection, h.describe("b", db="db1").collection

    h.restart()
    assert list(h.rc.ListDatabases(milvus_pb2.ListDatabasesRequest()).db_names) == ["default", "db1"]
    assert h.describe("a").collection == before_a
    assert h.describe("b", db="db1").collection == before_b
    assert h.describe("al").collection.id == before_a.id
    # channel usage was recovered: the next collection takes the least used channel
    ok(h.rc.CreateCollection(create_req("c")))
    assert list(h.describe("c").collection.physical_channels) == ["by-dev-rootcoord-dml_3"]
    # ids keep growing
    assert h.describe("c").collection.id > max(before_a.id, before_b.id)


def test_an_unexpected_failure_becomes_a_status(h, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(h.rc._meta, "add_collection", boom)
    status = h.rc.CreateCollection(create_req())
    assert status.code == 5 and "disk on fire" in status.reason
    monkeypatch.undo()
    ok(h.rc.CreateCollection(create_req()))  # the failed attempt left nothing behind
    assert list(h.describe().collection.physical_channels) == ["by-dev-rootcoord-dml_0"]


# ---- AddCollectionField ----------------------------------------------------------------


def add_field(h, field: spb.FieldSchema, name="c"):
    return h.rc.AddCollectionField(milvus_pb2.AddCollectionFieldRequest(
        collection_name=name, schema=field.SerializeToString()))


def test_add_field_appends_it_with_the_next_id_and_a_new_schema_version(h):
    ok(h.rc.CreateCollection(create_req(dynamic=True)))
    before = h.describe().collection
    h.invalidations.clear()
    ok(add_field(h, spb.FieldSchema(name="age", data_type=spb.Int16, nullable=True,
                                    default_value=spb.ValueField(long_data=7))))
    info = h.describe().collection
    fields = spb.CollectionSchema.FromString(info.schema).fields
    assert [f.name for f in fields] == ["id", "vec", "$meta", "age"]
    assert fields[-1].fieldID == max(f.fieldID for f in fields[:-1]) + 1
    assert fields[-1].default_value.int_data == 7  # stored as create stores an Int16 default
    assert info.schema_version == before.schema_version + 1
    assert [r.collectionName for r in h.invalidations] == ["c"]
    h.restart()
    assert h.describe().collection.schema == info.schema


@pytest.mark.parametrize("field, words", [
    (spb.FieldSchema(name="x", data_type=spb.Int64), "added field must be nullable"),
    (spb.FieldSchema(name="vec", data_type=spb.Int64, nullable=True), "duplicated field name vec"),
    (spb.FieldSchema(name="x", data_type=spb.Int64, nullable=True, is_primary_key=True), "not support to add pk"),
    (spb.FieldSchema(name="x", data_type=spb.Int64, nullable=True, is_partition_key=True), "partition key"),
    (spb.FieldSchema(name="x", data_type=spb.VarChar, nullable=True), "max_length"),
    (spb.FieldSchema(name="1x", data_type=spb.Int64, nullable=True), "Invalid field name"),
    (spb.FieldSchema(name="v2", data_type=spb.FloatVector, nullable=True, type_params=[KV(key="dim", value="2")]),
     "not support to add vector field"),
    (spb.FieldSchema(name="x", data_type=spb.Int8, nullable=True, default_value=spb.ValueField(long_data=300)),
     "out of range"),
])
def test_add_field_refusals_leave_the_schema_alone(h, field, words):
    ok(h.rc.CreateCollection(create_req()))
    before = h.describe().collection
    status = add_field(h, field)
    # ParameterInvalid, ParameterMissing, or FieldNameInvalid for a bad name (as at create)
    assert status.code in (1100, 1101, 1701) and words in status.reason, status
    assert h.describe().collection == before


def drop_field_req(name="c", **drop) -> milvus_pb2.AlterCollectionSchemaRequest:
    return milvus_pb2.AlterCollectionSchemaRequest(collection_name=name, action=milvus_pb2.AlterCollectionSchemaRequest.Action(
        drop_request=milvus_pb2.AlterCollectionSchemaRequest.DropRequest(**drop)))


def test_a_dropped_fields_id_is_never_given_again(h):
    ok(h.rc.CreateCollection(create_req()))
    ok(add_field(h, spb.FieldSchema(name="age", data_type=spb.Int16, nullable=True)))
    age = spb.CollectionSchema.FromString(h.describe().collection.schema).fields[-1]
    version = h.describe().collection.schema_version
    h.invalidations.clear()
    ok(h.rc.AlterCollectionSchema(drop_field_req(field_name="age")))
    info = h.describe().collection
    assert [f.name for f in spb.CollectionSchema.FromString(info.schema).fields] == ["id", "vec"]
    assert info.schema_version == version + 1 and info.max_field_id == age.fieldID
    assert [r.collectionName for r in h.invalidations] == ["c"]
    h.restart()  # the largest id given survives a restart
    ok(add_field(h, spb.FieldSchema(name="age", data_type=spb.Int16, nullable=True)))
    again = spb.CollectionSchema.FromString(h.describe().collection.schema).fields[-1]
    assert again.name == "age" and again.fieldID == age.fieldID + 1


def test_alter_collection_schema_refusals_leave_the_schema_alone(h):
    ok(h.rc.CreateCollection(create_req()))
    before = h.describe().collection
    assert err(h.rc.AlterCollectionSchema(milvus_pb2.AlterCollectionSchemaRequest(collection_name="c")), 1100)
    assert err(h.rc.AlterCollectionSchema(drop_field_req(field_name="id")), 1100)
    assert err(h.rc.AlterCollectionSchema(drop_field_req(field_name="vec")), 1100)  # the last vector field
    assert err(h.rc.AlterCollectionSchema(drop_field_req(field_name="x", field_id=100)), 1100)
    assert err(h.rc.AlterCollectionSchema(drop_field_req(name="zz", field_name="vec")), 100)
    assert err(h.rc.DropCollectionFunction(milvus_pb2.DropCollectionFunctionRequest(
        collection_name="c", function_name="f")), 1100)
    assert h.describe().collection == before


def test_add_field_to_a_missing_collection(h):
    assert err(add_field(h, spb.FieldSchema(name="x", data_type=spb.Int64, nullable=True), name="zz"), 100)
