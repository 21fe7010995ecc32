"""``milvus.proxy.access`` with a stand-in root coordinator: a verified password and a
user's grants are remembered for the cache time only, ``forget`` drops them, grants match
by object type, database, object name (``*`` any) and privilege (``All`` any), and a user
may read and change only their own user record without a grant."""

from __future__ import annotations

import base64

import pytest
from pymilvus.grpc_gen import milvus_pb2

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.proxy.access import AccessControl


def token(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


class FakeRootCoord:
    def __init__(self):
        self.calls: list[str] = []
        self.passwords = {"root": "Milvus", "bob": "password-1"}
        self.grants: list[tuple[str, str, str, str]] = []
        self.roles = ["public"]

    def __call__(self, method, request):
        self.calls.append(method)
        if method == "CheckCredential":
            return rootcoord_pb2.CheckCredentialResponse(ok=self.passwords.get(request.username) == request.password)
        response = rootcoord_pb2.GetUserPolicyResponse(roles=self.roles)
        for object_type, db, name, privilege in self.grants:
            g = response.grants.add(object_name=name, db_name=db)
            g.object.name = object_type
            g.grantor.privilege.name = privilege
        return response


class Clock:
    now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def env():
    rc, clock = FakeRootCoord(), Clock()
    return rc, clock, AccessControl(rc, enabled=True, cache_seconds=5.0, clock=clock)


def search(collection="docs"):
    return milvus_pb2.SearchRequest(collection_name=collection)


def test_passwords_and_grants_are_remembered_for_the_cache_time(env):
    rc, clock, access = env
    rc.grants = [("Collection", "default", "docs", "Search")]
    for _ in range(3):
        access.check("Search", search(), token("bob", "password-1"), "default")
    assert rc.calls == ["CheckCredential", "GetUserPolicy"]
    rc.grants = []  # revoked elsewhere: still allowed until the cache time passes
    access.check("Search", search(), token("bob", "password-1"), "default")
    clock.now += 5.1
    with pytest.raises(errors.PrivilegeNotPermitted):
        access.check("Search", search(), token("bob", "password-1"), "default")
    rc.grants = [("Collection", "default", "*", "All")]
    access.forget()
    access.check("Search", search("anything"), token("bob", "password-1"), "default")
    with pytest.raises(errors.PrivilegeNotPermitted):  # another database
        access.check("Search", search(), token("bob", "password-1"), "db2")
    with pytest.raises(errors.NeedAuthenticate):
        access.check("Search", search(), token("bob", "password-2"), "default")


def test_public_privileges_own_user_record_and_root(env):
    rc, _, access = env
    bob = token("bob", "password-1")
    access.check("DescribeCollection", milvus_pb2.DescribeCollectionRequest(collection_name="x"), bob, "default")
    access.check("DescribeIndex", milvus_pb2.DescribeIndexRequest(collection_name="x"), bob, "default")
    access.check("GetVersion", milvus_pb2.GetVersionRequest(), bob, "default")
    access.check("UpdateCredential", milvus_pb2.UpdateCredentialRequest(username="bob"), bob, "default")
    with pytest.raises(errors.PrivilegeNotPermitted):
        access.check("UpdateCredential", milvus_pb2.UpdateCredentialRequest(username="root"), bob, "default")
    with pytest.raises(errors.PrivilegeNotPermitted):  # each collection of a flush
        rc.grants = [("Collection", "default", "a", "Flush")]
        access.forget()
        access.check("Flush", milvus_pb2.FlushRequest(collection_names=["a", "b"]), bob, "default")
    access.check("DropCollection", milvus_pb2.DropCollectionRequest(collection_name="x"), token("root", "Milvus"),
                 "default")
    rc.roles = ["admin", "public"]
    access.forget()
    access.check("DropCollection", milvus_pb2.DropCollectionRequest(collection_name="x"), bob, "default")


def test_disabled_checks_nothing():
    rc = FakeRootCoord()
    AccessControl(rc, enabled=False).check("DropCollection", milvus_pb2.DropCollectionRequest(), "", "default")
    assert rc.calls == []


def test_every_privilege_a_method_needs_can_be_granted():
    from milvus.proxy.access import _COLLECTION_METHODS, _GLOBAL_METHODS, _USER_METHODS
    from milvus.rootcoord.rbac import PRIVILEGES
    for table, object_type in ((_COLLECTION_METHODS, "Collection"), (_GLOBAL_METHODS, "Global"), (_USER_METHODS, "User")):
        assert set(table.values()) <= PRIVILEGES[object_type], object_type
