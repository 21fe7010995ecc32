"""Size limits checked by schema validation and column conversion (Milvus proxy defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchemaLimits:
    max_name_length: int = 255  # proxy.maxNameLength
    max_field_num: int = 64  # proxy.maxFieldNum
    max_vector_field_num: int = 10  # proxy.maxVectorFieldNum
    max_dimension: int = 32768  # proxy.maxDimension (binary vectors: 8x)
    max_varchar_length: int = 65535  # proxy.maxVarCharLength
    max_array_capacity: int = 4096  # proxy.maxArrayCapacity
    max_json_length: int = 65536  # common.JSONMaxLength, bytes per JSON value


DEFAULT_LIMITS = SchemaLimits()
