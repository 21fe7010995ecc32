"""Filter evaluation speed: rows per second of a few expression shapes over one segment of
1M rows x 10 fields (the Arrow table a query node evaluates on), and filtered brute-force
search at 1 % and 50 % selectivity (time and recall against numpy).  Not a test.

    python scripts/bench_filter.py [--rows 1000000] [--repeat 3] [--no-search]

JSON shapes include decoding the JSON column, which happens once per evaluation (and per
segment): that is the one per-row step of the evaluator.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from pymilvus.grpc_gen import common_pb2
from pymilvus.grpc_gen import schema_pb2 as spb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from milvus.expr import compile_filter  # noqa: E402
from milvus.querynode.read import SegmentRows  # noqa: E402
from milvus.querynode.search import make_plan, search  # noqa: E402
from milvus.querynode.segments import SealedSegment  # noqa: E402
from milvus.schema import CollectionSchemaModel  # noqa: E402

DIM = 16
SHAPES = [
    ("int compare", "age > 30"),
    ("range and float", "10 < age <= 50 and score > 0.5"),
    ("string in", "category in ['c1', 'c3', 'c7']"),
    ("like prefix", "name like 'user_12%'"),
    ("arith or bool", "age % 7 == 0 or flag"),
    ("nullable not", "not (price < 100.0) and name is not null"),
    ("array contains", "array_contains(nums, 3)"),
    ("array element", "nums[0] + 1 == 4"),
    ("json path", "info['k'] == 3"),
    ("dynamic key", "color == 'red' and size < 500000"),
    ("scalar then json", "age < 10 and info['k'] == 3"),
    ("mixed", "(age < 20 or category == 'c2') and score >= 0.25 and not (flag) and price is not null"),
]


def _field(name: str, data_type: int, **kw) -> spb.FieldSchema:
    out = spb.FieldSchema(name=name, data_type=data_type)
    for key, value in kw.items():
        if key == "params":
            for k, v in value.items():
                out.type_params.add(key=k, value=str(v))
        else:
            setattr(out, key, value)
    return out


def make_schema() -> CollectionSchemaModel:
    return CollectionSchemaModel(spb.CollectionSchema(name="bench", enable_dynamic_field=True, fields=[
        _field("id", spb.Int64, is_primary_key=True),
        _field("age", spb.Int32),
        _field("score", spb.Float),
        _field("price", spb.Double, nullable=True),
        _field("flag", spb.Bool),
        _field("name", spb.VarChar, nullable=True, params={"max_length": 32}),
        _field("category", spb.VarChar, params={"max_length": 8}),
        _field("nums", spb.Array, element_type=spb.Int64, params={"max_capacity": 4}),
        _field("info", spb.JSON),
        _field("vec", spb.FloatVector, params={"dim": DIM}),
    ]))


def make_table(schema: CollectionSchemaModel, n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    arrow = schema.arrow_schema
    price = rng.random(n) * 200
    price_mask = rng.random(n) < 0.1
    name_null = rng.random(n) < 0.05
    names = pa.array([None if null else f"user_{i}" for i, null in enumerate(name_null.tolist())], type=pa.string())
    lengths = rng.integers(0, 5, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    nums = pa.ListArray.from_arrays(pa.array(offsets), pa.array(rng.integers(0, 10, offsets[-1])))
    ks = rng.integers(0, 10, n)
    info = [json.dumps({"k": int(k), "tag": f"t{k}"}).encode() for k in ks]
    colors = np.array(["red", "green", "blue", "black"])[rng.integers(0, 4, n)]
    meta = [json.dumps({"color": c, "size": i}).encode() for i, c in enumerate(colors)]
    vecs = rng.random((n, DIM), dtype=np.float32)
    columns = {
        "_row_id": pa.array(np.arange(n, dtype=np.int64)),
        "_ts": pa.array(np.ones(n, dtype=np.uint64)),
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "age": pa.array(rng.integers(0, 100, n).astype(np.int32)),
        "score": pa.array(rng.random(n, dtype=np.float32)),
        "price": pa.array(price, mask=price_mask),
        "flag": pa.array(rng.random(n) < 0.3),
        "name": names,
        "category": pa.array(np.array([f"c{i}" for i in range(10)])[rng.integers(0, 10, n)]),
        "nums": nums,
        "info": pa.array(info, type=pa.binary()),
        "vec": pa.FixedSizeListArray.from_arrays(pa.array(vecs.ravel()), DIM),
        "$meta": pa.array(meta, type=pa.binary()),
    }
    return pa.Table.from_arrays([columns[f.name].cast(f.type) for f in arrow], schema=arrow)


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_filters(schema: CollectionSchemaModel, table: pa.Table, repeat: int) -> None:
    n = table.num_rows
    print(f"filter evaluation over {n:,} rows x {len(schema.fields)} fields (best of {repeat})")
    print(f"{'shape':18s} {'selected':>9s} {'compile ms':>11s} {'eval ms':>9s} {'rows/s':>14s}  expression")
    for label, expr in SHAPES:
        compile_s = _best(lambda e=expr: compile_filter(schema, e), repeat)
        compiled = compile_filter(schema, expr)
        mask = compiled(table)
        eval_s = _best(lambda c=compiled: c(table), repeat)
        print(f"{label:18s} {mask.mean():9.2%} {compile_s * 1e3:11.3f} {eval_s * 1e3:9.1f} {n / eval_s:14,.0f}  {expr}")


def bench_filtered_search(schema: CollectionSchemaModel, table: pa.Table, repeat: int) -> None:
    n = table.num_rows
    segment = SealedSegment(1, 1, 1, "bench-ch", table)
    view = segment.view()
    vecs = np.asarray(table.column("vec").combine_chunks().values.to_numpy()).reshape(n, DIM)
    ids = np.arange(n)
    rng = np.random.default_rng(1)
    queries = rng.random((4, DIM), dtype=np.float32)
    group = common_pb2.PlaceholderGroup(placeholders=[common_pb2.PlaceholderValue(
        tag="$0", type=common_pb2.PlaceholderType.FloatVector, values=[q.tobytes() for q in queries])])
    topk = 10
    plan = make_plan(schema, "vec", "L2", group.SerializeToString(), topk, b"")
    print(f"\nfiltered search, {n:,} rows, dim {DIM}, nq {len(queries)}, top {topk}, L2 (best of {repeat})")
    print(f"{'filter':28s} {'selected':>9s} {'filter ms':>10s} {'search ms':>10s} {'recall':>7s}")
    for expr in ("age == 42", "id % 2 == 0"):
        compiled = compile_filter(schema, expr)
        filter_s = _best(lambda c=compiled: c(table), repeat)
        mask = compiled(table)
        rows = [SegmentRows(view, mask)]
        search_s = _best(lambda r=rows: search(plan, r, "id"), repeat)
        hits = search(plan, rows, "id")
        got = hits.pks.to_numpy()
        starts = np.concatenate([[0], np.cumsum(hits.topks)])
        recall = []
        for qi, q in enumerate(queries):
            d = ((vecs[mask] - q) ** 2).sum(axis=1)
            truth = ids[mask][np.lexsort((ids[mask], d))][:topk]
            recall.append(len(set(truth) & set(got[starts[qi]:starts[qi + 1]])) / topk)
        print(f"{expr:28s} {mask.mean():9.2%} {filter_s * 1e3:10.1f} {search_s * 1e3:10.1f} {np.mean(recall):7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-search", action="store_true")
    args = parser.parse_args()
    schema = make_schema()
    start = time.perf_counter()
    table = make_table(schema, args.rows)
    print(f"built {args.rows:,} rows in {time.perf_counter() - start:.1f}s "
          f"({table.nbytes / 2**20:.0f} MiB of Arrow)\n")
    bench_filters(schema, table, args.repeat)
    if not args.no_search:
        bench_filtered_search(schema, table, args.repeat)


if __name__ == "__main__":
    main()
