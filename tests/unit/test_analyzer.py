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


def _analyzer(params):
    from milvus.schema.analyzer_params import parse_analyzer
    return parse_analyzer(params)


def test_the_english_analyzer_lowercases_stems_and_drops_stop_words():
    english = _analyzer({"type": "english"})
    assert english.tokens("The Running dogs were running to the databases") == [
        "run", "dog", "were", "run", "databas"]
    assert [t[3] for t in english.analyze("The Running dogs")] == [1, 2]  # positions keep their gaps
    extra = _analyzer({"type": "english", "stop_words": ["dog"]})
    assert extra.tokens("the dogs run") == ["run"]  # stop words after stemming, as Milvus orders them


def test_standard_with_stop_words_and_custom_chains():
    assert _analyzer({"type": "standard", "stop_words": ["of"]}).tokens("Field of Study") == ["field", "study"]
    assert _analyzer({"tokenizer": "standard"}).tokens("Keep CASE") == ["Keep", "CASE"]
    spaces = _analyzer({"tokenizer": "whitespace", "filter": ["lowercase"]})
    assert spaces.tokens("a-b  C.d") == ["a-b", "c.d"]
    custom = _analyzer({"tokenizer": "standard", "filter": [
        "lowercase", "asciifolding", {"type": "length", "max": 5}, "alphanumonly",
        {"type": "stop", "stop_words": ["_english_"]}]})
    assert custom.tokens("Café naïve THE extraordinary x_1 ok") == ["cafe", "naive", "ok"]


def test_bm25_rows_and_query_terms_follow_the_analyzer():
    english = _analyzer({"type": "english"})
    rows = sparse_matrix(english.bm25_rows(pa.array(["Runs running ran", None, "the of"])))
    assert rows.indptr.tolist() == [0, 2, 2, 2]  # "run" twice, "ran"; nothing left of the last row
    assert dict(zip(rows.indices.tolist(), rows.values.tolist(), strict=True)) == {
        term_dim("run"): 2.0, term_dim("ran"): 1.0}
    dims, counts = english.query_terms("running")
    assert dims.tolist() == [term_dim("run")] and counts.tolist() == [1.0]


def test_token_positions_number_the_tokens_as_analyze_does():
    texts = ["  The dogs, were RUNNING!", None, "", "the of", "a-b  c", "x"]
    for analyzer in (_analyzer({"type": "english"}),
                     _analyzer({"tokenizer": "whitespace", "filter": [{"type": "stop", "stop_words": ["c"]}]})):
        rows, tokens, positions = analyzer.token_positions(pa.array(texts, type=pa.string()))
        got = list(zip(rows.tolist(), tokens.to_pylist(), positions.tolist(), strict=True))
        want = [(row, token, position) for row, text in enumerate(texts) if text is not None
                for token, _, _, position in analyzer.analyze(text)]
        assert got == want
        same_rows, same_tokens = analyzer.token_rows(pa.array(texts, type=pa.string()))
        assert same_rows.tolist() == rows.tolist() and same_tokens.to_pylist() == tokens.to_pylist()
