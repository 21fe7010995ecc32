"""The Helm chart renders in both modes, with its bundled etcd / Pulsar / NATS / MinIO charts
(charts/*, Chart.yaml dependencies) on and off, lints, every manifest validates against the
Kubernetes schemas, milvus points at the bundled services when they are on and at the external
endpoints when not, and the product settings it writes are the product's own (items.py).

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
DEPENDENCIES = ("etcd", "minio", "pulsar", "nats")
NO_DEPENDENCIES = {name: {"enabled": False} for name in DEPENDENCIES}
NATS = {"mq": {"type": "nats"}, "pulsar": {"enabled": False}, "nats": {"enabled": True}}
MODES = {
    # the bundled etcd, Pulsar and MinIO (the defaults)
    "cluster": {},
    "cluster-nats": {**NATS, "minio": {"existingSecret": "s3-creds"}},
    "cluster-etcd3-no-persistence": {"etcd": {"replicaCount": 3, "persistence": {"enabled": False}},
                                     "minio": {"persistence": {"enabled": False}}},
    # external services only
    "cluster-external": NO_DEPENDENCIES,
    "cluster-nats-external": {**NO_DEPENDENCIES, "mq": {"type": "nats"},
                              "minio": {"enabled": False, "existingSecret": "s3-creds"}},
    "standalone": {"cluster": {"enabled": False}, "standalone": {"embedded": True}, **NO_DEPENDENCIES},
    "standalone-bundled": {"cluster": {"enabled": False}},
    "standalone-external": {"cluster": {"enabled": False}, "standalone": {"embedded": False}, **NO_DEPENDENCIES},
}
# the bundled services each mode deploys
BUNDLED = {
    "cluster": {"etcd", "minio", "pulsar"},
    "cluster-nats": {"etcd", "minio", "nats"},
    "cluster-etcd3-no-persistence": {"etcd", "minio", "pulsar"},
    "cluster-external": set(),
    "cluster-nats-external": set(),
    "standalone": set(),
    "standalone-bundled": {"etcd", "minio", "pulsar"},
    "standalone-external": set(),
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


def render_files(helm, values: dict[str, Any]) -> dict[str, str]:
    return helm.Chart.load(str(CHART)).render(values=values, name="rel", namespace="milvus")


def render(helm, values: dict[str, Any]) -> list[dict[str, Any]]:
    out = render_files(helm, values)
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith(".txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def milvus_docs(docs: list[dict]) -> list[dict]:
    """The milvus chart's own objects (not the bundled services')."""
    return [d for d in docs if d["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "milvus"]


def by_name(docs: list[dict], kind: str, name: str) -> dict:
    (found,) = [d for d in by_kind(docs, kind) if d["metadata"]["name"] == name]
    return found


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
        selected = selector.items() <= service["metadata"]["labels"].items()
        assert selected == (service in milvus_docs(docs)), service["metadata"]["name"]
        if selected:
            assert "metrics" in {p["name"] for p in service["spec"]["ports"]}
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_cluster_mode_runs_every_role(helm):
    docs = render(helm, {"queryNode": {"replicas": 3}})
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in by_kind(docs, "Deployment")}
    assert set(deployments) == set(ROLES)
    assert not by_kind(milvus_docs(docs), "StatefulSet")
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


def test_coordinators_run_active_standby_when_asked(helm, validator):
    docs = render(helm, {"rootCoord": {"activeStandby": {"enabled": True}},
                         "queryCoord": {"replicas": 3, "activeStandby": {"enabled": True}}})
    for doc in docs:
        if doc["kind"] not in CRD_KINDS:
            validator.validate(doc, KUBE_VERSION, strict=True)
    deployments = {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in by_kind(docs, "Deployment")}
    replicas = {role: deployments[role]["spec"]["replicas"] for role in ("rootcoord", "datacoord", "querycoord")}
    assert replicas == {"rootcoord": 2, "datacoord": 1, "querycoord": 3}
    config = product_config(docs)
    assert config["rootCoord.enableActiveStandby"] is True and config["queryCoord.enableActiveStandby"] is True
    assert "dataCoord.enableActiveStandby" not in config
    for key in ("rootCoord.enableActiveStandby", "queryCoord.enableActiveStandby"):
        assert key in ITEMS_BY_KEY


def test_standalone_mode_is_one_pod_on_its_volume(helm):
    docs = render(helm, MODES["standalone"])
    assert not by_kind(docs, "StatefulSet")
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
        bundled = yaml.safe_load((CHART / "charts" / section / "values.yaml").read_text())
        for name, value in values[section].items():
            if name in ("existingSecret", "enabled") or name in bundled:  # settings of the bundled chart
                continue
            key = f"{section}.{name}"
            assert key in ITEMS_BY_KEY, key
            assert _compatible(ITEMS_BY_KEY[key].type, value), key


def test_rendered_config_loads_as_the_product_config(helm, tmp_path):
    for mode in MODES:
        path = tmp_path / f"{mode}.yaml"
        path.write_text(yaml.safe_dump(product_config(render(helm, MODES[mode]))))
        Config.load(str(path))


# ---- the bundled services (Chart.yaml dependencies, charts/*) ---------------------------------


def _container(statefulset: dict) -> dict:
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    return container


def _env(container: dict) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", ())}


def _serves(service: dict, statefulset: dict, port: int) -> None:
    """``service`` selects the StatefulSet's pods and sends ``port`` to a port they declare."""
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (spec,) = [p for p in service["spec"]["ports"] if p["port"] == port]
    assert spec["targetPort"] in {p["name"] for p in _container(statefulset)["ports"]}


def test_chart_declares_its_dependencies_as_local_charts():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    declared = {d["name"]: d for d in chart["dependencies"]}
    assert set(declared) == set(DEPENDENCIES)
    for name, dependency in declared.items():
        assert dependency["condition"] == f"{name}.enabled"
        assert dependency["repository"] == f"file://charts/{name}"
        sub = yaml.safe_load((CHART / "charts" / name / "Chart.yaml").read_text())
        assert (sub["name"], sub["version"]) == (name, dependency["version"])


@pytest.mark.parametrize("mode", sorted(MODES))
def test_helm_renders_exactly_the_enabled_subcharts(helm, mode):
    files = render_files(helm, MODES[mode])
    rendered = {path.split("/")[2] for path in files if path.startswith("milvus/charts/")}
    assert rendered == BUNDLED[mode]  # helm_python processes the dependencies and their conditions
    docs = render(helm, MODES[mode])
    statefulsets = {s["metadata"]["labels"]["app.kubernetes.io/name"]: s for s in by_kind(docs, "StatefulSet")}
    assert set(statefulsets) == BUNDLED[mode]
    for name, statefulset in statefulsets.items():
        assert statefulset["metadata"]["name"] == f"rel-{name}"
        headless = by_name(docs, "Service", statefulset["spec"]["serviceName"])
        assert headless["spec"]["clusterIP"] == "None"
        assert headless["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()
        container = _container(statefulset)
        assert container["livenessProbe"] and container["readinessProbe"]
        volume = container["volumeMounts"][0]["name"]
        claims = [c["metadata"]["name"] for c in statefulset["spec"].get("volumeClaimTemplates", ())]
        volumes = [v["name"] for v in statefulset["spec"]["template"]["spec"].get("volumes", ())]
        persistent = MODES[mode].get(name, {}).get("persistence", {}).get("enabled", True)
        assert (claims, volumes) == (([volume], []) if persistent else ([], [volume]))


def test_milvus_points_at_the_bundled_services(helm):
    docs = render(helm, {})
    config = product_config(docs)
    statefulsets = {s["metadata"]["name"]: s for s in by_kind(docs, "StatefulSet")}
    assert config["etcd.endpoints"] == ["rel-etcd:2379"]
    _serves(by_name(docs, "Service", "rel-etcd"), statefulsets["rel-etcd"], 2379)
    assert config["pulsar.address"] == "pulsar://rel-pulsar:6650"
    _serves(by_name(docs, "Service", "rel-pulsar"), statefulsets["rel-pulsar"], 6650)
    assert config["minio.address"] == "rel-minio:9000"
    _serves(by_name(docs, "Service", "rel-minio"), statefulsets["rel-minio"], 9000)
    # one set of S3 credentials: MinIO's root user is what every milvus role signs with
    (secret,) = by_kind(docs, "Secret")
    assert secret["metadata"]["name"] == "rel-minio"
    assert secret["stringData"] == {"accesskey": "minioadmin", "secretkey": "minioadmin"}
    minio_env = _env(_container(statefulsets["rel-minio"]))
    assert minio_env["MINIO_ROOT_USER"]["secretKeyRef"] == {"name": "rel-minio", "key": "accesskey"}
    assert minio_env["MINIO_ROOT_PASSWORD"]["secretKeyRef"] == {"name": "rel-minio", "key": "secretkey"}
    for deployment in by_kind(docs, "Deployment"):
        env = _env(_container(deployment))
        assert env["MILVUS_MINIO_ACCESSKEYID"]["secretKeyRef"] == {"name": "rel-minio", "key": "accesskey"}

    nats = render(helm, MODES["cluster-nats"])
    config = product_config(nats)
    assert config["nats.url"] == "nats://rel-nats:4222" and "pulsar.address" not in config
    _serves(by_name(nats, "Service", "rel-nats"), by_name(nats, "StatefulSet", "rel-nats"), 4222)
    assert not by_kind(nats, "Secret")  # existingSecret: for MinIO and milvus alike
    assert _env(_container(by_name(nats, "StatefulSet", "rel-minio")))["MINIO_ROOT_USER"]["secretKeyRef"]["name"] \
        == "s3-creds"


def test_external_endpoints_when_the_dependencies_are_off(helm):
    values = {**NO_DEPENDENCIES, "etcd": {"enabled": False, "endpoints": ["etcd-a:2379", "etcd-b:2379"]},
              "pulsar": {"enabled": False, "address": "pulsar://broker:6650"},
              "minio": {"enabled": False, "address": "s3.example:443"}}
    docs = render(helm, values)
    config = product_config(docs)
    assert config["etcd.endpoints"] == ["etcd-a:2379", "etcd-b:2379"]
    assert (config["pulsar.address"], config["minio.address"]) == ("pulsar://broker:6650", "s3.example:443")
    assert not by_kind(docs, "StatefulSet")
    (secret,) = by_kind(docs, "Secret")
    assert secret["metadata"]["name"] == "rel-milvus-minio"
    config = product_config(render(helm, MODES["cluster-nats-external"]))
    assert config["nats.url"] == "nats://milvus-nats:4222"


def test_the_bundled_services_run_as_their_images_need(helm):
    docs = render(helm, {**MODES["cluster-etcd3-no-persistence"]})
    etcd = _container(by_name(docs, "StatefulSet", "rel-etcd"))
    assert etcd["image"].startswith("quay.io/coreos/etcd:")
    env = _env(etcd)
    assert env["ETCD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    peers = [f"rel-etcd-{i}=http://rel-etcd-{i}.rel-etcd-headless.milvus.svc:2380" for i in range(3)]
    assert env["ETCD_INITIAL_CLUSTER"] == ",".join(peers)
    assert env["ETCD_ADVERTISE_CLIENT_URLS"] == "http://$(ETCD_NAME).rel-etcd-headless.milvus.svc:2379"
    assert env["ETCD_LISTEN_CLIENT_URLS"] == "http://0.0.0.0:2379"
    assert etcd["readinessProbe"]["httpGet"] == {"path": "/health", "port": "metrics"}
    assert by_name(docs, "StatefulSet", "rel-etcd")["spec"]["replicas"] == 3

    minio = _container(by_name(docs, "StatefulSet", "rel-minio"))
    assert minio["image"].startswith("minio/minio:")
    assert minio["args"][:3] == ["minio", "server", "/export"]
    assert minio["readinessProbe"]["httpGet"] == {"path": "/minio/health/ready", "port": "s3"}

    pulsar = _container(by_name(docs, "StatefulSet", "rel-pulsar"))
    assert pulsar["image"].startswith("apachepulsar/pulsar:")
    assert "bin/pulsar standalone" in pulsar["args"][0]
    env = _env(pulsar)
    assert env["advertisedAddress"] == "$(POD_IP)"  # lookups answer with an address milvus can reach
    assert [e["name"] for e in pulsar["env"]].index("POD_IP") < [e["name"] for e in pulsar["env"]].index(
        "advertisedAddress")

    nats = _container(by_name(render(helm, MODES["cluster-nats"]), "StatefulSet", "rel-nats"))
    assert nats["image"].startswith("nats:") and "--jetstream" in nats["args"]
    assert nats["readinessProbe"]["httpGet"]["port"] == "monitor"


@pytest.mark.parametrize("values, message", [
    ({"mq": {"type": "nats"}}, "set pulsar.enabled=false"),
    ({"nats": {"enabled": True}}, "set nats.enabled=false"),
    ({"cluster": {"enabled": False}, "standalone": {"embedded": True}}, "standalone.embedded=true"),
    ({"dataCoord": {"replicas": 2}}, "dataCoord.activeStandby.enabled=true"),
])
def test_contradictory_dependencies_fail_to_render(helm, values, message):
    with pytest.raises(helm.HelmRenderError, match=message):
        render(helm, values)
