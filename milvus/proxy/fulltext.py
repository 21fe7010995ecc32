"""Full-text search at the proxy: a search of a BM25 function's output field takes query
texts, which go through the same function as the rows (``milvus.schema.analyzer``) and reach
the query nodes as sparse vectors of term counts, with the field index's k1 and b.
RunAnalyzer shows the tokens the analyzer makes of texts."""

from __future__ import annotations

from milvus import errors
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.schema import FieldInfo
from milvus.schema.analyzer import analyze, query_terms, term_dim
from milvus.schema.analyzer_params import analyzer_enabled, analyzer_problem, field_analyzer_problem
from milvus.schema.vectors import sparse_placeholders

PT = common_pb2.PlaceholderType


def _parse(raw: bytes) -> common_pb2.PlaceholderGroup:
    group = common_pb2.PlaceholderGroup()
    try:
        group.ParseFromString(raw)
    except Exception as exc:  # noqa: BLE001 - a malformed message is the caller's mistake
        raise errors.ParameterInvalid(f"invalid placeholder group: {exc}") from None
    return group


def query_placeholders(field: FieldInfo | None, raw: bytes) -> bytes:
    """The placeholder group to send the query nodes: for a BM25 output field, the query
    texts as sparse term counts; any other field's as it came."""
    if field is None or not field.is_function_output:
        return raw  # the query node refuses texts for any other field
    group = _parse(raw)
    holder = group.placeholders[0] if len(group.placeholders) == 1 else None
    if holder is None or holder.type != PT.VarChar:
        raise errors.ParameterInvalid(f"field {field.name} is the output of a BM25 function: search it with "
                                      "query texts")
    return sparse_placeholders([query_terms(text) for text in _texts(holder.values, "query text")], holder.tag)


def _texts(values, what: str) -> list[str]:
    out = []
    for i, value in enumerate(values):
        try:
            out.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            raise errors.ParameterInvalid(f"{what} {i} is not valid UTF-8") from None
    return out


def run_analyzer(field: FieldInfo | None, request: milvus_pb2.RunAnalyzerRequest) -> milvus_pb2.RunAnalyzerResponse:
    """RunAnalyzer: each text's tokens by the standard analyzer (``analyzer_params``, or the
    analyzer of ``field`` when the request names a collection's field)."""
    if request.analyzer_names:
        raise errors.ParameterInvalid("analyzer_names (multi-analyzer fields) are not supported by this server")
    if field is not None:
        params = dict(field.type_params)
        if not analyzer_enabled(params):
            raise errors.ParameterInvalid(f"field {field.name} has no analyzer: it does not enable_analyzer")
        problem = field_analyzer_problem(params)
    else:
        problem = analyzer_problem(request.analyzer_params)
    if problem is not None:
        raise errors.ParameterInvalid(problem)
    results = []
    for text in _texts(request.placeholder, "text"):
        tokens = [milvus_pb2.AnalyzerToken(token=token, start_offset=start, end_offset=end, position=position,
                                           position_length=1, hash=term_dim(token) if request.with_hash else 0)
                  for token, start, end, position in analyze(text)]
        results.append(milvus_pb2.AnalyzerResult(tokens=tokens))
    return milvus_pb2.RunAnalyzerResponse(status=errors.OK, results=results)
