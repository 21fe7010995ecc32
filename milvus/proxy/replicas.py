"""Which replica answers a read: spread over the replicas, fail over when one cannot answer.

The query coordinator names the replicas that can serve now (``GetShardLeaders``: every
channel with a live leader watching it).  A read starts at the next replica in round-robin
order and sends one request per shard leader of that replica; when a leader is unreachable
or no longer serves its channel (its node died or restarted, the channel moved), the whole
read goes to the next replica.  When none answered, the leaders are asked for again (the
coordinator moves channels off dead nodes) until ``retry_timeout`` has passed; the last
error is raised then.  Errors about the request itself (a bad filter, an unloaded partition),
an unloaded or still loading collection are raised at once.

The leader lists are cached per collection (``cache_ttl`` seconds at most, so new replicas
and moved leaders are picked up), and dropped as soon as a send fails: a leader that moved
(query node balancing) answers a retriable error, and the read is then resolved again from
the coordinator and retried at once before any waiting.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from milvus import errors
from milvus._proto import querycoord_pb2

log = logging.getLogger(__name__)

# the node or its channel is gone (or not yet there): another replica, or a later leader
# list, may answer
RETRIABLE_CODES = frozenset({
    errors.ServiceNotReady.code, errors.ServiceUnavailable.code, errors.CollectionNotLoaded.code,
    errors.ChannelNotFound.code, errors.NodeNotFound.code,
})
_FIRST_BACKOFF = 0.05
_MAX_BACKOFF = 0.5


@dataclass(frozen=True)
class Leader:
    node_id: int
    address: str
    channels: tuple[str, ...]


def retriable(exc: BaseException) -> bool:
    return isinstance(exc, errors.MilvusError) and exc.code in RETRIABLE_CODES


class ReplicaSelector:
    """``shard_leaders(collection_id)`` answers ``GetShardLeaders``; ``send(leader)`` sends one
    shard request and returns the answer (raising ``milvus.errors`` exceptions)."""

    def __init__(self, shard_leaders: Callable[[int], querycoord_pb2.GetShardLeadersResponse],
                 retry_timeout: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, cache_ttl: float = 5.0):
        self._shard_leaders = shard_leaders
        self._retry_timeout = retry_timeout
        self._clock = clock
        self._sleep = sleep
        self._round_robin = itertools.count()
        self._cache_ttl = cache_ttl
        self._cache: dict[int, tuple[float, list[list[Leader]]]] = {}  # collection id -> (expiry, replicas)
        self._lock = threading.Lock()

    def invalidate(self, collection_id: int | None = None) -> None:
        """Forget the cached leaders of one collection (all when None)."""
        with self._lock:
            if collection_id is None:
                self._cache.clear()
            else:
                self._cache.pop(collection_id, None)

    def replicas(self, collection_id: int, collection_name: str) -> list[list[Leader]]:
        """The serving replicas, each as its shard leaders, in the order to try them."""
        return self._resolve(collection_id, collection_name)[0]

    def _resolve(self, collection_id: int, collection_name: str) -> tuple[list[list[Leader]], bool]:
        """The replicas in the order to try them, and whether they were just asked for (not cached)."""
        now = self._clock()
        with self._lock:
            cached = self._cache.get(collection_id)
        fresh = cached is None or cached[0] <= now
        replicas = self._fetch(collection_id, collection_name) if fresh else cached[1]  # type: ignore[index]
        if fresh and self._cache_ttl > 0:
            with self._lock:
                self._cache[collection_id] = (now + self._cache_ttl, replicas)
        start = next(self._round_robin) % len(replicas)
        return replicas[start:] + replicas[:start], fresh

    def _fetch(self, collection_id: int, collection_name: str) -> list[list[Leader]]:
        response = self._shard_leaders(collection_id)
        replicas = []
        for replica in response.replicas:
            by_node: dict[int, tuple[str, list[str]]] = {}
            for leader in replica.shard_leaders:
                by_node.setdefault(leader.node_id, (leader.address, []))[1].append(leader.channel_name)
            if by_node:
                replicas.append([Leader(n, a, tuple(c)) for n, (a, c) in sorted(by_node.items())])
        if not replicas:
            raise errors.CollectionNotLoaded(f"collection not loaded[collection={collection_name}]")
        return replicas

    def fan_out(self, collection_id: int, collection_name: str, send: Callable[[Leader], Any]) -> list[Any]:
        """One answer per shard leader of the first replica that answered completely."""
        deadline = self._clock() + self._retry_timeout
        backoff = _FIRST_BACKOFF
        while True:
            last: BaseException | None = None
            fresh = True
            try:
                replicas, fresh = self._resolve(collection_id, collection_name)
                for replica in replicas:
                    try:
                        return [send(leader) for leader in replica]
                    except errors.MilvusError as exc:
                        if not retriable(exc):
                            raise
                        # the leaders may have moved: the next read asks the coordinator again
                        self.invalidate(collection_id)
                        log.info("replica of collection %s failed (%s); trying another", collection_name, exc)
                        last = exc
                if not fresh:
                    continue  # the cached leaders were stale: resolve again and retry at once
            except errors.MilvusError as exc:
                # the leader list itself: only "a channel has no serving leader" is worth waiting for
                # (not loaded, still loading and request errors are answered at once)
                if exc.code != errors.ChannelNotFound.code:
                    raise
                last = exc
            if self._clock() + backoff > deadline:
                assert last is not None
                raise last
            self._sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)
