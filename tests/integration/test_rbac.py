"""Users, roles and privileges through the real pymilvus client (MilvusClient and the ORM
``utility`` / ``Role``), every role in this process."""

from __future__ import annotations

import pytest
from pymilvus import MilvusClient, MilvusException, Role, connections, utility

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
