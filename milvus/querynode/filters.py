"""Where the filter language plugs in.

The query node does not parse expressions itself: it is given a ``FilterCompiler`` that
turns an expression (plus template values) into a ``RowFilter``, a function from a
segment's rows (an Arrow table of the stored schema) to one bool per row (null counts as
False).  A row filter may also take ``indexes=``: the sealed segment's scalar indexes by
column name, which it may ask instead of scanning those columns.  A compiler raises ``milvus.errors.MilvusError`` (e.g. ``ParameterInvalid``) for a
bad expression; any other exception is reported as an invalid expression too.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from milvus.errors import MilvusError, ParameterInvalid
from milvus.schema import CollectionSchemaModel

RowFilter = Callable[[pa.Table], "np.ndarray | pa.Array | pa.ChunkedArray"]
# a row filter may have ``cache_key``: a hashable that equals another filter's only when both
# keep the same rows of any table (None: not to be cached)

MASKS_KEPT = 4  # filter masks a sealed segment keeps (one bool per row each)


class FilterCompiler(Protocol):
    def __call__(self, schema: CollectionSchemaModel, expr: str, template_values: Mapping[str, Any]) -> RowFilter: ...


def compile_filter(compiler: FilterCompiler | None, schema: CollectionSchemaModel, expr: str,
                   template_values: Mapping[str, Any]) -> RowFilter | None:
    """The row filter of ``expr`` (None for an empty expression)."""
    if not expr.strip():
        return None
    if compiler is None:
        raise ParameterInvalid(f"cannot evaluate filter expression {expr!r}: this query node has no filter compiler")
    try:
        return compiler(schema, expr, template_values)
    except MilvusError:
        raise
    except Exception as exc:  # noqa: BLE001 - the compiler's own errors are the user's expression
        raise ParameterInvalid(f"failed to create query plan: cannot parse expression: {expr}, error: {exc}") from None


def evaluate(row_filter: RowFilter, table: pa.Table, indexes: Mapping[str, Any] | None = None) -> np.ndarray:
    """The filter's mask over ``table`` as a numpy bool array (null -> False); ``indexes``
    (scalar indexes over exactly ``table``'s rows, by column name) go to the filter if any."""
    try:
        result = row_filter(table, indexes=indexes) if indexes else row_filter(table)  # type: ignore[call-arg]
    except MilvusError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise ParameterInvalid(f"failed to evaluate the filter expression: {exc}") from None
    if isinstance(result, (pa.Array, pa.ChunkedArray)):
        result = pc.fill_null(result, False)
        result = result.to_numpy(zero_copy_only=False)
    mask = np.asarray(result, dtype=bool)
    if mask.shape != (table.num_rows,):
        raise ParameterInvalid(f"filter returned {mask.shape} values for {table.num_rows} rows")
    return mask


class MaskCache:
    """The masks of the filters read last over one sealed segment's rows, so that a filter
    repeated across requests (a tenant's, a category's) is evaluated once per segment, as a
    search engine caches its filters per segment.  An entry is tied to the table it was
    evaluated on: a segment whose table was replaced (an added field backfilled) misses."""

    def __init__(self, capacity: int = MASKS_KEPT):
        self._capacity = capacity
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, tuple[weakref.ref, np.ndarray]] = OrderedDict()

    def get(self, key: Any, table: pa.Table, build: Callable[[], np.ndarray]) -> np.ndarray:
        """The mask of ``key`` over ``table``, read-only: kept, or ``build()`` and kept."""
        with self._lock:
            item = self._items.get(key)
            if item is not None and item[0]() is table:
                self._items.move_to_end(key)
                return item[1]
        mask = np.array(build(), dtype=bool)  # its own copy: the evaluator's array may be shared
        mask.flags.writeable = False
        with self._lock:
            self._items[key] = (weakref.ref(table), mask)
            self._items.move_to_end(key)
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return mask

    def __len__(self) -> int:
        return len(self._items)
