"""Full-text search at the proxy: a search of a BM25 function's output field takes query
texts, which go through the same function as the rows (``milvus.schema.analyzer``) and reach
the query nodes as sparse vectors of term counts, with the field index's k1 and b."""

from __future__ import annotations

import numpy as np

from milvus import errors
from milvus.grpc_gen import common_pb2
from milvus.schema import FieldInfo
from milvus.schema.analyzer import query_terms
from milvus.schema.vectors import SPARSE_PAIR

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
    values = []
    for i, value in enumerate(holder.values):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.ParameterInvalid(f"query text {i} is not valid UTF-8") from None
        dims, counts = query_terms(text)
        pairs = np.empty(len(dims), dtype=SPARSE_PAIR)
        pairs["index"], pairs["value"] = dims, counts
        values.append(pairs.tobytes())
    out = common_pb2.PlaceholderGroup(placeholders=[
        common_pb2.PlaceholderValue(tag=holder.tag, type=PT.SparseFloatVector, values=values)])
    return out.SerializeToString()
