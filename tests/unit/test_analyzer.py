"""The standard analyzer and the BM25 function's sparse rows (milvus.schema.analyzer)."""

import numpy as np
import pyarrow as pa

from milvus.schema.analyzer import analyze, bm25_rows, query_terms, term_dim
from milvus.schema.vectors import sparse_matrix


def _rows(texts):
    m = sparse_matrix(bm25_rows(pa.array(texts, type=pa.string())))
    return [dict(zip(m.indices[m.indptr[i]:m.indptr[i + 1]].tolist(), m.values[m.indptr[i]:m.indptr[i + 1]].tolist(),
                     strict=True)) for i in range(m.num_rows)]


def test_each_row_counts_its_lower_cased_terms():
    rows = _rows(["Information retrieval, information!", "a_b c-d 42 42"])
    assert rows[0] == {term_dim("information"): 2.0, term_dim("retrieval"): 1.0}
    assert rows[1] == {term_dim("a_b"): 1.0, term_dim("c"): 1.0, term_dim("d"): 1.0, term_dim("42"): 2.0}


def test_null_empty_and_punctuation_only_rows_are_empty_vectors():
    assert _rows([None, "", " ,.;! "]) == [{}, {}, {}]
    column = bm25_rows(pa.array([None, "x"], type=pa.string()))
    assert column.null_count == 0


def test_letters_of_any_script_make_terms():
    assert _rows(["Ünïcode wörter café"]) == [{term_dim("ünïcode"): 1.0, term_dim("wörter"): 1.0,
                                                 term_dim("café"): 1.0}]


def test_dimensions_are_sorted_and_below_the_sparse_limit():
    m = sparse_matrix(bm25_rows(pa.array([" ".join(f"w{i}" for i in range(500))])))
    dims = m.indices.astype(np.int64)
    assert (np.diff(dims) > 0).all()
    assert dims.max() < 0xFFFFFFFF
    assert term_dim("x") == term_dim("x")  # stable: a query's terms land on the rows' dimensions


def test_a_query_text_has_the_terms_and_counts_of_the_same_row():
    dims, counts = query_terms("Retrieval of information retrieval")
    assert dict(zip(dims.tolist(), counts.tolist(), strict=True)) == _rows(["retrieval of information retrieval"])[0]


def test_a_chunked_column_gives_one_row_per_text():
    column = bm25_rows(pa.chunked_array([["a b"], ["c"]]))
    assert len(column) == 2


def test_analyze_gives_tokens_with_byte_offsets_and_positions():
    assert analyze("Héllo, wörld_1 42!") == [("héllo", 0, 6, 0), ("wörld_1", 8, 16, 1), ("42", 17, 19, 2)]
    assert analyze(" ,. ") == []


def test_analyze_and_the_sparse_rows_agree_on_the_terms():
    text = "Ünïcode café, naïve_x 3.14 DATA data Ω"
    m = sparse_matrix(bm25_rows(pa.array([text])))
    counts: dict[int, float] = {}
    for token, *_ in analyze(text):
        counts[term_dim(token)] = counts.get(term_dim(token), 0.0) + 1.0
    assert dict(zip(m.indices.tolist(), m.values.tolist(), strict=True)) == counts
