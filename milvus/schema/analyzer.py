"""The standard analyzer and the BM25 function built on it.

The standard analyzer (Milvus' default for a VARCHAR field with ``enable_analyzer`` or
``enable_match``) lower-cases a text and splits it into runs of letters, digits and ``_``.

A BM25 function turns each row of its input field into a sparse vector of term counts. Each
term's dimension is the CRC-32 of its UTF-8 bytes (2^32 - 1, which a sparse index may not hold,
becomes 2^32 - 2). The query nodes weigh those counts by BM25. A query text goes through the
same function, so its terms land on the same dimensions.

Rows are tokenized with Arrow's regex split, one call per batch. Only the distinct tokens of
a batch are hashed in Python.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.schema.vectors import SPARSE_PAIR

TOKEN_SPLIT_RE2 = r"[^\p{L}\p{N}_]+"  # what separates the standard analyzer's tokens
_TOKEN = re.compile(r"\w+")  # a token: Python's Unicode word characters, the same letters, digits and _
_TOP_DIM = 0xFFFFFFFF  # a sparse index must be below 2^32 - 1


def term_dim(token: str) -> int:
    """The sparse dimension of one token."""
    dim = zlib.crc32(token.encode())
    return dim - 1 if dim == _TOP_DIM else dim


def _tokens(texts: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """(the row of every token, the tokens) of a string column; a null row has none."""
    lists = pc.split_pattern_regex(pc.utf8_lower(texts), TOKEN_SPLIT_RE2)
    if lists.null_count:
        lists = pc.fill_null(lists, pa.scalar([], type=lists.type))
    offsets = np.asarray(lists.offsets)
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(offsets))
    flat = lists.flatten()
    keep = np.asarray(pc.greater(pc.binary_length(flat), 0).to_numpy(zero_copy_only=False), dtype=bool)
    return rows[keep], flat.filter(pa.array(keep))


def bm25_rows(texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The BM25 function's sparse column for a string column: per row, (dimension, count) of
    each distinct term, sorted by dimension (an empty vector for a null or token-less row)."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    n = len(texts)
    rows, tokens = _tokens(texts)
    if len(tokens):
        encoded = tokens.dictionary_encode()
        dims_of = np.fromiter((term_dim(t) for t in encoded.dictionary.to_pylist()), dtype=np.uint32,
                              count=len(encoded.dictionary))
        dims = dims_of[np.asarray(encoded.indices)]
        # one entry per (row, dim): sort, then count the runs
        key = (rows.astype(np.uint64) << np.uint64(32)) | dims.astype(np.uint64)
        uniq, counts = np.unique(key, return_counts=True)
        pair_rows = (uniq >> np.uint64(32)).astype(np.int64)
        pairs = np.empty(len(uniq), dtype=SPARSE_PAIR)
        pairs["index"] = (uniq & np.uint64(_TOP_DIM)).astype(np.uint32)
        pairs["value"] = counts.astype(np.float32)
    else:
        pair_rows = np.zeros(0, dtype=np.int64)
        pairs = np.zeros(0, dtype=SPARSE_PAIR)
    per_row = np.bincount(pair_rows, minlength=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(per_row * SPARSE_PAIR.itemsize, out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(pairs.tobytes())])


def analyze(text: str) -> list[tuple[str, int, int, int]]:
    """The standard analyzer's tokens of one text, in order: (token, start and end byte
    offsets in the UTF-8 text, position)."""
    lowered = text.lower()
    out, byte_pos, char_pos = [], 0, 0
    for position, match in enumerate(_TOKEN.finditer(lowered)):
        byte_pos += len(lowered[char_pos:match.start()].encode())
        end = byte_pos + len(match.group().encode())
        out.append((match.group(), byte_pos, end, position))
        byte_pos, char_pos = end, match.end()
    return out


def query_terms(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(dimensions, counts) of a query text's terms, sorted by dimension."""
    column = bm25_rows(pa.array([text], type=pa.string()))
    pairs = np.frombuffer(column.buffers()[2] or b"", dtype=SPARSE_PAIR)
    return pairs["index"].copy(), pairs["value"].copy()
