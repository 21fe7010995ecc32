"""The public gRPC adapter: MilvusService (``pymilvus.grpc_gen``) onto the proxy's logic.

Each method translates one request into calls on ``Proxy``/``Ddl`` and their results into
the response pymilvus reads, nothing more.  Three things happen for every call in one place
(``_wrap``): the database is resolved (the request's ``db_name``, else the ``dbname``
metadata header pymilvus sends, else ``default``), the caller is authenticated and its
privilege checked when ``common.security.authorizationEnabled`` (``milvus.proxy.access``),
and any exception becomes the error status of the method's response type, so a bad request
never escapes as a gRPC error.
Methods this adapter lacks answer UNIMPLEMENTED.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import Message

from milvus import errors
from milvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2
from milvus.metrics.hooks import PublicServiceMetrics, response_ok, timed_ms
from milvus.proxy.fulltext import run_analyzer
from milvus.proxy.imports import progress_percent
from milvus.proxy.load import stats_pairs
from milvus.proxy.proxy import DEFAULT_DB, Proxy
from milvus.rpc import service_handler
from milvus.rpc.server import message_class
from milvus.schema import describe_schema
from milvus.tso import parse_ts

log = logging.getLogger(__name__)

MILVUS_SERVICE = milvus_pb2.DESCRIPTOR.services_by_name["MilvusService"]
_OK = errors.OK
_QUOTA_STATE = milvus_pb2.CheckHealthResponse.DESCRIPTOR.fields_by_name["quota_states"].enum_type


class CallInfo(NamedTuple):
    """What a call carries besides its request: the metadata headers pymilvus adds."""

    db_name: str = ""
    identifier: str = ""
    request_id: str = ""
    authorization: str = ""  # base64 of user:password

    @classmethod
    def from_metadata(cls, metadata: Iterable[tuple[str, Any]] | None) -> CallInfo:
        db_name = identifier = request_id = authorization = ""
        for key, value in metadata or ():  # a header sent twice: the last one counts
            if key == "dbname":
                db_name = str(value)
            elif key == "identifier":
                identifier = str(value)
            elif key == "client-request-id":
                request_id = str(value)
            elif key == "authorization":
                authorization = str(value)
        return cls(db_name, identifier, request_id, authorization)


NO_CALL_INFO = CallInfo()


def _with_db(request: Message, call: CallInfo) -> Message:
    """``request`` with its ``db_name`` naming the database the call is about, set in place:
    each call decodes its own request, and a copy of an insert's was a deep copy of every
    vector (a fifth of the proxy's CPU per 1k-row insert)."""
    if not request.db_name:
        request.db_name = call.db_name or DEFAULT_DB
    return request


class MilvusServiceAdapter:
    """``metrics`` (from the composition root) records every call's count, latency and
    the proxy's domain families in ``_wrap``."""

    def __init__(self, proxy: Proxy, metrics: PublicServiceMetrics | None = None):
        self._proxy = proxy
        self._ddl = proxy.ddl
        self._metrics = metrics

    def handler(self) -> grpc.GenericRpcHandler:
        return service_handler(MILVUS_SERVICE, self, wrap=self._wrap, allow_missing=True)

    def _wrap(self, name: str, _call: Callable[..., Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        response_cls = message_class(MILVUS_SERVICE.methods_by_name[name].output_type)
        method = getattr(self, name)
        access = self._proxy.access

        def answer(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                self._proxy.check_serving()
                call = CallInfo.from_metadata(context.invocation_metadata())
                if access.enabled:
                    access.check(name, request, call.authorization,
                                 getattr(request, "db_name", "") or call.db_name or DEFAULT_DB)
                return method(request, call)
            except Exception as exc:  # noqa: BLE001 - the one place errors become statuses
                if not isinstance(exc, errors.MilvusError) and not hasattr(exc, "to_status"):
                    log.exception("MilvusService.%s failed", name)
                return errors.error_response(response_cls, exc)

        metrics = self._metrics
        if metrics is None:
            answer.__name__ = name
            return answer

        def behaviour(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            response = answer(request, context)
            metrics.record(name, request, response, response_ok(response), timed_ms(started))
            return response

        behaviour.__name__ = name
        return behaviour

    # ---- connection, version, health ------------------------------------------------

    def Connect(self, request: milvus_pb2.ConnectRequest, call: CallInfo = NO_CALL_INFO) -> milvus_pb2.ConnectResponse:
        identifier = self._proxy.connect(call.db_name or DEFAULT_DB, request.client_info)
        return milvus_pb2.ConnectResponse(status=_OK, server_info=self._proxy.server_info(), identifier=identifier)

    def GetVersion(self, request: milvus_pb2.GetVersionRequest, call: CallInfo = NO_CALL_INFO):
        return milvus_pb2.GetVersionResponse(status=_OK, version=self._proxy.version())

    def CheckHealth(self, request: milvus_pb2.CheckHealthRequest, call: CallInfo = NO_CALL_INFO):
        reasons = self._proxy.check_health()
        if reasons:
            return milvus_pb2.CheckHealthResponse(status=_OK, isHealthy=False, reasons=reasons)
        # healthy, and what holds writes back, as Milvus' proxy answers (its limiter's states)
        quota = self._proxy.quota_states()
        return milvus_pb2.CheckHealthResponse(status=_OK, isHealthy=True, reasons=[reason for _, reason in quota],
                                              quota_states=[_QUOTA_STATE.values_by_name[name].number for name, _ in quota])

    def GetComponentStates(self, request: milvus_pb2.GetComponentStatesRequest, call: CallInfo = NO_CALL_INFO):
        healthy = not self._proxy.check_health()
        code = common_pb2.StateCode.Healthy if healthy else common_pb2.StateCode.Abnormal
        return milvus_pb2.ComponentStates(
            state=milvus_pb2.ComponentInfo(role="proxy", state_code=code), status=_OK)

    def GetMetrics(self, request: milvus_pb2.GetMetricsRequest, call: CallInfo = NO_CALL_INFO):
        info = self._proxy.system_info
        return milvus_pb2.GetMetricsResponse(status=_OK, response=info.answer(request.request),
                                             component_name=info.component_name())

    def AllocTimestamp(self, request: milvus_pb2.AllocTimestampRequest, call: CallInfo = NO_CALL_INFO):
        return milvus_pb2.AllocTimestampResponse(status=_OK, timestamp=self._proxy.alloc_timestamp())

    # ---- databases ------------------------------------------------------------------

    def CreateDatabase(self, request: milvus_pb2.CreateDatabaseRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.create_database(request)
        return _OK

    def DropDatabase(self, request: milvus_pb2.DropDatabaseRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.drop_database(request)
        return _OK

    def AlterDatabase(self, request: milvus_pb2.AlterDatabaseRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.alter_database(request)
        return _OK

    def ListDatabases(self, request: milvus_pb2.ListDatabasesRequest, call: CallInfo = NO_CALL_INFO):
        return self._ddl.list_databases(request)

    def DescribeDatabase(self, request: milvus_pb2.DescribeDatabaseRequest, call: CallInfo = NO_CALL_INFO):
        return self._ddl.describe_database(request)

    # ---- users, roles and privileges (kept by the root coordinator: milvus/rootcoord/rbac.py) ----

    def CreateCredential(self, request: milvus_pb2.CreateCredentialRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("CreateCredential", request)

    def UpdateCredential(self, request: milvus_pb2.UpdateCredentialRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("UpdateCredential", request)

    def DeleteCredential(self, request: milvus_pb2.DeleteCredentialRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("DeleteCredential", request)

    def ListCredUsers(self, request: milvus_pb2.ListCredUsersRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("ListCredUsers", request)

    def CreateRole(self, request: milvus_pb2.CreateRoleRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("CreateRole", request)

    def AlterRole(self, request: milvus_pb2.AlterRoleRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("AlterRole", request)

    def DropRole(self, request: milvus_pb2.DropRoleRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("DropRole", request)

    def OperateUserRole(self, request: milvus_pb2.OperateUserRoleRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("OperateUserRole", request)

    def SelectRole(self, request: milvus_pb2.SelectRoleRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("SelectRole", request)

    def SelectUser(self, request: milvus_pb2.SelectUserRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("SelectUser", request)

    def OperatePrivilege(self, request: milvus_pb2.OperatePrivilegeRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("OperatePrivilege", request)

    def SelectGrant(self, request: milvus_pb2.SelectGrantRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("SelectGrant", request)

    def OperatePrivilegeV2(self, request: milvus_pb2.OperatePrivilegeV2Request, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("OperatePrivilegeV2", request)

    def CreatePrivilegeGroup(self, request: milvus_pb2.CreatePrivilegeGroupRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("CreatePrivilegeGroup", request)

    def DropPrivilegeGroup(self, request: milvus_pb2.DropPrivilegeGroupRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("DropPrivilegeGroup", request)

    def ListPrivilegeGroups(self, request: milvus_pb2.ListPrivilegeGroupsRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("ListPrivilegeGroups", request)

    def OperatePrivilegeGroup(self, request: milvus_pb2.OperatePrivilegeGroupRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.rbac("OperatePrivilegeGroup", request)

    # ---- collections ----------------------------------------------------------------

    def CreateCollection(self, request: milvus_pb2.CreateCollectionRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.create_collection(_with_db(request, call))
        return _OK

    def DropCollection(self, request: milvus_pb2.DropCollectionRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.drop_collection(_with_db(request, call))
        return _OK

    def TruncateCollection(self, request: milvus_pb2.TruncateCollectionRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.truncate_collection(_with_db(request, call))
        return milvus_pb2.TruncateCollectionResponse(status=_OK)

    def AlterCollection(self, request: milvus_pb2.AlterCollectionRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.alter_collection(_with_db(request, call))
        return _OK

    def AlterCollectionField(self, request: milvus_pb2.AlterCollectionFieldRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.alter_collection_field(_with_db(request, call))
        return _OK

    def AddCollectionField(self, request: milvus_pb2.AddCollectionFieldRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.add_collection_field(_with_db(request, call))
        return _OK

    def AlterCollectionSchema(self, request: milvus_pb2.AlterCollectionSchemaRequest,
                              call: CallInfo = NO_CALL_INFO):
        self._proxy.data.schema_changes.alter(_with_db(request, call))
        return milvus_pb2.AlterCollectionSchemaResponse(alter_status=_OK)

    def DropCollectionFunction(self, request: milvus_pb2.DropCollectionFunctionRequest,
                               call: CallInfo = NO_CALL_INFO):
        self._proxy.data.schema_changes.drop_function(_with_db(request, call))
        return _OK

    # Milvus 2.6's calls for a function over fields a collection already has: Milvus 3.0 answers
    # them as unsupported (a function comes with its output field: add_function_field)
    def AddCollectionFunction(self, request: milvus_pb2.AddCollectionFunctionRequest,
                              call: CallInfo = NO_CALL_INFO):
        raise errors.Unimplemented("adding a function on its own is not supported: use add_function_field, "
                                   "which adds the function with its output field")

    def AlterCollectionFunction(self, request: milvus_pb2.AlterCollectionFunctionRequest,
                                call: CallInfo = NO_CALL_INFO):
        raise errors.Unimplemented("altering a function is not supported: drop it (drop_function_field) and "
                                   "add it again (add_function_field)")

    def RenameCollection(self, request: milvus_pb2.RenameCollectionRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.rename_collection(_with_db(request, call))
        return _OK

    def HasCollection(self, request: milvus_pb2.HasCollectionRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        return milvus_pb2.BoolResponse(
            status=_OK, value=self._ddl.has_collection(request.db_name, request.collection_name))

    def DescribeCollection(self, request: milvus_pb2.DescribeCollectionRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        info = self._ddl.describe_collection(request.db_name, request.collection_name, request.collectionID)
        physical_ms = parse_ts(info.created_ts)[0]
        return milvus_pb2.DescribeCollectionResponse(
            status=_OK,
            schema=describe_schema(schema_pb2.CollectionSchema.FromString(info.schema)),
            collectionID=info.id,
            collection_name=info.name,
            db_name=info.db_name,
            db_id=info.db_id,
            virtual_channel_names=info.virtual_channels,
            physical_channel_names=info.physical_channels,
            shards_num=info.shards_num,
            aliases=info.aliases,
            consistency_level=info.consistency_level,
            properties=info.properties,
            num_partitions=info.num_partitions,
            created_timestamp=info.created_ts,
            created_utc_timestamp=physical_ms,
            update_timestamp=info.updated_ts,
        )

    def ShowCollections(self, request: milvus_pb2.ShowCollectionsRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        collections = self._ddl.show_collections(request.db_name, request.collection_names)
        loaded = self._proxy.loaded_percentages([c.id for c in collections])
        return milvus_pb2.ShowCollectionsResponse(
            status=_OK,
            collection_names=[c.name for c in collections],
            collection_ids=[c.id for c in collections],
            created_timestamps=[c.created_ts for c in collections],
            created_utc_timestamps=[parse_ts(c.created_ts)[0] for c in collections],
            inMemory_percentages=[loaded.get(c.id, 0) for c in collections],
            query_service_available=[c.id in loaded for c in collections],
            shards_num=[c.shards_num for c in collections],
        )

    # ---- partitions -----------------------------------------------------------------

    def CreatePartition(self, request: milvus_pb2.CreatePartitionRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.create_partition(_with_db(request, call))
        return _OK

    def DropPartition(self, request: milvus_pb2.DropPartitionRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        if request.partition_name != self._proxy.params.default_partition and self._proxy.partition_loaded(
                request.db_name, request.collection_name, request.partition_name):  # the default's own error first
            # as Milvus' proxy: its rows would stay visible to the loaded collection's reads
            raise errors.MilvusError("partition cannot be dropped, partition is loaded, please release it first")
        self._ddl.drop_partition(request)
        return _OK

    def HasPartition(self, request: milvus_pb2.HasPartitionRequest, call: CallInfo = NO_CALL_INFO):
        return milvus_pb2.BoolResponse(status=_OK, value=self._ddl.has_partition(_with_db(request, call)))

    def ShowPartitions(self, request: milvus_pb2.ShowPartitionsRequest, call: CallInfo = NO_CALL_INFO):
        return self._ddl.show_partitions(_with_db(request, call))

    # ---- aliases --------------------------------------------------------------------

    def CreateAlias(self, request: milvus_pb2.CreateAliasRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.create_alias(_with_db(request, call))
        return _OK

    def AlterAlias(self, request: milvus_pb2.AlterAliasRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.alter_alias(_with_db(request, call))
        return _OK

    def DropAlias(self, request: milvus_pb2.DropAliasRequest, call: CallInfo = NO_CALL_INFO):
        self._ddl.drop_alias(_with_db(request, call))
        return _OK

    def DescribeAlias(self, request: milvus_pb2.DescribeAliasRequest, call: CallInfo = NO_CALL_INFO):
        return self._ddl.describe_alias(_with_db(request, call))

    def ListAliases(self, request: milvus_pb2.ListAliasesRequest, call: CallInfo = NO_CALL_INFO):
        return self._ddl.list_aliases(_with_db(request, call))

    # ---- DML ------------------------------------------------------------------------

    @staticmethod
    def _mutation(result, **counts) -> milvus_pb2.MutationResult:
        return milvus_pb2.MutationResult(status=_OK, IDs=result.ids, timestamp=result.timestamp,
                                         succ_index=list(range(result.count)) if "insert_cnt" in counts
                                         or "upsert_cnt" in counts else [], **counts)

    def Insert(self, request: milvus_pb2.InsertRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        result = self._proxy.data.dml.insert(request.db_name, request.collection_name, request.partition_name,
                                             request.fields_data, request.num_rows, request.schema_timestamp)
        return self._mutation(result, insert_cnt=result.count)

    def Delete(self, request: milvus_pb2.DeleteRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        result = self._proxy.data.dml.delete(request.db_name, request.collection_name, request.partition_name,
                                             request.expr, request.expr_template_values)
        return self._mutation(result, delete_cnt=result.count)

    def Upsert(self, request: milvus_pb2.UpsertRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        result = self._proxy.data.dml.upsert(request.db_name, request.collection_name, request.partition_name,
                                             request.fields_data, request.num_rows, request.partial_update,
                                             request.field_ops, request.schema_timestamp)
        return self._mutation(result, upsert_cnt=result.count)

    def Flush(self, request: milvus_pb2.FlushRequest, call: CallInfo = NO_CALL_INFO):
        db = request.db_name or call.db_name or DEFAULT_DB
        return self._proxy.data.loads.flush(db, request.collection_names)

    def GetFlushState(self, request: milvus_pb2.GetFlushStateRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        return milvus_pb2.GetFlushStateResponse(status=_OK,
                                                flushed=self._proxy.data.loads.flush_state(request.db_name, request))

    def _flush_all_scope(self, db: str) -> list:
        """The collections a flush-all covers: those of ``db``, or of every database."""
        dbs = [db] if db else list(self._ddl.list_databases(milvus_pb2.ListDatabasesRequest()).db_names)
        return [info for name in dbs for info in self._ddl.show_collections(name)]

    def FlushAll(self, request: milvus_pb2.FlushAllRequest, call: CallInfo = NO_CALL_INFO):
        if len(request.flush_targets):
            raise errors.ParameterInvalid("flush targets are not supported by this server: flush a database "
                                          "(db_name) or every one")
        ts = self._proxy.data.loads.flush_all(self._flush_all_scope(request.db_name))
        return milvus_pb2.FlushAllResponse(status=_OK, flush_all_ts=ts)

    def GetFlushAllState(self, request: milvus_pb2.GetFlushAllStateRequest, call: CallInfo = NO_CALL_INFO):
        flushed = self._proxy.data.loads.flush_all_state(self._flush_all_scope(request.db_name), request.flush_all_ts)
        return milvus_pb2.GetFlushAllStateResponse(status=_OK, flushed=flushed)

    # ---- bulk insert (milvus.proxy.imports) -----------------------------------------

    def Import(self, request: milvus_pb2.ImportRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        job_id = self._proxy.data.imports.submit(request.db_name, request.collection_name, request.partition_name,
                                                 request.files)
        return milvus_pb2.ImportResponse(status=_OK, tasks=[job_id])

    @staticmethod
    def _import_state(job) -> milvus_pb2.GetImportStateResponse:
        infos = {"collection": job.collection_name, "partition": job.partition_name, "files": ",".join(job.files),
                 "failed_reason": job.reason, "progress_percent": str(progress_percent(job))}
        return milvus_pb2.GetImportStateResponse(
            status=_OK, state=job.state, row_count=job.row_count, id=job.id, collection_id=job.collection_id,
            create_ts=job.create_time, infos=[common_pb2.KeyValuePair(key=k, value=v) for k, v in infos.items()])

    def GetImportState(self, request: milvus_pb2.GetImportStateRequest, call: CallInfo = NO_CALL_INFO):
        return self._import_state(self._proxy.data.imports.job(request.task))

    def ListImportTasks(self, request: milvus_pb2.ListImportTasksRequest, call: CallInfo = NO_CALL_INFO):
        jobs = self._proxy.data.imports.jobs(request.db_name or call.db_name or DEFAULT_DB, request.collection_name,
                                             request.limit)
        return milvus_pb2.ListImportTasksResponse(status=_OK, tasks=[self._import_state(j) for j in jobs])

    # ---- snapshots (milvus.proxy.snapshots) ------------------------------------------

    def CreateSnapshot(self, request: milvus_pb2.CreateSnapshotRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.snapshots.create(request.db_name, request.collection_name, request.name,
                                          request.description, request.compaction_protection_seconds)
        return _OK

    def DropSnapshot(self, request: milvus_pb2.DropSnapshotRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.snapshots.drop(request.db_name, request.collection_name, request.name)
        return _OK

    def ListSnapshots(self, request: milvus_pb2.ListSnapshotsRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        names = self._proxy.data.snapshots.names(request.db_name, request.collection_name)
        return milvus_pb2.ListSnapshotsResponse(status=_OK, snapshots=names)

    def DescribeSnapshot(self, request: milvus_pb2.DescribeSnapshotRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        return self._proxy.data.snapshots.describe(request.db_name, request.collection_name, request.name)

    def RestoreSnapshot(self, request: milvus_pb2.RestoreSnapshotRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        if request.rewrite_data:
            raise errors.ParameterInvalid("rewrite_data is not supported: a restore always inserts the rows anew")
        job_id = self._proxy.data.snapshots.restore(
            request.db_name, request.collection_name, request.name, request.target_db_name or request.db_name,
            request.target_collection_name)
        return milvus_pb2.RestoreSnapshotResponse(status=_OK, job_id=job_id)

    def GetRestoreSnapshotState(self, request: milvus_pb2.GetRestoreSnapshotStateRequest,
                                call: CallInfo = NO_CALL_INFO):
        return milvus_pb2.GetRestoreSnapshotStateResponse(status=_OK,
                                                          info=self._proxy.data.snapshots.job(request.job_id))

    def ListRestoreSnapshotJobs(self, request: milvus_pb2.ListRestoreSnapshotJobsRequest,
                                call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        jobs = self._proxy.data.snapshots.jobs(request.db_name, request.collection_name)
        return milvus_pb2.ListRestoreSnapshotJobsResponse(status=_OK, jobs=jobs)

    def PinSnapshotData(self, request: milvus_pb2.PinSnapshotDataRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        pin_id = self._proxy.data.snapshots.pin(request.db_name, request.collection_name, request.name,
                                                request.ttl_seconds)
        return milvus_pb2.PinSnapshotDataResponse(status=_OK, pin_id=pin_id)

    def UnpinSnapshotData(self, request: milvus_pb2.UnpinSnapshotDataRequest, call: CallInfo = NO_CALL_INFO):
        self._proxy.data.snapshots.unpin(request.pin_id)
        return _OK

    # ---- load / release -------------------------------------------------------------

    def LoadCollection(self, request: milvus_pb2.LoadCollectionRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.loads.load_collection(request.db_name, request)
        return _OK

    def ReleaseCollection(self, request: milvus_pb2.ReleaseCollectionRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.loads.release_collection(request.db_name, request.collection_name)
        return _OK

    def LoadPartitions(self, request: milvus_pb2.LoadPartitionsRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.loads.load_partitions(request.db_name, request)
        return _OK

    def ReleasePartitions(self, request: milvus_pb2.ReleasePartitionsRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.loads.release_partitions(request.db_name, request.collection_name, request.partition_names)
        return _OK

    def GetLoadingProgress(self, request: milvus_pb2.GetLoadingProgressRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        progress = self._proxy.data.loads.loading_progress(request.db_name, request.collection_name,
                                                           request.partition_names)
        return milvus_pb2.GetLoadingProgressResponse(status=_OK, progress=progress, refresh_progress=progress)

    def GetReplicas(self, request: milvus_pb2.GetReplicasRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.data.loads.replicas(request.db_name or call.db_name or DEFAULT_DB, request)

    def LoadBalance(self, request: milvus_pb2.LoadBalanceRequest, call: CallInfo = NO_CALL_INFO):
        self._proxy.data.loads.load_balance(request.db_name or call.db_name or DEFAULT_DB, request)
        return _OK

    # ---- resource groups (kept by the query coordinator) -----------------------------

    def ListResourceGroups(self, request: milvus_pb2.ListResourceGroupsRequest, call: CallInfo = NO_CALL_INFO):
        return milvus_pb2.ListResourceGroupsResponse(status=_OK, resource_groups=self._proxy.data.groups.names())

    def DescribeResourceGroup(self, request: milvus_pb2.DescribeResourceGroupRequest,
                              call: CallInfo = NO_CALL_INFO):
        group = self._proxy.data.groups.describe(request.resource_group)
        return milvus_pb2.DescribeResourceGroupResponse(status=_OK, resource_group=group)

    def CreateResourceGroup(self, request: milvus_pb2.CreateResourceGroupRequest, call: CallInfo = NO_CALL_INFO):
        self._proxy.data.groups.create(request.resource_group, request.config if request.HasField("config") else None)
        return _OK

    def UpdateResourceGroups(self, request: milvus_pb2.UpdateResourceGroupsRequest, call: CallInfo = NO_CALL_INFO):
        self._proxy.data.groups.update(dict(request.resource_groups))
        return _OK

    def DropResourceGroup(self, request: milvus_pb2.DropResourceGroupRequest, call: CallInfo = NO_CALL_INFO):
        self._proxy.data.groups.drop(request.resource_group)
        return _OK

    def TransferNode(self, request: milvus_pb2.TransferNodeRequest, call: CallInfo = NO_CALL_INFO):
        self._proxy.data.groups.transfer_node(request.source_resource_group, request.target_resource_group,
                                              request.num_node)
        return _OK

    def TransferReplica(self, request: milvus_pb2.TransferReplicaRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.groups.transfer_replica(request.db_name, request.source_resource_group,
                                                 request.target_resource_group, request.collection_name,
                                                 request.num_replica)
        return _OK

    def GetLoadState(self, request: milvus_pb2.GetLoadStateRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        state = self._proxy.data.loads.public_load_state(request.db_name, request.collection_name,
                                                         request.partition_names)
        return milvus_pb2.GetLoadStateResponse(status=_OK, state=state)

    # ---- statistics -----------------------------------------------------------------

    def GetCollectionStatistics(self, request: milvus_pb2.GetCollectionStatisticsRequest,
                                call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        rows = self._proxy.data.loads.row_count(request.db_name, request.collection_name)
        return milvus_pb2.GetCollectionStatisticsResponse(status=_OK, stats=stats_pairs(rows))

    def GetPartitionStatistics(self, request: milvus_pb2.GetPartitionStatisticsRequest,
                               call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        rows = self._proxy.data.loads.row_count(request.db_name, request.collection_name, request.partition_name)
        return milvus_pb2.GetPartitionStatisticsResponse(status=_OK, stats=stats_pairs(rows))

    def GetPersistentSegmentInfo(self, request: milvus_pb2.GetPersistentSegmentInfoRequest,
                                 call: CallInfo = NO_CALL_INFO):
        db = request.dbName or call.db_name or DEFAULT_DB
        infos = self._proxy.data.loads.persistent_segments(db, request.collectionName)
        return milvus_pb2.GetPersistentSegmentInfoResponse(status=_OK, infos=infos)

    def GetQuerySegmentInfo(self, request: milvus_pb2.GetQuerySegmentInfoRequest, call: CallInfo = NO_CALL_INFO):
        infos = self._proxy.data.loads.query_segments(request.dbName or call.db_name or DEFAULT_DB,
                                                      request.collectionName)
        return milvus_pb2.GetQuerySegmentInfoResponse(status=_OK, infos=infos)

    # ---- indexes --------------------------------------------------------------------

    def CreateIndex(self, request: milvus_pb2.CreateIndexRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.indexes.create(request.db_name, request)
        return _OK

    def DescribeIndex(self, request: milvus_pb2.DescribeIndexRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        return self._proxy.data.indexes.describe(request.db_name, request)

    def DropIndex(self, request: milvus_pb2.DropIndexRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.indexes.drop(request.db_name, request)
        return _OK

    def AlterIndex(self, request: milvus_pb2.AlterIndexRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        self._proxy.data.indexes.alter(request.db_name, request)
        return _OK

    def GetIndexState(self, request: milvus_pb2.GetIndexStateRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        return self._proxy.data.indexes.state(request.db_name, request)

    def GetIndexBuildProgress(self, request: milvus_pb2.GetIndexBuildProgressRequest,
                              call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        return self._proxy.data.indexes.progress(request.db_name, request)

    # ---- compaction (milvus.proxy.compaction) ---------------------------------------

    def ManualCompaction(self, request: milvus_pb2.ManualCompactionRequest, call: CallInfo = NO_CALL_INFO):
        request = _with_db(request, call)
        return self._proxy.data.compactions.manual(request.db_name, request)

    def GetCompactionState(self, request: milvus_pb2.GetCompactionStateRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.data.compactions.state(request)

    def GetCompactionStateWithPlans(self, request: milvus_pb2.GetCompactionPlansRequest,
                                    call: CallInfo = NO_CALL_INFO):
        return self._proxy.data.compactions.plans(request)

    # ---- search and query -----------------------------------------------------------

    def Search(self, request: milvus_pb2.SearchRequest, call: CallInfo = NO_CALL_INFO):
        # the database passed along, the request not copied (its query vectors can be large)
        return self._proxy.data.dql.search(request.db_name or call.db_name or DEFAULT_DB, request)

    def HybridSearch(self, request: milvus_pb2.HybridSearchRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.data.dql.hybrid_search(request.db_name or call.db_name or DEFAULT_DB, request)

    def RunAnalyzer(self, request: milvus_pb2.RunAnalyzerRequest, call: CallInfo = NO_CALL_INFO):
        field = None
        if request.collection_name or request.field_name:
            coll = self._proxy.data.collections.get(request.db_name or call.db_name or DEFAULT_DB,
                                                    request.collection_name)
            field = coll.schema.get_field(request.field_name)
            if field is None:
                raise errors.ParameterInvalid(f"field {request.field_name} not found in collection {coll.name}")
        return run_analyzer(field, request)

    def Query(self, request: milvus_pb2.QueryRequest, call: CallInfo = NO_CALL_INFO):
        return self._proxy.data.dql.query(request.db_name or call.db_name or DEFAULT_DB, request)
