"""Index meta of the data coordinator: field indexes and their builds per segment, in memory
and persisted through the index catalog (every change is written before the in-memory copy
is replaced).  Not thread-safe: ``IndexService`` calls it under its lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from milvus._proto import datacoord_pb2
from milvus.grpc_gen import common_pb2
from milvus.metastore.index_catalog import IndexCatalog

UNISSUED = common_pb2.IndexState.Unissued
IN_PROGRESS = common_pb2.IndexState.InProgress
FINISHED = common_pb2.IndexState.Finished
FAILED = common_pb2.IndexState.Failed


def copy_build(build: datacoord_pb2.SegmentIndex) -> datacoord_pb2.SegmentIndex:
    out = datacoord_pb2.SegmentIndex()
    out.CopyFrom(build)
    return out


def kv_dict(pairs: Iterable[common_pb2.KeyValuePair]) -> dict[str, str]:
    return {p.key: p.value for p in pairs}


class IndexMeta:
    def __init__(self, catalog: IndexCatalog):
        self._catalog = catalog
        self._indexes: dict[int, datacoord_pb2.FieldIndex] = {}  # index id -> index
        self._builds: dict[int, datacoord_pb2.SegmentIndex] = {}  # build id -> build
        self._by_segment: dict[int, dict[int, int]] = {}  # segment -> index id -> build id

    def recover(self) -> None:
        self._indexes = {i.indexID: i for i in self._catalog.list_field_indexes()}
        self._builds.clear()
        self._by_segment.clear()
        for build in self._catalog.list_segment_indexes():
            self._put(build)

    # ---- field indexes ----------------------------------------------------------------

    def indexes(self, collection_id: int | None = None, deleted: bool = False) -> list[datacoord_pb2.FieldIndex]:
        return sorted((i for i in self._indexes.values()
                       if (collection_id is None or i.collectionID == collection_id) and i.deleted == deleted),
                      key=lambda i: i.indexID)

    def index(self, index_id: int) -> datacoord_pb2.FieldIndex | None:
        return self._indexes.get(index_id)

    def add_index(self, index: datacoord_pb2.FieldIndex) -> None:
        self._catalog.save_field_indexes([index])
        self._indexes[index.indexID] = index

    def mark_deleted(self, indexes: Iterable[datacoord_pb2.FieldIndex]) -> list[datacoord_pb2.SegmentIndex]:
        """Drop indexes: the index and its builds are marked deleted (GC removes them later);
        returns the builds that were still running."""
        changed_indexes = []
        for index in indexes:
            new = datacoord_pb2.FieldIndex()
            new.CopyFrom(index)
            new.deleted = True
            changed_indexes.append(new)
        ids = {i.indexID for i in changed_indexes}
        changed_builds = [copy_build(b) for b in self._builds.values() if b.indexID in ids and not b.deleted]
        for build in changed_builds:
            build.deleted = True
        self._catalog.save_segment_indexes(changed_builds)
        self._catalog.save_field_indexes(changed_indexes)
        for index in changed_indexes:
            self._indexes[index.indexID] = index
        for build in changed_builds:
            self._put(build)
        return [b for b in changed_builds if b.state == IN_PROGRESS]

    def replace_index(self, index: datacoord_pb2.FieldIndex) -> None:
        self._catalog.save_field_indexes([index])
        self._indexes[index.indexID] = index

    # ---- builds -----------------------------------------------------------------------

    def builds(self, deleted: bool | None = False) -> list[datacoord_pb2.SegmentIndex]:
        return [b for b in self._builds.values() if deleted is None or b.deleted == deleted]

    def build(self, build_id: int) -> datacoord_pb2.SegmentIndex | None:
        return self._builds.get(build_id)

    def build_of(self, segment_id: int, index_id: int) -> datacoord_pb2.SegmentIndex | None:
        build_id = self._by_segment.get(segment_id, {}).get(index_id)
        return self._builds.get(build_id) if build_id is not None else None

    def save_builds(self, builds: list[datacoord_pb2.SegmentIndex]) -> None:
        if not builds:
            return
        self._catalog.save_segment_indexes(builds)
        for build in builds:
            self._put(build)

    def mark_builds_deleted(self, builds: Iterable[datacoord_pb2.SegmentIndex]) -> None:
        changed = []
        for build in builds:
            if not build.deleted:
                new = copy_build(build)
                new.deleted = True
                changed.append(new)
        self.save_builds(changed)

    def forget_builds(self, builds: Iterable[datacoord_pb2.SegmentIndex]) -> None:
        """Remove builds for good (their files are gone), and deleted indexes left with none."""
        gone = [b for b in builds if b.buildID in self._builds]
        self._catalog.drop_segment_indexes(gone)
        for build in gone:
            self._builds.pop(build.buildID, None)
            per = self._by_segment.get(build.segmentID, {})
            if per.get(build.indexID) == build.buildID:
                per.pop(build.indexID)
                if not per:
                    self._by_segment.pop(build.segmentID, None)
        live = {b.indexID for b in self._builds.values()}
        empty = [i for i in self._indexes.values() if i.deleted and i.indexID not in live]
        self._catalog.drop_field_indexes(empty)
        for index in empty:
            self._indexes.pop(index.indexID, None)

    def _put(self, build: datacoord_pb2.SegmentIndex) -> None:
        self._builds[build.buildID] = build
        self._by_segment.setdefault(build.segmentID, {})[build.indexID] = build.buildID
