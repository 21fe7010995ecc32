"""Facts about Milvus data types: where a column travels in ``FieldData`` and its Arrow type.

Arrow types chosen for stored rows:

================  ===================================  ====================================
Milvus type       Arrow type                           notes
================  ===================================  ====================================
Bool              bool
Int8/16/32/64     int8 / int16 / int32 / int64
Float / Double    float32 / float64
VarChar, Text     string (utf8)                        String is refused by validation
JSON              binary                               the exact JSON bytes the client sent
Array             list<element type>                   element VarChar -> list<string>
FloatVector       fixed_size_list<float32>[dim]
BinaryVector      fixed_size_binary[dim / 8]
Float16Vector     fixed_size_binary[2 * dim]           IEEE half, little endian
BFloat16Vector    fixed_size_binary[2 * dim]           bfloat16, little endian
Int8Vector        fixed_size_binary[dim]               int8 per element
SparseFloatVector binary                               rows of (uint32 index, float32 value)
================  ===================================  ====================================
"""

from __future__ import annotations

import pyarrow as pa

from milvus.grpc_gen import schema_pb2 as spb

# Types newer than some pymilvus releases' protocol; schema.proto fixes their numbers.
TEXT: int = getattr(spb, "Text", 25)
INT8_VECTOR: int = getattr(spb, "Int8Vector", 105)
ARRAY_OF_VECTOR: int = getattr(spb, "ArrayOfVector", 106)

# FieldData.scalars.<slot> for each scalar type.
SCALAR_SLOT: dict[int, str] = {
    spb.Bool: "bool_data",
    spb.Int8: "int_data",
    spb.Int16: "int_data",
    spb.Int32: "int_data",
    spb.Int64: "long_data",
    spb.Float: "float_data",
    spb.Double: "double_data",
    spb.String: "string_data",
    spb.VarChar: "string_data",
    TEXT: "string_data",
    spb.JSON: "json_data",
    spb.Array: "array_data",
}

# FieldData.vectors.<slot> for each vector type.
VECTOR_SLOT: dict[int, str] = {
    spb.FloatVector: "float_vector",
    spb.BinaryVector: "binary_vector",
    spb.Float16Vector: "float16_vector",
    spb.BFloat16Vector: "bfloat16_vector",
    INT8_VECTOR: "int8_vector",
    spb.SparseFloatVector: "sparse_float_vector",
}

# Vectors whose payload is raw bytes: bytes per row = dim * numerator // denominator.
_BYTES_PER_ROW: dict[int, tuple[int, int]] = {
    spb.BinaryVector: (1, 8),
    spb.Float16Vector: (2, 1),
    spb.BFloat16Vector: (2, 1),
    INT8_VECTOR: (1, 1),
}

ARRAY_ELEMENT_TYPES = frozenset(
    {spb.Bool, spb.Int8, spb.Int16, spb.Int32, spb.Int64, spb.Float, spb.Double, spb.VarChar}
)
STRING_TYPES = frozenset({spb.VarChar, spb.String, TEXT})
INTEGER_TYPES = frozenset({spb.Int8, spb.Int16, spb.Int32, spb.Int64})
# Types this implementation stores and serves (validation refuses the others).
SUPPORTED_TYPES = frozenset(SCALAR_SLOT) - {spb.String} | frozenset(VECTOR_SLOT)

_SCALAR_ARROW: dict[int, pa.DataType] = {
    spb.Bool: pa.bool_(),
    spb.Int8: pa.int8(),
    spb.Int16: pa.int16(),
    spb.Int32: pa.int32(),
    spb.Int64: pa.int64(),
    spb.Float: pa.float32(),
    spb.Double: pa.float64(),
    spb.String: pa.string(),
    spb.VarChar: pa.string(),
    TEXT: pa.string(),
    spb.JSON: pa.binary(),
}

INT_RANGE: dict[int, tuple[int, int]] = {
    spb.Int8: (-(2**7), 2**7 - 1),
    spb.Int16: (-(2**15), 2**15 - 1),
    spb.Int32: (-(2**31), 2**31 - 1),
    spb.Int64: (-(2**63), 2**63 - 1),
}


def type_name(data_type: int) -> str:
    """The Milvus spelling of a type ("Int64", "FloatVector"), as in its error messages."""
    try:
        return spb.DataType.Name(data_type)
    except ValueError:
        return str(data_type)


def is_vector(data_type: int) -> bool:
    return data_type in VECTOR_SLOT


def is_dense_vector(data_type: int) -> bool:
    return data_type in VECTOR_SLOT and data_type != spb.SparseFloatVector


def vector_row_bytes(data_type: int, dim: int) -> int:
    """Bytes per row of a byte-payload vector type (binary, float16, bfloat16, int8)."""
    num, den = _BYTES_PER_ROW[data_type]
    return dim * num // den


def arrow_type(data_type: int, *, element_type: int = 0, dim: int | None = None) -> pa.DataType:
    """The Arrow type of a stored column of ``data_type``."""
    if data_type in _SCALAR_ARROW:
        return _SCALAR_ARROW[data_type]
    if data_type == spb.Array:
        if element_type not in ARRAY_ELEMENT_TYPES:
            raise ValueError(f"unsupported array element type {type_name(element_type)}")
        return pa.list_(_SCALAR_ARROW[element_type])
    if data_type == spb.SparseFloatVector:
        return pa.binary()
    if data_type == spb.FloatVector:
        return pa.list_(pa.float32(), _require_dim(data_type, dim))
    if data_type in _BYTES_PER_ROW:
        return pa.binary(vector_row_bytes(data_type, _require_dim(data_type, dim)))
    raise ValueError(f"data type {type_name(data_type)} has no Arrow mapping")


def _require_dim(data_type: int, dim: int | None) -> int:
    if dim is None or dim <= 0:
        raise ValueError(f"{type_name(data_type)} needs a positive dim, got {dim}")
    return dim
