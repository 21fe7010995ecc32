"""The proxy caches shard leaders: asked once per collection, asked again when a send fails
(a leader moved: resolved again and retried at once, no waiting) and after the cache's ttl."""

from __future__ import annotations

import pytest

from milvus import errors
from milvus.proxy.replicas import Leader, ReplicaSelector
from tests.unit.test_proxy_replicas import _Clock, _response


def _counting(answers: list, ttl: float = 5.0):
    clock = _Clock()
    calls: list[int] = []

    def leaders(collection_id: int):
        calls.append(collection_id)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return ReplicaSelector(leaders, retry_timeout=5.0, clock=clock, sleep=clock.sleep, cache_ttl=ttl), clock, calls


def test_leaders_are_asked_once_per_collection_while_fresh():
    selector, clock, calls = _counting([_response({"a": 1, "b": 1}, {"a": 2, "b": 2})])
    sent = [selector.fan_out(7, "c", lambda leader: leader.node_id) for _ in range(10)]
    assert calls == [7]
    assert sent == [[1], [2]] * 5  # still round-robin over the replicas
    selector.fan_out(8, "d", lambda leader: leader.node_id)
    assert calls == [7, 8]
    clock.now += 5.0  # expired: asked again
    selector.fan_out(7, "c", lambda leader: leader.node_id)
    assert calls == [7, 8, 7]


@pytest.mark.parametrize("moved", [errors.ChannelNotFound("channel a is not served by this node"),
                                   errors.ServiceUnavailable("service unavailable: querynode connection refused"),
                                   errors.NodeNotFound("node 1 not found")])
def test_a_moved_leader_is_resolved_again_and_retried_at_once(moved):
    selector, clock, calls = _counting([_response({"a": 1}), _response({"a": 2})])
    assert selector.fan_out(7, "c", lambda leader: leader.node_id) == [1]

    def send(leader: Leader) -> int:
        if leader.node_id == 1:
            raise moved
        return leader.node_id

    assert selector.fan_out(7, "c", send) == [2]
    assert calls == [7, 7] and clock.now == 0.0
    assert selector.fan_out(7, "c", send) == [2]  # the new leader is cached
    assert calls == [7, 7]


def test_request_errors_keep_the_cache_and_an_unloaded_collection_is_reported():
    selector, _, calls = _counting([_response({"a": 1}),
                                    errors.CollectionNotLoaded("collection not loaded[collection=c]")])
    selector.fan_out(7, "c", lambda leader: leader.node_id)

    def bad(_leader: Leader) -> None:
        raise errors.ParameterInvalid("bad filter")

    with pytest.raises(errors.MilvusError) as info:
        selector.fan_out(7, "c", bad)
    assert info.value.code == errors.ParameterInvalid.code and calls == [7]

    def released(_leader: Leader) -> None:
        raise errors.CollectionNotLoaded("collection 7 not loaded on this node")

    with pytest.raises(errors.MilvusError) as info:  # the node forgot it: the coordinator says why
        selector.fan_out(7, "c", released)
    assert info.value.code == errors.CollectionNotLoaded.code and "collection=c" in str(info.value)
    assert calls == [7, 7]


def test_no_cache_with_zero_ttl():
    selector, _, calls = _counting([_response({"a": 1})], ttl=0.0)
    for _ in range(3):
        selector.fan_out(7, "c", lambda leader: leader.node_id)
    assert calls == [7, 7, 7]
