"""CreateIndex, DescribeIndex, DropIndex, AlterIndex and index progress: the proxy validates
the index parameters (``milvus.index.spec``) against the field and hands the index meta to
the data coordinator; describes come back in the public ``IndexDescription`` form.

Searches ask ``search_metric`` for the metric: a search that names none uses its field's
index metric (as Milvus does), and one naming another metric than the index's is refused.
The index metric found is cached per field (a vector index cannot be dropped while its
collection is loaded, so it only changes after a release): this proxy forgets it when it
creates, alters or drops an index, and every entry expires after ``metric_ttl`` seconds for
the changes other proxies make.
"""

from __future__ import annotations

import threading
import time

from milvus import errors
from milvus._proto import datacoord_pb2, querycoord_pb2
from milvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2
from milvus.index import SCALAR, FieldSpec, field_kind, resolve_index
from milvus.proxy.callers import Caller
from milvus.proxy.collections import Collection, Collections
from milvus.proxy.validate import NameRules
from milvus.schema.functions import FUNCTION_SPEC_PARAM


def _pairs(d: dict[str, str]) -> list[common_pb2.KeyValuePair]:
    return [common_pb2.KeyValuePair(key=k, value=v) for k, v in d.items()]


class Indexes:
    def __init__(self, collections: Collections, datacoord: Caller, querycoord: Caller, names: NameRules,
                 metric_ttl: float = 3.0):
        self._collections = collections
        self._datacoord = datacoord
        self._querycoord = querycoord
        self._names = names
        self._metric_ttl = metric_ttl
        self._metrics: dict[tuple[int, str], tuple[float, dict[str, str]]] = {}  # (collection, field) -> (expiry, index params)
        self._metrics_lock = threading.Lock()

    def _forget_metrics(self) -> None:
        with self._metrics_lock:
            self._metrics.clear()

    def create(self, db: str, request: milvus_pb2.CreateIndexRequest) -> None:
        try:
            self._create(db, request)
        finally:
            self._forget_metrics()

    def _create(self, db: str, request: milvus_pb2.CreateIndexRequest) -> None:
        coll = self._collections.get(db, request.collection_name)
        fld = coll.schema.get_field(request.field_name)
        if fld is None or fld.is_dynamic:
            raise errors.ParameterInvalid(f"cannot create index on non-exist field: {request.field_name}")
        if request.index_name:
            self._names.index(request.index_name)
        pairs = {p.key: p.value for p in request.extra_params}
        spec = resolve_index(FieldSpec(fld.name, fld.data_type, fld.dim or 0, fld.element_type, fld.is_primary,
                                       fld.is_function_output), pairs)
        type_params = {"dim": str(fld.dim)} if fld.dim else {}
        if fld.function_spec is not None:  # the index node computes what older rows lack
            type_params[FUNCTION_SPEC_PARAM] = fld.function_spec.decode()
        self._datacoord("CreateIndex", datacoord_pb2.CreateIndexRequest(
            collectionID=coll.id, fieldID=fld.field_id, index_name=request.index_name,
            type_params=_pairs(type_params), index_params=_pairs(spec.index_params()),
            user_index_params=_pairs(spec.user_params), is_auto_index=spec.is_auto, field_name=fld.name,
            field_type=fld.data_type))

    def _describe(self, coll: Collection, index_name: str, field_name: str = "") -> list[datacoord_pb2.IndexInfo]:
        infos = list(self._datacoord("DescribeIndex", datacoord_pb2.DescribeIndexRequest(
            collectionID=coll.id, index_name=index_name)).index_infos)
        if field_name:
            infos = [i for i in infos if i.field_name == field_name]
            if not infos:
                raise errors.IndexNotFound(f"index not found[collection={coll.name}][field={field_name}]")
        return infos

    def _existing(self, coll: Collection, index_name: str = "", field_name: str = "") -> list[datacoord_pb2.IndexInfo]:
        """``_describe``, empty where there is no such index (or none at all)."""
        try:
            return self._describe(coll, index_name, field_name)
        except errors.MilvusError as exc:
            if exc.code == errors.IndexNotFound.code:
                return []
            raise

    def describe(self, db: str, request: milvus_pb2.DescribeIndexRequest) -> milvus_pb2.DescribeIndexResponse:
        coll = self._collections.get(db, request.collection_name)
        response = milvus_pb2.DescribeIndexResponse(status=errors.OK)
        for info in self._describe(coll, request.index_name, request.field_name):
            response.index_descriptions.add(
                index_name=info.index_name, indexID=info.indexID, params=info.user_index_params or info.index_params,
                field_name=info.field_name, indexed_rows=info.indexed_rows, total_rows=info.total_rows,
                pending_index_rows=info.pending_index_rows, state=info.state,
                index_state_fail_reason=info.index_state_fail_reason)
        return response

    def _one(self, db: str, name: str, index_name: str, field_name: str) -> datacoord_pb2.IndexInfo:
        coll = self._collections.get(db, name)
        infos = self._describe(coll, index_name, field_name)
        if len(infos) > 1:
            raise errors.ParameterInvalid("there are multiple indexes, please specify the index_name")
        return infos[0]

    def state(self, db: str, request: milvus_pb2.GetIndexStateRequest) -> milvus_pb2.GetIndexStateResponse:
        info = self._one(db, request.collection_name, request.index_name, request.field_name)
        return milvus_pb2.GetIndexStateResponse(status=errors.OK, state=info.state,
                                                fail_reason=info.index_state_fail_reason)

    def progress(self, db: str, request: milvus_pb2.GetIndexBuildProgressRequest
                 ) -> milvus_pb2.GetIndexBuildProgressResponse:
        info = self._one(db, request.collection_name, request.index_name, request.field_name)
        return milvus_pb2.GetIndexBuildProgressResponse(status=errors.OK, indexed_rows=info.indexed_rows,
                                                        total_rows=info.total_rows)

    def drop(self, db: str, request: milvus_pb2.DropIndexRequest) -> None:
        try:
            self._drop(db, request)
        finally:
            self._forget_metrics()

    def _drop(self, db: str, request: milvus_pb2.DropIndexRequest) -> None:
        coll = self._collections.get(db, request.collection_name)
        infos = self._existing(coll, request.index_name, request.field_name)
        if not infos:
            return  # nothing to drop
        if not request.index_name and len(infos) > 1:
            raise errors.ParameterInvalid("there are multiple indexes, please specify the index_name")
        vector = any(field_kind(coll.schema.field(i.field_name).data_type) != SCALAR
                     for i in infos if coll.schema.has_field(i.field_name))
        if vector and self._loaded(coll):
            raise errors.ParameterInvalid("index cannot be dropped, collection is loaded, please release it first")
        for info in infos:
            self._datacoord("DropIndex", datacoord_pb2.DropIndexRequest(collectionID=coll.id,
                                                                        index_name=info.index_name))

    @staticmethod
    def check_function_output_index(field_name: str, extra_params) -> None:
        """Raise unless ``extra_params`` (a CreateIndex request's) can index a new BM25 output."""
        resolve_index(FieldSpec(field_name, schema_pb2.SparseFloatVector, 0, 0, False, True),
                      {p.key: p.value for p in extra_params})

    def drop_field_indexes(self, coll: Collection, field_ids: set[int]) -> None:
        """Drop every index of the fields ``field_ids`` (fields leaving the schema: their
        indexes go with them, loaded or not)."""
        try:
            for info in (i for i in self._existing(coll) if i.fieldID in field_ids):
                self._datacoord("DropIndex", datacoord_pb2.DropIndexRequest(collectionID=coll.id,
                                                                            index_name=info.index_name))
        finally:
            self._forget_metrics()

    def alter(self, db: str, request: milvus_pb2.AlterIndexRequest) -> None:
        coll = self._collections.get(db, request.collection_name)
        self._forget_metrics()
        self._datacoord("AlterIndex", datacoord_pb2.AlterIndexRequest(
            collectionID=coll.id, index_name=request.index_name, params=request.extra_params,
            delete_keys=request.delete_keys))

    def _loaded(self, coll: Collection) -> bool:
        state = self._querycoord("GetLoadState", querycoord_pb2.GetLoadStateRequest(collectionID=coll.id))
        return state.state != querycoord_pb2.LOAD_STATUS_NONE

    def search_metric(self, coll: Collection, anns_field: str, requested: str) -> str:
        """The metric a search runs with: the request's, else its field's index metric, else ''
        (the query node's default); a request naming another metric than the index's fails."""
        name = anns_field
        if not name:
            vectors = coll.schema.vector_fields
            if len(vectors) != 1:
                return requested
            name = vectors[0].name
        indexed = self._index_params(coll, name).get("metric_type", "")
        if not indexed:
            return requested
        if requested and requested.upper() != indexed:
            raise errors.ParameterInvalid(f"metric type not match: invalid parameter[expected={indexed}]"
                                          f"[actual={requested.upper()}]")
        return indexed

    def bm25_params(self, coll: Collection, field_name: str) -> tuple[float, float]:
        """(k1, b) of the field's BM25 index; Milvus' defaults without one."""
        params = self._index_params(coll, field_name)
        try:
            return float(params.get("bm25_k1", 1.2)), float(params.get("bm25_b", 0.75))
        except ValueError:
            return 1.2, 0.75

    def _index_params(self, coll: Collection, field_name: str) -> dict[str, str]:
        """The resolved params of the field's index ({} without one); found ones cached (see above)."""
        key, now = (coll.id, field_name), time.monotonic()
        with self._metrics_lock:
            cached = self._metrics.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            infos = self._describe(coll, "", field_name)
        except errors.MilvusError as exc:
            if exc.code == errors.IndexNotFound.code:
                return {}
            raise
        params = {p.key: p.value for p in infos[0].index_params}
        if params.get("metric_type"):
            with self._metrics_lock:
                self._metrics[key] = (now + self._metric_ttl, params)
        return params
