"""Search, query and get (docs/datapath.md "Reads").

The read timestamp comes from the consistency level (the collection's default unless the
request names one): Strong = a fresh timestamp, Bounded = now − ``gracefulTime``, Session
and Customized = the client's ``guarantee_timestamp``, Eventually = no wait.  Time travel:
``travel_timestamp`` of the request, or the key ``travel_timestamp`` in a search's params
(``search_params={"params": {"travel_timestamp": T}}`` in pymilvus), in a query's
``query_params``, or as the filter template value ``travel_timestamp``
(``filter_params={"travel_timestamp": T}`` in pymilvus).  It must lie inside the retention
window (``common.retentionDuration`` seconds) and not in the future.

Each shard leader of one replica answers for its channels; the proxy merges the shards
(best score first, ties by primary key; queries by primary key), applies offset/limit and
turns the rows into the public ``FieldData`` columns.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from milvus import errors
from milvus._proto import querycoord_pb2, querynode_pb2
from milvus.expr import pk_terms
from milvus.proxy.callers import Caller
from milvus.proxy.channel_writer import ChannelWriter
from milvus.proxy.collections import Collection, Collections
from milvus.schema import arrow_to_fields, arrow_to_ids, ids_to_arrow, resolve_output_fields
from milvus.tso import compose_ts, parse_ts

_ASCENDING = {"L2", "HAMMING", "JACCARD"}
COUNT_STAR = "count(*)"
TRAVEL_KEY = "travel_timestamp"
Level = common_pb2.ConsistencyLevel


@dataclass(frozen=True)
class DqlParams:
    graceful_time_ms: int = 5000
    retention_seconds: float = 432000.0
    max_topk: int = 16384


def _kv(pairs) -> dict[str, str]:
    return {p.key: p.value for p in pairs}


def _json(value: str) -> Any:
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.ParameterInvalid(f"{what} [{value}] is invalid, should be an integer") from None


def _read_arrow(data: bytes) -> pa.Table | None:
    if not data:
        return None
    with pa.ipc.open_stream(data) as reader:
        return reader.read_all()


class Dql:
    def __init__(self, collections: Collections, querycoord: Caller,
                 querynode: Callable[[int, str], Any], writer: ChannelWriter,
                 alloc_ts: Callable[[], int], params: DqlParams | None = None):
        """``querynode(node_id, address)`` gives a client of that query node."""
        self._collections = collections
        self._querycoord = querycoord
        self._querynode = querynode
        self._writer = writer
        self._alloc_ts = alloc_ts
        self.params = params or DqlParams()
        self._round_robin = itertools.count()

    # ---- timestamps -----------------------------------------------------------------

    def guarantee_ts(self, coll: Collection, level: int, use_default: bool, given: int) -> int:
        if use_default:
            level = coll.info.consistency_level
        if level == Level.Strong:
            ts = self._alloc_ts()
            self._writer.kick()
            return ts
        if level == Level.Bounded:
            physical, _ = parse_ts(self._alloc_ts())
            return compose_ts(max(0, physical - self.params.graceful_time_ms), 0)
        if level == Level.Eventually:
            return 0
        return given if given > 1 else 0  # Session, Customized: the client's timestamp

    def travel_ts(self, travel: int) -> int:
        if not travel:
            return 0
        now_ms, _ = parse_ts(self._alloc_ts())
        travel_ms, _ = parse_ts(travel)
        if travel_ms > now_ms:
            raise errors.TimeTravelOutOfRange(f"travel timestamp {travel} is in the future")
        if now_ms - travel_ms > self.params.retention_seconds * 1000:
            raise errors.TimeTravelOutOfRange(
                f"travel timestamp {travel} is older than the retention window "
                f"({self.params.retention_seconds:g} s, common.retentionDuration)")
        return travel

    # ---- fan-out --------------------------------------------------------------------

    def _leaders(self, coll: Collection) -> dict[int, tuple[str, list[str]]]:
        """node id -> (address, channels) of one replica's shard leaders."""
        response = self._querycoord("GetShardLeaders", querycoord_pb2.GetShardLeadersRequest(collectionID=coll.id))
        replicas = [r for r in response.replicas if r.shard_leaders]
        if not replicas:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={coll.name}]")
        replica = replicas[next(self._round_robin) % len(replicas)]
        by_node: dict[int, tuple[str, list[str]]] = {}
        for leader in replica.shard_leaders:
            by_node.setdefault(leader.node_id, (leader.address, []))[1].append(leader.channel_name)
        return by_node

    def _fan_out(self, coll: Collection, method: str, request: querynode_pb2.ShardRequest) -> list[Any]:
        results = []
        for node_id, (address, channels) in self._leaders(coll).items():
            shard_request = querynode_pb2.ShardRequest()
            shard_request.CopyFrom(request)
            shard_request.channels[:] = channels
            results.append(Caller(self._querynode(node_id, address), "querynode")(method, shard_request))
        return results

    def _base_request(self, coll: Collection, partition_names, expr: str, template_values, level: int,
                      use_default: bool, guarantee: int, travel: int) -> querynode_pb2.ShardRequest:
        request = querynode_pb2.ShardRequest(
            collectionID=coll.id, partitionIDs=coll.partition_ids(partition_names), expr=expr,
            guarantee_ts=self.guarantee_ts(coll, level, use_default, guarantee),
            travel_ts=self.travel_ts(travel))
        for key, value in template_values.items():
            if key != TRAVEL_KEY:
                request.expr_template_values[key].CopyFrom(value)
        return request

    @staticmethod
    def _travel_from_templates(template_values) -> int:
        value = template_values.get(TRAVEL_KEY)
        return int(value.int64_val) if value is not None else 0

    # ---- search ---------------------------------------------------------------------

    def search(self, db: str, request: milvus_pb2.SearchRequest) -> milvus_pb2.SearchResults:
        if request.sub_reqs:
            raise errors.Unimplemented("hybrid search is not supported by this server")
        coll = self._collections.get(db, request.collection_name)
        kv = _kv(request.search_params)
        params = _json(kv.get("params", "{}")) or {}
        if not isinstance(params, dict):
            raise errors.ParameterInvalid(f"search params must be a JSON object, got {kv.get('params')}")
        limit = _int(_json(kv.get("topk", kv.get("limit", "10"))), "topk")
        offset = _int(_json(kv.get("offset", params.get("offset", 0))), "offset")
        round_decimal = _int(_json(kv.get("round_decimal", "-1")), "round_decimal")
        if limit <= 0 or limit + offset > self.params.max_topk:
            raise errors.ParameterInvalid(f"topk [{limit}] is invalid, it should be in range [1, "
                                          f"{self.params.max_topk}], and offset + topk <= {self.params.max_topk}")
        if offset < 0:
            raise errors.ParameterInvalid(f"offset [{offset}] is invalid, should be >= 0")
        travel = request.travel_timestamp or _int(_json(kv.get(TRAVEL_KEY, params.get(TRAVEL_KEY, 0))), TRAVEL_KEY) \
            or self._travel_from_templates(request.expr_template_values)
        out = resolve_output_fields(coll.schema, request.output_fields)
        shard = self._base_request(coll, request.partition_names, request.dsl, request.expr_template_values,
                                   request.consistency_level, request.use_default_consistency,
                                   request.guarantee_timestamp, travel)
        shard.placeholder_group = request.placeholder_group
        shard.topk = limit + offset
        shard.nq = request.nq
        shard.output_field_ids[:] = [f.field_id for f in out.fields]
        shard.metric_type = str(_json(kv.get("metric_type", ""))) if kv.get("metric_type") else ""
        shard.search_params = json.dumps({k: v for k, v in params.items() if k in ("radius", "range_filter")}).encode()
        shard.anns_field = str(kv.get("anns_field", ""))
        results = self._fan_out(coll, "Search", shard)
        return self._reduce_search(coll, results, out, limit, offset, round_decimal)

    def _reduce_search(self, coll: Collection, results, out, limit: int, offset: int,
                       round_decimal: int) -> milvus_pb2.SearchResults:
        nq = max(r.num_queries for r in results)
        metric = next((r.metric_type for r in results if r.metric_type), "")
        ascending = metric.upper() in _ASCENDING
        pk_type = coll.schema.primary_field.arrow_type
        shard_pks = [ids_to_arrow(r.ids).cast(pk_type) for r in results]
        shard_scores = [np.asarray(r.scores, dtype=np.float32) for r in results]
        shard_starts = [np.concatenate([[0], np.cumsum(np.asarray(r.topks, dtype=np.int64))]) if r.topks
                        else np.zeros(nq + 1, np.int64) for r in results]
        tables = [_read_arrow(r.arrow_fields) for r in results]
        # global row numbers over the concatenation of every shard's rows
        bases = np.concatenate([[0], np.cumsum([len(p) for p in shard_pks])])
        all_pks = pa.concat_arrays(shard_pks) if shard_pks else pa.array([], type=pk_type)
        pk_values = np.asarray(all_pks.to_numpy(zero_copy_only=False))
        chosen: list[np.ndarray] = []
        topks: list[int] = []
        for q in range(nq):
            rows = np.concatenate([bases[s] + np.arange(starts[q], starts[q + 1]) for s, starts in
                                   enumerate(shard_starts) if q + 1 < len(starts)] or [np.zeros(0, np.int64)])
            scores = np.concatenate([shard_scores[s][starts[q]:starts[q + 1]] for s, starts in
                                     enumerate(shard_starts) if q + 1 < len(starts)] or [np.zeros(0, np.float32)])
            key = scores if ascending else -scores
            order = np.lexsort((pk_values[rows], key)) if len(rows) else np.zeros(0, np.int64)
            kept = rows[order][offset:offset + limit]
            chosen.append(kept)
            topks.append(len(kept))
        picked = np.concatenate(chosen).astype(np.int64) if chosen else np.zeros(0, np.int64)
        all_scores = np.concatenate(shard_scores) if shard_scores else np.zeros(0, np.float32)
        scores = all_scores[picked]
        if round_decimal >= 0:
            scores = np.round(scores, round_decimal)
        data = schema_pb2.SearchResultData(
            num_queries=nq, top_k=limit, scores=scores.tolist(), topks=topks,
            ids=arrow_to_ids(all_pks.take(pa.array(picked, type=pa.int64()))),
            output_fields=out.names, primary_field_name=coll.schema.primary_field.name)
        if out.fields:
            table = self._rows(coll, tables, out, picked)
            data.fields_data.extend(arrow_to_fields(coll.schema, table, out.names))
        return milvus_pb2.SearchResults(status=errors.OK, results=data, collection_name=coll.name)

    @staticmethod
    def _rows(coll: Collection, tables: list[pa.Table | None], out, picked: np.ndarray) -> pa.Table:
        present = [t for t in tables if t is not None and t.num_rows]
        if not present:
            names = [f.name for f in out.fields]
            return coll.schema.arrow_schema_for(names).empty_table()
        table = pa.concat_tables(present, promote_options="permissive")
        return table.take(pa.array(picked, type=pa.int64()))

    # ---- query ----------------------------------------------------------------------

    def query(self, db: str, request: milvus_pb2.QueryRequest) -> milvus_pb2.QueryResults:
        coll = self._collections.get(db, request.collection_name)
        kv = _kv(request.query_params)
        limit = _int(kv.get("limit", -1), "limit")
        offset = _int(kv.get("offset", 0), "offset")
        travel = request.travel_timestamp or _int(kv.get(TRAVEL_KEY, 0), TRAVEL_KEY) \
            or self._travel_from_templates(request.expr_template_values)
        names = list(request.output_fields)
        count_only = [n.strip().lower() for n in names] == [COUNT_STAR]
        if COUNT_STAR in [n.strip().lower() for n in names] and not count_only:
            raise errors.ParameterInvalid("count entities with pagination is not allowed")
        expr = request.expr
        if not expr.strip() and limit <= 0 and not count_only:
            raise errors.ParameterInvalid("empty expression should be used with limit")
        shard = self._base_request(coll, request.partition_names, expr, request.expr_template_values,
                                   request.consistency_level, request.use_default_consistency,
                                   request.guarantee_timestamp, travel)
        pk = coll.schema.primary_field
        keys = pk_terms(expr, pk.name, request.expr_template_values)
        if keys is not None:
            shard.expr = ""
            shard.primary_keys.CopyFrom(arrow_to_ids(pa.array(keys, type=pk.arrow_type)))
        if count_only:
            shard.count_only = True
            total = sum(r.count for r in self._fan_out(coll, "Query", shard))
            column = schema_pb2.FieldData(field_name=COUNT_STAR, type=schema_pb2.Int64)
            column.scalars.long_data.data.append(total)
            return milvus_pb2.QueryResults(status=errors.OK, fields_data=[column], collection_name=coll.name,
                                           output_fields=[COUNT_STAR], primary_field_name=pk.name)
        if pk.name not in names:
            names = [*names, pk.name] if names else [pk.name]
        out = resolve_output_fields(coll.schema, names)
        shard.output_field_ids[:] = [f.field_id for f in out.fields]
        shard.limit = limit + offset if limit > 0 else 0
        results = self._fan_out(coll, "Query", shard)
        pks = pa.concat_arrays([ids_to_arrow(r.ids).cast(pk.arrow_type) for r in results]) if results \
            else pa.array([], type=pk.arrow_type)
        order = np.argsort(np.asarray(pks.to_numpy(zero_copy_only=False)), kind="stable")
        order = order[offset:offset + limit] if limit > 0 else order[offset:]
        table = self._rows(coll, [_read_arrow(r.arrow_fields) for r in results], out, order.astype(np.int64))
        return milvus_pb2.QueryResults(
            status=errors.OK, fields_data=arrow_to_fields(coll.schema, table, out.names),
            collection_name=coll.name, output_fields=out.names, primary_field_name=pk.name)

    def matching_pks(self, db: str, name: str, partition: str, expr: str, template_values) -> list:
        """The primary keys ``expr`` selects now (a Strong query): what a delete by filter removes."""
        request = milvus_pb2.QueryRequest(collection_name=name, expr=expr, output_fields=[],
                                          partition_names=[partition] if partition else [],
                                          consistency_level=Level.Strong)
        for key, value in template_values.items():
            request.expr_template_values[key].CopyFrom(value)
        coll = self._collections.get(db, name)
        shard = self._base_request(coll, request.partition_names, expr, request.expr_template_values,
                                   Level.Strong, False, 0, 0)
        results = self._fan_out(coll, "Query", shard)
        return [k for r in results for k in ids_to_arrow(r.ids).to_pylist()]
