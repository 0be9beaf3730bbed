"""The Helm chart, rendered by Helm's own Go engine (helm-python-sdk bundles Helm 4 as a library).

Every ``ci/*-values.yaml`` set is linted strictly and rendered; every object is validated against
the Kubernetes schemas and the prometheus-operator CRD schemas, the exporter configs load, and the
scrape config Prometheus Operator would generate scrapes every exporter once and matches every
alert selector (tests/deploy/test_scrape_targets.py), with a vLLM pod carrying the sidecar exactly
as the chart README documents it.
"""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import llm_exporter
import pytest
import yaml
from crd_schemas import SCHEMAS
from llm_exporter import configschema
from llm_exporter.config import load_config_text
from llm_exporter.webconfig import WebConfig
from scrape_check import check_variant
from support import REPO

CHART = REPO / "deploy" / "helm" / "llm-exporter"
VALUE_SETS = sorted(p.name.removesuffix("-values.yaml") for p in (CHART / "ci").glob("*-values.yaml"))
VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
NAMESPACE = "llm"


@pytest.fixture(scope="module")
def chart() -> Any:
    with helm.Chart.load(CHART) as c:
        yield c


def values(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / "ci" / f"{name}-values.yaml").read_text()) or {}


def render(chart: Any, vals: dict[str, Any], release: str = "llm-exporter") -> list[dict[str, Any]]:
    manifests = chart.render(vals, name=release, namespace=NAMESPACE, is_install=True)
    out = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        out += [d for d in yaml.safe_load_all(text) if d]
    return out


def sidecar_snippet() -> dict[str, Any]:
    text = (CHART / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- sidecar-snippet[^>]*-->\s*```yaml\n(.*?)```", text, re.S)
    assert m, "README lost its sidecar snippet"
    return yaml.safe_load(m.group(1))


def vllm_with_sidecar(secret: str, native: bool = False) -> list[dict[str, Any]]:
    """A user's vLLM Deployment + Service with the README's sidecar added, as a user would."""
    snippet = copy.deepcopy(sidecar_snippet())
    for v in snippet["volumes"]:
        if "secret" in v:
            v["secret"]["secretName"] = secret
    sidecars = snippet["containers"]
    if native:
        for c in sidecars:
            c["restartPolicy"] = "Always"
    labels = {"app": "vllm"}
    engine = {"name": "vllm", "image": "vllm/vllm-openai:v0.11.0", "ports": [{"name": "http", "containerPort": 8000}]}
    pod: dict[str, Any] = {"containers": [engine, *([] if native else sidecars)], "volumes": snippet["volumes"]}
    if native:
        pod["initContainers"] = sidecars
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "vllm"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": {**labels, "llm-exporter/scrape": "true"}}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "vllm", "labels": {"llm-exporter/scrape": "true"}},
        "spec": {
            "selector": labels,
            "ports": [
                {"name": "http", "port": 8000, "targetPort": "http"},
                {"name": "metrics", "port": 10556, "targetPort": "metrics"},
            ],
        },
    }
    return [deployment, service]


def validate(obj: dict[str, Any]) -> None:
    if obj["apiVersion"].startswith("monitoring.coreos.com/"):
        jsonschema.Draft202012Validator(SCHEMAS[obj["kind"]]).validate(obj)
        return
    for version in VERSIONS:
        kubernetes_validate.validate(obj, version, strict=True)


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def test_value_sets_exist() -> None:
    assert {"default", "full", "servicemonitor-tls", "existing-secrets", "minimal"} <= set(VALUE_SETS)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_lint_is_clean(name: str) -> None:
    report = helm.lint(CHART, values(name), strict=True, namespace=NAMESPACE, kube_version="v1.29.0")
    problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
    assert not problems, problems


@pytest.mark.parametrize(
    "vals,where",
    [
        ({"queueCollector": {"enable": True}}, "/queueCollector"),  # typo of enabled
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"prometheus": {"podMonitor": {"interval": "15 seconds"}}}, "/prometheus/podMonitor/interval"),
    ],
)
def test_values_schema_names_the_bad_key(vals: dict[str, Any], where: str) -> None:
    report = helm.lint(CHART, vals, strict=True, namespace=NAMESPACE)
    assert any(where in e for e in report["errors"]), report


@pytest.mark.parametrize("name", VALUE_SETS)
def test_every_rendered_object_validates(chart: Any, name: str) -> None:
    objs = render(chart, values(name))
    assert objs
    names = [(o["kind"], o["metadata"]["name"]) for o in objs]
    assert len(names) == len(set(names)), "two objects with one name"
    for obj in objs:
        assert obj["metadata"].get("namespace"), f"{obj['kind']} {obj['metadata']['name']} has no namespace"
        validate(obj)


@pytest.mark.parametrize("name", VALUE_SETS)
def test_scrape_config_matches_every_alert(chart: Any, name: str, tmp_path: Path) -> None:
    vals = values(name)
    objs = render(chart, vals)
    sidecar = next(
        (s["metadata"]["name"] for s in by_kind(objs, "Secret") if s["metadata"]["name"].endswith("sidecar")), "x"
    )
    for native in (False, True):
        labels = check_variant(objs + vllm_with_sidecar(sidecar, native), tmp_path)
        job = vals.get("prometheus", {}).get("job", "llm-exporter")
        assert {t["job"] for t in labels} == {job}


def test_exporter_configs_load_and_components_have_their_shape(chart: Any) -> None:
    objs = render(chart, values("full"))
    configs = {
        s["metadata"]["labels"]["app.kubernetes.io/component"]: load_config_text(
            s["stringData"]["config.yml"], env={"REDIS_URL": "redis://r:6379/0"}
        )
        for s in by_kind(objs, "Secret")
    }
    assert set(configs) == {"sidecar", "queue-collector", "gpu"}
    assert configs["sidecar"].inference and configs["sidecar"].queues == []
    assert configs["queue-collector"].queues and configs["queue-collector"].gpu.enabled is False
    assert configs["gpu"].gpu.enabled is True and configs["gpu"].inference == [] and configs["gpu"].queues == []
    (dep,) = by_kind(objs, "Deployment")
    assert dep["spec"]["replicas"] == 1 and dep["spec"]["strategy"]["type"] == "Recreate"
    (ds,) = by_kind(objs, "DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    assert pod["runtimeClassName"] == "nvidia" and pod["hostPID"] is True
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    (c,) = pod["containers"]
    assert "nvidia.com/gpu" not in str(c["resources"]), "the reader must not take a GPU from workloads"
    assert {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"} in c["env"]
    default_ds = render(chart, {"gpuDaemonSet": {"enabled": True}})
    assert "hostPID" not in by_kind(default_ds, "DaemonSet")[0]["spec"]["template"]["spec"], "hostPID is opt-in"
    for workload in (dep, ds):
        spec = workload["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and not sc["allowPrivilegeEscalation"]
            assert sc["capabilities"]["drop"] == ["ALL"]


def test_existing_secrets_are_used_and_not_rendered(chart: Any) -> None:
    objs = render(chart, values("existing-secrets"))
    assert by_kind(objs, "Secret") == [], "no Secret rendered when existing ones are named"
    (dep,) = by_kind(objs, "Deployment")
    secrets = {v["secret"]["secretName"] for v in dep["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    assert secrets == {"my-queue-config", "my-web-config"}
    assert (
        "--web.config.file=/etc/llm-exporter/web/web-config.yml"
        in dep["spec"]["template"]["spec"]["containers"][0]["args"]
    )


def test_web_config_secret_loads_and_probes_and_scrapes_use_tls(chart: Any, tmp_path: Path) -> None:
    objs = render(chart, values("servicemonitor-tls"))
    (web,) = [s for s in by_kind(objs, "Secret") if "web-config.yml" in s.get("stringData", {})]
    cfg = configschema.load(web["stringData"]["web-config.yml"], WebConfig, base_dir=tmp_path)
    assert cfg.tls_server_config is not None and cfg.tls_server_config.cert_file == "/etc/llm-exporter/tls/tls.crt"
    assert set(cfg.basic_auth_users) == {"prometheus"}
    for workload in by_kind(objs, "Deployment") + by_kind(objs, "DaemonSet"):
        (c,) = workload["spec"]["template"]["spec"]["containers"]
        assert c["image"].endswith("@" + values("servicemonitor-tls")["image"]["digest"])
        assert c["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
        assert c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    (sm,) = by_kind(objs, "ServiceMonitor")
    assert by_kind(objs, "PodMonitor") == []
    (ep,) = sm["spec"]["endpoints"]
    assert ep["scheme"] == "https" and ep["basicAuth"]["password"]["key"] == "password" and ep["tlsConfig"]["ca"]
    assert sm["metadata"]["labels"]["release"] == "prom"


@pytest.mark.parametrize(
    "vals,message",
    [
        ({"prometheus": {"serviceMonitor": {"enabled": True}}}, "not both"),
        ({"webConfig": {"tls": {"enabled": True}}}, "secretName is required"),
    ],
)
def test_bad_values_fail_with_a_clear_message(chart: Any, vals: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmError, match=message):
        chart.render(vals, name="x", namespace=NAMESPACE)


def test_rules_and_dashboards_are_the_bundle_files(chart: Any) -> None:
    objs = render(chart, values("full"))
    rules = {r["metadata"]["annotations"]["llm-exporter/source"]: r for r in by_kind(objs, "PrometheusRule")}
    sources = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "alerts").rglob("*.rules.yml")) + sorted(
        p.relative_to(REPO).as_posix() for p in (REPO / "alerts").rglob("*.alerts.yml")
    )
    assert set(rules) == set(sources)
    for src, rule in rules.items():
        assert rule["spec"] == yaml.safe_load((REPO / src).read_text()), src
        assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    cms = [c for c in by_kind(objs, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]]
    dashboards = sorted((REPO / "dashboards" / "grafana").rglob("*.json"))
    assert len(cms) == len(dashboards)
    for cm in cms:
        src = REPO / cm["metadata"]["annotations"]["llm-exporter/source"]
        assert list(cm["data"].values()) == [src.read_text(encoding="utf-8").rstrip("\n")]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["annotations"]["grafana_folder"] == "LLM"
    default = render(chart, {})
    assert not any("dcgm" in r["metadata"]["name"] for r in by_kind(default, "PrometheusRule")), "opt-in rules"


def test_chart_files_are_fresh() -> None:
    spec = importlib.util.spec_from_file_location("k8s_generate", REPO / "deploy" / "kubernetes" / "generate.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    wanted = gen.chart_files()
    files = CHART / "files"
    present = {p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()}
    assert present == set(wanted), "run python deploy/kubernetes/generate.py"
    for rel, text in wanted.items():
        assert (files / rel).read_text(encoding="utf-8") == text, (
            f"{rel} is stale: run python deploy/kubernetes/generate.py"
        )


def test_versions_move_together(chart: Any) -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = llm_exporter.__version__
    assert meta["version"] == version and meta["appVersion"] == version
    images = {
        c["image"]
        for w in by_kind(render(chart, values("full")), "Deployment")
        + by_kind(render(chart, values("full")), "DaemonSet")
        for c in w["spec"]["template"]["spec"]["containers"]
    }
    assert images == {f"ghcr.io/llm-exporter/llm-exporter:{version}"}
    assert {c["image"] for c in sidecar_snippet()["containers"]} == images, "README sidecar snippet image"
    manifests = {
        c["image"]
        for p in (REPO / "deploy" / "kubernetes").glob("*.yaml")
        for d in yaml.safe_load_all(p.read_text())
        if d and d.get("kind") == "Deployment"
        for c in d["spec"]["template"]["spec"].get("containers", [])
        + d["spec"]["template"]["spec"].get("initContainers", [])
        if "llm-exporter" in c["image"]
    }
    assert manifests == images, "plain manifests and chart ship the same image"
