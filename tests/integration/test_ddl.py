"""DDL end to end with the real pymilvus (MilvusClient and ORM) against an in-process stack."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator

import grpc
import pytest
from pymilvus import (
    Collection,
    CollectionSchema,
    DataType,
    FieldSchema,
    MilvusClient,
    MilvusException,
    Partition,
    connections,
    db,
    utility,
)
from pymilvus.exceptions import SchemaNotReadyException
from pymilvus.grpc_gen import milvus_pb2

from tests.integration.harness import Stack, running_stack

# the ORM still works in pymilvus 3.0 but warns that it goes away in 3.1
pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

_aliases = itertools.count()


@pytest.fixture
def stack(tmp_path) -> Iterator[Stack]:
    with running_stack(tmp_path / "data") as s:
        yield s


@pytest.fixture
def client(stack) -> Iterator[MilvusClient]:
    c = MilvusClient(uri=stack.uri)
    yield c
    c.close()


@pytest.fixture
def orm(stack) -> Iterator[str]:
    """A fresh ORM connection alias to the stack."""
    alias = f"ddl-test-{next(_aliases)}"
    connections.connect(alias=alias, host="127.0.0.1", port=str(stack.port))
    yield alias
    connections.remove_connection(alias)


def make_schema(*, dim: int = 8, dynamic: bool = False):
    schema = MilvusClient.create_schema(enable_dynamic_field=dynamic, description="docs")
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=64)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    return schema


def orm_schema(dim: int = 4) -> CollectionSchema:
    return CollectionSchema([
        FieldSchema("pk", DataType.VARCHAR, is_primary=True, max_length=32),
        FieldSchema("emb", DataType.FLOAT_VECTOR, dim=dim),
    ])


def check_code(excinfo, code: int) -> None:
    assert excinfo.value.code == code, excinfo.value


# ---- connection, version, health -----------------------------------------------------


def test_connect_version_and_server_info(client):
    assert client.get_server_version() == "v2.5.0"
    info = client.get_server_version(detail=True)
    assert info["deploy_mode"] == "STANDALONE" and info["version"] == "v2.5.0"


def test_check_health_and_unknown_database_on_connect(stack, client):
    stub = client._get_connection()._stub
    assert stub.CheckHealth(milvus_pb2.CheckHealthRequest()).isHealthy
    # pymilvus 3 sends no database on Connect: the first call in an unknown one fails
    with contextlib.closing(MilvusClient(uri=stack.uri, db_name="nope")) as lost, \
            pytest.raises(MilvusException) as excinfo:
        lost.list_collections()
    check_code(excinfo, 800)
    assert excinfo.value.message == "database not found[database=nope]"


# ---- collections with MilvusClient ---------------------------------------------------


def test_create_describe_has_list_drop(client):
    client.create_collection("books", schema=make_schema(dynamic=True), consistency_level="Session",
                             properties={"collection.ttl.seconds": 3600}, num_shards=2)
    assert client.has_collection("books")
    assert not client.has_collection("nothing")
    assert client.list_collections() == ["books"]

    desc = client.describe_collection("books")
    assert desc["collection_name"] == "books" and desc["description"] == "docs"
    assert [(f["field_id"], f["name"]) for f in desc["fields"]] == [(100, "id"), (101, "title"), (102, "vec")]
    assert desc["fields"][0]["is_primary"] and desc["fields"][1]["params"] == {"max_length": 64}
    assert desc["fields"][2]["params"] == {"dim": 8}
    assert desc["enable_dynamic_field"] is True  # and the hidden $meta field is not listed
    assert desc["num_shards"] == 2 and desc["num_partitions"] == 1
    assert desc["consistency_level_name"] == "Session"
    assert desc["properties"] == {"collection.ttl.seconds": "3600"}
    assert desc["collection_id"] > 0 and desc["created_timestamp"] > 0 and desc["aliases"] == []

    client.drop_collection("books")
    assert not client.has_collection("books")
    client.drop_collection("books")  # dropping a missing collection is a no-op, as in Milvus
    assert client.list_collections() == []


def test_describe_reports_channels_and_timestamps(stack, client):
    client.create_collection("c", schema=make_schema(), num_shards=2)
    stub = client._get_connection()._stub
    raw = stub.DescribeCollection(milvus_pb2.DescribeCollectionRequest(collection_name="c"))
    assert list(raw.physical_channel_names) == ["by-dev-rootcoord-dml_0", "by-dev-rootcoord-dml_1"]
    assert list(raw.virtual_channel_names) == [f"by-dev-rootcoord-dml_{i}_{raw.collectionID}v{i}" for i in range(2)]
    assert raw.created_utc_timestamp == raw.created_timestamp >> 18 and raw.db_name == "default"


def test_quick_setup_creates_the_collection(client):
    # quick setup goes on to create an index and load the collection: the roles serving those
    # are not part of this stack, so only the collection it created is checked here
    with contextlib.suppress(MilvusException, grpc.RpcError):
        client.create_collection("quick", dimension=16)
    desc = client.describe_collection("quick")
    assert [(f["name"], f["type"]) for f in desc["fields"]] == [("id", DataType.INT64), ("vector", DataType.FLOAT_VECTOR)]
    assert desc["fields"][0]["is_primary"] and desc["fields"][1]["params"] == {"dim": 16}
    assert desc["enable_dynamic_field"] is True and desc["consistency_level_name"] == "Bounded"
    assert desc["auto_id"] is False


def test_create_is_idempotent_and_duplicates_with_other_params_fail(client):
    client.create_collection("c", schema=make_schema())
    client.create_collection("c", schema=make_schema())
    with pytest.raises(MilvusException) as excinfo:
        client.create_collection("c", schema=make_schema(dim=16))
    check_code(excinfo, 1100)
    assert "create duplicate collection with different parameters, collection: c" in excinfo.value.message


def test_alter_collection_properties(client):
    client.create_collection("c", schema=make_schema())
    client.alter_collection_properties("c", {"collection.ttl.seconds": 60, "mmap.enabled": True})
    assert client.describe_collection("c")["properties"] == {"collection.ttl.seconds": "60", "mmap.enabled": "True"}
    client.drop_collection_properties("c", ["mmap.enabled"])
    assert client.describe_collection("c")["properties"] == {"collection.ttl.seconds": "60"}
    with pytest.raises(MilvusException) as excinfo:
        client.alter_collection_properties("c", {"collection.ttl.seconds": "soon"})
    check_code(excinfo, 1100)


def test_rename_collection_within_and_across_databases(client):
    client.create_collection("old", schema=make_schema())
    cid = client.describe_collection("old")["collection_id"]
    client.rename_collection("old", "new")
    assert client.list_collections() == ["new"]
    assert client.describe_collection("new")["collection_id"] == cid
    with pytest.raises(MilvusException) as excinfo:
        client.describe_collection("old")
    check_code(excinfo, 100)

    client.create_database("archive")
    client.rename_collection("new", "moved", target_db="archive")
    assert client.list_collections() == []
    client.use_database("archive")
    assert client.list_collections() == ["moved"]
    assert client.describe_collection("moved")["collection_id"] == cid


# ---- databases -----------------------------------------------------------------------


def test_databases(stack, client):
    assert client.list_databases() == ["default"]
    client.create_database("db1", properties={"database.replica.number": 1})
    assert client.list_databases() == ["default", "db1"]
    assert client.describe_database("db1")["database.replica.number"] == "1"
    client.alter_database_properties("db1", {"k": "v"})
    assert client.describe_database("db1")["k"] == "v"

    client.use_database("db1")
    client.create_collection("only_in_db1", schema=make_schema())
    assert client.list_collections() == ["only_in_db1"]
    with contextlib.closing(MilvusClient(uri=stack.uri, db_name="db1")) as other:
        assert other.has_collection("only_in_db1")
    client.use_database("default")
    assert client.list_collections() == []
    assert not client.has_collection("only_in_db1")

    with pytest.raises(MilvusException) as excinfo:
        client.drop_database("db1")
    assert "not empty, must drop all collections before drop database" in excinfo.value.message
    with pytest.raises(MilvusException) as excinfo:
        client.drop_database("default")
    assert "can not drop default database" in excinfo.value.message
    with pytest.raises(MilvusException) as excinfo:
        client.create_database("db1")
    assert "database already exist: db1" in excinfo.value.message
    with pytest.raises(MilvusException) as excinfo:
        client.use_database("nope")
    check_code(excinfo, 800)

    client.use_database("db1")
    client.drop_collection("only_in_db1")
    client.use_database("default")
    client.drop_database("db1")
    assert client.list_databases() == ["default"]


# ---- partitions ----------------------------------------------------------------------


def test_partitions(client):
    client.create_collection("c", schema=make_schema())
    assert client.list_partitions("c") == ["_default"]
    client.create_partition("c", "p1")
    client.create_partition("c", "p-2")
    assert client.has_partition("c", "p1") and not client.has_partition("c", "p3")
    assert client.list_partitions("c") == ["_default", "p1", "p-2"]
    assert client.describe_collection("c")["num_partitions"] == 3
    client.drop_partition("c", "p1")
    assert client.list_partitions("c") == ["_default", "p-2"]

    with pytest.raises(MilvusException) as excinfo:
        client.drop_partition("c", "_default")
    assert "default partition cannot be deleted" in excinfo.value.message
    with pytest.raises(MilvusException) as excinfo:
        client.create_partition("c", "bad name!")
    check_code(excinfo, 1100)
    assert "Invalid partition name: bad name!" in excinfo.value.message
    with pytest.raises(MilvusException) as excinfo:
        client.create_partition("missing", "p")
    check_code(excinfo, 100)


def test_partition_key_collection(client):
    schema = make_schema()
    schema.add_field("tenant", DataType.INT64, is_partition_key=True)
    client.create_collection("pk", schema=schema, num_partitions=4)
    assert client.list_partitions("pk") == [f"_default_{i}" for i in range(4)]
    with pytest.raises(MilvusException) as excinfo:
        client.create_partition("pk", "p")
    assert "disable create partition if partition key mode is used" in excinfo.value.message


# ---- aliases -------------------------------------------------------------------------


def test_aliases(client):
    client.create_collection("a", schema=make_schema())
    client.create_collection("b", schema=make_schema())
    client.create_alias("a", "current")
    assert client.describe_alias("current")["collection_name"] == "a"
    assert client.list_aliases("a")["aliases"] == ["current"]
    assert client.describe_collection("current")["collection_name"] == "a"
    assert client.describe_collection("a")["aliases"] == ["current"]
    assert client.has_collection("current")

    client.alter_alias("b", "current")
    assert client.describe_collection("current")["collection_name"] == "b"  # the cache followed
    assert client.list_aliases()["aliases"] == ["current"]
    assert client.list_aliases("a")["aliases"] == []

    with pytest.raises(MilvusException) as excinfo:
        client.create_alias("a", "b")
    check_code(excinfo, 1601)
    with pytest.raises(MilvusException) as excinfo:
        client.create_alias("a", "current")
    check_code(excinfo, 1602)
    with pytest.raises(MilvusException) as excinfo:
        client.create_collection("current", schema=make_schema())
    check_code(excinfo, 1601)
    with pytest.raises(MilvusException) as excinfo:
        client.drop_collection("b")
    assert "because it has associated aliases" in excinfo.value.message
    with pytest.raises(MilvusException) as excinfo:
        client.drop_collection("current")
    assert "cannot drop the collection via alias = current" in excinfo.value.message

    client.drop_alias("current")
    with pytest.raises(MilvusException) as excinfo:
        client.describe_alias("current")
    check_code(excinfo, 1600)
    client.drop_alias("current")  # a missing alias drops as a no-op (Milvus 2.4/2.5)
    with pytest.raises(MilvusException) as excinfo:
        client.describe_collection("current")
    check_code(excinfo, 100)
    client.drop_collection("b")


# ---- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "match"), [
    ("1abc", "the first character of a collection name must be an underscore or letter"),
    ("a-b", "collection name can only contain numbers, letters and underscores"),
    ("x" * 256, "the length of a collection name must be less than 255 characters"),
])
def test_invalid_collection_names(client, name, match):
    with pytest.raises(MilvusException) as excinfo:
        client.create_collection(name, schema=make_schema())
    check_code(excinfo, 1100)
    assert match in excinfo.value.message
    with pytest.raises(MilvusException) as excinfo:
        client.describe_collection(name)
    check_code(excinfo, 1100)


def test_unknown_things(client):
    with pytest.raises(MilvusException) as excinfo:
        client.describe_collection("missing")
    check_code(excinfo, 100)
    assert excinfo.value.message == "collection not found[database=default][collection=missing]"
    with pytest.raises(MilvusException) as excinfo:
        client.list_partitions("missing")
    check_code(excinfo, 100)
    with pytest.raises(MilvusException) as excinfo:
        client.create_alias("missing", "al")
    check_code(excinfo, 100)
    with pytest.raises(MilvusException) as excinfo:
        client.describe_database("missing")
    check_code(excinfo, 800)
    with pytest.raises(MilvusException) as excinfo:
        client.create_database("bad-name")
    check_code(excinfo, 802)


def test_invalid_schema_is_refused_with_the_milvus_code(client):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=8)
    schema.add_field("text", DataType.VARCHAR, max_length=70000)
    with pytest.raises(MilvusException) as excinfo:
        client.create_collection("c", schema=schema)
    check_code(excinfo, 1100)
    assert not client.has_collection("c")


def test_an_unexpected_error_is_a_status_and_the_server_keeps_serving(stack, client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(stack.proxy.ddl, "show_collections", boom)
    with pytest.raises(MilvusException) as excinfo:
        client.list_collections()
    check_code(excinfo, 5)
    monkeypatch.undo()
    assert client.list_collections() == []


# ---- the ORM -------------------------------------------------------------------------


def test_orm_collection_utility_and_partition(orm):
    coll = Collection("orm_c", orm_schema(), using=orm, shards_num=2)
    assert utility.has_collection("orm_c", using=orm)
    assert utility.list_collections(using=orm) == ["orm_c"]
    again = Collection("orm_c", using=orm)
    assert again.schema == coll.schema and again.num_shards == 2
    assert [f.name for f in again.schema.fields] == ["pk", "emb"]

    part = Partition(coll, "p1")
    assert coll.has_partition("p1") and [p.name for p in coll.partitions] == ["_default", "p1"]
    part.drop()
    assert not coll.has_partition("p1")

    utility.create_alias("orm_c", "orm_alias", using=orm)
    assert Collection("orm_alias", using=orm).aliases == ["orm_alias"]
    utility.drop_alias("orm_alias", using=orm)

    utility.rename_collection("orm_c", "orm_d", using=orm)
    assert utility.list_collections(using=orm) == ["orm_d"]
    utility.drop_collection("orm_d", using=orm)
    assert not utility.has_collection("orm_d", using=orm)


def test_orm_databases(stack, orm):
    db.create_database("orm_db", using=orm)
    assert db.list_database(using=orm) == ["default", "orm_db"]
    db.using_database("orm_db", using=orm)
    Collection("in_db", orm_schema(), using=orm)
    assert utility.list_collections(using=orm) == ["in_db"]
    db.using_database("default", using=orm)
    assert utility.list_collections(using=orm) == []

    other = f"ddl-test-{next(_aliases)}"
    connections.connect(alias=other, host="127.0.0.1", port=str(stack.port), db_name="orm_db")
    try:
        assert utility.has_collection("in_db", using=other)
        utility.drop_collection("in_db", using=other)
    finally:
        connections.remove_connection(other)
    db.drop_database("orm_db", using=orm)
    assert db.list_database(using=orm) == ["default"]


def test_orm_errors(orm):
    with pytest.raises(SchemaNotReadyException, match="Collection 'missing' not exist"):
        Collection("missing", using=orm)  # pymilvus asks has_collection first and refuses itself
    with pytest.raises(MilvusException) as excinfo:
        Partition(Collection("orm_c", orm_schema(), using=orm), "bad name!")
    check_code(excinfo, 1100)
    with pytest.raises(MilvusException) as excinfo:
        utility.rename_collection("missing", "other", using=orm)
    check_code(excinfo, 100)


# ---- caches, concurrency, restart ----------------------------------------------------


def test_ddl_through_one_proxy_invalidates_the_cache_of_another(stack, client):
    second = stack.add_proxy()
    with contextlib.closing(MilvusClient(uri=f"http://127.0.0.1:{second.port}")) as other:
        client.create_collection("c", schema=make_schema())
        assert other.describe_collection("c")["properties"] == {}  # now cached by the second proxy
        assert len(stack.proxies[1].cache) == 1
        client.alter_collection_properties("c", {"k": "v"})
        assert other.describe_collection("c")["properties"] == {"k": "v"}
        client.drop_collection("c")
        with pytest.raises(MilvusException) as excinfo:
            other.describe_collection("c")
        check_code(excinfo, 100)


def test_concurrent_ddl_through_pymilvus(client):
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            client.create_collection(f"c{i}", schema=make_schema())
            client.create_partition(f"c{i}", "p")
            client.describe_collection(f"c{i}")
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(client.list_collections()) == sorted(f"c{i}" for i in range(8))


def test_restart_keeps_all_metadata(tmp_path):
    data = tmp_path / "data"
    with running_stack(data) as first:
        with contextlib.closing(MilvusClient(uri=first.uri)) as c:
            c.create_database("db1")
            c.create_collection("a", schema=make_schema(dynamic=True), num_shards=2,
                                properties={"collection.ttl.seconds": 10})
            c.create_partition("a", "p1")
            c.create_alias("a", "al")
            c.use_database("db1")
            c.create_collection("b", schema=make_schema())
            c.use_database("default")
            before = c.describe_collection("a")
    with running_stack(data) as second:
        with contextlib.closing(MilvusClient(uri=second.uri)) as c:
            assert c.list_databases() == ["default", "db1"]
            assert c.list_collections() == ["a"]
            after = c.describe_collection("a")
            assert after == before
            assert c.list_partitions("a") == ["_default", "p1"]
            assert c.describe_alias("al")["collection_name"] == "a"
            c.use_database("db1")
            assert c.list_collections() == ["b"]
            c.create_collection("c", schema=make_schema())
            assert c.describe_collection("c")["collection_id"] > after["collection_id"]
