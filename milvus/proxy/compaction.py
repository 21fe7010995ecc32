"""ManualCompaction, GetCompactionState and GetCompactionStateWithPlans: the proxy resolves
the collection and hands the request to the data coordinator (``milvus.datacoord.compaction``),
then answers in the public form pymilvus reads (``compact()``, ``get_compaction_state()``,
``wait_for_compaction_completed()``, ``get_compaction_plans()``).  A manual compaction also
expires rows older than the collection's ``collection.ttl.seconds``."""

from __future__ import annotations

from milvus import errors
from milvus._proto import datacoord_pb2
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.collections import Collections

TTL_PROPERTY = "collection.ttl.seconds"


class Compactions:
    def __init__(self, collections: Collections, datacoord: Caller):
        self._collections = collections
        self._datacoord = datacoord

    def manual(self, db: str, request: milvus_pb2.ManualCompactionRequest) -> milvus_pb2.ManualCompactionResponse:
        if request.majorCompaction:
            raise errors.ParameterInvalid("clustering compaction is not supported")
        if not request.collection_name:
            raise errors.ParameterMissing("ManualCompaction needs a collection name")
        coll = self._collections.get(db, request.collection_name)
        ttl = 0
        for kv in coll.info.properties:
            if kv.key == TTL_PROPERTY and kv.value.strip().lstrip("-").isdigit():
                ttl = max(0, int(kv.value))
        resp = self._datacoord("ManualCompaction", datacoord_pb2.ManualCompactionRequest(
            collectionID=coll.id, ttl_seconds=ttl,
            expire_ts=coll.info.truncated_ts + 1 if coll.info.truncated_ts else 0))  # what a truncation left
        return milvus_pb2.ManualCompactionResponse(status=errors.OK, compactionID=resp.compactionID,
                                                   compactionPlanCount=resp.compactionPlanCount)

    def _state(self, compaction_id: int) -> datacoord_pb2.GetCompactionStateResponse:
        return self._datacoord("GetCompactionState",
                               datacoord_pb2.GetCompactionStateRequest(compactionID=compaction_id))

    def state(self, request: milvus_pb2.GetCompactionStateRequest) -> milvus_pb2.GetCompactionStateResponse:
        resp = self._state(request.compactionID)
        return milvus_pb2.GetCompactionStateResponse(
            status=errors.OK, state=resp.state, executingPlanNo=resp.executing, timeoutPlanNo=resp.timeout,
            completedPlanNo=resp.completed, failedPlanNo=resp.failed)

    def plans(self, request: milvus_pb2.GetCompactionPlansRequest) -> milvus_pb2.GetCompactionPlansResponse:
        resp = self._state(request.compactionID)
        out = milvus_pb2.GetCompactionPlansResponse(status=errors.OK, state=resp.state)
        for plan in resp.plans:
            out.mergeInfos.append(milvus_pb2.CompactionMergeInfo(
                sources=plan.sources, target=plan.targets[0] if plan.targets else 0, targets=plan.targets,
                plan_id=plan.planID, trigger_id=request.compactionID, collection_id=resp.collectionID,
                channel=plan.channel, type=common_pb2.CompactionTypeMix, state=plan.state,
                failure_reason=plan.fail_reason))
        return out
