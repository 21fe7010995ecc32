"""The index catalog (Milvus' index meta): field indexes and segment index builds.

The only code that knows where they live in the meta store.  Keys, under the KV it is given
(already rooted at the cluster's meta prefix), as Milvus lays them out::

    field-index/{collection}/{index}                             FieldIndex
    segment-index/{collection}/{partition}/{segment}/{build}     SegmentIndex

A dropped index is first marked ``deleted`` (with its builds) so that garbage collection can
still find its files; records are removed only once the files are gone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from milvus._proto import datacoord_pb2
from milvus.kv.base import KV, Delete, Op, Put

_FIELD_INDEX = "field-index/"
_SEGMENT_INDEX = "segment-index/"
MAX_TXN_OPS = 64


def field_index_key(collection_id: int, index_id: int) -> str:
    return f"{_FIELD_INDEX}{collection_id}/{index_id}"


def segment_index_key(s: datacoord_pb2.SegmentIndex) -> str:
    return f"{_SEGMENT_INDEX}{s.collectionID}/{s.partitionID}/{s.segmentID}/{s.buildID}"


def _encode(message) -> bytes:
    return message.SerializeToString(deterministic=True)


class IndexCatalog:
    def __init__(self, kv: KV):
        self._kv = kv

    def _commit(self, ops: Sequence[Op]) -> None:
        for start in range(0, len(ops), MAX_TXN_OPS):
            self._kv.txn([], list(ops[start:start + MAX_TXN_OPS]))

    # ---- field indexes -----------------------------------------------------------------

    def save_field_indexes(self, indexes: Iterable[datacoord_pb2.FieldIndex]) -> None:
        self._commit([Put(field_index_key(i.collectionID, i.indexID), _encode(i)) for i in indexes])

    def drop_field_indexes(self, indexes: Iterable[datacoord_pb2.FieldIndex]) -> None:
        self._commit([Delete(field_index_key(i.collectionID, i.indexID)) for i in indexes])

    def list_field_indexes(self) -> list[datacoord_pb2.FieldIndex]:
        return [datacoord_pb2.FieldIndex.FromString(kv.value) for kv in self._kv.range(_FIELD_INDEX)]

    # ---- segment indexes ---------------------------------------------------------------

    def save_segment_indexes(self, builds: Iterable[datacoord_pb2.SegmentIndex]) -> None:
        self._commit([Put(segment_index_key(b), _encode(b)) for b in builds])

    def drop_segment_indexes(self, builds: Iterable[datacoord_pb2.SegmentIndex]) -> None:
        self._commit([Delete(segment_index_key(b)) for b in builds])

    def list_segment_indexes(self) -> list[datacoord_pb2.SegmentIndex]:
        return [datacoord_pb2.SegmentIndex.FromString(kv.value) for kv in self._kv.range(_SEGMENT_INDEX)]
