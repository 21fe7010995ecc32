"""Collection schemas: the model, validation, and FieldData <-> Arrow conversion."""

from milvus.schema.convert import OutputFields, arrow_to_fields, fields_to_arrow, resolve_output_fields
from milvus.schema.errors import SchemaError
from milvus.schema.ipc import batch_to_ipc, ipc_to_batch
from milvus.schema.limits import DEFAULT_LIMITS, SchemaLimits
from milvus.schema.model import (
    DYNAMIC_FIELD_NAME,
    ROW_ID_FIELD,
    TIMESTAMP_FIELD,
    CollectionSchemaModel,
    FieldInfo,
    describe_schema,
    normalize_schema,
)
from milvus.schema.partial import merge_partial_update
from milvus.schema.pk import arrow_to_ids, ids_to_arrow
from milvus.schema.validate import validate_collection_schema, validate_new_field

Schema = CollectionSchemaModel

__all__ = [
    "DEFAULT_LIMITS",
    "DYNAMIC_FIELD_NAME",
    "ROW_ID_FIELD",
    "TIMESTAMP_FIELD",
    "CollectionSchemaModel",
    "FieldInfo",
    "OutputFields",
    "Schema",
    "SchemaError",
    "SchemaLimits",
    "arrow_to_fields",
    "arrow_to_ids",
    "batch_to_ipc",
    "describe_schema",
    "fields_to_arrow",
    "ids_to_arrow",
    "ipc_to_batch",
    "merge_partial_update",
    "normalize_schema",
    "resolve_output_fields",
    "validate_collection_schema",
    "validate_new_field",
]
