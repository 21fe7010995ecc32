"""Helpers shared by the schema tests (no tests here): drive pymilvus' own request building
and result parsing, so the tests check what the real client sends and reads."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
from pymilvus import MilvusClient
from pymilvus.client.abstract import CollectionSchema as DescribedSchema
from pymilvus.client.grpc_handler import GrpcHandler
from pymilvus.client.prepare import Prepare
from pymilvus.client.search_result import SearchResult
from pymilvus.grpc_gen import common_pb2, milvus_pb2, schema_pb2

from milvus.schema import (
    CollectionSchemaModel,
    arrow_to_fields,
    arrow_to_ids,
    fields_to_arrow,
    normalize_schema,
    resolve_output_fields,
    validate_collection_schema,
)


class Collection:
    """A collection as the server stores it plus the schema dict pymilvus caches for it."""

    def __init__(self, build: Callable, *, name: str = "coll", **schema_kwargs) -> None:
        client_schema = MilvusClient.create_schema(**schema_kwargs)
        build(client_schema)
        request = Prepare.create_collection_request(name, client_schema)
        proto = schema_pb2.CollectionSchema.FromString(request.schema)
        validate_collection_schema(proto, collection_name=name)
        self.name = name
        self.model = CollectionSchemaModel(normalize_schema(proto))
        described = milvus_pb2.DescribeCollectionResponse(status=common_pb2.Status(),
                                                          schema=self.model.describe())
        self.info = DescribedSchema(described).dict()

    def insert_rows(self, rows: list[dict]) -> milvus_pb2.InsertRequest:
        request = Prepare.row_insert_param(self.name, rows, "", self.info["fields"],
                                           self.info["struct_array_fields"],
                                           enable_dynamic=self.info["enable_dynamic_field"])
        return milvus_pb2.InsertRequest.FromString(request.SerializeToString())  # off the wire

    def insert_columns(self, entities: list[dict]) -> milvus_pb2.InsertRequest:
        request = Prepare.batch_insert_param(self.name, entities, "", self.info["fields"])
        return milvus_pb2.InsertRequest.FromString(request.SerializeToString())

    def upsert_rows(self, rows: list[dict], *, partial_update: bool = False) -> milvus_pb2.UpsertRequest:
        request = Prepare.row_upsert_param(self.name, rows, "", self.info["fields"],
                                           self.info["struct_array_fields"],
                                           enable_dynamic=self.info["enable_dynamic_field"],
                                           partial_update=partial_update)
        return milvus_pb2.UpsertRequest.FromString(request.SerializeToString())

    def to_arrow(self, request, *, first_row_id: int = 1000, ts: int = 42, **kwargs) -> pa.RecordBatch:
        row_ids = np.arange(first_row_id, first_row_id + request.num_rows, dtype=np.int64)
        return fields_to_arrow(self.model, request.fields_data, request.num_rows, row_ids=row_ids,
                               timestamps=ts, **kwargs)


class ResultReader:
    """Parses query and search results with pymilvus' own code."""

    def __init__(self) -> None:
        self.handler = GrpcHandler(address="127.0.0.1:1")  # never dialled: the stub is replaced
        self._response: milvus_pb2.QueryResults | None = None
        self.handler._stub = self

    def Query(self, request, timeout=None, metadata=None):  # noqa: N802 - the gRPC stub method
        return self._response

    def query(self, collection: Collection, rows: pa.RecordBatch | pa.Table,
              output_fields: Sequence[str]) -> list[dict]:
        fields_data = arrow_to_fields(collection.model, rows, output_fields)
        names = resolve_output_fields(collection.model, output_fields).names
        self._response = milvus_pb2.QueryResults(status=common_pb2.Status(), fields_data=fields_data,
                                                 output_fields=names, collection_name=collection.name)
        wire = milvus_pb2.QueryResults.FromString(self._response.SerializeToString())
        self._response = wire
        return list(self.handler.query(collection.name, "", output_fields=list(output_fields)))

    @staticmethod
    def search(collection: Collection, hits: pa.RecordBatch | pa.Table, topks: Sequence[int],
               output_fields: Sequence[str]) -> SearchResult:
        pk = collection.model.primary_field.name
        data = schema_pb2.SearchResultData(
            num_queries=len(topks), top_k=max(topks), topks=list(topks),
            ids=arrow_to_ids(hits.column(pk)), scores=[float(i) for i in range(hits.num_rows)],
            fields_data=arrow_to_fields(collection.model, hits, output_fields),
            output_fields=resolve_output_fields(collection.model, output_fields).names,
            primary_field_name=pk)
        wire = schema_pb2.SearchResultData.FromString(data.SerializeToString())
        return SearchResult(wire)

    def close(self) -> None:
        self.handler.close()
