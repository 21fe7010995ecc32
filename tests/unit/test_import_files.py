"""Bulk insert files to insert columns: the stored rows of an imported JSON, Parquet or NumPy
file are exactly those of the same rows inserted through pymilvus, and what a file can get
wrong is refused with a reason that names the field."""

from __future__ import annotations

import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pymilvus import DataType

from milvus.schema import SchemaError, fields_to_arrow
from milvus.schema.import_files import (
    NUMPY,
    PARQUET,
    file_format,
    read_json,
    read_numpy,
    read_parquet,
    table_to_fields,
)
from tests.unit.test_schema_support import Collection

DIM = 4


def build(s) -> None:
    s.add_field("id", DataType.INT64, is_primary=True)
    s.add_field("b", DataType.BOOL)
    s.add_field("i8", DataType.INT8)
    s.add_field("f", DataType.FLOAT)
    s.add_field("s", DataType.VARCHAR, max_length=16)
    s.add_field("j", DataType.JSON)
    s.add_field("arr", DataType.ARRAY, element_type=DataType.INT32, max_capacity=4)
    s.add_field("fv", DataType.FLOAT_VECTOR, dim=DIM)
    s.add_field("bv", DataType.BINARY_VECTOR, dim=16)
    s.add_field("hv", DataType.FLOAT16_VECTOR, dim=DIM)
    s.add_field("n", DataType.INT32, nullable=True)


ROWS = [
    {"id": i, "b": i % 2 == 0, "i8": i - 3, "f": i / 4, "s": f"row {i}", "j": {"k": i, "tags": ["a"]},
     "arr": list(range(i % 4)), "fv": [i + 0.5, 1.0, -2.0, 0.25], "bv": [i, 255 - i],
     "hv": [0.5, i, 1.0, 2.0], "n": i if i % 3 else None}
    for i in range(6)
]


def stored(coll: Collection, fields, num_rows: int) -> pa.Table:
    batch = fields_to_arrow(coll.model, fields, num_rows, row_ids=np.arange(num_rows), timestamps=0)
    return pa.Table.from_batches([batch])


def imported(coll: Collection, table: pa.Table) -> pa.Table:
    return stored(coll, table_to_fields(coll.model, table), table.num_rows)


def same(got: pa.Table, want: pa.Table) -> bool:
    """Equal tables, JSON columns compared as values (a file's JSON text is kept as written)."""
    assert got.column_names == want.column_names
    for name in got.column_names:
        a, b = got.column(name), want.column(name)
        if pa.types.is_binary(a.type) and name in ("j", "$meta"):
            a, b = [json.loads(v) for v in a.to_pylist()], [json.loads(v) for v in b.to_pylist()]
        assert a == b, name
    return True


def expected(coll: Collection, rows) -> pa.Table:
    # pymilvus sends float16 vectors as numpy arrays
    rows = [{**r, "hv": np.asarray(r["hv"], dtype=np.float16), "bv": bytes(r["bv"])} for r in rows]
    request = coll.insert_rows(rows)
    return stored(coll, request.fields_data, request.num_rows)


@pytest.fixture
def coll() -> Collection:
    return Collection(build)


def parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def test_json_rows_in_either_shape_equal_an_insert(coll):
    want = expected(coll, ROWS)
    assert imported(coll, read_json(coll.model, json.dumps({"rows": ROWS}).encode())).equals(want)
    assert imported(coll, read_json(coll.model, json.dumps(ROWS).encode())).equals(want)


def test_parquet_columns_equal_an_insert(coll):
    columns = {name: [r[name] for r in ROWS] for name in ROWS[0]}
    columns["j"] = [json.dumps(v) for v in columns["j"]]  # JSON fields as JSON text
    table = pa.table({**columns, "fv": pa.array(columns["fv"], pa.list_(pa.float32(), DIM)),
                      "n": pa.array(columns["n"], pa.int32())})
    assert same(imported(coll, read_parquet(coll.model, parquet(table))), expected(coll, ROWS))


def test_numpy_files_equal_an_insert(coll):
    def npy(values, dtype=None) -> bytes:
        out = io.BytesIO()
        np.save(out, np.asarray(values, dtype=dtype))
        return out.getvalue()

    rows = [{**r, "n": 7} for r in ROWS]  # NumPy has no nulls
    files = {f"dir/{name}.npy": npy([r[name] for r in rows]) for name in ("id", "b", "i8", "f", "s", "n")}
    files["dir/arr.npy"] = npy([[1, 2]] * len(rows))
    rows = [{**r, "arr": [1, 2]} for r in rows]
    files["dir/j.npy"] = npy([json.dumps(r["j"]) for r in rows])
    files["dir/fv.npy"] = npy([r["fv"] for r in rows], np.float32)
    files["dir/bv.npy"] = npy([r["bv"] for r in rows], np.uint8)
    files["dir/hv.npy"] = npy([r["hv"] for r in rows], np.float16)
    assert file_format(list(files)) == NUMPY
    assert same(imported(coll, read_numpy(coll.model, files)), expected(coll, rows))


def test_dynamic_keys_and_auto_id():
    coll = Collection(lambda s: (s.add_field("pk", DataType.INT64, is_primary=True, auto_id=True),
                                 s.add_field("v", DataType.FLOAT_VECTOR, dim=2)), enable_dynamic_field=True)
    rows = [{"v": [1, 2], "color": "red"}, {"v": [3, 4], "$meta": {"size": 3}}, {"v": [5, 6]}]
    table = read_json(coll.model, json.dumps(rows).encode())
    assert table.column_names == ["v", "$meta"]
    assert [json.loads(m) for m in table.column("$meta").to_pylist()] == [{"color": "red"}, {"size": 3}, {}]
    with pytest.raises(SchemaError, match="primary key 'pk' is auto-generated"):
        read_json(coll.model, json.dumps([{"pk": 1, "v": [1, 2]}]).encode())


@pytest.mark.parametrize("rows, message", [
    ([{**ROWS[0], "fv": [1.0, 2.0]}], r"field 'fv' \(FloatVector\) has dim 4: each vector must hold 4, got 2"),
    ([{k: v for k, v in ROWS[0].items() if k != "f"}], "field 'f' is missing from the file"),
    ([{**ROWS[0], "extra": 1}], "field 'extra' is not defined in the collection schema"),
    ([{**ROWS[0], "i8": 1000}], r"field 'i8' \(Int8\): .*not in range"),
    ([{**ROWS[0], "i8": 1.5}], r"field 'i8' \(Int8\): .*truncated"),
    ([{**ROWS[0], "s": 5}], r"field 's' \(VarChar\)"),
    ([{**ROWS[0], "b": None}], "field 'b' .* is not nullable, row 0 has no value"),
    ([ROWS[0], {**ROWS[1], "fv": [1.0, 2.0]}], "the rows' vectors differ in length"),
    ([], "the file holds no rows"),
    ([1], "row 0 of the file is not a JSON object"),
])
def test_json_mistakes_are_refused_with_a_reason(coll, rows, message):
    with pytest.raises(SchemaError, match=message):
        read_json(coll.model, json.dumps(rows).encode())


def test_bad_files_and_formats(coll):
    with pytest.raises(SchemaError, match="not valid JSON"):
        read_json(coll.model, b"{nope")
    with pytest.raises(SchemaError, match="not a valid Parquet file"):
        read_parquet(coll.model, b"nope")
    with pytest.raises(SchemaError, match="cannot be read from a string column"):
        read_parquet(coll.model, parquet(pa.table({**{k: [v] for k, v in ROWS[1].items()}, "f": ["1.5"]})))
    assert file_format(["a/b.parquet"]) == PARQUET
    for files, message in ((["a.json", "b.json"], "one json file per import"), ([], "at least one file"),
                           (["a.csv"], "unsupported file type"), (["a.npy", "b.json"], "all be of one type")):
        with pytest.raises(SchemaError, match=message):
            file_format(files)
