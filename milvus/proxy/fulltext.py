"""Full-text search at the proxy: a search of a BM25 function's output field takes query
texts, which go through the same function as the rows (``milvus.schema.analyzer``) and reach
the query nodes as sparse vectors of term counts, with the field index's k1 and b.
RunAnalyzer shows the tokens the analyzer makes of texts."""

from __future__ import annotations

from milvus import errors
from milvus.grpc_gen import common_pb2, milvus_pb2
from milvus.schema import FieldInfo
from milvus.schema.analyzer import Analyzer, term_dim
from milvus.schema.analyzer_params import AnalyzerError, analyzer_enabled, field_analyzer, parse_analyzer
from milvus.schema.vectors import sparse_placeholders

PT = common_pb2.PlaceholderType


def _parse(raw: bytes) -> common_pb2.PlaceholderGroup:
    group = common_pb2.PlaceholderGroup()
    try:
        group.ParseFromString(raw)
    except Exception as exc:  # noqa: BLE001 - a malformed message is the caller's mistake
        raise errors.ParameterInvalid(f"invalid placeholder group: {exc}") from None
    return group


def query_placeholders(field: FieldInfo, raw: bytes, analyzer: Analyzer) -> bytes:
    """The placeholder group to send the query nodes for a search of a BM25 output field: the
    query texts as sparse term counts by ``analyzer`` (its input field's)."""
    group = _parse(raw)
    holder = group.placeholders[0] if len(group.placeholders) == 1 else None
    if holder is None or holder.type != PT.VarChar:
        raise errors.ParameterInvalid(f"field {field.name} is the output of a BM25 function: search it with "
                                      "query texts")
    texts = _texts(holder.values, "query text")
    return sparse_placeholders([analyzer.query_terms(text) for text in texts], holder.tag)


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
    try:
        if field is not None:
            if not analyzer_enabled(field.type_params):
                raise errors.ParameterInvalid(f"field {field.name} has no analyzer: it does not enable_analyzer")
            analyzer = field_analyzer(field.type_params)
        else:
            analyzer = parse_analyzer(request.analyzer_params)
    except AnalyzerError as exc:
        raise errors.ParameterInvalid(str(exc)) from None
    results = []
    for text in _texts(request.placeholder, "text"):
        tokens = [milvus_pb2.AnalyzerToken(token=token, start_offset=start, end_offset=end, position=position,
                                           position_length=1, hash=term_dim(token) if request.with_hash else 0)
                  for token, start, end, position in analyzer.analyze(text)]
        results.append(milvus_pb2.AnalyzerResult(tokens=tokens))
    return milvus_pb2.RunAnalyzerResponse(status=errors.OK, results=results)
