"""Users, roles, bindings and grants kept by the root coordinator (``milvus.rootcoord.rbac``):
the built-in user and roles, Milvus' checks and messages, passwords kept only as salted
hashes, and everything surviving a restart."""

from __future__ import annotations

import base64

import pytest
from pymilvus.grpc_gen import milvus_pb2

from milvus.rootcoord.rbac import ROOT_PASSWORD
from tests.unit.test_rootcoord import Harness


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def ok(response):
    status = response if not hasattr(response, "status") else response.status
    assert status.code == 0, status.reason
    return response


def failed(response, words: str) -> None:
    status = response if not hasattr(response, "status") else response.status
    assert status.code != 0
    assert words in status.reason, status.reason


def grant(role, object_type, name, privilege, kind=milvus_pb2.OperatePrivilegeType.Grant, db=""):
    entity = milvus_pb2.GrantEntity(object_name=name, db_name=db)
    entity.role.name = role
    entity.object.name = object_type
    entity.grantor.privilege.name = privilege
    return milvus_pb2.OperatePrivilegeRequest(entity=entity, type=kind)


def grants_of(h, role):
    entity = milvus_pb2.GrantEntity()
    entity.role.name = role
    resp = ok(h.rc.SelectGrant(milvus_pb2.SelectGrantRequest(entity=entity)))
    return sorted((e.object.name, e.db_name, e.object_name, e.grantor.privilege.name) for e in resp.entities)


def test_users_roles_and_grants_survive_a_restart_and_passwords_are_only_hashed(h):
    assert list(ok(h.rc.ListCredUsers(milvus_pb2.ListCredUsersRequest())).usernames) == ["root"]
    roles = ok(h.rc.SelectRole(milvus_pb2.SelectRoleRequest()))
    assert sorted(r.role.name for r in roles.results) == ["admin", "public"]
    assert h.rc._rbac.verify("root", ROOT_PASSWORD)

    ok(h.rc.CreateCredential(milvus_pb2.CreateCredentialRequest(username="alice", password=b64("secret-1"))))
    ok(h.rc.CreateRole(milvus_pb2.CreateRoleRequest(entity=milvus_pb2.RoleEntity(name="reader"))))
    ok(h.rc.OperateUserRole(milvus_pb2.OperateUserRoleRequest(username="alice", role_name="reader")))
    ok(h.rc.OperatePrivilege(grant("reader", "Collection", "docs", "Search")))
    ok(h.rc.OperatePrivilege(grant("reader", "Global", "*", "*")))  # "*" is All
    stored = b"".join(kv.value for kv in h.kv.range(""))
    assert b"secret-1" not in stored and b64("secret-1").encode() not in stored

    h.restart()
    assert list(ok(h.rc.ListCredUsers(milvus_pb2.ListCredUsersRequest())).usernames) == ["alice", "root"]
    assert h.rc._rbac.verify("alice", "secret-1") and not h.rc._rbac.verify("alice", "secret-2")
    users = ok(h.rc.SelectUser(milvus_pb2.SelectUserRequest(user=milvus_pb2.UserEntity(name="alice"),
                                                           include_role_info=True)))
    assert [(u.user.name, [r.name for r in u.roles]) for u in users.results] == [("alice", ["reader"])]
    role = ok(h.rc.SelectRole(milvus_pb2.SelectRoleRequest(role=milvus_pb2.RoleEntity(name="reader"),
                                                           include_user_info=True)))
    assert [(r.role.name, [u.name for u in r.users]) for r in role.results] == [("reader", ["alice"])]
    assert grants_of(h, "reader") == [("Collection", "default", "docs", "Search"), ("Global", "default", "*", "All")]

    ok(h.rc.OperatePrivilege(grant("reader", "Collection", "docs", "Search", milvus_pb2.OperatePrivilegeType.Revoke)))
    assert grants_of(h, "reader") == [("Global", "default", "*", "All")]
    failed(h.rc.DropRole(milvus_pb2.DropRoleRequest(role_name="reader")), "has privileges")
    ok(h.rc.DropRole(milvus_pb2.DropRoleRequest(role_name="reader", force_drop=True)))
    users = ok(h.rc.SelectUser(milvus_pb2.SelectUserRequest(include_role_info=True)))
    assert {u.user.name: [r.name for r in u.roles] for u in users.results} == {"alice": [], "root": []}


def test_password_changes_need_the_old_one(h):
    ok(h.rc.CreateCredential(milvus_pb2.CreateCredentialRequest(username="bob", password=b64("first-pw"))))
    failed(h.rc.UpdateCredential(milvus_pb2.UpdateCredentialRequest(
        username="bob", oldPassword=b64("wrong-pw"), newPassword=b64("second-pw"))), "old password not correct")
    ok(h.rc.UpdateCredential(milvus_pb2.UpdateCredentialRequest(
        username="bob", oldPassword=b64("first-pw"), newPassword=b64("second-pw"))))
    assert h.rc._rbac.verify("bob", "second-pw") and not h.rc._rbac.verify("bob", "first-pw")
    ok(h.rc.DeleteCredential(milvus_pb2.DeleteCredentialRequest(username="bob")))
    assert list(ok(h.rc.ListCredUsers(milvus_pb2.ListCredUsersRequest())).usernames) == ["root"]


@pytest.mark.parametrize("call, words", [
    (lambda rc: rc.CreateCredential(milvus_pb2.CreateCredentialRequest(username="1x", password=b64("secret-1"))),
     "invalid user name"),
    (lambda rc: rc.CreateCredential(milvus_pb2.CreateCredentialRequest(username="carol", password=b64("short"))),
     "length of password"),
    (lambda rc: rc.CreateCredential(milvus_pb2.CreateCredentialRequest(username="root", password=b64("secret-1"))),
     "user already exists"),
    (lambda rc: rc.DeleteCredential(milvus_pb2.DeleteCredentialRequest(username="root")), "root user cannot"),
    (lambda rc: rc.CreateRole(milvus_pb2.CreateRoleRequest(entity=milvus_pb2.RoleEntity(name="admin"))),
     "already exists"),
    (lambda rc: rc.DropRole(milvus_pb2.DropRoleRequest(role_name="public")), "default role"),
    (lambda rc: rc.OperateUserRole(milvus_pb2.OperateUserRoleRequest(username="nobody", role_name="admin")),
     "user not found"),
    (lambda rc: rc.OperateUserRole(milvus_pb2.OperateUserRoleRequest(username="root", role_name="nope")),
     "role not found"),
    (lambda rc: rc.OperatePrivilege(grant("public", "Table", "x", "Search")), "object type"),
    (lambda rc: rc.OperatePrivilege(grant("public", "Collection", "x", "Fly")), "privilege name"),
    (lambda rc: rc.OperatePrivilege(grant("nope", "Collection", "x", "Search")), "role not found"),
])
def test_bad_requests_get_milvus_errors(h, call, words):
    failed(call(h.rc), words)


def _v2(role, privilege, db="", collection="*", kind=milvus_pb2.OperatePrivilegeType.Grant):
    request = milvus_pb2.OperatePrivilegeV2Request(type=kind, db_name=db, collection_name=collection)
    request.role.name = role
    request.grantor.privilege.name = privilege
    return request


def _policy(h, user):
    from milvus._proto import rootcoord_pb2
    resp = ok(h.rc.GetUserPolicy(rootcoord_pb2.GetUserPolicyRequest(username=user)))
    return {(g.object.name, g.db_name, g.object_name, g.grantor.privilege.name) for g in resp.grants}


def test_privilege_groups_and_v2_grants_reach_the_policy_expanded(h):
    ok(h.rc.CreateCredential(milvus_pb2.CreateCredentialRequest(username="ann", password=b64("secret-1"))))
    ok(h.rc.CreateRole(milvus_pb2.CreateRoleRequest(entity=milvus_pb2.RoleEntity(name="ops"))))
    ok(h.rc.OperateUserRole(milvus_pb2.OperateUserRoleRequest(username="ann", role_name="ops")))

    ok(h.rc.CreatePrivilegeGroup(milvus_pb2.CreatePrivilegeGroupRequest(group_name="readers")))
    add = milvus_pb2.OperatePrivilegeGroupRequest(group_name="readers", type=milvus_pb2.AddPrivilegesToGroup,
                                                  privileges=[milvus_pb2.PrivilegeEntity(name=n)
                                                              for n in ("Search", "Query")])
    ok(h.rc.OperatePrivilegeGroup(add))
    groups = {g.group_name: sorted(p.name for p in g.privileges)
              for g in ok(h.rc.ListPrivilegeGroups(milvus_pb2.ListPrivilegeGroupsRequest())).privilege_groups}
    assert groups["readers"] == ["Query", "Search"]
    assert "Insert" in groups["CollectionReadWrite"] and "Insert" not in groups["CollectionReadOnly"]
    assert len(groups) == 10  # nine built-in groups and ours

    ok(h.rc.OperatePrivilegeV2(_v2("ops", "readers", db="db1", collection="docs")))
    ok(h.rc.OperatePrivilegeV2(_v2("ops", "DatabaseAdmin", db="db2")))
    ok(h.rc.OperatePrivilegeV2(_v2("ops", "ClusterReadOnly", db="*")))
    policy = _policy(h, "ann")
    assert {("Collection", "db1", "docs", "Search"), ("Collection", "db1", "docs", "Query")} <= policy
    assert ("Database", "db2", "*", "CreateCollection") in policy
    assert ("Global", "*", "*", "ListDatabases") in policy
    assert not any(p[3] in ("readers", "DatabaseAdmin") for p in policy)  # groups arrive expanded

    failed(h.rc.DropPrivilegeGroup(milvus_pb2.DropPrivilegeGroupRequest(group_name="readers")), "revoke it first")
    ok(h.rc.OperatePrivilegeV2(_v2("ops", "readers", db="db1", collection="docs",
                                   kind=milvus_pb2.OperatePrivilegeType.Revoke)))
    ok(h.rc.DropPrivilegeGroup(milvus_pb2.DropPrivilegeGroupRequest(group_name="readers")))
    failed(h.rc.DropPrivilegeGroup(milvus_pb2.DropPrivilegeGroupRequest(group_name="ClusterAdmin")), "built in")
    failed(h.rc.OperatePrivilegeV2(_v2("ops", "Fly")), "privilege name")
    failed(h.rc.OperatePrivilegeV2(_v2("ops", "ClusterAdmin", collection="docs")), "of the cluster")
    bad = milvus_pb2.OperatePrivilegeGroupRequest(group_name="nope", type=milvus_pb2.AddPrivilegesToGroup,
                                                  privileges=[milvus_pb2.PrivilegeEntity(name="Search")])
    failed(h.rc.OperatePrivilegeGroup(bad), "does not exist")
    h.restart()
    assert ("Database", "db2", "*", "DropCollection") in _policy(h, "ann")
