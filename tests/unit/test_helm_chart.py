"""The Helm chart renders in both modes, lints, every manifest validates against the
Kubernetes schemas, and the product settings it writes are the product's own (items.py).

Rendering needs PyPI ``helm-python-sdk`` (Helm v4 as a shared library) and validation PyPI
``kubernetes-validate`` (the ``test`` extra): a missing package skips with what could not be
checked; a package that installs but does not work fails under MILVUS_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from milvus.config import Config
from milvus.config.items import ITEMS_BY_KEY

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "milvus"
KUBE_VERSION = "1.30.0"
ROLES = ("rootcoord", "datacoord", "querycoord", "datanode", "querynode", "indexnode", "proxy")
# kinds kubernetes-validate has no schema for (CRDs): checked by hand below
CRD_KINDS = {"ServiceMonitor"}
MODES = {
    "cluster": {},
    "cluster-nats": {"mq": {"type": "nats"}, "minio": {"existingSecret": "s3-creds"}},
    "standalone": {"cluster": {"enabled": False}},
    "standalone-external": {"cluster": {"enabled": False}, "standalone": {"embedded": False}},
}


def _broken(what: str, exc: BaseException) -> None:
    message = f"{what} is installed but does not work here: {exc!r}"
    if os.environ.get("MILVUS_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def helm():
    helm_python = pytest.importorskip(
        "helm_python", reason="helm-python-sdk not installed: the chart's rendering and lint were NOT checked")
    try:
        helm_python.Chart.load(str(CHART))
    except Exception as exc:  # noqa: BLE001 - the shared library may not load on this machine
        _broken("helm-python-sdk (Helm v4 shared library)", exc)
    return helm_python


@pytest.fixture(scope="module")
def validator():
    return pytest.importorskip(
        "kubernetes_validate",
        reason="kubernetes-validate not installed: rendered manifests were NOT validated against Kubernetes schemas")


def render(helm, values: dict[str, Any]) -> list[dict[str, Any]]:
    out = helm.Chart.load(str(CHART)).render(values=values, name="rel", namespace="milvus")
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith(".txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def product_config(docs: list[dict]) -> dict[str, Any]:
    (configmap,) = by_kind(docs, "ConfigMap")
    return yaml.safe_load(configmap["data"]["milvus.yaml"])


def _compatible(item_type: type, value: Any) -> bool:
    if item_type is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if item_type is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, item_type)


def test_lint(helm):
    result = helm.lint(str(CHART), strict=True, kube_version=KUBE_VERSION)
    assert not result["errors"], result


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_manifest_validates(helm, validator, mode):
    docs = render(helm, MODES[mode])
    assert docs
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            continue
        try:
            validator.validate(doc, KUBE_VERSION, strict=True)
        except validator.ValidationError as exc:
            pytest.fail(f"{mode}: {doc['kind']} {doc['metadata']['name']}: {exc}")
        except validator.SchemaNotFoundError as exc:  # pragma: no cover - depends on the package's data
            _broken("kubernetes-validate (schemas)", exc)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_servicemonitor_scrapes_the_metrics_ports(helm, mode):
    docs = render(helm, MODES[mode])
    (monitor,) = by_kind(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    services = by_kind(docs, "Service")
    for service in services:
        assert selector.items() <= service["metadata"]["labels"].items()
        assert "metrics" in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_cluster_mode_runs_every_role(helm):
    docs = render(helm, {"queryNode": {"replicas": 3}})
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in by_kind(docs, "Deployment")}
    assert set(deployments) == set(ROLES)
    assert deployments["querynode"]["spec"]["replicas"] == 3
    for role, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["args"][:2] == ["run", role]
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["metrics"] == ITEMS_BY_KEY["metrics.port"].default
    (public,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "rel-milvus"]
    assert {p["name"]: p["port"] for p in public["spec"]["ports"]} == {"milvus": 19530, "metrics": 9091}
    assert public["spec"]["selector"]["app.kubernetes.io/component"] == "proxy"
    config = product_config(docs)
    assert (config["metastore.type"], config["mq.type"], config["common.storageType"]) == ("etcd", "pulsar", "minio")
    assert "minio.secretAccessKey" not in config  # credentials come from a Secret, by env var


def test_standalone_mode_is_one_pod_on_its_volume(helm):
    docs = render(helm, MODES["standalone"])
    (deployment,) = by_kind(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["run", "standalone"]
    assert by_kind(docs, "PersistentVolumeClaim")
    config = product_config(docs)
    assert (config["metastore.type"], config["mq.type"], config["common.storageType"]) == ("local", "local", "local")
    (public,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "rel-milvus"]
    assert public["spec"]["selector"]["app.kubernetes.io/component"] == "standalone"


@pytest.mark.parametrize("mode", sorted(MODES))
def test_rendered_config_uses_declared_keys_and_types(helm, mode):
    for key, value in product_config(render(helm, MODES[mode])).items():
        assert key in ITEMS_BY_KEY, f"the chart sets {key!r}, which milvus/config/items.py does not declare"
        item = ITEMS_BY_KEY[key]
        assert _compatible(item.type, value), f"{key}: {value!r} is not a {item.type.__name__}"
        if item.elem is not None:
            assert all(isinstance(v, item.elem) for v in value), key


def test_values_config_defaults_agree_with_items():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for key, value in values["config"].items():
        assert key in ITEMS_BY_KEY, f"values.yaml config sets undeclared {key!r}"
        item = ITEMS_BY_KEY[key]
        assert _compatible(item.type, value), f"{key}: {value!r} is not a {item.type.__name__}"
        assert value == item.default, f"values.yaml {key}={value!r}, items.py default {item.default!r}"


def test_values_backends_map_to_declared_keys():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for section in ("etcd", "pulsar", "nats", "minio"):
        for name, value in values[section].items():
            if name == "existingSecret":
                continue
            key = f"{section}.{name}"
            assert key in ITEMS_BY_KEY, key
            assert _compatible(ITEMS_BY_KEY[key].type, value), key


def test_rendered_config_loads_as_the_product_config(helm, tmp_path):
    for mode in MODES:
        path = tmp_path / f"{mode}.yaml"
        path.write_text(yaml.safe_dump(product_config(render(helm, MODES[mode]))))
        Config.load(str(path))
