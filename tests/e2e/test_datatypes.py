"""Every data type through a real server: stored columnar and returned exactly (growing and
flushed), nullable fields and defaults, dynamic fields, and search on every vector type."""

from __future__ import annotations

import numpy as np
import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from tests.e2e.test_standalone import standalone

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")

DIM = 16
N = 60


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with standalone(tmp_path_factory.mktemp("types") / "data") as srv:
        c = MilvusClient(uri=srv.uri)
        try:
            yield c
        finally:
            c.close()


def _schema():
    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    s.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=16)
    s.add_field("b", DataType.BOOL)
    s.add_field("i8", DataType.INT8)
    s.add_field("i16", DataType.INT16)
    s.add_field("i32", DataType.INT32)
    s.add_field("i64", DataType.INT64)
    s.add_field("f", DataType.FLOAT)
    s.add_field("d", DataType.DOUBLE)
    s.add_field("s", DataType.VARCHAR, max_length=32)
    s.add_field("j", DataType.JSON)
    s.add_field("arr", DataType.ARRAY, element_type=DataType.INT64, max_capacity=5)
    s.add_field("sarr", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=3, max_length=8)
    s.add_field("opt", DataType.INT32, nullable=True)
    s.add_field("dflt", DataType.VARCHAR, max_length=8, default_value="none")
    s.add_field("fv", DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("bv", DataType.BINARY_VECTOR, dim=DIM * 8)
    s.add_field("hv", DataType.FLOAT16_VECTOR, dim=DIM)
    s.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)
    return s


def _rows(rng):
    rows = []
    for i in range(N):
        row = {
            "pk": f"k{i:03d}", "b": bool(i % 2), "i8": i - 30, "i16": 1000 * (i % 7) - 3000, "i32": -i * 1000,
            "i64": (1 << 40) + i, "f": float(np.float32(i / 7)), "d": i / 3, "s": f"str-{i}" * (1 + i % 3),
            "j": {"n": i, "tags": ["a", "b"][: i % 3], "nested": {"x": i % 4}}, "arr": list(range(i % 6)),
            "sarr": [f"e{k}" for k in range(i % 4)], "opt": None if i % 3 == 0 else i,
            "fv": rng.random(DIM, dtype=np.float32).tolist(),
            "bv": bytes(rng.integers(0, 256, DIM, dtype=np.uint8)),
            "hv": rng.random(DIM).astype(np.float16),
            "sv": {int(k): float(np.float32(v)) for k, v in zip(rng.choice(1000, 4, replace=False),
                                                                   rng.random(4), strict=True)},
            "extra": f"dyn{i}",
        }
        if i % 4:
            row["dflt"] = f"v{i}"
        rows.append(row)
    return rows


def _check_row(got, want):
    for key in ("pk", "b", "i8", "i16", "i32", "i64", "d", "s", "j", "arr", "sarr", "opt", "extra"):
        assert got[key] == want[key], (key, got[key], want[key])
    assert got["f"] == pytest.approx(want["f"])
    assert got["dflt"] == want.get("dflt", "none")
    assert np.allclose(np.asarray(got["fv"], dtype=np.float32), want["fv"])
    bv = got["bv"][0] if isinstance(got["bv"], list) else got["bv"]
    assert bytes(bv) == want["bv"]
    hv = got["hv"][0] if isinstance(got["hv"], list) else got["hv"]
    assert np.frombuffer(bytes(hv), dtype=np.float16).tolist() == want["hv"].tolist()
    assert {int(k): pytest.approx(v) for k, v in got["sv"].items()} == want["sv"]


def test_every_type_round_trips_growing_and_flushed(client):
    rng = np.random.default_rng(3)
    client.create_collection("types", schema=_schema(), consistency_level="Strong")
    rows = _rows(rng)
    half = N // 2
    client.insert("types", rows[:half])
    client.flush("types")  # the first half is sealed, the second stays growing
    client.insert("types", rows[half:])
    client.load_collection("types")

    got = client.query("types", filter='pk != ""', output_fields=["*"], limit=N)
    by_pk = {r["pk"]: r for r in got}
    assert sorted(by_pk) == [r["pk"] for r in rows]
    for want in rows:
        _check_row(by_pk[want["pk"]], want)

    # search on each vector type finds the row itself first
    target = rows[7]
    cases = [("fv", [target["fv"]], "L2"), ("bv", [target["bv"]], "HAMMING"),
             ("hv", [target["hv"]], "L2"), ("sv", [target["sv"]], "IP")]
    for field, data, metric in cases:
        res = client.search("types", data=data, anns_field=field, limit=3, output_fields=["i64"],
                            search_params={"metric_type": metric})
        assert res[0][0]["pk"] == target["pk"], (field, res[0])
        assert res[0][0]["entity"]["i64"] == target["i64"]


def test_type_errors_are_milvus_errors(client):
    client.create_collection("types_err", schema=_schema())
    good = _rows(np.random.default_rng(1))[0]
    bad_cases = [
        {**good, "s": "x" * 33},                      # varchar too long
        {**good, "arr": list(range(6))},              # array over capacity
        {**good, "fv": [0.0] * (DIM + 1)},            # wrong dimension
        {**good, "i8": "not a number"},               # wrong type
        {k: v for k, v in good.items() if k != "b"},  # missing non-nullable field
    ]
    for row in bad_cases:
        with pytest.raises(MilvusException):
            client.insert("types_err", [row])
    assert client.insert("types_err", [good])["insert_count"] == 1
