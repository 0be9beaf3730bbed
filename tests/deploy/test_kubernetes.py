"""Kubernetes manifests: schema-valid offline, consistent with each other, and fresh."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import llm_exporter
import pytest
import yaml
from crd_schemas import SCHEMAS
from keda_schema import SCALED_OBJECT
from llm_exporter.config import load_config_text
from support import REPO, need_binary

K8S = REPO / "deploy" / "kubernetes"
# Native sidecars need 1.29 (on by default from then); also check against the newest schemas bundled.
VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?")
EXPORTER_IMAGE = f"ghcr.io/llm-exporter/llm-exporter:{llm_exporter.__version__}"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("k8s_generate", K8S / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def all_objects() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in manifest_files() for d in docs(p)]


def exporter_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        c
        for c in pod_spec.get("containers", []) + pod_spec.get("initContainers", [])
        if c["image"].split(":")[0].endswith("/llm-exporter")
    ]


def deployments(path: Path) -> list[dict[str, Any]]:
    return [d for d in docs(path) if d["kind"] == "Deployment"]


def test_expected_manifests_exist() -> None:
    names = {p.relative_to(K8S).as_posix() for p in manifest_files()}
    for required in (
        "vllm-sidecar.yaml",
        "vllm-native-sidecar.yaml",
        "service.yaml",
        "podmonitor.yaml",
        "servicemonitor.yaml",
        "queue-collector.yaml",
        "generated/prometheusrules.yaml",
        "generated/dashboards.yaml",
    ):
        assert required in names


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: p.relative_to(K8S).as_posix())
def test_manifest_validates(path: Path) -> None:
    objects = docs(path)
    assert objects, f"{path} holds no objects"
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            jsonschema.Draft202012Validator(SCHEMAS[obj["kind"]]).validate(obj)
            continue
        if obj["apiVersion"].startswith("keda.sh/"):
            jsonschema.Draft202012Validator(SCALED_OBJECT).validate(obj)
            continue
        for version in VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_crd_schemas_reject_mistakes() -> None:
    """The hand-written CRD schemas must catch a typo, a bad duration and a misplaced field."""
    (pm,) = docs(K8S / "podmonitor.yaml")
    broken = [
        {**pm, "spec": {**pm["spec"], "podMetricEndpoints": pm["spec"]["podMetricsEndpoints"]}},
        {**pm, "spec": {**pm["spec"], "podMetricsEndpoints": [{"port": "metrics", "interval": "15 seconds"}]}},
        {
            **pm,
            "spec": {
                **pm["spec"],
                "podMetricsEndpoints": [
                    {"port": "metrics", "relabelings": [{"sourceLabels": ["a"], "action": "rename"}]}
                ],
            },
        },
    ]
    for obj in broken:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(SCHEMAS["PodMonitor"]).validate(obj)
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "x"},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "record": "b", "expr": "1"}]}]},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMAS["PrometheusRule"]).validate(rule)


def test_kustomization_lists_existing_unique_objects() -> None:
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    seen: set[tuple[str, str]] = set()
    for res in kust["resources"]:
        path = K8S / res
        assert path.is_file(), res
        for obj in docs(path):
            key = (obj["kind"], obj["metadata"]["name"])
            assert key not in seen, f"{key} defined twice in the kustomization"
            seen.add(key)
    kinds = {k for k, _ in seen}
    assert {"Deployment", "Service", "PodMonitor", "PrometheusRule", "ConfigMap"} <= kinds


@pytest.mark.parametrize("name,native", [("vllm-sidecar.yaml", False), ("vllm-native-sidecar.yaml", True)])
def test_sidecar_forms(name: str, native: bool) -> None:
    (dep,) = deployments(K8S / name)
    pod = dep["spec"]["template"]["spec"]
    where = "initContainers" if native else "containers"
    (exporter,) = [c for c in pod.get(where, []) if c["name"] == "llm-exporter"]
    assert exporter_containers(pod) == [exporter], "exactly one exporter, in the expected list"
    if native:
        assert exporter["restartPolicy"] == "Always", "a native sidecar is an init container restarted Always"
    else:
        assert "restartPolicy" not in exporter
    engine = next(c for c in pod["containers"] if c["name"] == "vllm")
    assert engine["resources"]["limits"]["nvidia.com/gpu"] == 1
    model = [e for e in engine["env"] if e["name"] == "MODEL"]
    assert len(model) == 1 and "$(MODEL)" in engine["args"], "the model name is set in exactly one place"


def test_both_sidecar_forms_differ_only_in_placement() -> None:
    def normalised(name: str) -> list[dict[str, Any]]:
        out = []
        for obj in docs(K8S / name):
            if obj["kind"] == "Deployment":
                pod = obj["spec"]["template"]["spec"]
                init = pod.pop("initContainers", [])
                for c in init:
                    c.pop("restartPolicy", None)
                pod["containers"] = sorted(pod["containers"] + init, key=lambda c: c["name"])
            out.append(obj)
        return out

    assert normalised("vllm-sidecar.yaml") == normalised("vllm-native-sidecar.yaml")


def _exporter_pods() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (p, d)
        for p, d in all_objects()
        if d["kind"] == "Deployment" and exporter_containers(d["spec"]["template"]["spec"])
    ]


def test_exporter_containers_are_locked_down_and_sized() -> None:
    pods = _exporter_pods()
    assert len(pods) == 3
    for path, dep in pods:
        pod = dep["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, f"{path}: RBAC-free, no token"
        for c in exporter_containers(pod):
            assert c["image"] == EXPORTER_IMAGE, f"{path}: image tag follows the package version"
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] != 0
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            res = c["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]) and "memory" in res["limits"]
            for value in [*res["requests"].values(), *res["limits"].values()]:
                assert QUANTITY.fullmatch(str(value)), f"{path}: not a Kubernetes quantity: {value!r}"
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            assert ports == {"metrics": 10556}
            assert c["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
            assert c["readinessProbe"]["httpGet"]["path"] == "/-/ready"
            mounts = {m["mountPath"] for m in c["volumeMounts"]}
            assert "/tmp" in mounts, "a writable /tmp next to the read-only root filesystem"


def _configmaps() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in all_objects() if d["kind"] == "ConfigMap"}


def _exporter_config(path: Path, dep: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    pod = dep["spec"]["template"]["spec"]
    (c,) = exporter_containers(pod)
    (flag,) = [a for a in c["args"] if a.startswith("--config.file=")]
    config_path = Path(flag.split("=", 1)[1])
    mount = next(m for m in c["volumeMounts"] if config_path.is_relative_to(m["mountPath"]))
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    cm = _configmaps()[volume["configMap"]["name"]]
    text = cm["data"][str(config_path.relative_to(mount["mountPath"]))]
    env = {e["name"]: e["value"] for e in c.get("env", []) if "value" in e}
    return load_config_text(text, env=env), env


def test_exporter_configs_load() -> None:
    by_file = {p.name: _exporter_config(p, d)[0] for p, d in _exporter_pods()}
    for name in ("vllm-sidecar.yaml", "vllm-native-sidecar.yaml"):
        cfg = by_file[name]
        assert [t.url for t in cfg.inference] == ["http://127.0.0.1:8000"] and cfg.inference[0].server == "vllm"
        assert cfg.queues == [], "queues are read by the queue collector only, never per pod"
    queue_cfg = by_file["queue-collector.yaml"]
    assert queue_cfg.queues and queue_cfg.inference == [] and queue_cfg.gpu.enabled is False


def test_queue_collector_is_a_single_reader() -> None:
    (dep,) = deployments(K8S / "queue-collector.yaml")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"]["type"] == "Recreate", "no second reader during a rollout"


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    ok = all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
    for expr in selector.get("matchExpressions", []):
        value = labels.get(expr["key"])
        ok &= {
            "In": value in expr.get("values", []),
            "NotIn": value not in expr.get("values", []),
            "Exists": value is not None,
            "DoesNotExist": value is None,
        }[expr["operator"]]
    return ok


def test_podmonitor_selects_every_exporter_pod_on_its_metrics_port() -> None:
    (pm,) = docs(K8S / "podmonitor.yaml")
    ports = {e["port"] for e in pm["spec"]["podMetricsEndpoints"]}
    for path, dep in _exporter_pods():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert _matches(pm["spec"]["selector"], labels), f"{path} is not scraped"
        assert _matches(dep["spec"]["selector"], labels)
        pod = dep["spec"]["template"]["spec"]
        names = {p["name"] for c in exporter_containers(pod) for p in c["ports"]}
        assert ports <= names
    for obj in docs(K8S / "podmonitor.yaml") + docs(K8S / "servicemonitor.yaml"):
        assert "release" in obj["metadata"]["labels"], "kube-prometheus-stack selects by its release label"
    # The job label each variant really gets is checked in test_scrape_targets.py.


def test_servicemonitor_reaches_the_exporter_through_the_service() -> None:
    (sm,) = docs(K8S / "servicemonitor.yaml")
    (svc,) = docs(K8S / "service.yaml")
    (queue_svc,) = [d for d in docs(K8S / "queue-collector.yaml") if d["kind"] == "Service"]
    assert _matches(sm["spec"]["selector"], svc["metadata"]["labels"])
    assert _matches(sm["spec"]["selector"], queue_svc["metadata"]["labels"]), "the queue collector is scraped too"
    svc_ports = {p["name"]: p for p in svc["spec"]["ports"]}
    for ep in sm["spec"]["endpoints"]:
        assert ep["port"] in svc_ports
    for name in ("vllm-sidecar.yaml", "vllm-native-sidecar.yaml"):
        (dep,) = deployments(K8S / name)
        assert _matches({"matchLabels": svc["spec"]["selector"]}, dep["spec"]["template"]["metadata"]["labels"])
        pod = dep["spec"]["template"]["spec"]
        container_ports = {p["name"] for c in pod["containers"] + pod.get("initContainers", []) for p in c["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= container_ports


def test_prometheusrules_wrap_every_rule_file_unchanged() -> None:
    gen = _generator()
    sources = gen.rule_files()
    assert sources, "alerts/ holds no rule files"
    generated = docs(K8S / "generated/prometheusrules.yaml")
    wrapped = {d["metadata"]["annotations"]["llm-exporter/source"]: d for d in generated}
    assert set(wrapped) == {f"alerts/{p.relative_to(REPO / 'alerts').as_posix()}" for p in sources}
    for path in sources:
        doc = wrapped[f"alerts/{path.relative_to(REPO / 'alerts').as_posix()}"]
        assert doc["spec"] == yaml.safe_load(path.read_text(encoding="utf-8"))
        names = [g["name"] for g in doc["spec"]["groups"]]
        assert len(names) == len(set(names)), "group names are the list-map key of the CRD"


def test_prometheusrules_pass_promtool(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    files = []
    for i, doc in enumerate(docs(K8S / "generated/prometheusrules.yaml")):
        f = tmp_path / f"{i}-{doc['metadata']['name']}.yaml"
        f.write_text(yaml.safe_dump(doc["spec"], sort_keys=False), encoding="utf-8")
        files.append(str(f))
    assert files
    proc = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dashboard_configmaps_carry_every_dashboard() -> None:
    gen = _generator()
    sources = gen.dashboard_files()
    assert sources, "dashboards/ holds no dashboards"
    cms = docs(K8S / "generated/dashboards.yaml")
    by_source = {cm["metadata"]["annotations"]["llm-exporter/source"]: cm for cm in cms}
    assert set(by_source) == {f"dashboards/{p.relative_to(REPO / 'dashboards').as_posix()}" for p in sources}
    for path in sources:
        cm = by_source[f"dashboards/{path.relative_to(REPO / 'dashboards').as_posix()}"]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert list(cm["data"].values()) == [path.read_text(encoding="utf-8")]
        assert len(yaml.safe_dump(cm).encode()) < 1024 * 1024


def test_generator_follows_files_added_later(tmp_path: Path) -> None:
    """A new rule file or dashboard (in a new folder) shows up; test and Alertmanager files do not."""
    gen = _generator()
    alerts, dashboards = tmp_path / "alerts", tmp_path / "dashboards"
    (alerts / "rules" / "extra").mkdir(parents=True)
    (alerts / "rules" / "extra" / "new.rules.yml").write_text(
        "groups:\n  - name: new\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n"
    )
    (alerts / "tests").mkdir()
    (alerts / "tests" / "new.test.yml").write_text("rule_files: [x]\ntests: []\n")
    (alerts / "alertmanager.yml").write_text("route:\n  receiver: x\nreceivers:\n  - name: x\n")
    (dashboards / "grafana" / "newfolder").mkdir(parents=True)
    (dashboards / "grafana" / "newfolder" / "new.json").write_text('{"title": "N", "uid": "n", "panels": []}')
    (dashboards / "grafana" / "top.json").write_text('{"title": "T", "uid": "t", "panels": []}')
    (dashboards / "provisioning").mkdir()
    (dashboards / "provisioning" / "x.json").write_text('{"not": "a dashboard"}')
    (dashboards / "provisioning" / "p.yml").write_text("apiVersion: 1\nproviders:\n  - name: a\n    folder: LLM\n")
    rules = gen.prometheus_rules(alerts)
    assert [r["metadata"]["name"] for r in rules] == ["llm-exporter-new-rules"]
    cms = gen.dashboard_configmaps(dashboards)
    assert [(c["metadata"]["name"], c["metadata"]["annotations"]["grafana_folder"]) for c in cms] == [
        ("llm-exporter-dashboard-newfolder-new", "newfolder"),
        ("llm-exporter-dashboard-top", "LLM"),
    ]
