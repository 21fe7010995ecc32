"""Analyzers (text -> tokens) and the BM25 function built on them.

An analyzer is a tokenizer and a chain of token filters, as in Milvus:

* tokenizers: ``standard`` (runs of letters, digits and ``_``) and ``whitespace``;
* filters: ``lowercase``, ``asciifolding`` (accents dropped), ``alphanumonly`` (tokens of
  ASCII letters and digits only), ``stop`` (listed words dropped; ``_english_`` stands for
  the English stop words), ``stemmer`` (Snowball, by language) and ``length`` (tokens longer
  than ``max`` UTF-8 bytes dropped).

The standard analyzer (Milvus' default) is the standard tokenizer with ``lowercase``;
``milvus.schema.analyzer_params`` turns a field's ``analyzer_params`` into an ``Analyzer``.

A BM25 function turns each row of its input field into a sparse vector of term counts. Each
term's dimension is the CRC-32 of its UTF-8 bytes (2^32 - 1, which a sparse index may not hold,
becomes 2^32 - 2). The query nodes weigh those counts by BM25. A query text goes through the
same analyzer, so its terms land on the same dimensions.

Rows are tokenized with one Arrow split per batch; the filters run in Python on the distinct
tokens of the batch only, and only those are hashed.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.schema.vectors import SPARSE_PAIR

TOKEN_SPLIT_RE2 = r"[^\p{L}\p{N}_]+"  # what separates the standard tokenizer's tokens
# Python's Unicode word characters: the same letters, digits and _ (for token offsets)
_STANDARD_TOKEN = re.compile(r"\w+")
_WHITESPACE_TOKEN = re.compile(r"\S+")
_TOP_DIM = 0xFFFFFFFF  # a sparse index must be below 2^32 - 1

# the English stop words of Lucene and tantivy
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split())

Filter = Callable[[str], "str | None"]


def term_dim(token: str) -> int:
    """The sparse dimension of one token."""
    dim = zlib.crc32(token.encode())
    return dim - 1 if dim == _TOP_DIM else dim


def _fold(token: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c))


@dataclass(frozen=True)
class TokenFilter:
    """One filter of an analyzer's chain: ``kind`` and its setting (stop words, a language,
    a maximum length)."""

    kind: str
    words: frozenset[str] = frozenset()
    language: str = ""
    max_bytes: int = 0

    def make(self) -> Filter:
        """The filter as a function of one token (None: the token is dropped); a new one per
        batch (a stemmer keeps state while it stems)."""
        if self.kind == "lowercase":
            return str.lower
        if self.kind == "asciifolding":
            return _fold
        if self.kind == "alphanumonly":
            return lambda t: t if t.isascii() and t.isalnum() else None
        if self.kind == "stop":
            words = self.words
            return lambda t: None if t in words else t
        if self.kind == "stemmer":
            import snowballstemmer  # noqa: PLC0415 - 32 modules a server without a stemmer never needs

            return snowballstemmer.stemmer(self.language).stemWord
        if self.kind == "length":
            limit = self.max_bytes
            return lambda t: t if len(t.encode()) <= limit else None
        raise ValueError(f"unknown token filter {self.kind}")


@dataclass(frozen=True)
class Analyzer:
    tokenizer: str = "standard"  # or "whitespace"
    filters: tuple[TokenFilter, ...] = (TokenFilter("lowercase"),)

    def _chain(self) -> Callable[[str], str | None]:
        steps = [f.make() for f in self.filters]

        def run(token: str) -> str | None:
            for step in steps:
                token = step(token)
                if not token:
                    return None
            return token
        return run

    def _split(self, texts: pa.Array) -> pa.Array:
        if self.tokenizer == "whitespace":
            return pc.utf8_split_whitespace(texts)
        return pc.split_pattern_regex(texts, TOKEN_SPLIT_RE2)

    def token_rows(self, texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.DictionaryArray]:
        """(the row of every token, the tokens dictionary-encoded) of a string column after the
        filters; a null row has none."""
        rows, tokens, _ = self._tokenize(texts, with_positions=False)
        return rows, tokens

    def token_positions(self, texts: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.DictionaryArray, np.ndarray]:
        """:meth:`token_rows` and each token's position among its row's tokenizer tokens, as
        :meth:`analyze` numbers them (a token a filter drops leaves its position unused)."""
        rows, tokens, positions = self._tokenize(texts, with_positions=True)
        assert positions is not None
        return rows, tokens, positions

    def _tokenize(self, texts: pa.Array | pa.ChunkedArray,
                  with_positions: bool) -> tuple[np.ndarray, pa.DictionaryArray, np.ndarray | None]:
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        lists = self._split(texts)
        if lists.null_count:
            lists = pc.fill_null(lists, pa.scalar([], type=lists.type))
        offsets = np.asarray(lists.offsets, dtype=np.int64)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), np.diff(offsets))
        encoded = lists.flatten().dictionary_encode()
        pieces = np.asarray(encoded.indices, dtype=np.int64)
        run = self._chain()
        kept = [run(t) if t else None for t in encoded.dictionary.to_pylist()]
        # the filtered dictionary: a token's new index, or -1 when it was dropped
        mapped = pa.array(kept, type=pa.string()).dictionary_encode()
        remap = np.asarray(mapped.indices.fill_null(-1), dtype=np.int64)
        codes = remap[pieces] if len(pieces) else np.zeros(0, np.int64)
        keep = codes >= 0
        positions = None
        if with_positions:
            # the splits leave empty pieces around separators; a piece's position counts the
            # non-empty pieces of its row before it
            nonempty = np.asarray(pc.utf8_length(encoded.dictionary), dtype=np.int64)[pieces] > 0
            seen = np.concatenate(([0], np.cumsum(nonempty)))
            positions = (seen[:-1] - seen[offsets[:-1] - offsets[0]][rows])[keep]
        out = pa.DictionaryArray.from_arrays(pa.array(codes[keep], type=pa.int32()), mapped.dictionary)
        return rows[keep], out, positions

    def bm25_rows(self, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
        """The BM25 function's sparse column for a string column: per row, (dimension, count)
        of each distinct term, sorted by dimension (an empty vector for a null or token-less
        row)."""
        n = len(texts)
        rows, tokens = self.token_rows(texts)
        if len(tokens):
            dims_of = np.fromiter((term_dim(t) for t in tokens.dictionary.to_pylist()), dtype=np.uint32,
                                  count=len(tokens.dictionary))
            dims = dims_of[np.asarray(tokens.indices)]
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

    def query_terms(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(dimensions, counts) of a query text's terms, sorted by dimension."""
        column = self.bm25_rows(pa.array([text], type=pa.string()))
        pairs = np.frombuffer(column.buffers()[2] or b"", dtype=SPARSE_PAIR)
        return pairs["index"].copy(), pairs["value"].copy()

    def tokens(self, text: str) -> list[str]:
        """The tokens of one text, in order."""
        return [token for token, *_ in self.analyze(text)]

    def analyze(self, text: str) -> list[tuple[str, int, int, int]]:
        """The tokens of one text, in order: (token, start and end byte offsets of its source
        in the UTF-8 text, position among the tokenizer's tokens)."""
        pattern = _WHITESPACE_TOKEN if self.tokenizer == "whitespace" else _STANDARD_TOKEN
        run = self._chain()
        out, byte_pos, char_pos = [], 0, 0
        for position, match in enumerate(pattern.finditer(text)):
            byte_pos += len(text[char_pos:match.start()].encode())
            end = byte_pos + len(match.group().encode())
            token = run(match.group())
            if token:
                out.append((token, byte_pos, end, position))
            byte_pos, char_pos = end, match.end()
        return out


STANDARD = Analyzer()


def bm25_rows(texts: pa.Array | pa.ChunkedArray, analyzer: Analyzer = STANDARD) -> pa.Array:
    return analyzer.bm25_rows(texts)


def query_terms(text: str, analyzer: Analyzer = STANDARD) -> tuple[np.ndarray, np.ndarray]:
    return analyzer.query_terms(text)


def analyze(text: str, analyzer: Analyzer = STANDARD) -> list[tuple[str, int, int, int]]:
    return analyzer.analyze(text)
