"""The proxy's replica choice: reads spread round-robin over the serving replicas, fail over
to another replica when a leader is gone, and wait (bounded) for the leaders to move."""

from __future__ import annotations

import pytest

from milvus import errors
from milvus._proto import querycoord_pb2
from milvus.proxy.replicas import Leader, ReplicaSelector


def _response(*replicas: dict[str, int]) -> querycoord_pb2.GetShardLeadersResponse:
    resp = querycoord_pb2.GetShardLeadersResponse(status=errors.OK)
    for i, leaders in enumerate(replicas):
        replica = resp.replicas.add(id=i + 1, collectionID=7)
        for channel, node in leaders.items():
            replica.shard_leaders.add(channel_name=channel, node_id=node, address=f"n{node}")
    return resp


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _selector(answers, timeout: float = 5.0) -> tuple[ReplicaSelector, _Clock]:
    clock = _Clock()
    calls = iter(answers) if isinstance(answers, list) else None

    def leaders(_collection_id: int):
        answer = next(calls) if calls is not None else answers
        if isinstance(answer, Exception):
            raise answer
        return answer

    return ReplicaSelector(leaders, retry_timeout=timeout, clock=clock, sleep=clock.sleep), clock


def test_reads_spread_over_replicas_and_group_channels_by_leader():
    selector, _ = _selector(_response({"a": 1, "b": 1}, {"a": 2, "b": 3}))
    sent: list[list[Leader]] = []
    for _ in range(4):
        got: list[Leader] = []
        selector.fan_out(7, "c", lambda leader, got=got: got.append(leader))
        sent.append(got)
    assert sent[0] == [Leader(1, "n1", ("a", "b"))]
    assert sent[1] == [Leader(2, "n2", ("a",)), Leader(3, "n3", ("b",))]
    assert sent[2] == sent[0] and sent[3] == sent[1]


def test_a_dead_leader_fails_over_to_the_other_replica():
    selector, clock = _selector(_response({"a": 1}, {"a": 2}))

    def send(leader: Leader) -> int:
        if leader.node_id == 1:
            raise errors.ServiceUnavailable("service unavailable: querynode connection refused")
        return leader.node_id

    assert [selector.fan_out(7, "c", send) for _ in range(3)] == [[2], [2], [2]]
    assert clock.now == 0.0  # no waiting when another replica answers


def test_waits_for_the_coordinator_to_move_a_channel_then_gives_up():
    moving = errors.ChannelNotFound("channel a of collection 7 is not available: no serving leader")
    selector, clock = _selector([moving, moving, _response({"a": 3})])
    assert selector.fan_out(7, "c", lambda leader: leader.node_id) == [3]
    assert clock.now > 0

    selector, clock = _selector(moving, timeout=2.0)
    with pytest.raises(errors.MilvusError) as info:
        selector.fan_out(7, "c", lambda leader: leader.node_id)
    assert info.value.code == errors.ChannelNotFound.code and clock.now <= 2.0


def test_request_errors_and_unloaded_collections_are_not_retried():
    selector, clock = _selector(_response({"a": 1}, {"a": 2}))

    def bad(_leader: Leader) -> None:
        raise errors.ParameterInvalid("bad filter")

    with pytest.raises(errors.MilvusError) as info:
        selector.fan_out(7, "c", bad)
    assert info.value.code == errors.ParameterInvalid.code and clock.now == 0.0
    selector, clock = _selector(errors.CollectionNotLoaded("collection not loaded[collection=7]"))
    with pytest.raises(errors.MilvusError):
        selector.fan_out(7, "c", lambda leader: None)
    assert clock.now == 0.0
