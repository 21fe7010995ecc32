"""AlterCollectionField through the real pymilvus client (``alter_collection_field``), every
role in this process: a VarChar's ``max_length`` and an array's ``max_capacity`` change, new
rows are checked against the new limits at once, and what cannot be altered is refused."""

from __future__ import annotations

import pytest
from pymilvus import DataType, MilvusClient, MilvusException

from tests.integration.cluster import running_cluster

pytestmark = pytest.mark.filterwarnings("ignore::pymilvus.decorators.PyMilvusDeprecationWarning")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("alter-field") / "data", {}) as cluster:
        c = MilvusClient(uri=f"http://127.0.0.1:{cluster.port}")
        yield c
        c.close()


def _field(client, name, field):
    return next(f for f in client.describe_collection(name)["fields"] if f["name"] == field)


def test_limits_change_and_new_rows_follow_them(client):
    schema = MilvusClient.create_schema()
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vec", DataType.FLOAT_VECTOR, dim=2)
    schema.add_field("title", DataType.VARCHAR, max_length=8)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.INT64, max_capacity=2)
    index = client.prepare_index_params()
    index.add_index("vec", index_type="FLAT", metric_type="L2")
    client.create_collection("docs", schema=schema, index_params=index, consistency_level="Strong")
    long_row = {"id": 1, "vec": [0.0, 1.0], "title": "a" * 12, "tags": [1, 2, 3]}
    with pytest.raises(MilvusException):
        client.insert("docs", [long_row])

    client.alter_collection_field("docs", "title", field_params={"max_length": 16})
    client.alter_collection_field("docs", "tags", field_params={"max_capacity": 4})
    assert _field(client, "docs", "title")["params"]["max_length"] == 16
    assert _field(client, "docs", "tags")["params"]["max_capacity"] == 4
    assert client.insert("docs", [long_row])["insert_count"] == 1
    got = client.query("docs", filter="id == 1", output_fields=["title", "tags"], consistency_level="Strong")
    assert got[0]["title"] == "a" * 12 and got[0]["tags"] == [1, 2, 3]

    client.alter_collection_field("docs", "title", field_params={"max_length": 4})
    with pytest.raises(MilvusException):
        client.insert("docs", [{**long_row, "id": 2, "title": "abcdef"}])


@pytest.mark.parametrize("field, params, words", [
    ("title", {"max_length": 0}, "maximum length"),
    ("title", {"dim": 4}, "cannot be altered"),
    ("nope", {"max_length": 4}, "field not found"),
])
def test_what_cannot_be_altered_is_refused(client, field, params, words):
    with pytest.raises(MilvusException) as excinfo:
        client.alter_collection_field("docs", field, field_params=params)
    assert words in excinfo.value.message
    assert _field(client, "docs", "title")["params"]["max_length"] == 4  # unchanged
