"""Users, roles and privileges through the real pymilvus client (MilvusClient and the ORM
``utility`` / ``Role``), every role in this process."""

from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusClient, MilvusException, Role, connections, utility

from tests.integration.cluster import running_cluster

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("rbac") / "data", {}) as cl:
        yield cl


@pytest.fixture
def client(cluster):
    c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
    yield c
    c.close()


def test_users_roles_and_privileges_through_milvus_client(client):
    assert client.list_users() == ["root"]
    assert sorted(client.list_roles()) == ["admin", "public"]

    client.create_user("alice", "password-1")
    client.update_password("alice", "password-1", "password-2")
    with pytest.raises(MilvusException) as wrong:
        client.update_password("alice", "password-1", "password-3")
    assert "old password not correct" in wrong.value.message
    client.create_role("reader")
    client.grant_role("alice", "reader")
    client.grant_privilege("reader", "Collection", "Search", "docs")
    client.grant_privilege("reader", "Collection", "Query", "docs")

    assert sorted(client.list_users()) == ["alice", "root"]
    assert client.describe_user("alice")["roles"] == ("reader",)
    described = client.describe_role("reader")
    assert sorted((p["object_type"], p["object_name"], p["db_name"], p["privilege"])
                  for p in described["privileges"]) == [("Collection", "docs", "default", "Query"),
                                                        ("Collection", "docs", "default", "Search")]

    client.revoke_privilege("reader", "Collection", "Query", "docs")
    assert [p["privilege"] for p in client.describe_role("reader")["privileges"]] == ["Search"]
    client.revoke_role("alice", "reader")
    assert client.describe_user("alice")["roles"] == ()
    with pytest.raises(MilvusException) as busy:
        client.drop_role("reader")
    assert "privileges" in busy.value.message
    client.drop_role("reader", force_drop=True)
    client.drop_user("alice")
    assert client.list_users() == ["root"] and sorted(client.list_roles()) == ["admin", "public"]


def test_the_orm_sees_the_same_users_and_roles(cluster, client):
    connections.connect("rbac", uri=f"http://127.0.0.1:{cluster.port}")
    try:
        utility.create_user("bob", "password-1", using="rbac")
        role = Role("writer", using="rbac")
        role.create()
        role.add_user("bob")
        role.grant("Global", "*", "CreateCollection")
        assert role.is_exist()
        assert [u for u in role.get_users()] == ["bob"]
        assert [g.privilege for g in role.list_grants().groups] == ["CreateCollection"]
        assert sorted(client.list_users()) == ["bob", "root"]
        role.revoke("Global", "*", "CreateCollection")
        role.remove_user("bob")
        role.drop()
        utility.delete_user("bob", using="rbac")
    finally:
        connections.disconnect("rbac")


# ---- with authorization enabled -------------------------------------------------------


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("rbac-on") / "data",
                         {"common.security.authorizationEnabled": True}) as cl:
        yield f"http://127.0.0.1:{cl.port}"


def _denied(call, code: int, words: str) -> None:
    with pytest.raises(MilvusException) as excinfo:
        call()
    assert excinfo.value.code == code, excinfo.value
    assert words in excinfo.value.message


def test_requests_need_a_user_and_the_privilege_of_their_method(secured):
    root = MilvusClient(uri=secured, user="root", password="Milvus")
    root.create_collection("docs", dimension=4, consistency_level="Strong")
    root.create_collection("other", dimension=4, consistency_level="Strong")
    root.insert("docs", [{"id": i, "vector": [i, 0, 0, 1]} for i in range(10)])
    root.create_user("alice", "password-1")
    root.create_role("reader")
    root.grant_role("alice", "reader")

    alice = MilvusClient(uri=secured, user="alice", password="password-1")
    assert sorted(alice.list_collections()) == ["docs", "other"]  # public: ShowCollections, DescribeCollection
    _denied(lambda: alice.search("docs", data=[[1, 0, 0, 1]], limit=3), 1401, "PrivilegeSearch: permission deny to alice")
    _denied(lambda: alice.insert("docs", [{"id": 99, "vector": [0, 0, 0, 1]}]), 1401, "PrivilegeInsert")
    _denied(lambda: alice.drop_collection("docs"), 1401, "PrivilegeDropCollection")
    _denied(lambda: alice.create_user("mallory", "password-1"), 1401, "PrivilegeCreateOwnership")
    _denied(lambda: alice.create_resource_group("rg_a"), 1401, "PrivilegeCreateResourceGroup")
    _denied(lambda: alice.transfer_replica("__default_resource_group", "rg_a", "docs", 1), 1401,
            "PrivilegeTransferReplica")
    _denied(lambda: alice.describe_resource_group("__default_resource_group"), 1401,
            "PrivilegeDescribeResourceGroup")

    root.grant_privilege("reader", "Collection", "Search", "docs")  # through the same proxy: at once
    assert len(alice.search("docs", data=[[1, 0, 0, 1]], limit=3)[0]) == 3
    _denied(lambda: alice.search("other", data=[[1, 0, 0, 1]], limit=3), 1401, "PrivilegeSearch")
    root.grant_privilege("reader", "Collection", "Query", "*")  # every collection
    assert alice.query("other", filter="", output_fields=["count(*)"])[0]["count(*)"] == 0

    alice.update_password("alice", "password-1", "password-2")  # one's own password: no privilege needed
    _denied(lambda: MilvusClient(uri=secured, user="alice", password="password-1").search(
        "docs", data=[[1, 0, 0, 1]], limit=3), 1800, "auth check failure")
    alice2 = MilvusClient(uri=secured, token="alice:password-2")
    assert len(alice2.search("docs", data=[[1, 0, 0, 1]], limit=3)[0]) == 3

    root.revoke_privilege("reader", "Collection", "Search", "docs")
    _denied(lambda: alice2.search("docs", data=[[1, 0, 0, 1]], limit=3), 1401, "PrivilegeSearch")
    root.create_role("boss")
    root.grant_role("alice", "admin")  # admins may do everything
    alice2.create_role("boss2")
    alice2.drop_collection("other")
    for c in (root, alice, alice2):
        c.close()


def test_a_request_without_valid_credentials_is_refused(secured):
    import grpc
    from pymilvus.grpc_gen import milvus_pb2, milvus_pb2_grpc

    address = secured.removeprefix("http://")
    with grpc.insecure_channel(address) as channel:
        stub = milvus_pb2_grpc.MilvusServiceStub(channel)
        response = stub.ShowCollections(milvus_pb2.ShowCollectionsRequest())
        assert response.status.code == 1800 and "missing authorization" in response.status.reason
        bad = [("authorization", "bm90LWJhc2U2NA==")]  # base64 without a colon
        response = stub.ShowCollections(milvus_pb2.ShowCollectionsRequest(), metadata=bad)
        assert response.status.code == 1800 and "invalid token format" in response.status.reason
        wrong = [("authorization", "cm9vdDp3cm9uZw==")]  # root:wrong
        response = stub.ShowCollections(milvus_pb2.ShowCollectionsRequest(), metadata=wrong)
        assert response.status.code == 1800 and "auth check failure" in response.status.reason


def test_privilege_groups_granted_with_v2_are_enforced(secured):
    root = MilvusClient(uri=secured, user="root", password="Milvus")
    root.create_collection("grouped", dimension=4, consistency_level="Strong")
    root.insert("grouped", [{"id": i, "vector": [i, 0, 0, 1]} for i in range(5)])
    root.create_user("carol", "password-1")
    root.create_role("viewer")
    root.grant_role("carol", "viewer")
    carol = MilvusClient(uri=secured, user="carol", password="password-1")
    _denied(lambda: carol.query("grouped", filter="id < 2"), 1401, "PrivilegeQuery")

    root.grant_privilege_v2("viewer", "CollectionReadOnly", "grouped", db_name="default")
    assert len(carol.query("grouped", filter="id < 2")) == 2
    _denied(lambda: carol.insert("grouped", [{"id": 9, "vector": [0, 0, 0, 1]}]), 1401, "PrivilegeInsert")
    _denied(lambda: carol.create_collection("mine", dimension=4), 1401, "PrivilegeCreateCollection")

    root.create_privilege_group("writers")
    root.add_privileges_to_group("writers", ["Insert", "Upsert"])
    assert {"writers", "CollectionAdmin"} <= {g["privilege_group"] for g in root.list_privilege_groups()}
    root.grant_privilege_v2("viewer", "writers", "*", db_name="default")
    assert carol.insert("grouped", [{"id": 9, "vector": [0, 0, 0, 1]}])["insert_count"] == 1
    root.grant_privilege_v2("viewer", "DatabaseAdmin", "*", db_name="default")
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    carol.create_collection("mine", schema=schema)  # the database's CreateCollection (no index: CreateIndex)
    root.revoke_privilege_v2("viewer", "writers", "*", db_name="default")
    _denied(lambda: carol.insert("grouped", [{"id": 10, "vector": [0, 0, 0, 1]}]), 1401, "PrivilegeInsert")
    for c in (root, carol):
        c.close()


def test_roles_keep_their_description_and_alter_role_changes_it(client):
    client.create_role("writer", description="writes the docs")
    assert client.describe_role("writer")["description"] == "writes the docs"
    client.alter_role("writer", "writes and flushes")
    assert client.describe_role("writer")["description"] == "writes and flushes"
    client.alter_role("public", "everyone")  # a built-in role's description too
    assert client.describe_role("public")["description"] == "everyone"
    with pytest.raises(MilvusException, match="role not found"):
        client.alter_role("nobody", "x")
    client.drop_role("writer")
