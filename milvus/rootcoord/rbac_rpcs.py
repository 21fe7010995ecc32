"""The root coordinator's users, roles and privileges RPCs, answered by
``milvus.rootcoord.rbac`` (a mixin of ``RootCoord``)."""

from __future__ import annotations

from milvus.rootcoord.rpc import answers


class RbacRpcs:
    """Each RPC hands its request to ``self._rbac``."""

    @answers
    def CreateCredential(self, request):
        return self._rbac.create_credential(request)

    @answers
    def UpdateCredential(self, request):
        return self._rbac.update_credential(request)

    @answers
    def DeleteCredential(self, request):
        return self._rbac.delete_credential(request)

    @answers
    def ListCredUsers(self, request):
        return self._rbac.list_cred_users(request)

    @answers
    def CreateRole(self, request):
        return self._rbac.create_role(request)

    @answers
    def DropRole(self, request):
        return self._rbac.drop_role(request)

    @answers
    def AlterRole(self, request):
        return self._rbac.alter_role(request)

    @answers
    def OperateUserRole(self, request):
        return self._rbac.operate_user_role(request)

    @answers
    def SelectRole(self, request):
        return self._rbac.select_role(request)

    @answers
    def SelectUser(self, request):
        return self._rbac.select_user(request)

    @answers
    def OperatePrivilege(self, request):
        return self._rbac.operate_privilege(request)

    @answers
    def SelectGrant(self, request):
        return self._rbac.select_grant(request)

    @answers
    def OperatePrivilegeV2(self, request):
        return self._rbac.operate_privilege_v2(request)

    @answers
    def CreatePrivilegeGroup(self, request):
        return self._rbac.create_privilege_group(request)

    @answers
    def DropPrivilegeGroup(self, request):
        return self._rbac.drop_privilege_group(request)

    @answers
    def ListPrivilegeGroups(self, request):
        return self._rbac.list_privilege_groups(request)

    @answers
    def OperatePrivilegeGroup(self, request):
        return self._rbac.operate_privilege_group(request)

    @answers
    def CheckCredential(self, request):
        return self._rbac.check_credential(request)

    @answers
    def GetUserPolicy(self, request):
        return self._rbac.user_policy(request)
