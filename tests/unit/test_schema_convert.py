"""Round trips: rows -> pymilvus FieldData -> Arrow -> FieldData -> pymilvus' result parsing."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pymilvus import DataType

from milvus.schema import (
    DYNAMIC_FIELD_NAME,
    SchemaError,
    arrow_to_fields,
    batch_to_ipc,
    ipc_to_batch,
    resolve_output_fields,
)
from tests.unit.test_schema_support import Collection, ResultReader

DIM = 4
F16 = np.dtype("<f2")


@pytest.fixture
def reader() -> Iterator[ResultReader]:
    r = ResultReader()
    yield r
    r.close()


def bf16_bits(values) -> bytes:
    """bfloat16 bytes of float32 values (the upper half of each float32)."""
    return (np.asarray(values, dtype="<f4").view("<u4") >> 16).astype("<u2").tobytes()


def every_type(s) -> None:
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("b", DataType.BOOL)
    s.add_field("i8", DataType.INT8)
    s.add_field("i16", DataType.INT16)
    s.add_field("i32", DataType.INT32)
    s.add_field("f", DataType.FLOAT)
    s.add_field("d", DataType.DOUBLE)
    s.add_field("s", DataType.VARCHAR, max_length=16)
    s.add_field("j", DataType.JSON)
    s.add_field("arr_b", DataType.ARRAY, element_type=DataType.BOOL, max_capacity=4)
    s.add_field("arr_i8", DataType.ARRAY, element_type=DataType.INT8, max_capacity=4)
    s.add_field("arr_i16", DataType.ARRAY, element_type=DataType.INT16, max_capacity=4)
    s.add_field("arr_i32", DataType.ARRAY, element_type=DataType.INT32, max_capacity=4)
    s.add_field("arr_i64", DataType.ARRAY, element_type=DataType.INT64, max_capacity=4)
    s.add_field("arr_f", DataType.ARRAY, element_type=DataType.FLOAT, max_capacity=4)
    s.add_field("arr_d", DataType.ARRAY, element_type=DataType.DOUBLE, max_capacity=4)
    s.add_field("arr_s", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=4, max_length=8)
    s.add_field("fv", DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("bv", DataType.BINARY_VECTOR, dim=16)
    s.add_field("hv", DataType.FLOAT16_VECTOR, dim=DIM)
    s.add_field("bfv", DataType.BFLOAT16_VECTOR, dim=DIM)
    s.add_field("i8v", DataType.INT8_VECTOR, dim=DIM)
    s.add_field("sv", DataType.SPARSE_FLOAT_VECTOR)


def make_rows(n: int = 5) -> list[dict]:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        rows.append({
            "id": i * 10 - 7,
            "b": bool(i % 2),
            "i8": -128 + i,
            "i16": 32767 - i,
            "i32": -(2**31) + i,
            "f": 0.1 * i + 1e-3,
            "d": 1 / 3 + i,
            "s": f"héllo {i}" * (i % 2 + 1),
            "j": {"n": i, "nested": {"list": [1, "two", None, 3.5]}, "ok": i % 2 == 0},
            "arr_b": [True, False][: i % 3],
            "arr_i8": [-128, 127, i][: i % 4],
            "arr_i16": [i, -i],
            "arr_i32": [2**31 - 1],
            "arr_i64": [2**63 - 1, -(2**63), i][: (i + 1) % 4],
            "arr_f": [0.5, 1.25, 1e-7][: i % 4],
            "arr_d": [1 / 7] * (i % 5),
            "arr_s": ["a", "ü", ""][: i % 4],
            "fv": rng.random(DIM, dtype=np.float32).tolist(),
            "bv": bytes([i, 255 - i]),
            "hv": rng.random(DIM).astype(np.float16),
            "bfv": bf16_bits(rng.random(DIM)),
            "i8v": np.array([i, -i, 127, -128], dtype=np.int8),
            "sv": {int(k): float(v) for k, v in zip(rng.choice(1000, i, replace=False), rng.random(i), strict=True)},
        })
    return rows


def expected_row(row: dict) -> dict:
    """What pymilvus hands back for ``row`` after a round trip through the server."""
    f32 = lambda v: float(np.float32(v))  # noqa: E731
    out = dict(row)
    out["f"] = f32(row["f"])
    out["arr_f"] = [f32(v) for v in row["arr_f"]]
    out["fv"] = [f32(v) for v in row["fv"]]
    out["bv"] = [row["bv"]]
    out["hv"] = [row["hv"].astype(F16).tobytes()]
    out["bfv"] = [row["bfv"]]
    out["i8v"] = [row["i8v"].tobytes()]
    out["sv"] = {k: f32(v) for k, v in row["sv"].items()}
    return out


@pytest.fixture(scope="module")
def coll() -> Collection:
    return Collection(every_type)


def test_every_type_round_trips_from_rows(coll, reader):
    rows = make_rows()
    batch = coll.to_arrow(coll.insert_rows(rows))
    assert batch.schema.equals(coll.model.arrow_schema, check_metadata=True)
    assert batch.column("_row_id").to_pylist() == [1000, 1001, 1002, 1003, 1004]
    assert batch.column("_ts").to_pylist() == [42] * 5
    got = reader.query(coll, batch, ["*"])
    assert got == [expected_row(r) for r in rows]


def test_every_type_round_trips_from_columns(coll, reader):
    rows = make_rows()
    dtypes = {f["name"]: f["type"] for f in coll.info["fields"]}
    entities = [{"name": name, "type": dtypes[name], "values": [r[name] for r in rows]} for name in rows[0]]
    for entity in entities:  # the column API takes vectors as one 2-d array
        if entity["name"] == "fv":
            entity["values"] = np.array(entity["values"], dtype=np.float32)
    batch = coll.to_arrow(coll.insert_columns(entities))
    assert batch.equals(coll.to_arrow(coll.insert_rows(rows)))
    assert reader.query(coll, batch, ["*"]) == [expected_row(r) for r in rows]


def test_rows_survive_ipc_and_parquet_unchanged(coll, reader, tmp_path):
    batch = coll.to_arrow(coll.insert_rows(make_rows()))
    assert ipc_to_batch(batch_to_ipc(batch)).equals(batch)
    pq.write_table(pa.Table.from_batches([batch]), tmp_path / "rows.parquet")
    table = pq.read_table(tmp_path / "rows.parquet", schema=coll.model.arrow_schema)
    assert table.equals(pa.Table.from_batches([batch]))
    parquet_ids = pq.read_schema(tmp_path / "rows.parquet")
    assert parquet_ids.field("fv").metadata[b"PARQUET:field_id"] == str(coll.model.field("fv").field_id).encode()
    fields = [f.name for f in coll.model.fields]
    assert arrow_to_fields(coll.model, table, fields) == arrow_to_fields(coll.model, batch, fields)


def test_sliced_and_reordered_rows_round_trip(coll, reader):
    rows = make_rows(8)
    batch = coll.to_arrow(coll.insert_rows(rows))
    sliced = batch.slice(3, 4)  # a non-zero offset inside every buffer
    assert reader.query(coll, sliced, ["*"]) == [expected_row(r) for r in rows[3:7]]
    taken = batch.take(pa.array([6, 0, 6]))
    assert reader.query(coll, taken, ["*"]) == [expected_row(rows[i]) for i in (6, 0, 6)]


def test_search_results_parse_in_pymilvus(coll, reader):
    rows = make_rows(6)
    batch = coll.to_arrow(coll.insert_rows(rows))
    hits = batch.take(pa.array([5, 1, 2, 0]))  # nq = 2, topk = 2
    fields = ["s", "fv", "sv", "hv", "j", "arr_s"]
    result = reader.search(coll, hits, [2, 2], fields)
    assert [[hit["id"] for hit in q] for q in result] == [[rows[5]["id"], rows[1]["id"]],
                                                          [rows[2]["id"], rows[0]["id"]]]
    first = result[0][0]["entity"]
    want = expected_row(rows[5])
    want["hv"] = want["hv"][0]  # search hits carry byte vectors unwrapped, query rows wrap them
    assert first == {k: want[k] for k in fields}


def test_float16_and_bfloat16_from_float_lists_are_converted(reader):
    coll = Collection(lambda s: (s.add_field("id", DataType.INT64, is_primary=True),
                                 s.add_field("hv", DataType.FLOAT16_VECTOR, dim=DIM),
                                 s.add_field("bfv", DataType.BFLOAT16_VECTOR, dim=DIM)))
    values = [1.0, -2.5, 0.333, 65504.0]
    request = coll.insert_rows([{"id": 1, "hv": values, "bfv": np.array(values, dtype=np.float32)}])
    assert request.fields_data[1].vectors.WhichOneof("data") == "float_vector"  # pymilvus 3 sends fp32
    batch = coll.to_arrow(request)
    assert batch.column("hv")[0].as_py() == np.array(values, dtype=np.float32).astype(F16).tobytes()
    assert batch.column("bfv")[0].as_py() == bf16_bits(values)
    assert reader.query(coll, batch, ["id", "bfv"]) == [{"id": 1, "bfv": [bf16_bits(values)]}]


def nullable_schema(s) -> None:
    s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=8)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("b", DataType.BOOL, nullable=True)
    s.add_field("i8", DataType.INT8, nullable=True)
    s.add_field("i64", DataType.INT64, nullable=True)
    s.add_field("f", DataType.FLOAT, nullable=True)
    s.add_field("d", DataType.DOUBLE, nullable=True)
    s.add_field("s", DataType.VARCHAR, max_length=8, nullable=True)
    s.add_field("j", DataType.JSON, nullable=True)
    s.add_field("arr", DataType.ARRAY, element_type=DataType.INT32, max_capacity=3, nullable=True)
    s.add_field("dflt_s", DataType.VARCHAR, max_length=8, default_value="dflt")
    s.add_field("dflt_i", DataType.INT32, default_value=-5)
    s.add_field("dflt_f", DataType.DOUBLE, default_value=2.5, nullable=True)
    s.add_field("dflt_b", DataType.BOOL, default_value=True)


NULLABLE = ["b", "i8", "i64", "f", "d", "s", "j", "arr"]
DEFAULTS = {"dflt_s": "dflt", "dflt_i": -5, "dflt_f": 2.5, "dflt_b": True}


def test_nulls_and_defaults_from_rows(reader):
    coll = Collection(nullable_schema)
    full = {"id": "a", "v": [1.0, 2.0], "b": False, "i8": 0, "i64": 0, "f": 0.0, "d": 0.0, "s": "",
            "j": {}, "arr": [], "dflt_s": "x", "dflt_i": 0, "dflt_f": 0.0, "dflt_b": False}
    explicit_none = {"id": "b", "v": [3.0, 4.0], **dict.fromkeys(NULLABLE), **dict.fromkeys(DEFAULTS)}
    left_out = {"id": "c", "v": [5.0, 6.0]}
    batch = coll.to_arrow(coll.insert_rows([full, explicit_none, left_out]))
    for name in NULLABLE:
        assert batch.column(name).to_pylist()[1:] == [None, None], name
    assert batch.column("dflt_s").to_pylist() == ["x", "dflt", "dflt"]
    assert batch.column("dflt_f").null_count == 0  # a default wins over null
    got = reader.query(coll, batch, ["*"])
    assert got[0] == full
    for row, source in zip(got[1:], (explicit_none, left_out), strict=True):
        assert row == {"id": source["id"], "v": source["v"], **dict.fromkeys(NULLABLE), **DEFAULTS}


def test_nulls_and_defaults_from_columns(reader):
    coll = Collection(nullable_schema)
    dtypes = {f["name"]: f["type"] for f in coll.info["fields"]}
    columns = {"id": ["a", "b"], "v": np.array([[1, 2], [3, 4]], dtype=np.float32),
               "b": [True, None], "i8": [None, 7], "i64": [None, None], "f": [1.5, None], "d": [None, 0.25],
               "s": ["x", None], "j": [None, {"k": [1]}], "arr": [[1, 2], None],
               "dflt_s": [None, "y"], "dflt_i": [None, 1], "dflt_f": [None, 9.0], "dflt_b": [False, None]}
    entities = [{"name": k, "type": dtypes[k], "values": v} for k, v in columns.items()]
    got = reader.query(coll, coll.to_arrow(coll.insert_columns(entities)), ["*"])
    assert got == [
        {"id": "a", "v": [1.0, 2.0], "b": True, "i8": None, "i64": None, "f": 1.5, "d": None, "s": "x",
         "j": None, "arr": [1, 2], "dflt_s": "dflt", "dflt_i": -5, "dflt_f": 2.5, "dflt_b": False},
        {"id": "b", "v": [3.0, 4.0], "b": None, "i8": 7, "i64": None, "f": None, "d": 0.25, "s": None,
         "j": {"k": [1]}, "arr": None, "dflt_s": "y", "dflt_i": 1, "dflt_f": 9.0, "dflt_b": True},
    ]


def test_result_columns_are_row_aligned_with_valid_data(reader):
    coll = Collection(nullable_schema)
    batch = coll.to_arrow(coll.insert_rows([{"id": "a", "v": [1, 2]}, {"id": "b", "v": [3, 4], "i64": 5}]))
    i64, s = arrow_to_fields(coll.model, batch, ["i64", "s"])
    assert list(i64.scalars.long_data.data) == [0, 5] and list(i64.valid_data) == [False, True]
    assert list(s.scalars.string_data.data) == ["", ""] and list(s.valid_data) == [False, False]


def dynamic_schema(s) -> None:
    s.add_field("id", DataType.INT64, is_primary=True, auto_id=True)
    s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    s.add_field("title", DataType.VARCHAR, max_length=32)


def test_dynamic_fields_round_trip(reader):
    coll = Collection(dynamic_schema, enable_dynamic_field=True)
    rows = [{"v": [1, 2], "title": "a", "color": "red", "size": 3},
            {"v": [3, 4], "title": "b", "tags": ["x", {"deep": None}]},
            {"v": [5, 6], "title": "c"}]
    request = coll.insert_rows(rows)
    meta = request.fields_data[-1]
    assert (meta.field_name, meta.is_dynamic) == (DYNAMIC_FIELD_NAME, True)
    batch = coll.to_arrow(request, first_row_id=7)
    assert batch.column("id").to_pylist() == [7, 8, 9]  # auto id from the row ids
    assert batch.column(DYNAMIC_FIELD_NAME).to_pylist()[2] == b"{}"
    everything = reader.query(coll, batch, ["*"])
    assert everything == [{"id": 7 + i, "v": [float(x) for x in r["v"]], **{k: r[k] for k in r if k != "v"}}
                          for i, r in enumerate(rows)]
    assert reader.query(coll, batch, ["id", "color"]) == [{"id": 7, "color": "red"}, {"id": 8}, {"id": 9}]
    assert reader.query(coll, batch, [DYNAMIC_FIELD_NAME])[1] == {"tags": ["x", {"deep": None}]}
    assert reader.query(coll, batch, ["title", "size", "tags"])[0] == {"title": "a", "size": 3}


def test_only_the_asked_dynamic_keys_leave_the_server():
    coll = Collection(dynamic_schema, enable_dynamic_field=True)
    batch = coll.to_arrow(coll.insert_rows([{"v": [1, 2], "title": "a", "color": "red", "size": 3}]))
    (meta,) = arrow_to_fields(coll.model, batch, ["size"])
    assert meta.is_dynamic and list(meta.scalars.json_data.data) == [b'{"size":3}']
    (meta,) = arrow_to_fields(coll.model, batch, [], dynamic_keys=["color"])
    assert list(meta.scalars.json_data.data) == [b'{"color":"red"}']
    plan = resolve_output_fields(coll.model, ["title", "size"], dynamic_keys=["color"])
    assert [f.name for f in plan.fields] == ["title", DYNAMIC_FIELD_NAME]
    assert plan.dynamic_keys == {"size", "color"} and plan.names == ["title", "size", "color"]
    assert resolve_output_fields(coll.model, ["*"]).names == ["id", "v", "title", DYNAMIC_FIELD_NAME]


def test_unknown_output_field_without_dynamic_field():
    coll = Collection(dynamic_schema)
    with pytest.raises(SchemaError, match="field color not exist"):
        resolve_output_fields(coll.model, ["color"])


def test_varchar_auto_id_comes_from_row_ids(reader):
    coll = Collection(lambda s: (s.add_field("pk", DataType.VARCHAR, is_primary=True, auto_id=True, max_length=20),
                                 s.add_field("v", DataType.FLOAT_VECTOR, dim=2)))
    batch = coll.to_arrow(coll.insert_rows([{"v": [1, 2]}, {"v": [3, 4]}]), first_row_id=449)
    assert batch.column("pk").to_pylist() == ["449", "450"]
    assert reader.query(coll, batch, ["pk"]) == [{"pk": "449"}, {"pk": "450"}]


def test_upsert_keeps_the_given_auto_id_key():
    coll = Collection(dynamic_schema)
    request = coll.upsert_rows([{"id": 5, "v": [1, 2], "title": "t"}])
    assert coll.to_arrow(request, upsert=True).column("id").to_pylist() == [5]


def test_partial_update_carries_only_the_given_fields():
    coll = Collection(nullable_schema)
    request = coll.upsert_rows([{"id": "a", "s": "new"}, {"id": "b", "s": None}], partial_update=True)
    batch = coll.to_arrow(request, partial_update=True)
    assert batch.schema.names == ["_row_id", "_ts", "id", "s"]
    assert batch.column("s").to_pylist() == ["new", None]


def test_a_field_added_later_reads_back_as_null_or_default(reader):
    coll = Collection(nullable_schema)
    batch = coll.to_arrow(coll.insert_rows([{"id": "a", "v": [1, 2]}]))
    old_rows = batch.drop_columns(["s", "dflt_i"])
    assert reader.query(coll, old_rows, ["id", "s", "dflt_i"]) == [{"id": "a", "s": None, "dflt_i": -5}]
    with pytest.raises(SchemaError, match="field v"):
        arrow_to_fields(coll.model, batch.drop_columns(["v"]), ["v"])
