"""The proxy's collection-meta cache: hits, invalidation by name/alias/id, the fetch race, and
forgetting a collection the data coordinator says was dropped."""

from __future__ import annotations

import threading

import pytest
from pymilvus.grpc_gen import schema_pb2 as spb

from milvus import errors
from milvus._proto import rootcoord_pb2
from milvus.proxy.collections import Collections
from milvus.proxy.meta_cache import MetaCache
from milvus.proxy.validate import NameRules
from tests.conftest import wait_for


class FakeRootCoord:
    def __init__(self):
        self.collections = {("default", "c"): 1, ("default", "al"): 1, ("default", "d"): 2}
        self.version = 0
        self.calls = 0
        self.gate: threading.Event | None = None

    def fetch(self, db, name, cid):
        self.calls += 1
        version = self.version
        if self.gate is not None:
            self.gate.wait(5)
        cid = cid or self.collections.get((db, name))
        if cid is None:
            raise errors.CollectionNotFound(f"collection not found[database={db}][collection={name}]")
        return rootcoord_pb2.CollectionInfo(id=cid, name=name, schema_version=version)


def test_hits_and_misses():
    rc = FakeRootCoord()
    cache = MetaCache(rc.fetch)
    assert cache.get("default", "c").id == 1
    assert cache.get("default", "c").id == 1
    assert rc.calls == 1
    with pytest.raises(errors.CollectionNotFound):
        cache.get("default", "zz")
    assert len(cache) == 1  # misses are not cached
    assert cache.get_by_id(1).id == 1 and rc.calls == 2


def test_invalidating_a_name_drops_every_entry_of_that_collection():
    rc = FakeRootCoord()
    cache = MetaCache(rc.fetch)
    cache.get("default", "c")
    cache.get("default", "al")
    cache.get("default", "d")
    cache.invalidate("default", ["al"])
    assert len(cache) == 1  # "c" went too: it is the same collection
    cache.invalidate("other", [], collection_id=2)
    assert len(cache) == 0
    cache.get("default", "d")
    cache.invalidate_database("default")
    assert len(cache) == 0


def test_a_fetch_that_raced_an_invalidation_is_not_stored():
    rc = FakeRootCoord()
    cache = MetaCache(rc.fetch)
    rc.gate = threading.Event()
    result = []
    reader = threading.Thread(target=lambda: result.append(cache.get("default", "c")))
    reader.start()
    wait_for(lambda: rc.calls == 1, message="the fetch to start")
    rc.version = 1
    cache.invalidate("default", ["c"])  # lands while the fetch is in flight
    rc.gate.set()
    reader.join(5)
    assert result[0].schema_version == 0
    rc.gate = None
    assert cache.get("default", "c").schema_version == 1  # the stale answer was not kept


@pytest.mark.parametrize(("name", "message"), [
    ("", "database name couldn't be empty: invalid database name[database=]"),
    ("1db", "the first character of a database name must be an underscore or letter"),
    ("d-b", "database name can only contain numbers, letters and underscores"),
])
def test_database_names(name, message):
    with pytest.raises(errors.DatabaseInvalidName, match=message.replace("[", r"\[").replace("]", r"\]")):
        NameRules().database(name)


def test_partition_names():
    rules = NameRules(max_name_length=5)
    rules.partition("p-1_a")
    rules.partition("1p")
    for bad in ("", "p 1", "toolong", "-p"):
        with pytest.raises(errors.ParameterInvalid, match="Invalid partition name"):
            rules.partition(bad)


# ---- a collection the data coordinator says is dropped ---------------------------------


class _DroppedAtDataCoord:
    """Answers every call as a data coordinator that knows the collection was dropped
    (``code``: 100, CollectionNotFound) or failed otherwise."""

    def __init__(self, code: int = errors.CollectionNotFound.code):
        self.code = code
        self.calls: list[str] = []

    def __call__(self, method, request):
        self.calls.append(method)
        status = errors.to_status(errors.MilvusError(f"collection not found[collection={request.collectionID}]",
                                                     code=self.code))
        errors.check_status(status)  # raises, as the proxy's Caller does


def _described(rc: FakeRootCoord):
    schema = spb.CollectionSchema(name="c", fields=[
        spb.FieldSchema(fieldID=100, name="id", data_type=spb.Int64, is_primary_key=True)]).SerializeToString()

    def fetch(db, name, cid):
        info = rc.fetch(db, name, cid)
        info.schema, info.virtual_channels[:], info.physical_channels[:] = schema, ["v0"], ["p0"]
        return info
    return fetch


def test_a_collection_the_data_coordinator_says_is_dropped_is_forgotten():
    rc = FakeRootCoord()
    cache = MetaCache(_described(rc))
    datacoord = _DroppedAtDataCoord()
    collections = Collections(cache, datacoord)
    collections.get("default", "c")
    coll = collections.get("default", "al")
    # dropped at the root coordinator; this proxy missed the invalidation
    del rc.collections[("default", "c")], rc.collections[("default", "al")]
    assert collections.get("default", "al") is coll and len(cache) == 2  # still cached
    with pytest.raises(errors.CollectionNotFound, match=r"collection not found\[collection=al\]"):
        collections.ensure_watched(coll)
    assert datacoord.calls == ["WatchChannels"] and len(cache) == 0  # every name of it forgotten
    calls = rc.calls
    with pytest.raises(errors.CollectionNotFound, match=r"\[collection=c\]"):
        collections.get("default", "c")  # asked again, and not found there either
    assert rc.calls == calls + 1


def test_a_partition_the_data_coordinator_says_is_dropped_forgets_the_collection_info():
    rc = FakeRootCoord()
    cache = MetaCache(_described(rc))
    collections = Collections(cache, _DroppedAtDataCoord(code=errors.PartitionNotFound.code))
    coll = collections.get("default", "c")
    calls = rc.calls
    with pytest.raises(errors.PartitionNotFound):
        collections.ensure_watched(coll)
    assert len(cache) == 0  # its partitions are asked again
    assert collections.get("default", "c") is not coll and rc.calls == calls + 1


def test_other_data_coordinator_errors_forget_nothing():
    rc = FakeRootCoord()
    cache = MetaCache(_described(rc))
    collections = Collections(cache, _DroppedAtDataCoord(code=errors.ServiceUnavailable.code))
    coll = collections.get("default", "c")
    with pytest.raises(errors.MilvusError) as raised:
        collections.ensure_watched(coll)
    assert raised.value.code == errors.ServiceUnavailable.code and len(cache) == 1
