"""Users, roles and privileges (Milvus RBAC: pymilvus ``create_user``, ``create_role``,
``grant_role``, ``grant_privilege``, ``describe_role``, ...), kept by the root coordinator in
its meta store (``milvus.metastore.rbac_catalog``).

What is kept: users with salted PBKDF2-SHA256 hashes of their passwords (pymilvus sends them
base64-encoded; the plain text is never stored), roles, user-role bindings and grants
(role, object type, database, object name, privilege).  ``root`` (password ``Milvus``) and
the roles ``admin`` and ``public`` always exist and cannot be dropped.  Names follow Milvus'
rules: a letter or ``_`` first, then letters, digits and ``_``, at most 32 characters;
passwords 6 to 256 characters.

With ``common.security.authorizationEnabled`` the proxies authenticate every public request
and check its privilege (``milvus.proxy.access``), asking here (``check_credential``,
``user_policy``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import threading
import time

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.grpc_gen import milvus_pb2
from milvus.metastore.rbac_catalog import Grant, RbacCatalog
from milvus.metastore.rootcoord_catalog import MetaConflict

ROOT_USER = "root"
ROOT_PASSWORD = "Milvus"
ADMIN_ROLE = "admin"
PUBLIC_ROLE = "public"
BUILTIN_ROLES = (ADMIN_ROLE, PUBLIC_ROLE)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,31}")
_PASSWORD_LENGTH = (6, 256)
_ITERATIONS = 100_000
_OK = errors.OK

# privileges by object type (Milvus 2.4/2.5 names; "*" is "All")
PRIVILEGES = {
    "Global": {
        "All", "CreateCollection", "DropCollection", "DescribeCollection", "ShowCollections", "RenameCollection",
        "FlushAll", "CreateOwnership", "DropOwnership", "SelectOwnership", "ManageOwnership",
        "CreateResourceGroup", "DropResourceGroup", "DescribeResourceGroup", "ListResourceGroups",
        "UpdateResourceGroups", "TransferNode", "TransferReplica", "CreateDatabase", "DropDatabase",
        "ListDatabases", "AlterDatabase", "DescribeDatabase", "CreateAlias", "DropAlias", "DescribeAlias",
        "ListAliases", "BackupRBAC", "RestoreRBAC", "CreatePrivilegeGroup", "DropPrivilegeGroup",
        "ListPrivilegeGroups", "OperatePrivilegeGroup", "ListSnapshots", "DropSnapshot", "RestoreSnapshot",
    },
    "Collection": {
        "All", "CreateIndex", "DropIndex", "IndexDetail", "Load", "GetLoadingProgress", "GetLoadState", "Release",
        "Insert", "Delete", "Upsert", "Search", "Flush", "GetFlushState", "Query", "GetStatistics", "Compaction",
        "Import", "LoadBalance", "CreatePartition", "DropPartition", "ShowPartitions", "HasPartition",
        "AddCollectionField", "AlterCollectionSchema", "CreateSnapshot", "DropSnapshot", "DescribeSnapshot",
        "RestoreSnapshot",
    },
    "User": {"UpdateUser", "SelectUser"},
    "Database": {"All", "ListDatabases", "DescribeDatabase", "AlterDatabase", "CreateCollection",
                 "DropCollection", "ShowCollections"},
}


# Milvus' built-in privilege groups (2.5): each level's groups include the one before
_COLLECTION_RO = ("Query", "Search", "IndexDetail", "GetFlushState", "GetLoadState", "GetLoadingProgress",
                  "HasPartition", "ShowPartitions", "DescribeCollection", "DescribeAlias", "GetStatistics",
                  "ListAliases")
_COLLECTION_RW = _COLLECTION_RO + ("Load", "Release", "Insert", "Delete", "Upsert", "Import", "Flush", "Compaction",
                                   "LoadBalance", "CreateIndex", "DropIndex", "CreatePartition", "DropPartition")
_DATABASE_RO = ("ShowCollections", "DescribeDatabase")
_CLUSTER_RO = ("ListDatabases", "SelectOwnership", "SelectUser", "DescribeResourceGroup", "ListResourceGroups",
               "ListPrivilegeGroups")
_CLUSTER_RW = _CLUSTER_RO + ("FlushAll", "TransferNode", "TransferReplica", "UpdateResourceGroups")
BUILTIN_GROUPS: dict[str, tuple[str, frozenset[str]]] = {  # name -> (object type of its grants, privileges)
    "CollectionReadOnly": ("Collection", frozenset(_COLLECTION_RO)),
    "CollectionReadWrite": ("Collection", frozenset(_COLLECTION_RW)),
    "CollectionAdmin": ("Collection", frozenset(_COLLECTION_RW + ("CreateAlias", "DropAlias"))),
    "DatabaseReadOnly": ("Database", frozenset(_DATABASE_RO)),
    "DatabaseReadWrite": ("Database", frozenset(_DATABASE_RO + ("AlterDatabase",))),
    "DatabaseAdmin": ("Database", frozenset(_DATABASE_RO + ("AlterDatabase", "CreateCollection", "DropCollection"))),
    "ClusterReadOnly": ("Global", frozenset(_CLUSTER_RO)),
    "ClusterReadWrite": ("Global", frozenset(_CLUSTER_RW)),
    "ClusterAdmin": ("Global", frozenset(_CLUSTER_RW + (
        "BackupRBAC", "RestoreRBAC", "CreateDatabase", "DropDatabase", "CreateOwnership", "DropOwnership",
        "ManageOwnership", "CreateResourceGroup", "DropResourceGroup", "UpdateUser", "RenameCollection",
        "CreatePrivilegeGroup", "DropPrivilegeGroup", "OperatePrivilegeGroup"))),
}
_ALL_PRIVILEGES = frozenset().union(*PRIVILEGES.values())


def _check_name(kind: str, name: str) -> None:
    if not name:
        raise errors.ParameterInvalid(f"the {kind} name should not be empty")
    if not _NAME.fullmatch(name):
        raise errors.ParameterInvalid(
            f"invalid {kind} name {name!r}: the first character should be a letter or an underscore, the others "
            f"letters, digits or underscores, at most 32 characters")


def _decode_password(encoded: str) -> str:
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.ParameterInvalid("the password should be base64-encoded UTF-8") from None


def _check_password(password: str) -> None:
    low, high = _PASSWORD_LENGTH
    if not low <= len(password) <= high:
        raise errors.ParameterInvalid(f"the length of password must be great than {low - 1} "
                                      f"and less than {high + 1} characters")


def _selected(names: list[str], wanted: str) -> list[str]:
    """Every name, or only ``wanted`` (none when it does not exist: Milvus answers an empty
    result, not an error)."""
    if not wanted:
        return names
    return [wanted] if wanted in names else []


def _hash(password: str, salt: bytes, iterations: int) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations).hex()


class Rbac:
    """The RBAC requests of the root coordinator, on its meta store."""

    def __init__(self, catalog: RbacCatalog):
        self._catalog = catalog
        self._lock = threading.Lock()

    def start(self) -> None:
        """The built-in user and roles, created on first start."""
        with self._lock:
            if self._catalog.user(ROOT_USER) is None:
                try:
                    self._catalog.create_user(ROOT_USER, self._record(ROOT_PASSWORD))
                except MetaConflict:
                    pass  # another root coordinator made it
            for role in BUILTIN_ROLES:
                if not self._catalog.has_role(role):
                    try:
                        self._catalog.create_role(role)
                    except MetaConflict:
                        pass

    @staticmethod
    def _record(password: str, created: int | None = None) -> dict:
        salt = os.urandom(16)
        now = int(time.time())
        return {"salt": salt.hex(), "hash": _hash(password, salt, _ITERATIONS), "iterations": _ITERATIONS,
                "created": created if created is not None else now, "modified": now}

    def verify(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s."""
        record = self._catalog.user(user)
        if record is None:
            return False
        expected = _hash(password, bytes.fromhex(record["salt"]), int(record["iterations"]))
        return hmac.compare_digest(expected, record["hash"])

    def _user_must_exist(self, name: str) -> None:
        if self._catalog.user(name) is None:
            raise errors.ParameterInvalid(f"user not found[user={name}]")

    def _role_must_exist(self, name: str) -> None:
        if not self._catalog.has_role(name):
            raise errors.ParameterInvalid(f"role not found[role={name}]")

    # ---- users ----------------------------------------------------------------------

    def create_credential(self, request: milvus_pb2.CreateCredentialRequest):
        _check_name("user", request.username)
        password = _decode_password(request.password)
        _check_password(password)
        record = self._record(password)
        self._create_new(lambda: self._catalog.create_user(request.username, record),
                         f"user already exists: {request.username}")
        return _OK

    def _create_new(self, create, exists: str) -> None:
        """Run ``create`` (a catalog write that must make a new key); ParameterInvalid
        ``exists`` when the key was there already."""
        with self._lock:
            try:
                create()
            except MetaConflict:
                raise errors.ParameterInvalid(exists) from None

    def update_credential(self, request: milvus_pb2.UpdateCredentialRequest):
        _check_name("user", request.username)
        new = _decode_password(request.newPassword)
        _check_password(new)
        with self._lock:
            record = self._catalog.user(request.username)
            if record is None:
                raise errors.ParameterInvalid(f"user not found[user={request.username}]")
            if not self.verify(request.username, _decode_password(request.oldPassword)):
                raise errors.ParameterInvalid("old password not correct for " + request.username)
            self._catalog.update_user(request.username, self._record(new, created=record.get("created")))
        return _OK

    def delete_credential(self, request: milvus_pb2.DeleteCredentialRequest):
        if request.username == ROOT_USER:
            raise errors.ParameterInvalid("root user cannot be deleted")
        with self._lock:
            if self._catalog.user(request.username) is not None:
                self._catalog.drop_user(request.username)
        return _OK

    def list_cred_users(self, request: milvus_pb2.ListCredUsersRequest):
        return milvus_pb2.ListCredUsersResponse(status=_OK, usernames=self._catalog.users())

    def select_user(self, request: milvus_pb2.SelectUserRequest):
        response = milvus_pb2.SelectUserResponse(status=_OK)
        bound = self._bound(by_user=True)
        for user in _selected(self._catalog.users(), request.user.name if request.HasField("user") else ""):
            result = response.results.add()
            result.user.name = user
            if request.include_role_info:
                for role in bound.get(user, []):
                    result.roles.add(name=role)
        return response

    def _bound(self, by_user: bool) -> dict[str, list[str]]:
        """user -> its roles, or role -> its users."""
        out: dict[str, list[str]] = {}
        for user, role in self._catalog.bindings():
            key, value = (user, role) if by_user else (role, user)
            out.setdefault(key, []).append(value)
        return out

    # ---- roles ----------------------------------------------------------------------

    def create_role(self, request: milvus_pb2.CreateRoleRequest):
        name = request.entity.name
        _check_name("role", name)
        self._create_new(lambda: self._catalog.create_role(name, request.entity.description),
                         f"role [name:\"{name}\"] already exists")
        return _OK

    def alter_role(self, request: milvus_pb2.AlterRoleRequest):
        """A role's description (AlterRole; the built-in roles' too)."""
        with self._lock:
            self._role_must_exist(request.role_name)
            self._catalog.describe_role(request.role_name, request.description)
        return _OK

    def drop_role(self, request: milvus_pb2.DropRoleRequest):
        name = request.role_name
        if name in BUILTIN_ROLES:
            raise errors.ParameterInvalid(f"the role[{name}] is a default role, which can't be dropped")
        with self._lock:
            if not self._catalog.has_role(name):
                return _OK
            if self._catalog.grants(name) and not request.force_drop:
                raise errors.ParameterInvalid(f"fail to drop the role that it has privileges. Use REVOKE API to "
                                              f"revoke privileges of the role [{name}] first, or use force_drop")
            self._catalog.drop_role(name)
        return _OK

    def operate_user_role(self, request: milvus_pb2.OperateUserRoleRequest):
        with self._lock:
            self._user_must_exist(request.username)
            self._role_must_exist(request.role_name)
            if request.type == milvus_pb2.OperateUserRoleType.AddUserToRole:
                self._catalog.bind(request.username, request.role_name)
            elif request.type == milvus_pb2.OperateUserRoleType.RemoveUserFromRole:
                self._catalog.unbind(request.username, request.role_name)
            else:
                raise errors.ParameterInvalid(f"invalid operate user role type {request.type}")
        return _OK

    def select_role(self, request: milvus_pb2.SelectRoleRequest):
        response = milvus_pb2.SelectRoleResponse(status=_OK)
        bound = self._bound(by_user=False)
        for role in _selected(self._catalog.roles(), request.role.name if request.HasField("role") else ""):
            result = response.results.add()
            result.role.name = role
            result.role.description = self._catalog.role_description(role)
            if request.include_user_info:
                for user in bound.get(role, []):
                    result.users.add(name=user)
        return response

    # ---- privileges -----------------------------------------------------------------

    def operate_privilege(self, request: milvus_pb2.OperatePrivilegeRequest):
        entity = request.entity
        role, object_type = entity.role.name, entity.object.name
        privilege = entity.grantor.privilege.name
        privilege = "All" if privilege == "*" else privilege
        if object_type not in PRIVILEGES:
            raise errors.ParameterInvalid(f"not found the object type[name: {object_type}], supported the object "
                                          f"types: {sorted(PRIVILEGES)}")
        if privilege not in PRIVILEGES[object_type]:
            raise errors.ParameterInvalid(f"not found the privilege name[{privilege}] in object[{object_type}]")
        if not entity.object_name:
            raise errors.ParameterInvalid("the object name of a grant should not be empty (\"*\" for all)")
        grant = Grant(role, object_type, entity.db_name or "default", entity.object_name, privilege,
                      entity.grantor.user.name)
        with self._lock:
            self._role_must_exist(role)
            self._operate(request.type, grant)
        return _OK

    def _operate(self, kind: int, grant: Grant) -> None:
        """Under the lock: store or remove ``grant`` (OperatePrivilegeType Grant / Revoke)."""
        if kind == milvus_pb2.OperatePrivilegeType.Grant:
            self._catalog.grant(grant)
        elif kind == milvus_pb2.OperatePrivilegeType.Revoke:
            self._catalog.revoke(grant)
        else:
            raise errors.ParameterInvalid(f"invalid operate privilege type {kind}")

    def operate_privilege_v2(self, request: milvus_pb2.OperatePrivilegeV2Request):
        """Milvus 2.5's grant: a privilege or a privilege group (built-in or custom) on a
        database and collection (``*`` for all); the object type comes from the privilege."""
        role, privilege = request.role.name, request.grantor.privilege.name
        privilege = "All" if privilege == "*" else privilege
        db, collection = request.db_name or "default", request.collection_name or "*"
        with self._lock:
            self._role_must_exist(role)
            groups = self._catalog.privilege_groups()
            if privilege in BUILTIN_GROUPS:
                object_type = BUILTIN_GROUPS[privilege][0]
            elif privilege in groups or privilege in PRIVILEGES["Collection"] - {"All"}:
                object_type = "Collection"
            elif privilege in _ALL_PRIVILEGES:
                object_type = "Global"
            else:
                raise errors.ParameterInvalid(f"not found the privilege name[{privilege}]")
            if object_type == "Global" and collection != "*":
                raise errors.ParameterInvalid(f"the privilege {privilege} is of the cluster: give collection * "
                                              f"(got {collection})")
            grant = Grant(role, object_type, db, collection, privilege, request.grantor.user.name)
            self._operate(request.type, grant)
        return _OK

    # ---- privilege groups -------------------------------------------------------------

    def create_privilege_group(self, request: milvus_pb2.CreatePrivilegeGroupRequest):
        name = request.group_name
        _check_name("privilege group", name)
        if name in BUILTIN_GROUPS or name in _ALL_PRIVILEGES:
            raise errors.ParameterInvalid(f"privilege group name [{name}] is a built-in group or privilege")
        self._create_new(lambda: self._catalog.create_privilege_group(name), f"privilege group [{name}] already exists")
        return _OK

    def drop_privilege_group(self, request: milvus_pb2.DropPrivilegeGroupRequest):
        name = request.group_name
        if name in BUILTIN_GROUPS:
            raise errors.ParameterInvalid(f"the privilege group [{name}] is built in and cannot be dropped")
        with self._lock:
            for role in self._catalog.roles():
                if any(g.privilege == name for g in self._catalog.grants(role)):
                    raise errors.ParameterInvalid(f"privilege group [{name}] is granted to role [{role}]: "
                                                  f"revoke it first")
            self._catalog.drop_privilege_group(name)
        return _OK

    def list_privilege_groups(self, request: milvus_pb2.ListPrivilegeGroupsRequest):
        response = milvus_pb2.ListPrivilegeGroupsResponse(status=_OK)
        groups = {name: sorted(members) for name, (_, members) in BUILTIN_GROUPS.items()}
        groups.update(self._catalog.privilege_groups())
        for name, members in groups.items():
            info = response.privilege_groups.add(group_name=name)
            for privilege in members:
                info.privileges.add(name=privilege)
        return response

    def operate_privilege_group(self, request: milvus_pb2.OperatePrivilegeGroupRequest):
        name = request.group_name
        if name in BUILTIN_GROUPS:
            raise errors.ParameterInvalid(f"the privilege group [{name}] is built in and cannot be changed")
        privileges = [p.name for p in request.privileges]
        unknown = [p for p in privileges if p not in _ALL_PRIVILEGES]
        if unknown:
            raise errors.ParameterInvalid(f"not found the privilege name[{unknown[0]}]")
        with self._lock:
            groups = self._catalog.privilege_groups()
            if name not in groups:
                raise errors.ParameterInvalid(f"privilege group [{name}] does not exist")
            members = set(groups[name])
            if request.type == milvus_pb2.OperatePrivilegeGroupType.AddPrivilegesToGroup:
                members |= set(privileges)
            elif request.type == milvus_pb2.OperatePrivilegeGroupType.RemovePrivilegesFromGroup:
                members -= set(privileges)
            else:
                raise errors.ParameterInvalid(f"invalid operate privilege group type {request.type}")
            self._catalog.set_privilege_group(name, sorted(members))
        return _OK

    def select_grant(self, request: milvus_pb2.SelectGrantRequest):
        entity = request.entity
        role = entity.role.name
        self._role_must_exist(role)
        want_type = entity.object.name if entity.HasField("object") else ""
        response = milvus_pb2.SelectGrantResponse(status=_OK)
        for g in self._catalog.grants(role):
            if want_type and g.object_type != want_type:
                continue
            if entity.object_name and g.object_name != entity.object_name:
                continue
            if entity.db_name and g.db != entity.db_name:
                continue
            out = response.entities.add(object_name=g.object_name, db_name=g.db)
            out.role.name = g.role
            out.object.name = g.object_type
            out.grantor.user.name = g.grantor
            out.grantor.privilege.name = g.privilege
        return response

    # ---- what the proxies check requests against ---------------------------------

    def check_credential(self, request: rootcoord_pb2.CheckCredentialRequest):
        return rootcoord_pb2.CheckCredentialResponse(status=_OK, ok=self.verify(request.username, request.password))

    def user_policy(self, request: rootcoord_pb2.GetUserPolicyRequest):
        user = request.username
        if self._catalog.user(user) is None:
            raise errors.ParameterInvalid(f"user not found[user={user}]")
        roles = sorted({role for bound, role in self._catalog.bindings() if bound == user} | {PUBLIC_ROLE})
        response = rootcoord_pb2.GetUserPolicyResponse(status=_OK, roles=roles)
        custom = self._catalog.privilege_groups()
        for role in roles:
            for g in self._catalog.grants(role):
                # a group grants each of its privileges on the grant's objects
                if g.privilege in BUILTIN_GROUPS:
                    privileges = sorted(BUILTIN_GROUPS[g.privilege][1])
                else:
                    privileges = custom.get(g.privilege, [g.privilege])
                for privilege in privileges:
                    out = response.grants.add(object_name=g.object_name, db_name=g.db)
                    out.role.name = g.role
                    out.object.name = g.object_type
                    out.grantor.privilege.name = privilege
        return response
