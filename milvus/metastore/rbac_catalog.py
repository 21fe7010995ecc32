"""Where users, roles, role bindings and grants live in the meta store (the root
coordinator's), under the KV it is given::

    root-coord/credential/users/{user}                  JSON: salt, PBKDF2 hash, iterations, times
    root-coord/credential/roles/{role}                  empty
    root-coord/credential/user-role/{user}/{role}       empty
    root-coord/credential/grants/{role}/{object type}/{db}/{object name}/{privilege}
                                                        the granting user
    root-coord/credential/privilege-groups/{group}      JSON: the privileges in it

Creating a user or role compares its key absent, so two writers cannot both win
(``MetaConflict``); dropping one removes its bindings and grants in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from milvus.kv.base import KV, Compare, Delete, Op, Put
from milvus.metastore.rootcoord_catalog import ROOT, MetaConflict

_CREDENTIAL = ROOT + "credential/"
_USERS = _CREDENTIAL + "users/"
_ROLES = _CREDENTIAL + "roles/"
_BINDINGS = _CREDENTIAL + "user-role/"
_GRANTS = _CREDENTIAL + "grants/"
_GROUPS = _CREDENTIAL + "privilege-groups/"


@dataclass(frozen=True)
class Grant:
    role: str
    object_type: str
    db: str
    object_name: str
    privilege: str
    grantor: str = ""


def _grant_key(g: Grant) -> str:
    return f"{_GRANTS}{g.role}/{g.object_type}/{g.db}/{g.object_name}/{g.privilege}"


class RbacCatalog:
    def __init__(self, kv: KV):
        self._kv = kv

    def _commit(self, compares: list[Compare], ops: list[Op], what: str) -> None:
        if not self._kv.txn(compares, ops).succeeded:
            raise MetaConflict(what)

    # ---- users ----------------------------------------------------------------------

    def user(self, name: str) -> dict | None:
        kv = self._kv.get(_USERS + name)
        return None if kv is None else json.loads(kv.value)

    def users(self) -> list[str]:
        return sorted(kv.key[len(_USERS):] for kv in self._kv.range(_USERS))

    def create_user(self, name: str, record: dict) -> None:
        key = _USERS + name
        self._commit([Compare.absent(key)], [Put(key, json.dumps(record).encode())], f"user {name} exists")

    def update_user(self, name: str, record: dict) -> None:
        self._kv.put(_USERS + name, json.dumps(record).encode())

    def drop_user(self, name: str) -> None:
        ops: list[Op] = [Delete(_USERS + name)]
        ops += [Delete(kv.key) for kv in self._kv.range(f"{_BINDINGS}{name}/")]
        self._commit([], ops, f"drop user {name}")

    # ---- roles and bindings ---------------------------------------------------------

    def roles(self) -> list[str]:
        return sorted(kv.key[len(_ROLES):] for kv in self._kv.range(_ROLES))

    def has_role(self, name: str) -> bool:
        return self._kv.get(_ROLES + name) is not None

    def create_role(self, name: str, description: str = "") -> None:
        key = _ROLES + name
        self._commit([Compare.absent(key)], [Put(key, description.encode())], f"role {name} exists")

    def role_description(self, name: str) -> str:
        found = self._kv.get(_ROLES + name)
        return found.value.decode() if found is not None else ""

    def describe_role(self, name: str, description: str) -> None:
        """Set an existing role's description."""
        key = _ROLES + name
        self._commit([Compare.create_revision(key, ">", 0)], [Put(key, description.encode())],
                     f"role {name} does not exist")

    def drop_role(self, name: str) -> None:
        ops: list[Op] = [Delete(_ROLES + name)]
        ops += [Delete(kv.key) for kv in self._kv.range(_BINDINGS) if kv.key.rsplit("/", 1)[1] == name]
        ops += [Delete(kv.key) for kv in self._kv.range(f"{_GRANTS}{name}/")]
        self._commit([], ops, f"drop role {name}")

    def bindings(self) -> list[tuple[str, str]]:
        """Every (user, role) binding."""
        out = []
        for kv in self._kv.range(_BINDINGS):
            user, role = kv.key[len(_BINDINGS):].rsplit("/", 1)
            out.append((user, role))
        return sorted(out)

    def bind(self, user: str, role: str) -> None:
        self._kv.put(f"{_BINDINGS}{user}/{role}", b"")

    def unbind(self, user: str, role: str) -> None:
        self._kv.delete(f"{_BINDINGS}{user}/{role}")

    # ---- grants ---------------------------------------------------------------------

    def grants(self, role: str) -> list[Grant]:
        out = []
        for kv in self._kv.range(f"{_GRANTS}{role}/"):
            object_type, db, object_name, privilege = kv.key[len(_GRANTS) + len(role) + 1:].split("/", 3)
            out.append(Grant(role, object_type, db, object_name, privilege, kv.value.decode()))
        return out

    def grant(self, grant: Grant) -> None:
        self._kv.put(_grant_key(grant), grant.grantor.encode())

    def revoke(self, grant: Grant) -> bool:
        return self._kv.delete(_grant_key(grant))

    # ---- privilege groups (custom ones; the built-in ones are not stored) -------------

    def privilege_groups(self) -> dict[str, list[str]]:
        return {kv.key[len(_GROUPS):]: json.loads(kv.value) for kv in self._kv.range(_GROUPS)}

    def create_privilege_group(self, name: str) -> None:
        key = _GROUPS + name
        self._commit([Compare.absent(key)], [Put(key, b"[]")], f"privilege group {name} exists")

    def set_privilege_group(self, name: str, privileges: list[str]) -> None:
        self._kv.put(_GROUPS + name, json.dumps(sorted(set(privileges))).encode())

    def drop_privilege_group(self, name: str) -> None:
        self._kv.delete(_GROUPS + name)
