"""Search, query and get (docs/datapath.md "Reads").

The read timestamp comes from the consistency level (the collection's default unless the
request names one): Strong = a fresh timestamp, Bounded = now − ``gracefulTime``, Session
and Customized = the client's ``guarantee_timestamp``, Eventually = no wait.  Time travel:
``travel_timestamp`` of the request, or the key ``travel_timestamp`` in a search's params
(``search_params={"params": {"travel_timestamp": T}}`` in pymilvus), in a query's
``query_params``, or as the filter template value ``travel_timestamp``
(``filter_params={"travel_timestamp": T}`` in pymilvus).  It must lie inside the retention
window (``common.retentionDuration`` seconds) and not in the future.

Each shard leader of one replica (spread round-robin, failing over: ``replicas.py``) answers
for its channels; the proxy merges the shards (best score first, ties by primary key; queries
by primary key), applies offset/limit and turns the rows into the public ``FieldData`` columns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from milvus import errors
from milvus._proto import querycoord_pb2, querynode_pb2
from milvus.expr import field_terms, pk_terms
from milvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2
from milvus.proxy.callers import Caller
from milvus.proxy.channel_writer import ChannelWriter
from milvus.proxy.collections import KEY_MODE_PARTITION_NAMES, Collection, Collections
from milvus.proxy.fulltext import query_placeholders
from milvus.proxy.hybrid import HybridDeps, hybrid_search
from milvus.proxy.replicas import Leader, ReplicaSelector
from milvus.proxy.search_select import IteratorStates, group_codes, next_state, select_groups
from milvus.schema import arrow_to_fields, arrow_to_ids, ids_to_arrow
from milvus.tso import compose_ts, parse_ts
from milvus.util.hashing import partition_of
from milvus.util.ranking import is_hit, rank_key

_ASCENDING = {"L2", "HAMMING", "JACCARD"}
COUNT_STAR = "count(*)"
TRAVEL_KEY = "travel_timestamp"
ITERATOR_KEY = "iterator"
ITER_V2_KEY = "search_iter_v2"
ITER_BATCH_KEY = "search_iter_batch_size"
ITER_BOUND_KEY = "search_iter_last_bound"
ITER_ID_KEY = "search_iter_id"
GROUP_BY_KEY = "group_by_field"
_GROUPABLE = {"Bool", "Int8", "Int16", "Int32", "Int64", "VarChar", "String"}
_MAX_GROUP_TOPK = 1 << 22
Level = common_pb2.ConsistencyLevel
# the levels as plain ints: ``Level.Strong`` is an attribute lookup through the enum wrapper
_STRONG, _BOUNDED, _EVENTUALLY = Level.Strong, Level.Bounded, Level.Eventually
_SHAPES_MAX = 256  # search parameter sets remembered (iterators send a new set every page)
_ORACLE_REFRESH = 1.0  # seconds between the timestamps a Bounded read's "now" is taken from


@dataclass(frozen=True)
class DqlParams:
    graceful_time_ms: int = 5000
    retention_seconds: float = 432000.0
    max_topk: int = 16384
    shard_retry_timeout: float = 10.0  # how long a read waits for a replica to answer again


def _kv(pairs) -> dict[str, str]:
    return {p.key: p.value for p in pairs}


_JSON_STARTS = frozenset('{["-0123456789tfnIN')


def _json(value: str) -> Any:
    """``value`` parsed as JSON when it is JSON, else itself."""
    if not isinstance(value, str):
        return value  # a default already parsed
    if value.isascii() and value.isdigit():
        return int(value)  # the usual topk / offset: no parser
    if not value or value.lstrip()[:1] not in _JSON_STARTS:
        return value  # a bare word (a metric name): not JSON
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1")


def _float(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise errors.ParameterInvalid(f"{what} [{value}] is invalid, should be a number") from None


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise errors.ParameterInvalid(f"{what} [{value}] is invalid, should be an integer") from None


@dataclass
class _Merged:
    """The shards' search hits merged: per query, row numbers into the concatenated hits."""

    nq: int
    metric: str
    pks: pa.Array
    pk_values: np.ndarray
    scores: np.ndarray  # float32, one per hit
    tables: list[pa.Table | None]  # each shard's output fields, row-aligned with its hits
    ranked: list[np.ndarray]  # per query: best first, ties by primary key
    exhausted: list[bool]  # per query: no shard had more hits than it returned
    read_ts: int


def _read_arrow(data: bytes) -> pa.Table | None:
    if not data:
        return None
    with pa.ipc.open_stream(data) as reader:
        return reader.read_all()


@dataclass(frozen=True, slots=True)
class _SearchShape:
    """What a search's ``search_params`` say, parsed once per distinct set of them (the
    request's key/value pairs are the cache key: they depend on nothing else)."""

    kv: dict[str, str]
    params: dict[str, Any]  # the ``params`` JSON object
    limit: int
    offset: int
    round_decimal: int
    raw_travel: Any  # the travel timestamp the parameters name (parsed on use: it may be invalid)
    parsed_travel: int | None  # ... parsed, None when it is not a valid integer
    iterator: bool
    anns_field: str
    metric: str  # the metric the request names ('' for none)
    search_params: bytes  # what the query nodes get: ``params`` without the travel timestamp
    ranges: dict[str, Any]
    group_field: str
    iter_v2: bool

    @classmethod
    def parse(cls, kv: dict[str, str]) -> _SearchShape:
        raw_params = kv.get("params", "{}")
        parsed = _json(raw_params)
        params = parsed or {}
        if not isinstance(params, dict):
            raise errors.ParameterInvalid(f"search params must be a JSON object, got {kv.get('params')}")
        limit = _int(_json(kv.get("topk", kv.get("limit", "10"))), "topk")
        offset = _int(_json(kv.get("offset", params.get("offset", 0))), "offset")
        round_decimal = _int(_json(kv.get("round_decimal", "-1")), "round_decimal")
        raw_travel = kv.get(TRAVEL_KEY, params.get(TRAVEL_KEY, 0))
        try:
            parsed_travel: int | None = _int(_json(raw_travel), TRAVEL_KEY)
        except errors.ParameterInvalid:
            parsed_travel = None
        # every search parameter goes to the nodes: the index's (ef, nprobe, search_list, ...) and the range;
        # the request's own JSON when it has nothing to leave out (no second encoding)
        search_params = raw_params.encode() if isinstance(parsed, dict) and TRAVEL_KEY not in parsed \
            else json.dumps({k: v for k, v in params.items() if k != TRAVEL_KEY}).encode()
        return cls(kv=kv, params=params, limit=limit, offset=offset, round_decimal=round_decimal,
                   raw_travel=raw_travel, parsed_travel=parsed_travel, iterator=_truthy(kv.get(ITERATOR_KEY)),
                   anns_field=str(kv.get("anns_field", "")),
                   metric=str(_json(kv.get("metric_type", ""))) if kv.get("metric_type") else "",
                   search_params=search_params,
                   ranges={k: v for k, v in params.items() if k in ("radius", "range_filter")},
                   group_field=str(kv.get(GROUP_BY_KEY, "") or ""), iter_v2=_truthy(kv.get(ITER_V2_KEY)))

    def travel(self) -> int:
        """The travel timestamp the parameters name (0: none); raises when it is not an integer."""
        if self.parsed_travel is not None:
            return self.parsed_travel
        return _int(_json(self.raw_travel), TRAVEL_KEY)


class Dql:
    def __init__(self, collections: Collections, querycoord: Caller,
                 querynode: Callable[[int, str], Any], writer: ChannelWriter,
                 alloc_ts: Callable[[], int], params: DqlParams | None = None,
                 search_metric: Callable[[Collection, str, str], str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 bm25_params: Callable[[Collection, str], tuple[float, float]] | None = None):
        """``querynode(node_id, address)`` gives a client of that query node;
        ``search_metric(collection, anns_field, requested)`` the metric a search runs with
        (its field's index metric when the request names none); ``bm25_params(collection,
        field)`` the (k1, b) of a BM25 field's index."""
        self._search_metric = search_metric or (lambda _coll, _field, requested: requested)
        self._bm25_params = bm25_params or (lambda _coll, _field: (1.2, 0.75))
        self._clock = clock
        self._oracle_base: tuple[int, float] | None = None  # (oracle physical ms, clock then)
        self._collections = collections
        self._querycoord = querycoord
        self._querynode = querynode
        self._writer = writer
        self._alloc_ts = alloc_ts
        self.params = params or DqlParams()
        self._replicas = ReplicaSelector(
            lambda collection_id: querycoord("GetShardLeaders", querycoord_pb2.GetShardLeadersRequest(
                collectionID=collection_id)), retry_timeout=self.params.shard_retry_timeout)
        self._iterators = IteratorStates()
        self._shapes: dict[tuple[tuple[str, str], ...], _SearchShape] = {}  # search_params pairs -> parsed
        self._hybrid = HybridDeps(collection=lambda db, name: self._collections.get(db, name), search=self.search,
                                  metric=self._request_metric, rows=self.rows_by_pk, max_topk=self.params.max_topk)

    # ---- timestamps -----------------------------------------------------------------

    def guarantee_ts(self, coll: Collection, level: int, use_default: bool, given: int) -> int:
        if use_default:
            level = coll.info.consistency_level
        if level == _STRONG:
            ts = self._alloc_ts()
            self._writer.kick()
            return ts
        if level == _BOUNDED:
            return compose_ts(max(0, self._oracle_now_ms() - self.params.graceful_time_ms), 0)
        if level == _EVENTUALLY:
            return 0
        if given > 1:  # Session, Customized: the client's timestamp (its last write)
            self._writer.kick_past(given)
            return given
        return 0

    def _oracle_now_ms(self) -> int:
        """The oracle's physical time now: one timestamp asked for at most every
        ``_ORACLE_REFRESH`` seconds, the local clock's progress added in between (a Bounded
        read is ``gracefulTime`` stale anyway; this keeps the oracle off its path)."""
        now = self._clock()
        base = self._oracle_base
        if base is None or not 0 <= now - base[1] < _ORACLE_REFRESH:
            physical, _ = parse_ts(self._alloc_ts())
            base = self._oracle_base = (physical, now)
        return base[0] + int((now - base[1]) * 1000)

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

    def _fan_out(self, coll: Collection, method: str, request: querynode_pb2.ShardRequest) -> list[Any]:
        """One answer per shard leader of one replica (``milvus.proxy.replicas``: spread, fail over)."""
        def send(leader: Leader) -> Any:
            # one request object for every leader: each call has used it up before the next
            # (in-process clients answer synchronously; gRPC ones serialize it at the call)
            request.channels[:] = leader.channels
            return Caller(self._querynode(leader.node_id, leader.address), "querynode")(method, request)

        return self._replicas.fan_out(coll.id, coll.name, send)

    def _base_request(self, coll: Collection, partition_names, expr: str, template_values, level: int,
                      use_default: bool, guarantee: int, travel: int) -> querynode_pb2.ShardRequest:
        if coll.partition_key is None:
            partition_ids = coll.partition_ids(partition_names)
        elif partition_names:
            raise errors.ParameterInvalid(KEY_MODE_PARTITION_NAMES)
        else:
            partition_ids = self._key_partitions(coll, expr, template_values)
        # the schema rides along: a query node still on an older version (a field added since) takes it
        request = querynode_pb2.ShardRequest(
            collectionID=coll.id, partitionIDs=partition_ids, expr=expr,
            guarantee_ts=self.guarantee_ts(coll, level, use_default, guarantee),
            travel_ts=self.travel_ts(travel), truncated_ts=self._truncated(coll, travel),
            schema_version=coll.info.schema_version,
            schema=coll.info.schema if coll.info.schema_version else b"")  # version 0: every node has it
        if template_values:
            for key, value in template_values.items():
                if key != TRAVEL_KEY:
                    request.expr_template_values[key].CopyFrom(value)
        return request

    @staticmethod
    def _truncated(coll: Collection, travel: int) -> int:
        """The truncation a read applies: every one but a time travel to before it (a Bounded
        read just after a truncation sees no truncated row either)."""
        truncated = coll.info.truncated_ts
        return truncated if truncated and (not travel or travel >= truncated) else 0

    @staticmethod
    def _key_partitions(coll: Collection, expr: str, template_values) -> list[int]:
        """The partitions of a partition-key collection a read with ``expr`` must look in:
        those its partition key values hash to when the filter pins the key
        (``key == v``, ``key in [..]``, alone or and-ed with other conditions); else all ([])."""
        field = coll.schema.get_field(coll.partition_key)
        values = field_terms(expr, field, template_values) if expr and field is not None else None
        if not values:
            return []  # not pinned (or contradictory: nothing matches anywhere)
        ordered = sorted(values)
        keys = np.asarray(ordered, dtype=np.int64) if isinstance(ordered[0], int) else ordered
        partitions = coll.key_partitions
        return sorted({partitions[i] for i in partition_of(keys, len(partitions)).tolist()})

    @staticmethod
    def _travel_from_templates(template_values) -> int:
        value = template_values.get(TRAVEL_KEY)
        return int(value.int64_val) if value is not None else 0

    # ---- search ---------------------------------------------------------------------

    def search(self, db: str, request: milvus_pb2.SearchRequest) -> milvus_pb2.SearchResults:
        if request.sub_reqs:
            raise errors.Unimplemented("hybrid search is not supported by this server")
        coll = self._collections.get(db, request.collection_name)
        shape = self._shape(request.search_params)
        limit, offset = shape.limit, shape.offset
        if limit <= 0 or limit + offset > self.params.max_topk:
            raise errors.ParameterInvalid(f"topk [{limit}] is invalid, it should be in range [1, "
                                          f"{self.params.max_topk}], and offset + topk <= {self.params.max_topk}")
        if offset < 0:
            raise errors.ParameterInvalid(f"offset [{offset}] is invalid, should be >= 0")
        travel = request.travel_timestamp or shape.travel() or self._travel_from_templates(request.expr_template_values)
        if shape.iterator and not travel and request.guarantee_timestamp > 1:
            travel = request.guarantee_timestamp  # an iterator's pages all read at its first page's timestamp
        out = coll.output_fields(request.output_fields)
        shard = self._base_request(coll, request.partition_names, request.dsl, request.expr_template_values,
                                   request.consistency_level, request.use_default_consistency,
                                   request.guarantee_timestamp, travel)
        field = coll.anns_field(shape.anns_field)
        if field is not None and field.is_function_output:
            shard.placeholder_group = query_placeholders(field, request.placeholder_group, coll.bm25_analyzer(field))
            shard.bm25_k1, shard.bm25_b = self._bm25_params(coll, field.name)
        else:
            shard.placeholder_group = request.placeholder_group  # the query node refuses texts here
        shard.nq = request.nq
        if out.fields:
            shard.output_field_ids[:] = [f.field_id for f in out.fields]
        shard.anns_field = shape.anns_field
        shard.metric_type = self._search_metric(coll, shape.anns_field, shape.metric)  # the index's when none
        shard.search_params = shape.search_params
        round_decimal = shape.round_decimal
        if shape.group_field:
            group_size = _int(_json(shape.kv.get("group_size", shape.params.get("group_size", 1))), "group_size")
            if group_size <= 0:
                raise errors.ParameterInvalid(f"group_size [{group_size}] is invalid, should be greater than 0")
            return self._search_grouped(coll, shard, out, shape.group_field, limit, offset, group_size,
                                        round_decimal)
        if shape.iter_v2:
            return self._search_iterator(coll, shard, out, shape.kv, shape.ranges, limit, round_decimal)
        shard.topk = limit + offset
        results = self._fan_out(coll, "Search", shard)
        if len(results) == 1 and not offset and round_decimal < 0:
            response = self._search_passthrough(coll, results[0], out, limit)
            if response is not None:
                return response
        merged = self._merge(coll, results, shard.topk)
        picked = [ranked[offset:offset + limit] for ranked in merged.ranked]
        return self._search_results(coll, merged, out, picked, limit, round_decimal)

    def hybrid_search(self, db: str, request: milvus_pb2.HybridSearchRequest) -> milvus_pb2.SearchResults:
        """Several searches fused by a ranker (``milvus.proxy.hybrid``)."""
        return hybrid_search(self._hybrid, db, request)

    def _shape(self, search_params) -> _SearchShape:
        """The parsed search params, remembered per distinct set of them."""
        pairs = tuple([(p.key, p.value) for p in search_params])
        shape = self._shapes.get(pairs)
        if shape is None:
            shape = _SearchShape.parse(dict(pairs))  # raises what a bad parameter deserves, caches nothing then
            if len(self._shapes) >= _SHAPES_MAX:
                self._shapes.clear()
            self._shapes[pairs] = shape
        return shape

    def _request_metric(self, coll: Collection, request: milvus_pb2.SearchRequest) -> str:
        shape = self._shape(request.search_params)
        return self._search_metric(coll, shape.anns_field, shape.metric)

    @staticmethod
    def _search_passthrough(coll: Collection, result: querynode_pb2.ShardSearchResults, out,
                            limit: int) -> milvus_pb2.SearchResults | None:
        """One shard leader's hits as they are: already ranked (best first, ties by primary
        key), at most ``limit`` per query, their output fields (if any) in the same order
        (None: not that case)."""
        pk = coll.schema.primary_field
        want = coll.id_field
        kind = result.ids.WhichOneof("id_field")
        if kind != want and len(result.scores):
            return None  # keys to convert: the general path
        table = None
        if out.fields:
            table = _read_arrow(result.arrow_fields)
            if table is None or not table.num_rows:
                table = coll.schema.arrow_schema_for([f.name for f in out.fields]).empty_table()
            if table.num_rows != len(result.scores):
                return None
        # built in place (a message passed to a constructor is copied)
        response = milvus_pb2.SearchResults(status=errors.OK, collection_name=coll.name, session_ts=result.read_ts)
        data = response.results
        data.num_queries = result.num_queries
        data.top_k = limit
        data.output_fields.extend(out.names)
        data.primary_field_name = pk.name
        data.scores.extend(result.scores)
        data.topks.extend(result.topks if result.topks else [0] * result.num_queries)
        if kind == want:
            data.ids.CopyFrom(result.ids)
        else:  # no hit: empty keys of the collection's kind
            getattr(data.ids, want).SetInParent()
        if table is not None:
            data.fields_data.extend(arrow_to_fields(coll.schema, table, out.names))
        return response

    def _search_grouped(self, coll: Collection, shard: querynode_pb2.ShardRequest, out, group_field: str,
                        limit: int, offset: int, group_size: int, round_decimal: int) -> milvus_pb2.SearchResults:
        """Search with ``group_by_field``: the best ``limit`` groups (after ``offset``), each with its
        best ``group_size`` hits; asks the shards for more hits until the answer is exact."""
        info = coll.schema.get_field(group_field)
        if info is None or info.is_dynamic:
            raise errors.ParameterInvalid(f"failed to get field schema by name: fieldName({group_field}) not found")
        if info.type_name not in _GROUPABLE:
            raise errors.ParameterInvalid(f"unsupported data type {info.type_name} for group by operator")
        ids = [f.field_id for f in out.fields]
        shard.output_field_ids[:] = ids if info.field_id in ids else [*ids, info.field_id]
        topk = max((offset + limit) * group_size * 2, 64)
        while True:
            shard.topk = topk
            merged = self._merge(coll, self._fan_out(coll, "Search", shard), topk)
            present = [t.column(group_field).combine_chunks() for t in merged.tables if t is not None and t.num_rows]
            codes = group_codes(pa.concat_arrays(present) if present else pa.array([], type=info.arrow_type))
            chosen = [select_groups(ranked, codes, offset=offset, limit=limit, group_size=group_size,
                                    exhausted=done) for ranked, done in zip(merged.ranked, merged.exhausted, strict=True)]
            if all(g.complete for g in chosen) or topk >= _MAX_GROUP_TOPK:
                break
            topk *= 4
        response = self._search_results(coll, merged, out, [g.rows for g in chosen], limit, round_decimal)
        rows = np.concatenate([g.rows for g in chosen]) if chosen else np.zeros(0, np.int64)
        table = self._rows(coll, merged.tables, [group_field], rows)
        response.results.group_by_field_value.CopyFrom(arrow_to_fields(coll.schema, table, [group_field])[0])
        return response

    def _search_iterator(self, coll: Collection, shard: querynode_pb2.ShardRequest, out, kv: dict, ranges: dict,
                         limit: int, round_decimal: int) -> milvus_pb2.SearchResults:
        """One batch of a search iterator (v2): the hits after the last batch's, in order.

        The client sends back the score of the last hit it got (``search_iter_last_bound``);
        hits tied with it that it got already are remembered here by token, so ties are
        neither lost nor repeated."""
        batch = _int(_json(kv.get(ITER_BATCH_KEY, limit)), ITER_BATCH_KEY)
        if batch <= 0:
            raise errors.ParameterInvalid(f"{ITER_BATCH_KEY} [{batch}] is invalid, should be > 0")
        token = str(kv.get(ITER_ID_KEY, "") or "") or self._iterators.new_token()
        state = self._iterators.get(token)
        raw_bound = kv.get(ITER_BOUND_KEY)
        bound = float(np.float32(_float(raw_bound, ITER_BOUND_KEY))) if raw_bound not in (None, "") else None
        exclude: frozenset = frozenset()
        if bound is not None:
            if state is not None and state.bound == bound:
                exclude = state.ties
            ranges = dict(ranges)
            user = ranges.get("range_filter")
            if user is None or state is None:
                ranges["range_filter"] = bound
            else:
                ranges["range_filter"] = max(user, bound) if state.metric in _ASCENDING else min(user, bound)
        shard.search_params = json.dumps({**json.loads(shard.search_params or b"{}"), **ranges}).encode()
        shard.topk = batch + len(exclude)
        merged = self._merge(coll, self._fan_out(coll, "Search", shard), shard.topk)
        ranked = merged.ranked[0] if merged.ranked else np.zeros(0, np.int64)
        if exclude and len(ranked):
            ranked = ranked[~np.isin(merged.pk_values[ranked], np.asarray(list(exclude), dtype=merged.pk_values.dtype))]
        picked = ranked[:batch]
        new = next_state(state if bound is not None else None, bound, merged.scores[picked],
                         merged.pk_values[picked].tolist(), merged.metric.upper())
        if new is not None:
            self._iterators.put(token, new)
        response = self._search_results(coll, merged, out, [picked], batch, round_decimal)
        info = response.results.search_iterator_v2_results
        info.token = token
        info.last_bound = new.bound if new is not None else (bound or 0.0)
        return response

    def _merge(self, coll: Collection, results, topk: int) -> _Merged:
        """Every shard's hits in one ranking per query (best score first, ties by primary key)."""
        nq = max(r.num_queries for r in results)
        metric = next((r.metric_type for r in results if r.metric_type), "")
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
        all_scores = np.concatenate(shard_scores) if shard_scores else np.zeros(0, np.float32)
        ranked, exhausted = [], []
        if len(results) == 1:  # one shard leader: its hits come ranked already (best first, ties by pk)
            starts = shard_starts[0]
            for q in range(nq):
                a, b = (int(starts[q]), int(starts[q + 1])) if q + 1 < len(starts) else (0, 0)
                ranked.append(np.arange(a, b, dtype=np.int64))
                exhausted.append(b - a < topk)
            return _Merged(nq, metric, all_pks, pk_values, all_scores, tables, ranked, exhausted,
                           results[0].read_ts)
        all_keys = rank_key(all_scores, metric)
        for q in range(nq):
            spans = [(bases[s] + starts[q], bases[s] + starts[q + 1]) for s, starts in enumerate(shard_starts)
                     if q + 1 < len(starts)]
            rows = np.concatenate([np.arange(a, b) for a, b in spans] or [np.zeros(0, np.int64)]).astype(np.int64)
            hit = is_hit(all_keys[rows])  # a shard's score that is no hit (a NaN) is dropped, as on one node
            rows = rows[hit]
            key = all_keys[rows]
            order = np.lexsort((pk_values[rows], key)) if len(rows) else np.zeros(0, np.int64)
            ranked.append(rows[order])
            exhausted.append(all(b - a < topk for a, b in spans))
        return _Merged(nq, metric, all_pks, pk_values, all_scores, tables, ranked, exhausted,
                       max((r.read_ts for r in results), default=0))

    def _search_results(self, coll: Collection, merged: _Merged, out, picked: list[np.ndarray], limit: int,
                        round_decimal: int) -> milvus_pb2.SearchResults:
        rows = np.concatenate(picked).astype(np.int64) if picked else np.zeros(0, np.int64)
        scores = merged.scores[rows]
        if round_decimal >= 0:
            scores = np.round(scores, round_decimal)
        data = schema_pb2.SearchResultData(
            num_queries=merged.nq, top_k=limit, scores=scores.tolist(), topks=[len(p) for p in picked],
            ids=arrow_to_ids(merged.pks.take(pa.array(rows, type=pa.int64()))),
            output_fields=out.names, primary_field_name=coll.schema.primary_field.name)
        if out.fields:
            table = self._rows(coll, merged.tables, [f.name for f in out.fields], rows)
            data.fields_data.extend(arrow_to_fields(coll.schema, table, out.names))
        return milvus_pb2.SearchResults(status=errors.OK, results=data, collection_name=coll.name,
                                        session_ts=merged.read_ts)

    @staticmethod
    def _rows(coll: Collection, tables: list[pa.Table | None], names: list[str], picked: np.ndarray) -> pa.Table:
        present = [t for t in tables if t is not None and t.num_rows]
        if not present:
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
        if _truthy(kv.get(ITERATOR_KEY)) and not travel and request.guarantee_timestamp > 1:
            travel = request.guarantee_timestamp  # an iterator's pages all read at its first page's timestamp
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
        keys = pk_terms(expr, pk, request.expr_template_values)
        if keys is not None:
            shard.expr = ""
            shard.primary_keys.CopyFrom(arrow_to_ids(pa.array(keys, type=pk.arrow_type)))
        if count_only:
            shard.count_only = True
            counted = self._fan_out(coll, "Query", shard)
            column = schema_pb2.FieldData(field_name=COUNT_STAR, type=schema_pb2.Int64)
            column.scalars.long_data.data.append(sum(r.count for r in counted))
            return milvus_pb2.QueryResults(status=errors.OK, fields_data=[column], collection_name=coll.name,
                                           output_fields=[COUNT_STAR], primary_field_name=pk.name,
                                           session_ts=max((r.read_ts for r in counted), default=0))
        if pk.name not in names:
            names = [*names, pk.name] if names else [pk.name]
        out = coll.output_fields(names)
        shard.output_field_ids[:] = [f.field_id for f in out.fields]
        shard.limit = limit + offset if limit > 0 else 0
        results = self._fan_out(coll, "Query", shard)
        pks = pa.concat_arrays([ids_to_arrow(r.ids).cast(pk.arrow_type) for r in results]) if results \
            else pa.array([], type=pk.arrow_type)
        order = np.argsort(np.asarray(pks.to_numpy(zero_copy_only=False)), kind="stable")
        order = order[offset:offset + limit] if limit > 0 else order[offset:]
        table = self._rows(coll, [_read_arrow(r.arrow_fields) for r in results], [f.name for f in out.fields],
                           order.astype(np.int64))
        return milvus_pb2.QueryResults(
            status=errors.OK, fields_data=arrow_to_fields(coll.schema, table, out.names),
            collection_name=coll.name, output_fields=out.names, primary_field_name=pk.name,
            session_ts=max((r.read_ts for r in results), default=0))

    def rows_by_pk(self, coll: Collection, pks: pa.Array, fields: list, travel: int,
                   partition_names=()) -> pa.Table:
        """The columns ``fields`` of the rows of keys ``pks`` as of ``travel``, in the order of
        ``pks`` (a key twice: its row twice); raises when a key has no row."""
        pk = coll.schema.primary_field
        shard = self._base_request(coll, partition_names, "", None, _EVENTUALLY, False, 0, travel)
        shard.primary_keys.CopyFrom(arrow_to_ids(pa.array(list(dict.fromkeys(pks.to_pylist())), type=pk.arrow_type)))
        ids = [f.field_id for f in fields]
        shard.output_field_ids[:] = ids if pk.field_id in ids else [*ids, pk.field_id]
        tables = [_read_arrow(r.arrow_fields) for r in self._fan_out(coll, "Query", shard)]
        present = [t for t in tables if t is not None and t.num_rows]
        if not present:
            raise errors.ServiceInternal(f"none of the {len(pks)} rows found at timestamp {travel}")
        table = pa.concat_tables(present, promote_options="permissive")
        position: dict = {}
        for i, key in enumerate(table.column(pk.name).to_pylist()):
            position.setdefault(key, i)
        try:
            order = [position[key] for key in pks.to_pylist()]
        except KeyError as exc:
            raise errors.ServiceInternal(f"row of primary key {exc.args[0]!r} not found at timestamp {travel}") from None
        return table.take(pa.array(order, type=pa.int64()))

    def stored_rows(self, coll: Collection, partition_names: list[str], pks: pa.Array, fields: list) -> pa.Table | None:
        """The stored columns ``fields`` (and the primary key) of the rows of keys ``pks`` that
        exist now, read at Strong consistency in ``partition_names`` (all: ``[]``), in any
        order; ``None`` when none does.  What a partial update merges into."""
        pk = coll.schema.primary_field
        shard = self._base_request(coll, partition_names, "", None, _STRONG, False, 0, 0)
        shard.primary_keys.CopyFrom(arrow_to_ids(pks))
        ids = [f.field_id for f in fields]
        shard.output_field_ids[:] = ids if pk.field_id in ids else [*ids, pk.field_id]
        tables = [_read_arrow(r.arrow_fields) for r in self._fan_out(coll, "Query", shard)]
        present = [t for t in tables if t is not None and t.num_rows]
        return pa.concat_tables(present, promote_options="permissive") if present else None

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
