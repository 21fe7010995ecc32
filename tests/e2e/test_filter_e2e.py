"""The filter language and the read features riding on it, end to end: a standalone server
process driven by the real pymilvus MilvusClient."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from tests.e2e.test_standalone import Server, client, standalone
from tests.unit.test_expr_fuzz import _expressions

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

N = 300
DIM = 8
COLORS = ["red", "green", "blue"]


def _row(i: int, vec: np.ndarray) -> dict:
    row = {"id": i, "vec": vec.tolist(), "age": i % 50, "grp": i % 7,
           "info": {"k": i % 3, "name": f"n{i}", "list": list(range(i % 4))},
           "tags": ["a", "b", "c"][: i % 4], "nums": [i % 5, i % 11],
           "color": COLORS[i % 3], "size": i}
    if i % 10 == 0:
        row["rare"] = True  # a dynamic key only some rows have
    return row


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    with standalone(tmp_path_factory.mktemp("filter") / "data", log_name="filter.log") as running:
        yield running


@pytest.fixture(scope="module")
def data(server):
    rng = np.random.default_rng(11)
    vecs = rng.random((N, DIM), dtype=np.float32)
    rows = [_row(i, vecs[i]) for i in range(N)]
    with client(server) as c:
        schema = c.create_schema(auto_id=False, enable_dynamic_field=True)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
        schema.add_field("age", DataType.INT64)
        schema.add_field("grp", DataType.INT32)
        schema.add_field("info", DataType.JSON)
        schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=8)
        schema.add_field("nums", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
        index = c.prepare_index_params()
        index.add_index("vec", metric_type="L2")
        c.create_collection("f", schema=schema, index_params=index, consistency_level="Strong")
        c.insert("f", rows[:200])
        c.flush("f")
        c.insert("f", rows[200:])  # growing
        c.load_collection("f")
    return rows, vecs


@pytest.fixture()
def c(server) -> Iterator[MilvusClient]:
    with client(server) as cl:
        yield cl


def _ids(result) -> list:
    return sorted(r["id"] for r in result)


FILTERS = [
    ('color == "red" and size < 40', lambda r: r["color"] == "red" and r["size"] < 40),
    ('$meta["color"] in ["green", "blue"] and size % 7 == 0',
     lambda r: r["color"] in ("green", "blue") and r["size"] % 7 == 0),
    ("exists rare", lambda r: "rare" in r),
    ("rare is null and age < 3", lambda r: "rare" not in r and r["age"] < 3),
    ('info["k"] == 1 and info["name"] like "n1%"', lambda r: r["info"]["k"] == 1 and r["info"]["name"].startswith("n1")),
    ('json_contains(info["list"], 2)', lambda r: 2 in r["info"]["list"]),
    ('array_length(info["list"]) == 3 and 10 < age <= 20', lambda r: len(r["info"]["list"]) == 3 and 10 < r["age"] <= 20),
    ('array_contains(tags, "c") or nums[1] == 10', lambda r: "c" in r["tags"] or r["nums"][1] == 10),
    ("array_contains_all(nums, [0, 0])", lambda r: 0 in r["nums"]),
    ("array_contains_any(nums, [4, 7]) and not (grp in [1, 2, 3])",
     lambda r: bool({4, 7} & set(r["nums"])) and r["grp"] not in (1, 2, 3)),
    ("age * 2 > 90 || !(grp != 0)", lambda r: r["age"] * 2 > 90 or r["grp"] == 0),
]


@pytest.mark.parametrize(("expr", "predicate"), FILTERS, ids=[f[0] for f in FILTERS])
def test_dynamic_key_and_json_filters(c, data, expr, predicate):
    rows, _ = data
    expected = sorted(r["id"] for r in rows if predicate(r))
    assert expected, "a filter that selects nothing tests little"
    assert _ids(c.query("f", filter=expr, output_fields=["id"])) == expected
    assert c.query("f", filter=expr, output_fields=["count(*)"])[0]["count(*)"] == len(expected)


def test_templates(c, data):
    rows, _ = data
    got = c.query("f", filter="age > {a} and color == {c} and info['k'] in {ks}",
                  filter_params={"a": 45, "c": "blue", "ks": [0, 2]}, output_fields=["id"])
    assert _ids(got) == sorted(r["id"] for r in rows if r["age"] > 45 and r["color"] == "blue"
                               and r["info"]["k"] in (0, 2))


def test_output_fields_limit_offset_get(c, data):
    rows, vecs = data
    everything = c.query("f", filter="id in [3, 250]", output_fields=["*"])
    assert sorted(everything, key=lambda r: r["id"])[1]["color"] == "green"
    for got in everything:
        want = rows[got["id"]]
        assert np.allclose(got["vec"], vecs[got["id"]])
        assert {k: got[k] for k in ("age", "grp", "info", "tags", "nums", "color", "size")} == \
            {k: want[k] for k in ("age", "grp", "info", "tags", "nums", "color", "size")}
    keys = c.query("f", filter="id == 10", output_fields=["rare", "color", "vec"])
    assert keys[0]["rare"] is True and keys[0]["color"] == "green" and len(keys[0]["vec"]) == DIM
    page = c.query("f", filter='color == "red"', output_fields=["id"], limit=4, offset=3)
    assert [r["id"] for r in page] == [9, 12, 15, 18]
    got = c.get("f", ids=[5, 205, 9999], output_fields=["size", "info"])
    assert sorted((r["id"], r["size"], r["info"]["name"]) for r in got) == [(5, 5, "n5"), (205, 205, "n205")]


def _search_all(c: MilvusClient, q: np.ndarray, metric: str = "L2", **kw) -> list[dict]:
    return c.search("f", [q.tolist()], limit=N, search_params={"metric_type": metric}, **kw)[0]


@pytest.mark.parametrize("selectivity", ["size < 3", "size % 2 == 0"], ids=["1%", "50%"])
def test_filtered_search_is_a_prefilter(c, data, selectivity):
    rows, vecs = data
    q = vecs[17] + 0.01
    keep = np.array([eval(selectivity.replace("size", "r['size']"), {"r": r}) for r in rows])  # noqa: S307
    d = ((vecs - q) ** 2).sum(axis=1)
    ids = np.arange(N)
    expected = ids[keep][np.lexsort((ids[keep], d[keep]))][:10].tolist()
    hits = c.search("f", [q.tolist()], limit=10, filter=selectivity, search_params={"metric_type": "L2"},
                    output_fields=["size"])[0]
    assert [h["id"] for h in hits] == expected  # exact: recall 1 at every selectivity


def test_delete_by_dynamic_filter(c, data):
    rows, vecs = data
    c.insert("f", [_row(1000 + i, vecs[i]) | {"doomed": i % 2 == 0} for i in range(20)])
    assert c.query("f", filter="doomed == true", output_fields=["count(*)"])[0]["count(*)"] == 10
    c.delete("f", filter="doomed == true and id >= 1000")
    assert _ids(c.query("f", filter="id >= 1000", output_fields=["id"])) == [1000 + i for i in range(1, 20, 2)]
    c.delete("f", filter="id >= 1000")
    assert c.query("f", filter="id >= 1000", output_fields=["count(*)"])[0]["count(*)"] == 0


def test_query_iterator_visits_every_match_once(c, data):
    rows, _ = data
    it = c.query_iterator("f", batch_size=13, filter='color != "red"', output_fields=["id", "color"])
    seen = []
    while batch := it.next():
        seen.extend(r["id"] for r in batch)
    it.close()
    assert seen == sorted(r["id"] for r in rows if r["color"] != "red")


@pytest.mark.parametrize("filter_", ["", "grp < 4"])
def test_search_iterator_walks_the_whole_ranking(c, data, filter_):
    rows, vecs = data
    q = vecs[5]
    full = _search_all(c, q, filter=filter_)
    it = c.search_iterator("f", data=[q.tolist()], batch_size=9, filter=filter_,
                           search_params={"metric_type": "L2"}, output_fields=["grp"])
    walked = []
    while batch := it.next():
        walked.extend(h["id"] for h in batch)
    it.close()
    assert walked == [h["id"] for h in full]
    assert len(walked) == sum(1 for r in rows if not filter_ or r["grp"] < 4)


def test_group_by_field(c, data):
    rows, vecs = data
    q = vecs[42]
    full = _search_all(c, q)
    for group_size, limit in [(1, 5), (3, 4)]:
        got = c.search("f", [q.tolist()], limit=limit, group_by_field="grp", group_size=group_size,
                       search_params={"metric_type": "L2"}, output_fields=["grp"])[0]
        groups: dict[int, list[int]] = {}
        for h in full:
            g = rows[h["id"]]["grp"]
            if g in groups or len(groups) < limit:
                groups.setdefault(g, [])
                if len(groups[g]) < group_size:
                    groups[g].append(h["id"])
        assert [h["id"] for h in got] == [i for ids in groups.values() for i in ids]
        assert all(h["entity"]["grp"] == rows[h["id"]]["grp"] for h in got)


@pytest.mark.parametrize("metric", ["L2", "IP", "COSINE"])
def test_range_search_on_float_metrics(c, data, metric):
    _, vecs = data
    name = f"range_{metric.lower()}"
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    index = c.prepare_index_params()
    index.add_index("vec", metric_type=metric)
    c.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    c.insert(name, [{"id": i, "vec": (vecs[i] - 0.5).tolist()} for i in range(N)])
    c.load_collection(name)
    q = (vecs[8] - 0.5).tolist()
    full = c.search(name, [q], limit=N, search_params={"metric_type": metric})[0]
    scores = [h["distance"] for h in full]
    lo, hi = (float(x) for x in np.quantile(scores, [0.2, 0.6]))
    ascending = metric == "L2"
    radius, range_filter = (hi, lo) if ascending else (lo, hi)
    got = c.search(name, [q], limit=50, filter="id % 3 != 1",
                   search_params={"metric_type": metric, "params": {"radius": radius, "range_filter": range_filter}})[0]
    inside = [h["id"] for h in full if h["id"] % 3 != 1 and
              (range_filter <= h["distance"] < radius if ascending else radius < h["distance"] <= range_filter)]
    assert inside and [h["id"] for h in got] == inside[:50]
    c.drop_collection(name)


@pytest.mark.parametrize(("metric", "radius", "range_filter"), [("HAMMING", 9, 4), ("JACCARD", 0.8, 0.3)])
def test_range_search_and_iterator_on_binary_metrics(c, metric, radius, range_filter):
    rng = np.random.default_rng(3)
    packed = np.packbits(rng.integers(0, 2, size=(120, 16), dtype=np.uint8), axis=1)
    name = f"bin_{metric.lower()}"
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("bv", DataType.BINARY_VECTOR, dim=16)
    index = c.prepare_index_params()
    index.add_index("bv", metric_type=metric)
    c.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")
    c.insert(name, [{"id": i, "bv": packed[i].tobytes()} for i in range(120)])
    c.load_collection(name)
    q = packed[0].tobytes()
    full = c.search(name, [q], limit=120, search_params={"metric_type": metric})[0]
    got = c.search(name, [q], limit=120, search_params={"metric_type": metric,
                                                        "params": {"radius": radius, "range_filter": range_filter}})[0]
    assert [h["id"] for h in got] == [h["id"] for h in full if range_filter <= h["distance"] < radius]
    warnings: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = warnings.append  # type: ignore[method-assign]
    pymilvus_log = logging.getLogger("pymilvus.milvus_client.milvus_client")  # does not propagate
    pymilvus_log.addHandler(handler)
    try:
        walked = []
        it = c.search_iterator(name, data=[q], batch_size=7, search_params={"metric_type": metric})
        while batch := it.next():
            walked.extend(h["id"] for h in batch)
        it.close()
    finally:
        pymilvus_log.removeHandler(handler)
    assert walked == [h["id"] for h in full]  # binary distances tie a lot: none lost or repeated
    assert not [r for r in warnings if "Iterator V2" in r.getMessage()]  # the v2 protocol, no fallback
    c.drop_collection(name)


def test_bad_expressions_answer_1100_and_the_server_keeps_serving(c, server, data):
    rows, _ = data
    expressions = _expressions(10_000, seed=99)

    def attempt(expr: str) -> bool:
        """True when the server refused ``expr`` with the Milvus parse error."""
        try:
            c.query("f", filter=expr, limit=3, output_fields=["id"], timeout=20)
        except MilvusException as exc:
            assert exc.code == 1100, (expr, exc)
            assert "failed to create query plan: cannot parse expression" in exc.message
            return True
        return False

    # 10,000 random and garbled expressions, four clients at once; each call is bounded by
    # its gRPC deadline, so a hang fails the test instead of stalling it
    with ThreadPoolExecutor(max_workers=4) as pool:
        refused = sum(pool.map(attempt, expressions))
    assert refused > len(expressions) // 2
    assert server.proc.poll() is None
    assert c.query("f", filter="size < 5", output_fields=["count(*)"])[0]["count(*)"] == 5
    with pytest.raises(MilvusException) as info:
        c.query("f", filter="age > ", output_fields=["id"])
    assert info.value.code == 1100
    assert "line 1:6 mismatched input '<EOF>' expecting an operand" in info.value.message
    with pytest.raises(MilvusException) as info:
        c.search("f", [data[1][0].tolist()], limit=3, filter='info["k"] > "x" and ')
    assert info.value.code == 1100


def test_text_match_where_the_field_enables_it(c):
    schema = c.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("body", DataType.VARCHAR, max_length=64, enable_analyzer=True, enable_match=True)
    schema.add_field("plain", DataType.VARCHAR, max_length=64)
    index = c.prepare_index_params()
    index.add_index("v", metric_type="L2")
    c.create_collection("texts", schema=schema, index_params=index, consistency_level="Strong")
    docs = ["Vector databases store embeddings", "A database of vectors", "keyword search, BM25", "vector"]
    c.insert("texts", [{"id": i, "v": [0.0, 1.0], "body": d, "plain": d} for i, d in enumerate(docs)])
    c.load_collection("texts")
    assert _ids(c.query("texts", filter="text_match(body, 'VECTOR search')", output_fields=["id"])) == [0, 2, 3]
    assert _ids(c.query("texts", filter="TEXT_MATCH(body, 'database databases', minimum_should_match=1) "
                                        "and id > 0", output_fields=["id"])) == [1]
    with pytest.raises(MilvusException) as info:
        c.query("texts", filter="text_match(plain, 'vector')", output_fields=["id"])
    assert info.value.code == 1100 and 'field "plain" does not enable match' in info.value.message
    c.drop_collection("texts")
