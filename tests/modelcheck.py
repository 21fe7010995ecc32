"""A plain model of one collection (pk -> partition and fields) and the writes, lifecycle steps
and checks the model tests run through pymilvus against it: every check is a Strong read
(count(*), every row's fields, one partition's rows, a get by keys, a search whose limit
covers every row on a FLAT index: ids and distances)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from pymilvus import DataType

from tests.conftest import wait_for

DIM = 4
PARTITIONS = ("_default", "p1", "p2")
# the Runner's steps, as often as they should come up
WRITES = ["insert"] * 5 + ["upsert"] * 3 + ["delete_ids"] * 2 + ["partial_update", "delete_filter",
                                                               "delete_in_partition"]
LIFECYCLE = ["flush"] * 3 + ["compact"] * 2 + ["compact_racing", "reload"]
SMALL = {  # many small segments, frequent syncs and compactions
    "dataCoord.segment.maxRows": 300,
    "dataNode.sync.maxBufferRows": 80,
    "dataCoord.compaction.global.interval": 0.5,
    "dataCoord.compaction.min.segment": 2,
    "dataCoord.compaction.levelzero.forceTrigger.deltalogMinNum": 2,
    "dataCoord.compaction.single.ratio.threshold": 0.1,
    "indexCoord.segment.minSegmentNumRowsToEnableIndex": 50,
}


class Model:
    """What the collection holds: pk -> (partition, val, tag, vector)."""

    def __init__(self, rng: random.Random, string_pk: bool):
        self.rng = rng
        self.string_pk = string_pk
        self.rows: dict = {}
        self.next = 0
        self.version = 0

    def key(self, n: int):
        return f"k{n:06d}" if self.string_pk else n

    def new_row(self, pk, partition: str) -> dict:
        self.version += 1
        vec = [round(self.rng.uniform(-1, 1), 3) for _ in range(DIM)]
        return {"pk": pk, "partition": partition, "val": self.rng.randrange(1000), "tag": f"v{self.version}",
                "vec": vec}

    def fresh_keys(self, n: int) -> list:
        keys = [self.key(self.next + i) for i in range(n)]
        self.next += n
        return keys

    def some_keys(self, n: int, partition: str | None = None) -> list:
        pool = [k for k, r in self.rows.items() if partition is None or r["partition"] == partition]
        return self.rng.sample(pool, min(n, len(pool)))


def _literal(pk) -> str:
    return f'"{pk}"' if isinstance(pk, str) else str(pk)


def _entity(row: dict) -> dict:
    return {"pk": row["pk"], "vec": row["vec"], "val": row["val"], "tag": row["tag"]}


class Runner:
    def __init__(self, client, model: Model, rng: random.Random):
        self.c, self.m, self.rng = client, model, rng
        self.log: list[str] = []

    # ---- writes -------------------------------------------------------------------

    def insert(self) -> None:
        part = self.rng.choice(PARTITIONS)
        rows = [self.m.new_row(k, part) for k in self.m.fresh_keys(self.rng.randint(1, 120))]
        self.c.insert("t", [_entity(r) for r in rows], partition_name=part)
        self.m.rows.update((r["pk"], r) for r in rows)
        self.log.append(f"insert {len(rows)} into {part}")

    def upsert(self) -> None:
        part = self.rng.choice(PARTITIONS)
        keys = self.m.some_keys(self.rng.randint(1, 60)) + self.m.fresh_keys(self.rng.randint(0, 20))
        self.rng.shuffle(keys)
        rows = [self.m.new_row(k, part) for k in keys]
        if not rows:
            return
        self.c.upsert("t", [_entity(r) for r in rows], partition_name=part)
        self.m.rows.update((r["pk"], r) for r in rows)  # the key leaves whichever partition held it
        self.log.append(f"upsert {len(rows)} into {part}")

    def partial_update(self) -> None:
        """New values of ``val`` for keys of one partition; every other field stays."""
        part = self.rng.choice(PARTITIONS)
        keys = self.m.some_keys(self.rng.randint(1, 40), part)
        if not keys:
            return
        values = {k: self.rng.randrange(1000) for k in keys}
        self.c.upsert("t", [{"pk": k, "val": v} for k, v in values.items()], partition_name=part,
                      partial_update=True)
        for k, v in values.items():
            self.m.rows[k] = {**self.m.rows[k], "val": v}
        self.log.append(f"partial update of {len(keys)} in {part}")

    def delete_ids(self) -> None:
        keys = self.m.some_keys(self.rng.randint(1, 40)) + [self.m.key(10**6 + self.rng.randrange(100))]
        self.c.delete("t", ids=keys)
        for k in keys:
            self.m.rows.pop(k, None)
        self.log.append(f"delete {len(keys)} ids")

    def delete_filter(self) -> None:
        lo = self.rng.randrange(1000)
        hi = lo + self.rng.randint(5, 60)
        self.c.delete("t", filter=f"val >= {lo} and val < {hi}")
        for k in [k for k, r in self.m.rows.items() if lo <= r["val"] < hi]:
            del self.m.rows[k]
        self.log.append(f"delete val in [{lo}, {hi})")

    def delete_in_partition(self) -> None:
        part = self.rng.choice(PARTITIONS)
        keys = self.m.some_keys(self.rng.randint(1, 30), part) + self.m.some_keys(3)  # some live elsewhere
        if not keys:
            return
        self.c.delete("t", ids=keys, partition_name=part)
        for k in keys:
            if k in self.m.rows and self.m.rows[k]["partition"] == part:
                del self.m.rows[k]
        self.log.append(f"delete {len(keys)} ids in {part}")

    # ---- lifecycle ----------------------------------------------------------------

    def flush(self) -> None:
        self.c.flush("t", timeout=120)  # a flush that never ends fails the test instead of hanging it
        self.log.append("flush")

    def compact(self) -> None:
        job = self.c.compact("t")
        wait_for(lambda: str(self.c.get_compaction_state(job)) == "Completed", timeout=60,
                 message=f"compaction {job}")
        self.log.append("compact")

    def compact_racing(self) -> None:
        """Writes while a compaction runs: what they delete or replace must stay so after it."""
        job = self.c.compact("t")
        self.delete_ids()
        self.upsert()
        self.delete_filter()
        wait_for(lambda: str(self.c.get_compaction_state(job)) == "Completed", timeout=60,
                 message=f"compaction {job}")
        self.log.append("compact (racing writes)")

    def reload(self) -> None:
        self.c.release_collection("t")
        self.c.load_collection("t")
        self.log.append("release + load")

    def wait_indexed(self) -> None:
        """Until every flushed segment is indexed."""
        index: dict = {}

        def indexed() -> bool:
            index.update(self.c.describe_index("t", "vec"))
            return index["indexed_rows"] == index["total_rows"] and not index["pending_index_rows"]
        wait_for(indexed, timeout=120, message=f"every flushed segment indexed: {index}")

    # ---- checks -------------------------------------------------------------------

    def check(self) -> None:
        where = " / ".join(self.log[-6:])
        rows = self.m.rows
        got = self.c.query("t", filter="", output_fields=["count(*)"], consistency_level="Strong")
        assert got[0]["count(*)"] == len(rows), f"count {got[0]['count(*)']} (want {len(rows)}) after: {where}"

        got = self.c.query("t", filter='tag != ""', output_fields=["pk", "val", "tag"], consistency_level="Strong",
                           limit=16384)
        found = {r["pk"]: (r["val"], r["tag"]) for r in got}
        want = {k: (r["val"], r["tag"]) for k, r in rows.items()}
        assert len(got) == len(found), f"a key returned twice after: {where}"
        assert found == want, f"rows after: {where}: missing {sorted(set(want) - set(found))[:10]}, " \
                              f"extra {sorted(set(found) - set(want))[:10]}, " \
                              f"changed {[k for k in want if k in found and found[k] != want[k]][:10]}"

        part = self.rng.choice(PARTITIONS)
        got = self.c.query("t", filter='tag != ""', output_fields=["pk"], partition_names=[part],
                           consistency_level="Strong", limit=16384)
        assert sorted(r["pk"] for r in got) == sorted(k for k, r in rows.items() if r["partition"] == part), \
            f"partition {part} after: {where}"

        keys = self.m.some_keys(20) + [self.m.key(10**6 + 1)]
        got = self.c.get("t", ids=keys, output_fields=["pk", "tag", "vec"])
        assert {r["pk"]: r["tag"] for r in got} == {k: rows[k]["tag"] for k in keys if k in rows}, f"get after: {where}"
        for r in got:
            assert np.allclose(r["vec"], rows[r["pk"]]["vec"], atol=1e-6), f"vector of {r['pk']} after: {where}"

        if rows:
            q = [round(self.rng.uniform(-1, 1), 3) for _ in range(DIM)]
            res = self.c.search("t", data=[q], limit=min(len(rows), 16384), output_fields=["pk"],
                                consistency_level="Strong", search_params={"metric_type": "L2"})[0]
            assert sorted(h["pk"] for h in res) == sorted(rows), f"search ids after: {where}"
            for h in res[:20]:
                want_d = float(np.sum((np.asarray(q) - np.asarray(rows[h["pk"]]["vec"])) ** 2))
                assert h["distance"] == pytest.approx(want_d, rel=1e-4, abs=1e-5), f"distance after: {where}"


def create_collection(c, string_pk: bool) -> None:
    schema = c.create_schema(auto_id=False)
    if string_pk:
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=16)
    else:
        schema.add_field("pk", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("val", DataType.INT64)
    schema.add_field("tag", DataType.VARCHAR, max_length=16)
    index = c.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    c.create_collection("t", schema=schema, index_params=index, consistency_level="Strong", shards_num=2)
    for part in PARTITIONS[1:]:
        c.create_partition("t", part)
