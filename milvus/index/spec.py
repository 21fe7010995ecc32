"""The index types Milvus names, what each accepts, and the validation of their parameters.

One table (``INDEX_TYPES``) says, per index type: the field data types it indexes, the metrics
it supports, its build parameters and its search parameters (name, type, range, default).
``resolve_index`` turns the key/value pairs of a CreateIndex request into an ``IndexSpec``
or raises ``ParameterInvalid`` with a message in Milvus' words; ``search_params`` does the
same for the parameters of one search.

AUTOINDEX is kept as the user asked for it; ``auto_choice`` picks the concrete type and its
parameters per segment from the field's kind, the metric and the segment's row count (see
its docstring: the choice is part of the contract and is documented there).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from milvus.errors import ParameterInvalid
from milvus.grpc_gen import schema_pb2 as spb

L2, IP, COSINE, HAMMING, JACCARD, BM25 = "L2", "IP", "COSINE", "HAMMING", "JACCARD", "BM25"
DENSE, BINARY, SPARSE, SCALAR = "dense", "binary", "sparse", "scalar"
AUTOINDEX = "AUTOINDEX"
INT_MAX = 2**31 - 1

DENSE_TYPES = frozenset({spb.FloatVector, spb.Float16Vector, spb.BFloat16Vector, getattr(spb, "Int8Vector", 105)})
_INTS = frozenset({spb.Int8, spb.Int16, spb.Int32, spb.Int64})
_NUMBERS = _INTS | {spb.Float, spb.Double}
_STRINGS = frozenset({spb.VarChar, spb.String})


def field_kind(data_type: int) -> str:
    if data_type in DENSE_TYPES:
        return DENSE
    if data_type == spb.BinaryVector:
        return BINARY
    if data_type == spb.SparseFloatVector:
        return SPARSE
    return SCALAR


DEFAULT_METRIC = {DENSE: COSINE, BINARY: HAMMING, SPARSE: IP}
KIND_METRICS = {DENSE: (L2, IP, COSINE), BINARY: (HAMMING, JACCARD), SPARSE: (IP, BM25)}


@dataclass(frozen=True)
class Param:
    """One parameter: its type, inclusive range (numbers) and default (None: required or none)."""

    name: str
    kind: type
    lo: float | None = None
    hi: float | None = None
    default: Any = None

    def parse(self, raw: Any) -> Any:
        value = _coerce(self.name, raw, self.kind)
        if self.kind in (int, float) and ((self.lo is not None and value < self.lo)
                                          or (self.hi is not None and value > self.hi)):
            lo = _fmt(self.lo)
            hi = _fmt(self.hi)
            raise ParameterInvalid(f"param '{self.name}' ({_fmt(value)}) should be in range [{lo}, {hi}]")
        return value


def _fmt(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _coerce(name: str, raw: Any, kind: type) -> Any:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("true", "1"):
                return True
            if text in ("false", "0"):
                return False
            raise ValueError(raw)
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            if isinstance(raw, float):
                if not raw.is_integer():
                    raise ValueError(raw)
                return int(raw)
            return int(str(raw).strip())
        if kind is float:
            if isinstance(raw, bool):
                raise ValueError(raw)
            value = float(str(raw).strip()) if not isinstance(raw, (int, float)) else float(raw)
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
        return str(raw)
    except (TypeError, ValueError):
        raise ParameterInvalid(f"wrong data type in json, key: '{name}', value: '{raw}': invalid parameter") from None


@dataclass(frozen=True)
class IndexType:
    name: str
    kind: str  # DENSE, BINARY, SPARSE or SCALAR
    metrics: tuple[str, ...] = ()
    build: tuple[Param, ...] = ()
    search: tuple[Param, ...] = ()
    scalar_types: frozenset[int] = frozenset()  # SCALAR: the field types it indexes
    doc: str = ""

    def build_param(self, name: str) -> Param | None:
        return next((p for p in self.build if p.name == name), None)


# BM25 (a BM25 function's output field only): build parameters on top of the index type's
BM25_PARAMS = (Param("bm25_k1", float, 1.2, 2.0, 1.2), Param("bm25_b", float, 0.0, 1.0, 0.75))
INVERTED_INDEX_ALGOS = ("DAAT_MAXSCORE", "DAAT_WAND", "TAAT_NAIVE")

_NLIST = Param("nlist", int, 1, 65536, 128)
_NPROBE = Param("nprobe", int, 1, 65536, 8)

INDEX_TYPES: dict[str, IndexType] = {t.name: t for t in (
    IndexType("FLAT", DENSE, (L2, IP, COSINE), doc="exact search (faiss IndexFlat)"),
    IndexType("IVF_FLAT", DENSE, (L2, IP, COSINE), (_NLIST,), (_NPROBE,), doc="faiss IndexIVFFlat"),
    IndexType("IVF_SQ8", DENSE, (L2, IP, COSINE), (_NLIST,), (_NPROBE,),
              doc="faiss IndexIVFScalarQuantizer, 8 bits per dimension"),
    IndexType("IVF_PQ", DENSE, (L2, IP, COSINE),
              (_NLIST, Param("m", int, 1, 65536), Param("nbits", int, 1, 16, 8)), (_NPROBE,),
              doc="faiss IndexIVFPQ (m sub-quantizers of nbits bits)"),
    IndexType("HNSW", DENSE, (L2, IP, COSINE),
              (Param("M", int, 2, 2048, 30), Param("efConstruction", int, 1, INT_MAX, 360)),
              (Param("ef", int, 1, INT_MAX),), doc="faiss IndexHNSWFlat"),
    IndexType("SCANN", DENSE, (L2, IP, COSINE), (_NLIST, Param("with_raw_data", bool, default=True)),
              (_NPROBE, Param("reorder_k", int, 1, INT_MAX)),
              doc="faiss IVF + 4-bit fast-scan PQ, re-ranked on the raw vectors (IndexRefineFlat)"),
    IndexType("DISKANN", DENSE, (L2, IP, COSINE),
              (Param("max_degree", int, 1, 512, 56), Param("search_list_size", int, 1, INT_MAX, 100),
               Param("pq_code_budget_gb_ratio", float, 0.0, 1.0, 0.125)),
              (Param("search_list", int, 1, INT_MAX),),
              doc="disk-resident: IVF + 4-bit PQ codes in memory, raw vectors memory-mapped for re-ranking"),
    IndexType("BIN_FLAT", BINARY, (HAMMING, JACCARD), doc="exact search over packed bits"),
    IndexType("BIN_IVF_FLAT", BINARY, (HAMMING, JACCARD), (_NLIST,), (_NPROBE,),
              doc="inverted lists over binary k-means centroids (faiss), exact scan of the probed lists"),
    IndexType("SPARSE_INVERTED_INDEX", SPARSE, (IP, BM25), (Param("drop_ratio_build", float, 0.0, 0.999999, 0.0),),
              (Param("drop_ratio_search", float, 0.0, 0.999999, 0.0),), doc="posting lists per dimension"),
    IndexType("SPARSE_WAND", SPARSE, (IP, BM25), (Param("drop_ratio_build", float, 0.0, 0.999999, 0.0),),
              (Param("drop_ratio_search", float, 0.0, 0.999999, 0.0),),
              doc="posting lists per dimension with per-list maxima to skip lists that cannot matter"),
    IndexType(AUTOINDEX, DENSE, (L2, IP, COSINE, HAMMING, JACCARD, BM25), (),
              (Param("level", int, 1, 5, 1),), doc="chosen per segment, see auto_choice"),
    IndexType("INVERTED", SCALAR, scalar_types=_NUMBERS | _STRINGS | {spb.Bool, spb.Array, spb.JSON}),
    IndexType("BITMAP", SCALAR, scalar_types=_INTS | _STRINGS | {spb.Bool, spb.Array}),
    IndexType("STL_SORT", SCALAR, scalar_types=_NUMBERS | _STRINGS),
    IndexType("Trie", SCALAR, scalar_types=_STRINGS),
)}
# the scalar index Milvus builds when a scalar field's index names no type (or AUTOINDEX)
DEFAULT_SCALAR_INDEX = "INVERTED"
# keys of a CreateIndex request that are not build parameters
_RESERVED = {"index_type", "metric_type", "params", "mmap.enabled", "json_path", "json_cast_type", "dim",
             "max_length"}


@dataclass(frozen=True)
class FieldSpec:
    """What index validation needs to know about the indexed field."""

    name: str
    data_type: int
    dim: int = 0
    element_type: int = 0
    is_primary: bool = False
    is_function_output: bool = False  # a BM25 function's output: indexed with metric BM25 only


@dataclass(frozen=True)
class IndexSpec:
    """A validated index: its type, metric (empty for scalar indexes) and build parameters
    (defaults filled in), plus the pairs to store and show (``user_params``)."""

    index_type: str
    metric_type: str
    build_params: dict[str, Any] = field(default_factory=dict)
    user_params: dict[str, str] = field(default_factory=dict)

    @property
    def is_auto(self) -> bool:
        return self.index_type == AUTOINDEX

    def index_params(self) -> dict[str, str]:
        """The resolved pairs stored with the index: type, metric and every build parameter."""
        out = {"index_type": self.index_type}
        if self.metric_type:
            out["metric_type"] = self.metric_type
        for key, value in self.build_params.items():
            out[key] = json.dumps(value) if isinstance(value, bool) else str(value)
        return out


def flatten_params(pairs: Mapping[str, str]) -> dict[str, Any]:
    """The request's pairs with a ``params`` JSON object merged in (as Milvus does)."""
    out: dict[str, Any] = {}
    for key, value in pairs.items():
        if key == "params":
            try:
                inner = json.loads(value) if isinstance(value, str) else value
            except ValueError:
                raise ParameterInvalid(f"index params is not a valid JSON object: {value}") from None
            if not isinstance(inner, dict):
                raise ParameterInvalid(f"index params is not a valid JSON object: {value}")
            out.update(inner)
        else:
            out[key] = value
    return out


def resolve_index(fld: FieldSpec, pairs: Mapping[str, str]) -> IndexSpec:
    """Validate the CreateIndex pairs for ``fld``."""
    params = flatten_params(pairs)
    kind = field_kind(fld.data_type)
    type_name = str(params.get("index_type", "") or "").strip()
    if not type_name:
        type_name = AUTOINDEX if kind != SCALAR else DEFAULT_SCALAR_INDEX
    upper = type_name.upper()
    itype = INDEX_TYPES.get(type_name) or next((t for n, t in INDEX_TYPES.items() if n.upper() == upper), None)
    if itype is None:
        raise ParameterInvalid(f"invalid parameter[expected=valid index][actual=invalid index type: {type_name}]")
    if kind == SCALAR:
        return _resolve_scalar(fld, itype, params, pairs)
    if itype.kind == SCALAR:
        raise ParameterInvalid(f"index {itype.name} is a scalar index, field {fld.name} is a vector field "
                               f"of type {spb.DataType.Name(fld.data_type)}")
    if itype.name != AUTOINDEX and itype.kind != kind:
        raise ParameterInvalid(
            f"data type {spb.DataType.Name(fld.data_type)} can't build with this index {itype.name}")
    metric = str(params.get("metric_type", "") or "").strip().upper() or (
        BM25 if fld.is_function_output else DEFAULT_METRIC[kind])
    allowed = [m for m in itype.metrics if m in KIND_METRICS[kind]]
    if metric not in allowed:
        raise ParameterInvalid(f"metric type {metric} not found or not supported, supported: [{' '.join(allowed)}]")
    if kind == SPARSE and (metric == BM25) != fld.is_function_output:
        raise ParameterInvalid(
            f"field {fld.name} is the output of a BM25 function: its index's metric type must be BM25"
            if fld.is_function_output else
            f"metric type BM25 is only for the output field of a BM25 function, field {fld.name} is not one")
    build: dict[str, Any] = {}
    for param in itype.build + (BM25_PARAMS if metric == BM25 else ()):
        if param.name in params and params[param.name] not in (None, ""):
            build[param.name] = param.parse(params[param.name])
        elif param.default is not None:
            build[param.name] = param.default
    if kind == SPARSE and params.get("inverted_index_algo") not in (None, ""):
        algo = str(params["inverted_index_algo"]).strip().upper()
        if algo not in INVERTED_INDEX_ALGOS:
            raise ParameterInvalid(f"sparse inverted index algo {params['inverted_index_algo']} not found or not "
                                   f"supported, supported: [{' '.join(INVERTED_INDEX_ALGOS)}]")
        build["inverted_index_algo"] = algo  # every algorithm here is exact: kept to show, same results
    if itype.name == "IVF_PQ":
        m = build.get("m") or _default_pq_m(fld.dim)
        if fld.dim % m:
            raise ParameterInvalid(
                "The dimension of a vector (dim) should be an integer multiple of the number of subquantizers "
                f"(m). Dimension:{fld.dim}, m:{m}")
        build["m"] = m
    user = {k: str(v) for k, v in pairs.items()}
    user.setdefault("index_type", itype.name if type_name.upper() != AUTOINDEX else AUTOINDEX)
    user["metric_type"] = metric
    return IndexSpec(itype.name, metric, build, user)


def _resolve_scalar(fld: FieldSpec, itype: IndexType, params: dict[str, Any], pairs: Mapping[str, str]) -> IndexSpec:
    name = itype.name
    if itype.kind != SCALAR:
        if name != AUTOINDEX:
            raise ParameterInvalid(f"index {name} is a vector index, field {fld.name} is a scalar field of type "
                                   f"{spb.DataType.Name(fld.data_type)}")
        itype = INDEX_TYPES[DEFAULT_SCALAR_INDEX]
    if fld.data_type not in itype.scalar_types:
        raise ParameterInvalid(f"{itype.name} are not supported on {spb.DataType.Name(fld.data_type)} field")
    if fld.data_type == spb.Array and itype.name == "BITMAP" and fld.element_type in (spb.Float, spb.Double):
        raise ParameterInvalid(f"BITMAP are not supported on Array of {spb.DataType.Name(fld.element_type)}")
    if itype.name == "BITMAP" and fld.is_primary:
        raise ParameterInvalid("create bitmap index on primary key not supported")
    if fld.data_type == spb.JSON and not (params.get("json_path") and params.get("json_cast_type")):
        raise ParameterInvalid("JSON field index needs json_path and json_cast_type")
    user = {k: str(v) for k, v in pairs.items()}
    user["index_type"] = itype.name if name != AUTOINDEX else AUTOINDEX
    extra = {k: params[k] for k in ("json_path", "json_cast_type") if k in params}
    return IndexSpec(itype.name, "", extra, user)


def _default_pq_m(dim: int) -> int:
    """The largest divisor of ``dim`` at most dim / 4 (dim / 4 sub-vectors of 4 dimensions)."""
    target = max(1, dim // 4)
    for m in range(target, 0, -1):
        if dim % m == 0:
            return m
    return 1


# ---- search parameters -----------------------------------------------------------------

def search_params(index_type: str, params: Mapping[str, Any], k: int) -> dict[str, Any]:
    """The search parameters of ``index_type`` found in ``params`` (the request's JSON object),
    checked against their ranges; unknown keys are ignored (as Milvus does)."""
    itype = INDEX_TYPES.get(index_type)
    out: dict[str, Any] = {}
    if itype is None:
        return out
    for param in itype.search:
        if param.name in params and params[param.name] is not None:
            out[param.name] = param.parse(params[param.name])
    if "ef" in out and out["ef"] < k:
        raise ParameterInvalid(f"ef({out['ef']}) should be larger than k({k})")
    if "search_list" in out and out["search_list"] < k:
        raise ParameterInvalid(f"search_list_size({out['search_list']}) should be larger than k({k})")
    return out


# ---- AUTOINDEX ---------------------------------------------------------------------------

AUTO_HNSW = {"M": 16, "efConstruction": 200}
AUTO_HNSW_MAX_ROWS = 2_000_000


def auto_choice(kind: str, metric: str, num_rows: int) -> tuple[str, dict[str, Any]]:
    """The index AUTOINDEX builds for a segment of ``num_rows`` rows.

    * dense vectors: HNSW with M=16, efConstruction=200 up to 2M rows (searched with
      ef = max(k, 64 * level), level 1..5, default 1); bigger segments IVF_SQ8 with
      nlist = 4 * sqrt(rows), nprobe = 16 * level;
    * binary vectors: BIN_IVF_FLAT with nlist = sqrt(rows) (at least 1, at most 4096);
    * sparse vectors: SPARSE_INVERTED_INDEX, nothing dropped.

    Segments below the data coordinator's ``minSegmentNumRowsToEnableIndex`` are not indexed
    at all (searched exactly), whatever the index type.
    """
    if kind == BINARY:
        return "BIN_IVF_FLAT", {"nlist": int(min(4096, max(1, math.isqrt(max(1, num_rows)))))}
    if kind == SPARSE:
        return "SPARSE_INVERTED_INDEX", {"drop_ratio_build": 0.0}  # BM25's k1 and b: added by build_index
    if num_rows <= AUTO_HNSW_MAX_ROWS:
        return "HNSW", dict(AUTO_HNSW)
    return "IVF_SQ8", {"nlist": int(min(65536, 4 * math.isqrt(num_rows)))}


def auto_search_params(chosen: str, params: Mapping[str, Any], k: int) -> dict[str, Any]:
    """AUTOINDEX search parameters (``level``) in terms of the chosen type's."""
    level = INDEX_TYPES[AUTOINDEX].search[0].parse(params.get("level", 1))
    own = search_params(chosen, params, k)
    if chosen == "HNSW":
        own.setdefault("ef", max(k, 64 * level))
    elif chosen in ("IVF_SQ8", "BIN_IVF_FLAT"):
        own.setdefault("nprobe", 16 * level)
    return own


def parse_build_params(index_type: str, stored: Mapping[str, str], metric: str = "") -> dict[str, Any]:
    """Typed build parameters of ``index_type`` (and of the BM25 metric) from their stored
    (string) form."""
    itype = INDEX_TYPES.get(index_type)
    if itype is None:
        raise ParameterInvalid(f"invalid parameter[expected=valid index][actual=invalid index type: {index_type}]")
    out: dict[str, Any] = {}
    for param in itype.build + (BM25_PARAMS if metric.upper() == BM25 else ()):
        if param.name in stored:
            out[param.name] = param.parse(stored[param.name])
        elif param.default is not None:
            out[param.name] = param.default
    return out
