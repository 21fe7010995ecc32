"""The indexes of a sealed segment on a query node: loading them from object storage and
searching with them.  Scalar indexes load the same way and are handed to the filter
(``filter_indexes``).

A sealed segment holds one ``SegmentIndex`` per indexed field, replaced as a whole (one
assignment) when the query coordinator hands over a new set, so a reader sees the old
indexes or the new ones, never a mix.  A build without files (a segment too small to index)
is recorded too but searched exactly.

Search with an index (``index_candidates``) keeps the exact contract where an index cannot:
when the filter leaves few rows (below ``EXACT_BELOW`` of the segment) or an index returns
fewer hits than the visible rows allow, that query is answered exactly instead; a range
search asks the index for more candidates until the range is covered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from milvus import errors
from milvus._proto import datacoord_pb2
from milvus.index import LoadedIndex, ScalarIndex, load_index
from milvus.querynode import distance
from milvus.querynode.segments import SegmentView
from milvus.schema import CollectionSchemaModel
from milvus.storage.base import ObjectStorage

log = logging.getLogger(__name__)

# a filter keeping less than this share of a segment's rows is searched exactly
EXACT_BELOW = 0.05


@dataclass(frozen=True)
class SegmentIndex:
    build_id: int
    field_id: int
    index_name: str
    index: LoadedIndex | ScalarIndex | None  # None: no files (too small to index), searched exactly


def _reader(storage: ObjectStorage, keys: Iterable[str]) -> Callable[[str], bytes]:
    by_name = {key.rsplit("/", 1)[-1]: key for key in keys}

    def read(name: str) -> bytes:
        key = by_name.get(name)
        if key is None:
            raise errors.IoKeyNotFound(f"index file {name} is not among {sorted(by_name)}")
        try:
            return storage.get(key)
        except KeyError:
            raise errors.IoKeyNotFound(f"object {key} does not exist") from None
    return read


def load_segment_indexes(storage: ObjectStorage, infos: Iterable[datacoord_pb2.IndexFilePathInfo], num_rows: int,
                         current: Mapping[int, SegmentIndex], local_dir: Path | None) -> dict[int, SegmentIndex]:
    """The indexes ``infos`` names, by field: already loaded builds are reused, others loaded."""
    out: dict[int, SegmentIndex] = {}
    for info in infos:
        have = current.get(info.fieldID)
        if have is not None and have.build_id == info.buildID:
            out[info.fieldID] = have
            continue
        loaded = None
        if info.index_file_keys:
            try:
                loaded = load_index(_reader(storage, info.index_file_keys), local_dir, build_id=info.buildID,
                                    version=info.index_version)
                if loaded.num_rows != num_rows:
                    raise errors.ServiceInternal(f"index build {info.buildID} covers {loaded.num_rows} rows, "
                                                 f"segment {info.segmentID} has {num_rows}")
            except Exception as exc:  # noqa: BLE001 - the segment serves without it; retried next round
                log.warning("index build %d of segment %d not loaded: %s", info.buildID, info.segmentID, exc)
                if have is not None:
                    out[info.fieldID] = have
                continue
        out[info.fieldID] = SegmentIndex(info.buildID, info.fieldID, info.index_name, loaded)
    return out


def filter_indexes(view: SegmentView, schema: CollectionSchemaModel) -> dict[str, ScalarIndex]:
    """The scalar indexes of a sealed segment's fields by column name (for the filter), those
    built over exactly the view's rows and the column's own values."""
    indexes = getattr(view.segment, "indexes", None)
    # a column filled here for rows older than its field: an index built from the insert logs
    # saw nulls there, not the field's default, so the column itself is read
    backfilled = getattr(view.segment, "backfilled", frozenset())
    out: dict[str, ScalarIndex] = {}
    for field_id, entry in (indexes or {}).items():
        index = entry.index
        if isinstance(index, ScalarIndex) and index.num_rows == view.num_rows:
            name = next((f.name for f in schema.fields if f.field_id == field_id), None)
            if name is not None and name not in backfilled:
                out[name] = index
    return out


def index_candidates(index: LoadedIndex, queries, nq: int, topk: int, metric: str, params: Mapping,
                     mask: np.ndarray, visible: int, radius: float | None,
                     range_filter: float | None) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[int]]:
    """Per query (rank keys, row offsets) from the index, and the queries it could not answer
    in full (to be searched exactly)."""
    n = len(mask)
    allowed = None if visible == n else mask
    k = min(topk, visible)
    ranged = radius is not None or range_filter is not None
    want = k
    while True:
        asked = dict(params)
        for key in ("ef", "search_list"):  # widened for a range search: at least as many candidates
            if want > k and key in asked:
                try:
                    asked[key] = max(int(asked[key]), want)
                except (TypeError, ValueError):
                    pass  # the index reports the bad value
        scores, labels = index.search(queries, want, asked, allowed)
        keys = distance.rank_key(scores.astype(np.float32, copy=False), metric).astype(np.float32, copy=False)
        keys[labels < 0] = np.inf
        inside = keys.copy()
        distance.range_filter_keys(inside, metric, radius, range_filter)
        if not ranged or want >= visible:
            break
        # more candidates may be in range when every one returned still is
        last = keys[:, -1]
        edge = last.copy()
        distance.range_filter_keys(edge[:, None], metric, radius, None)
        short = (distance.is_hit(inside).sum(axis=1) < k) & distance.is_hit(edge)
        if not short.any():
            break
        want = min(visible, want * 4)
    out = []
    redo = []
    for q in range(nq):
        keep = distance.is_hit(inside[q])
        found = int(keep.sum())
        if not ranged and found < k and not index.exact:
            redo.append(q)  # the index missed rows a filter allows: answer exactly
        out.append((inside[q][keep], labels[q][keep]))
    return out, redo
