"""RootCoordCatalog on the embedded meta store: key layout, atomic multi-key changes, reads."""

from __future__ import annotations

import pytest

from milvus._proto import rootcoord_pb2 as rc
from milvus.kv import LocalKV, PrefixedKV
from milvus.metastore import MetaConflict, RootCoordCatalog


@pytest.fixture
def kv(tmp_path):
    store = LocalKV(str(tmp_path / "meta.sqlite3"))
    view = PrefixedKV(store, "by-dev/meta/")
    yield view
    view.close()
    store.close()


@pytest.fixture
def catalog(kv):
    return RootCoordCatalog(kv)


def _collection(cid=10, db_id=1, name="c", partitions=((11, "_default"),)):
    return rc.CollectionInfo(
        id=cid, db_id=db_id, db_name="default", name=name, schema=b"schema", shards_num=1,
        partitions=[rc.PartitionInfo(id=pid, name=pname, collection_id=cid) for pid, pname in partitions],
        aliases=["ignored"], num_partitions=len(partitions),
    )


def _keys(kv):
    return [item.key for item in kv.range("root-coord/")]


def test_databases_round_trip(catalog):
    catalog.create_database(rc.DatabaseInfo(id=2, name="b"))
    catalog.create_database(rc.DatabaseInfo(id=1, name="default"))
    assert [db.name for db in catalog.list_databases()] == ["default", "b"]
    with pytest.raises(MetaConflict):
        catalog.create_database(rc.DatabaseInfo(id=2, name="b"))
    catalog.alter_database(rc.DatabaseInfo(id=2, name="b", properties=[{"key": "k", "value": "v"}]))
    assert catalog.list_databases()[1].properties[0].value == "v"
    catalog.drop_database(2)
    assert [db.id for db in catalog.list_databases()] == [1]


def test_create_collection_is_one_revision_with_partitions_and_name(catalog, kv):
    before = kv.revision()
    catalog.create_collection(_collection(partitions=((11, "_default"), (12, "p1"))))
    assert kv.revision() == before + 1
    assert _keys(kv) == [
        "root-coord/collection-name/1/c",
        "root-coord/collection/1/10",
        "root-coord/partitions/10/11",
        "root-coord/partitions/10/12",
    ]
    [coll] = catalog.list_collections()
    assert [p.name for p in coll.partitions] == ["_default", "p1"]
    assert list(coll.aliases) == [] and coll.num_partitions == 0  # derived, never stored


def test_create_collection_refuses_a_taken_name_atomically(catalog, kv):
    catalog.create_collection(_collection())
    revision = kv.revision()
    with pytest.raises(MetaConflict):
        catalog.create_collection(_collection(cid=20, partitions=((21, "_default"),)))
    assert kv.revision() == revision
    assert [c.id for c in catalog.list_collections()] == [10]


def test_partitions_and_aliases(catalog):
    catalog.create_collection(_collection())
    catalog.create_partition(rc.PartitionInfo(id=13, name="p", collection_id=10))
    with pytest.raises(MetaConflict):
        catalog.create_partition(rc.PartitionInfo(id=13, name="p", collection_id=10))
    catalog.create_alias(rc.AliasInfo(name="a", collection_id=10, db_id=1))
    with pytest.raises(MetaConflict):
        catalog.create_alias(rc.AliasInfo(name="a", collection_id=10, db_id=1))
    catalog.alter_alias(rc.AliasInfo(name="a", collection_id=99, db_id=1))
    assert [(a.name, a.collection_id) for a in catalog.list_aliases()] == [("a", 99)]
    catalog.drop_partition(10, 13)
    catalog.drop_alias(1, "a")
    assert catalog.list_aliases() == []
    assert [p.id for p in catalog.list_collections()[0].partitions] == [11]


def test_rename_within_and_across_databases(catalog, kv):
    old = _collection()
    catalog.create_collection(old)
    catalog.create_alias(rc.AliasInfo(name="a", collection_id=10, db_id=1))
    renamed = _collection(name="d")
    before = kv.revision()
    catalog.rename_collection(old, renamed)
    assert kv.revision() == before + 1
    assert "root-coord/collection-name/1/d" in _keys(kv) and "root-coord/collection-name/1/c" not in _keys(kv)

    moved = _collection(name="d", db_id=2)
    catalog.rename_collection(renamed, moved, catalog.list_aliases())
    assert kv.revision() == before + 2
    keys = _keys(kv)
    assert "root-coord/collection/2/10" in keys and "root-coord/collection/1/10" not in keys
    assert "root-coord/collection-name/2/d" in keys
    assert [(a.name, a.db_id) for a in catalog.list_aliases()] == [("a", 2)]
    assert [(c.db_id, c.name) for c in catalog.list_collections()] == [(2, "d")]


def test_rename_onto_a_taken_name_fails_and_changes_nothing(catalog, kv):
    catalog.create_collection(_collection())
    catalog.create_collection(_collection(cid=20, name="e", partitions=((21, "_default"),)))
    keys = _keys(kv)
    with pytest.raises(MetaConflict):
        catalog.rename_collection(_collection(), _collection(name="e"))
    assert _keys(kv) == keys


def test_drop_collection_removes_every_key_in_one_revision(catalog, kv):
    catalog.create_collection(_collection(partitions=((11, "_default"), (12, "p"))))
    catalog.create_alias(rc.AliasInfo(name="a", collection_id=10, db_id=1))
    catalog.create_alias(rc.AliasInfo(name="keep", collection_id=77, db_id=1))
    before = kv.revision()
    catalog.drop_collection(_collection(), aliases=["a"])
    assert kv.revision() == before + 1
    assert _keys(kv) == ["root-coord/aliases/1/keep"]
    assert catalog.list_collections() == []


def test_marking_a_collection_dropping_frees_its_name_in_one_revision(catalog, kv):
    catalog.create_collection(_collection(partitions=((11, "_default"), (12, "p"))))
    catalog.create_alias(rc.AliasInfo(name="a", collection_id=10, db_id=1))
    catalog.mark_partition_dropping(rc.PartitionInfo(id=12, name="p", collection_id=10))
    assert [p.id for p in catalog.list_dropping_partitions()] == [12]
    before = kv.revision()
    catalog.mark_collection_dropping(_collection(), aliases=["a"])
    assert kv.revision() == before + 1
    assert _keys(kv) == ["root-coord/dropping-partitions/10/12", "root-coord/dropping/10"]
    assert catalog.list_collections() == []
    [dropping] = catalog.list_dropping_collections()
    assert (dropping.id, dropping.name, list(dropping.aliases)) == (10, "c", [])
    assert [p.id for p in dropping.partitions] == [11]
    catalog.create_collection(_collection(cid=20, partitions=((21, "_default"),)))  # the name is free
    catalog.remove_dropped_collection(10)
    assert catalog.list_dropping_collections() == [] and catalog.list_dropping_partitions() == []
    assert [c.id for c in catalog.list_collections()] == [20]
