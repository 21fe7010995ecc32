"""Authentication and privilege checks of public requests (``common.security.authorizationEnabled``).

A request carries its user and password as pymilvus sends them: the ``authorization``
header, base64 of ``user:password``.  Without it, or with a wrong password, the call fails
with NeedAuthenticate (1800) before anything runs.  Then the method's privilege (Milvus'
table: ``Search`` on the collection for a search, ``CreateCollection`` on Global for a
create, ...) must be granted to one of the user's roles for the request's database and
object (a grant's object name or database ``*`` matches any; privilege ``All`` any
privilege), else PrivilegeNotPermitted (1401).  Privilege groups (Milvus 2.5's built-in ones and
custom ones, granted with ``grant_privilege_v2``) reach the proxy expanded into their
privileges; a database-level grant covers the Global-object methods of its database.  ``root`` and members of ``admin`` may do
everything; every user is in ``public``, which also holds ``DescribeCollection`` and
``ShowCollections`` on Global and ``IndexDetail`` on every collection.  Users, roles and
grants themselves are managed by admins (Milvus' ``*Ownership`` privileges); a user may
change their own password.  Methods outside the table (version, health, connect, ...)
need only a valid user.

The root coordinator keeps users and grants (``milvus.rootcoord.rbac``); a proxy remembers a
verified password and a user's roles and grants for ``proxy.accessCacheSeconds``, and forgets
everything at once when an RBAC change passes through it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from milvus import errors
from milvus._proto import rootcoord_pb2

_BAD_TOKEN = "invalid token format: the authorization header should be base64 of user:password"
ROOT_USER = "root"
ADMIN_ROLE = "admin"
_GLOBAL, _COLLECTION, _USER = "Global", "Collection", "User"
# what every user may do (Milvus' public role)
_PUBLIC = {(_GLOBAL, "DescribeCollection"), (_GLOBAL, "ShowCollections"), (_COLLECTION, "IndexDetail")}

# public method -> (object type, privilege); the object is the request's collection for Collection
_COLLECTION_METHODS = {
    "CreateIndex": "CreateIndex", "DropIndex": "DropIndex", "DescribeIndex": "IndexDetail",
    "GetIndexState": "IndexDetail", "GetIndexBuildProgress": "IndexDetail", "GetIndexStatistics": "IndexDetail",
    "LoadCollection": "Load", "LoadPartitions": "Load", "ReleaseCollection": "Release",
    "ReleasePartitions": "Release", "GetLoadingProgress": "GetLoadingProgress", "GetLoadState": "GetLoadState",
    "Insert": "Insert", "Delete": "Delete", "Upsert": "Upsert", "Search": "Search", "HybridSearch": "Search",
    "Query": "Query", "Flush": "Flush", "GetFlushState": "GetFlushState",
    "GetCollectionStatistics": "GetStatistics", "GetPartitionStatistics": "GetStatistics",
    "GetPersistentSegmentInfo": "GetStatistics", "GetQuerySegmentInfo": "GetStatistics",
    "ManualCompaction": "Compaction", "Import": "Import", "CreatePartition": "CreatePartition",
    "DropPartition": "DropPartition", "ShowPartitions": "ShowPartitions", "HasPartition": "HasPartition",
    "AddCollectionField": "AddCollectionField", "LoadBalance": "LoadBalance",
    "AlterCollectionSchema": "AlterCollectionSchema", "DropCollectionFunction": "AlterCollectionSchema",
    "CreateSnapshot": "CreateSnapshot", "DropSnapshot": "DropSnapshot", "DescribeSnapshot": "DescribeSnapshot",
    "PinSnapshotData": "CreateSnapshot", "RestoreSnapshot": "RestoreSnapshot",
}
_GLOBAL_METHODS = {
    "CreateCollection": "CreateCollection", "DropCollection": "DropCollection",
    "TruncateCollection": "DropCollection",  # as destructive as a drop: its privilege
    "DescribeCollection": "DescribeCollection", "HasCollection": "DescribeCollection",
    "ShowCollections": "ShowCollections", "RenameCollection": "RenameCollection",
    "AlterCollection": "CreateCollection", "AlterCollectionField": "CreateCollection",
    "CreateAlias": "CreateAlias", "AlterAlias": "CreateAlias", "DropAlias": "DropAlias", "DescribeAlias": "DescribeAlias", "ListAliases": "ListAliases",
    "CreateDatabase": "CreateDatabase", "DropDatabase": "DropDatabase", "ListDatabases": "ListDatabases",
    "AlterDatabase": "AlterDatabase", "DescribeDatabase": "DescribeDatabase", "FlushAll": "FlushAll",
    "ListResourceGroups": "ListResourceGroups", "DescribeResourceGroup": "DescribeResourceGroup",
    "CreateResourceGroup": "CreateResourceGroup", "DropResourceGroup": "DropResourceGroup",
    "UpdateResourceGroups": "UpdateResourceGroups", "TransferNode": "TransferNode",
    "TransferReplica": "TransferReplica",
    "ListSnapshots": "ListSnapshots", "UnpinSnapshotData": "DropSnapshot",
    "GetRestoreSnapshotState": "RestoreSnapshot", "ListRestoreSnapshotJobs": "RestoreSnapshot",
    # users, roles and grants: the admins' (Milvus' ownership privileges)
    "CreateCredential": "CreateOwnership", "CreateRole": "CreateOwnership", "AlterRole": "CreateOwnership",
    "DeleteCredential": "DropOwnership", "DropRole": "DropOwnership",
    "OperateUserRole": "ManageOwnership", "OperatePrivilege": "ManageOwnership",
    "OperatePrivilegeV2": "ManageOwnership", "CreatePrivilegeGroup": "CreatePrivilegeGroup",
    "DropPrivilegeGroup": "DropPrivilegeGroup", "ListPrivilegeGroups": "ListPrivilegeGroups",
    "OperatePrivilegeGroup": "OperatePrivilegeGroup",
    "SelectRole": "SelectOwnership", "SelectGrant": "SelectOwnership", "ListCredUsers": "SelectOwnership",
}
_USER_METHODS = {"UpdateCredential": "UpdateUser", "SelectUser": "SelectUser"}
RBAC_WRITES = frozenset({"CreateCredential", "UpdateCredential", "DeleteCredential", "CreateRole", "AlterRole", "DropRole",
                         "OperateUserRole", "OperatePrivilege", "OperatePrivilegeV2", "CreatePrivilegeGroup",
                         "DropPrivilegeGroup", "OperatePrivilegeGroup"})


def _user_and_password(authorization: str) -> tuple[str, str]:
    try:
        text = base64.b64decode(authorization, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.NeedAuthenticate(_BAD_TOKEN) from None
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise errors.NeedAuthenticate(_BAD_TOKEN)
    return user, password


@dataclass(frozen=True)
class _Policy:
    admin: bool
    grants: frozenset[tuple[str, str, str, str]]  # (object type, db, object name, privilege)

    def allows(self, object_type: str, db: str, name: str, privilege: str) -> bool:
        if self.admin or (object_type, privilege) in _PUBLIC:
            return True
        for g_type, g_db, g_name, g_privilege in self.grants:
            # a database's grants (Milvus 2.5 database groups) cover its Global-object methods
            same_type = g_type == object_type or (g_type == "Database" and object_type == _GLOBAL)
            if same_type and g_db in (db, "*") and g_name in (name, "*") and g_privilege in (privilege, "All"):
                return True
        return False


class AccessControl:
    """``check(method, request, authorization, db)`` raises unless the call may run."""

    def __init__(self, rootcoord: Callable[[str, Any], Any], enabled: bool, cache_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic):
        """``rootcoord(method, request)`` calls the root coordinator (errors raised)."""
        self.enabled = enabled
        self._rootcoord = rootcoord
        self._ttl = cache_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._verified: dict[tuple[str, bytes], float] = {}  # (user, sha256 of password) -> until
        self._policies: dict[str, tuple[_Policy, float]] = {}

    def forget(self) -> None:
        """Drop what is remembered (an RBAC change passed through this proxy)."""
        with self._lock:
            self._verified.clear()
            self._policies.clear()

    def check(self, method: str, request: Any, authorization: str, db: str) -> None:
        if not self.enabled:
            return
        if not authorization:
            raise errors.NeedAuthenticate("user hasn't authenticated: missing authorization in header")
        user, password = _user_and_password(authorization)
        self._authenticate(user, password)
        needed = self._needed(method, request, user)
        if needed is None or user == ROOT_USER:
            return
        object_type, names, privilege = needed
        policy = self._policy(user)
        for name in names:
            if not policy.allows(object_type, db, name, privilege):
                raise errors.PrivilegeNotPermitted(
                    f"Privilege{privilege}: permission deny to {user} in the `{db}` database")

    def _authenticate(self, user: str, password: str) -> None:
        key = (user, hashlib.sha256(password.encode("utf-8")).digest())
        now = self._clock()
        with self._lock:
            if self._verified.get(key, 0.0) > now:
                return
        found = self._rootcoord("CheckCredential", rootcoord_pb2.CheckCredentialRequest(username=user,
                                                                                        password=password))
        if not found.ok:
            raise errors.NeedAuthenticate("auth check failure, please check username and password are correct")
        with self._lock:
            self._verified[key] = now + self._ttl

    def _policy(self, user: str) -> _Policy:
        now = self._clock()
        with self._lock:
            cached = self._policies.get(user)
            if cached is not None and cached[1] > now:
                return cached[0]
        response = self._rootcoord("GetUserPolicy", rootcoord_pb2.GetUserPolicyRequest(username=user))
        policy = _Policy(ADMIN_ROLE in response.roles,
                         frozenset((g.object.name, g.db_name, g.object_name, g.grantor.privilege.name)
                                   for g in response.grants))
        with self._lock:
            self._policies[user] = (policy, now + self._ttl)
        return policy

    @staticmethod
    def _needed(method: str, request: Any, user: str) -> tuple[str, list[str], str] | None:
        """(object type, object names, privilege) the call needs; None: a valid user suffices."""
        if method in _COLLECTION_METHODS:
            names = list(getattr(request, "collection_names", ()) or ()) or [
                getattr(request, "collection_name", "") or getattr(request, "collectionName", "")]
            return _COLLECTION, names, _COLLECTION_METHODS[method]
        if method in _GLOBAL_METHODS:
            return _GLOBAL, ["*"], _GLOBAL_METHODS[method]
        if method in _USER_METHODS:
            target = request.username if method == "UpdateCredential" else \
                (request.user.name if request.HasField("user") else "")
            if target == user:
                return None  # oneself: one's own password and roles
            return _USER, [target or "*"], _USER_METHODS[method]
        return None
