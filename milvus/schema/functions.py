"""A collection's functions: checking them, linking them to their fields, computing outputs.

Only BM25 is supported: one VARCHAR input field with ``enable_analyzer`` and an analyzer this
server has (``milvus.schema.analyzer_params``), one SPARSE_FLOAT_VECTOR output field that the server fills from the input on every
insert and upsert (a client may not write it, nor read it back).

A function added to an existing collection (``add_function_field``) finds rows written
without its output.  Its output field's Arrow field carries how to compute it
(``FUNCTION_KEY`` metadata: the function type, its input field by name and id, the input's
analyzer), as a field's default travels with it (``milvus.schema.evolve``): whichever role
brings older rows to the newer shape (a query node loading a segment or holding growing
rows, a data node writing its buffer, a compaction) computes their output from their input
(``output_from_spec``); an index node building the output's index is handed the same spec.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from milvus.grpc_gen import schema_pb2 as spb
from milvus.schema import datatypes as dt
from milvus.schema.analyzer import Analyzer
from milvus.schema.analyzer_params import (
    ANALYZER_PARAMS_KEY,
    MULTI_ANALYZER_PARAMS_KEY,
    analyzer_enabled,
    field_analyzer,
    field_analyzer_problem,
)
from milvus.schema.errors import invalid

START_OF_FUNCTION_ID = 100  # Milvus numbers functions from 100, like fields


def _type_name(function_type: int) -> str:
    try:
        return spb.FunctionType.Name(function_type)
    except ValueError:
        return str(function_type)


def validate_functions(schema: spb.CollectionSchema) -> None:
    """Raise ``SchemaError`` unless every function of a new collection is a valid BM25 function."""
    by_name = {f.name: f for f in schema.fields}
    names: set[str] = set()
    outputs: dict[str, str] = {}
    for fn in schema.functions:
        if not fn.name.strip():
            raise invalid("function name cannot be empty")
        if fn.name in names:
            raise invalid(f"duplicate function name {fn.name}")
        names.add(fn.name)
        if fn.type != spb.FunctionType.BM25:
            raise invalid(f"function {fn.name}: function type {_type_name(fn.type)} is not supported by "
                          "this server (only BM25)")
        _check_bm25(fn, by_name)
        out = fn.output_field_names[0]
        if out in outputs:
            raise invalid(f"duplicate function output {out}: it is the output of functions "
                          f"{outputs[out]} and {fn.name}")
        outputs[out] = fn.name
    for f in schema.fields:
        if f.is_function_output and f.name not in outputs:
            raise invalid(f"field {f.name} is marked as a function output but no function outputs it")


def _check_bm25(fn: spb.FunctionSchema, by_name: Mapping[str, spb.FieldSchema]) -> None:
    ins, outs = list(fn.input_field_names), list(fn.output_field_names)
    if len(ins) != 1:
        raise invalid(f"BM25 function {fn.name} needs exactly 1 input field, got {len(ins)}")
    if len(outs) != 1:
        raise invalid(f"BM25 function {fn.name} needs exactly 1 output field, got {len(outs)}")
    if ins[0] == outs[0]:
        raise invalid(f"a single field cannot be both input and output in the same function, "
                      f"function: {fn.name}, field: {ins[0]}")
    if len(fn.params):
        raise invalid(f"BM25 function {fn.name} accepts no params")
    source = by_name.get(ins[0])
    if source is None:
        raise invalid(f"function input field not found: {ins[0]} (function {fn.name})")
    if source.data_type != spb.VarChar:
        raise invalid(f"BM25 function input field must be a VARCHAR field, got field {source.name} "
                      f"with data type {dt.type_name(source.data_type)}")
    params = {kv.key: kv.value for kv in source.type_params}
    if not analyzer_enabled(params):
        raise invalid(f"BM25 function input field {source.name} must set enable_analyzer to true")
    problem = field_analyzer_problem(params)
    if problem is not None:
        raise invalid(f"field {source.name}: {problem}")
    target = by_name.get(outs[0])
    if target is None:
        raise invalid(f"function output field not found: {outs[0]} (function {fn.name})")
    if target.data_type != spb.SparseFloatVector:
        raise invalid(f"BM25 function output field must be a SparseFloatVector field, got field "
                      f"{target.name} with data type {dt.type_name(target.data_type)}")
    if target.is_primary_key:
        raise invalid(f"function output field cannot be the primary key: function {fn.name}, field {target.name}")
    if target.is_partition_key or target.is_clustering_key:
        raise invalid(f"function output field cannot be a partition key or clustering key: "
                      f"function {fn.name}, field {target.name}")
    if target.nullable:
        raise invalid(f"function output field cannot be nullable: function {fn.name}, field {target.name}")


def link_functions(schema: spb.CollectionSchema) -> None:
    """In place, on a validated schema whose fields have ids: number the functions from 100,
    fill their field ids from the field names and mark their output fields."""
    ids = {f.name: f.fieldID for f in schema.fields}
    outputs: set[str] = set()
    for i, fn in enumerate(schema.functions):
        fn.id = START_OF_FUNCTION_ID + i
        fn.input_field_ids[:] = [ids[n] for n in fn.input_field_names if n in ids]
        fn.output_field_ids[:] = [ids[n] for n in fn.output_field_names if n in ids]
        outputs.update(fn.output_field_names)
    for f in schema.fields:
        if f.name in outputs:
            f.is_function_output = True


def compute_output(function_type: int, inputs: list[pa.Array], analyzer: Analyzer) -> pa.Array:
    """The output column of a function over its input columns (``analyzer``: its input field's)."""
    if function_type != spb.FunctionType.BM25:
        raise invalid(f"function type {_type_name(function_type)} is not supported by this server")
    return analyzer.bm25_rows(inputs[0])


FUNCTION_KEY = b"milvus:function"  # Arrow field metadata of a function output: how to compute it
FUNCTION_SPEC_PARAM = "milvus.function"  # the same, in the type params of the output's index builds


def output_spec(function_type: int, inputs: list[tuple[str, int, Mapping[str, str]]]) -> bytes:
    """The ``FUNCTION_KEY`` value of an output of a ``function_type`` function over ``inputs``
    ((name, field id, type params) of each input field, in order)."""
    return json.dumps({
        "type": int(function_type),
        "inputs": [[name, field_id] for name, field_id, _ in inputs],
        "analyzer": {k: v for k, v in inputs[0][2].items() if k in (ANALYZER_PARAMS_KEY, MULTI_ANALYZER_PARAMS_KEY)},
    }, sort_keys=True).encode()


@functools.lru_cache(maxsize=64)
def _spec(raw: bytes) -> tuple[int, tuple[tuple[str, int], ...], Analyzer]:
    spec = json.loads(raw)
    return spec["type"], tuple((n, int(i)) for n, i in spec["inputs"]), field_analyzer(spec["analyzer"])


def output_from_spec(raw: bytes, column: Callable[[str, int], pa.Array | pa.ChunkedArray | None]) -> pa.Array | None:
    """The output column of the function ``raw`` (a ``FUNCTION_KEY`` value) over the rows whose
    input columns ``column(name, field_id)`` gives; None when one of them is missing."""
    function_type, inputs, analyzer = _spec(raw)
    columns = [column(name, field_id) for name, field_id in inputs]
    if any(c is None for c in columns):
        return None
    return compute_output(function_type, list(columns), analyzer)


def complete_output(raw: bytes, col, column: Callable[[str, int], pa.Array | pa.ChunkedArray | None]):
    """A function output's column ``col`` (None: the rows predate the output) with the rows
    that lack it (null) computed from their inputs (``column(name, field_id)``, as in
    ``output_from_spec``); ``col`` as it is when the inputs are missing too."""
    if col is not None and not col.null_count:
        return col
    out = output_from_spec(raw, column)
    if out is None or col is None:
        return out if out is not None else col
    out = out.cast(col.type) if out.type != col.type else out
    chunked = isinstance(col, pa.ChunkedArray)
    whole = col.combine_chunks() if chunked else col
    done = pc.if_else(whole.is_valid(), whole, out)
    return pa.chunked_array([done], type=col.type) if chunked else done
