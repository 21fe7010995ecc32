"""A client-side scenario run under any pymilvus version (2.4 ... 3.x) against a live server.

Usage: python client_scenario.py HOST PORT.  Exits non-zero with the failing step on error.
Kept free of test-framework imports so it runs in a bare environment with only pymilvus.
"""

from __future__ import annotations

import random
import sys
import warnings

warnings.simplefilter("ignore")

from pymilvus import (  # noqa: E402
    Collection,
    CollectionSchema,
    DataType,
    FieldSchema,
    MilvusClient,
    MilvusException,
    connections,
    utility,
)
from pymilvus import __version__ as PYMILVUS_VERSION  # noqa: E402


def check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def main(host: str, port: str) -> None:
    uri = f"http://{host}:{port}"
    tag = "v" + PYMILVUS_VERSION.replace(".", "_").replace("-", "_").replace("+", "_")
    name = f"compat_{tag}_{random.randrange(1 << 30)}"
    dim = 8
    rng = random.Random(7)

    client = MilvusClient(uri=uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=True)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("title", DataType.VARCHAR, max_length=64)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    client.create_collection(name, schema=schema, consistency_level="Strong")
    check(client.has_collection(name), "has_collection after create")
    desc = client.describe_collection(name)
    check([f["name"] for f in desc["fields"]] == ["id", "title", "vec"], f"describe fields: {desc['fields']}")

    rows = [{"id": i, "title": f"t{i}", "vec": [rng.random() for _ in range(dim)], "color": i % 3}
            for i in range(200)]
    res = client.insert(name, rows)
    check(res["insert_count"] == 200, f"insert count {res}")
    client.flush(name)
    client.load_collection(name)
    hits = client.search(name, data=[rows[5]["vec"]], limit=3, output_fields=["title"],
                         search_params={"metric_type": "L2"})
    check(hits[0][0]["id"] == 5 and hits[0][0]["entity"]["title"] == "t5", f"search top hit {hits[0][0]}")
    got = client.get(name, ids=[1, 2])
    check(sorted(r["id"] for r in got) == [1, 2], f"get {got}")
    count = client.query(name, filter="id >= 0", output_fields=["count(*)"])
    check(count[0]["count(*)"] == 200, f"count {count}")
    client.delete(name, ids=[1, 2, 3])
    count = client.query(name, filter="", output_fields=["count(*)"])
    check(count[0]["count(*)"] == 197, f"count after delete {count}")
    client.upsert(name, [{"id": 4, "title": "new", "vec": [0.0] * dim, "color": 9}])
    row = client.query(name, filter="id == 4", output_fields=["title", "color"])
    check(row[0]["title"] == "new" and row[0]["color"] == 9, f"upsert {row}")
    try:
        client.insert(name, [{"id": 1000, "title": "x", "vec": [0.0] * (dim + 1)}])
        raise AssertionError("a wrong dimension was accepted")
    except MilvusException:
        pass

    # ORM
    alias = f"orm_{tag}"
    connections.connect(alias=alias, host=host, port=port)
    oname = name + "_orm"
    fields = [
        FieldSchema("pk", DataType.INT64, is_primary=True, auto_id=True),
        FieldSchema("emb", DataType.FLOAT_VECTOR, dim=dim),
    ]
    coll = Collection(oname, CollectionSchema(fields), using=alias, consistency_level="Strong")
    mr = coll.insert([[[rng.random() for _ in range(dim)] for _ in range(50)]])
    check(len(mr.primary_keys) == 50, "orm insert ids")
    coll.flush()
    check(coll.num_entities == 50, f"num_entities {coll.num_entities}")
    coll.load()
    res = coll.search([[0.5] * dim], "emb", {"metric_type": "L2", "params": {}}, limit=5)
    check(len(res[0]) == 5, "orm search hits")
    check(oname in utility.list_collections(using=alias), "orm list_collections")
    coll.release()
    coll.drop()
    connections.disconnect(alias)

    client.drop_collection(name)
    check(not client.has_collection(name), "dropped")
    client.close()
    sys.stdout.write(f"ok pymilvus {PYMILVUS_VERSION}\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
