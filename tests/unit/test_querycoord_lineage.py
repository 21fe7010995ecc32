"""Compaction lineage: the served segments a target segment replaces through unserved results."""

from __future__ import annotations

from milvus._proto import datacoord_pb2
from milvus.querycoord.lineage import Lineage, served_ancestors
from milvus.querycoord.target import CollectionTarget


def _target(sources: dict[int, tuple[int, ...]]) -> CollectionTarget:
    sealed = {s: datacoord_pb2.SegmentInfo(id=s, insert_channel="a", state=datacoord_pb2.FLUSHED,
                                           compaction_from=list(f)) for s, f in sources.items()}
    return CollectionTarget(1, b"", {"a": datacoord_pb2.VchannelInfo(channelName="a")}, sealed)


class Lookups:
    def __init__(self, lineage: dict[int, tuple[int, ...]]):
        self.lineage = lineage
        self.asked: list[list[int]] = []

    def __call__(self, ids: list[int]) -> dict[int, tuple[int, ...]]:
        self.asked.append(ids)
        return {s: self.lineage[s] for s in ids if s in self.lineage}


def test_nothing_is_looked_up_while_every_served_segment_is_in_the_target_or_a_direct_source():
    lookups = Lookups({})
    assert served_ancestors(_target({3: (1, 2), 4: ()}), served={1, 2, 4}, sources_of=lookups) == {}
    assert lookups.asked == []


def test_a_chain_through_unserved_results_reaches_the_served_sources():
    # 1 + 2 -> 5 -> 7 -> 9 (5 and 7 never served); 3 -> 8 served directly; 4 is in the target
    lookups = Lookups({5: (1, 2), 7: (5,), 8: (3,)})
    target = _target({9: (7,), 8: (3,), 4: ()})
    assert served_ancestors(target, served={1, 2, 3, 4}, sources_of=lookups) == {9: (1, 2)}
    assert lookups.asked == [[7], [5]]  # one lookup per level, only the unserved middles


def test_a_chain_deeper_than_the_limit_or_gone_from_the_data_coordinator_stops():
    lookups = Lookups({7: (6,), 6: (5,), 5: (1,)})
    target = _target({9: (7,)})
    assert served_ancestors(target, served={1}, sources_of=lookups, max_depth=2) == {}
    assert served_ancestors(target, served={1}, sources_of=lookups) == {9: (1,)}
    assert served_ancestors(target, served={1}, sources_of=Lookups({7: (6,)})) == {}  # 6 was collected
    lookups = Lookups({7: (1, 6), 6: (2,)})
    assert served_ancestors(target, served={1}, sources_of=lookups) == {9: (1,)}
    assert lookups.asked == [[7]]  # every served segment found: the walk ends there


def test_expand_adds_the_served_ancestors_and_asks_once_per_segment():
    class DataCoord:
        calls = 0

        def GetSegmentInfo(self, request):
            self.calls += 1
            assert request.includeUnHealthy
            infos = {5: (1, 2), 7: (5,)}
            return datacoord_pb2.GetSegmentInfoResponse(infos=[
                datacoord_pb2.SegmentInfo(id=s, state=datacoord_pb2.DROPPED, compaction_from=list(infos[s]))
                for s in request.segmentIDs if s in infos])

    datacoord = DataCoord()
    lineage = Lineage(datacoord)
    target = _target({9: (7,), 4: ()})
    expanded = lineage.expand(target, served={1, 2, 4})
    assert list(expanded.sealed[9].compaction_from) == [7, 1, 2]
    assert list(target.sealed[9].compaction_from) == [7]  # the target itself is not changed
    assert lineage.expand(target, served={1, 2, 4}).sealed[9].compaction_from == expanded.sealed[9].compaction_from
    assert datacoord.calls == 2  # the second expansion was answered from what the first learned
    assert lineage.expand(target, served={4}) is target  # nothing served left the target
