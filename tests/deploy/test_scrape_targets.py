"""Every deploy variant, scraped as Prometheus Operator would: every exporter once, every alert selector matched.

The scrape configs come from tests/deploy/operator_scrape.py (the operator's generation rules for
PodMonitor and ServiceMonitor, default job naming, jobLabel and relabelings); the targets from
Kubernetes service discovery emulated over the manifests; the checks from scrape_check.py: the
alerts' target-label matchers (job, namespace, pod ...) must match those targets, and promtool
proves LLMExporterDown fires for the ``up`` series each variant really produces.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from operator_scrape import relabel, scrape_config, targets
from scrape_check import check_variant
from support import REPO, need_binary

K8S = REPO / "deploy" / "kubernetes"
PLAIN_VARIANTS = {
    "kustomization": None,
    "classic-sidecar+podmonitor+queues": [
        "vllm-sidecar.yaml",
        "service.yaml",
        "podmonitor.yaml",
        "queue-collector.yaml",
    ],
    "native-sidecar+servicemonitor+queues": [
        "vllm-native-sidecar.yaml",
        "service.yaml",
        "servicemonitor.yaml",
        "queue-collector.yaml",
    ],
    "classic-sidecar+servicemonitor+queues": [
        "vllm-sidecar.yaml",
        "service.yaml",
        "servicemonitor.yaml",
        "queue-collector.yaml",
    ],
}


def _load(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def plain_variant(name: str) -> list[dict[str, Any]]:
    files = PLAIN_VARIANTS[name]
    if files is None:
        files = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    return [obj for f in files for obj in _load(K8S / f)]


@pytest.mark.parametrize("variant", sorted(PLAIN_VARIANTS))
def test_plain_manifests_scrape_every_exporter_and_match_the_alerts(variant: str, tmp_path: Path) -> None:
    labels = check_variant(plain_variant(variant), tmp_path)
    if "queues" in variant:
        assert any(t["container"] == "llm-exporter" and t["pod"].startswith("llm-exporter-queues") for t in labels)


def test_servicemonitor_job_does_not_depend_on_the_service_name() -> None:
    """The operator names a ServiceMonitor job after the Service; the exporter selector must still match."""
    objects = plain_variant("native-sidecar+servicemonitor+queues")
    for obj in objects:
        if obj["kind"] == "Service":
            obj["metadata"]["name"] = "my-inference"
    jobs = {t["job"] for _, _, t in targets(objects)}
    assert jobs == {"llm-exporter"}


def test_emulation_reproduces_the_operator_default_job_names() -> None:
    """Without relabelings: PodMonitor job is <namespace>/<name>, ServiceMonitor job the Service name,
    jobLabel takes the value of that label. Guards the emulator itself."""
    objects = plain_variant("native-sidecar+servicemonitor+queues")
    sm = next(o for o in objects if o["kind"] == "ServiceMonitor")
    for ep in sm["spec"]["endpoints"]:
        ep["relabelings"] = [r for r in ep.get("relabelings", []) if r.get("targetLabel") != "job"]
    assert {t["job"] for _, _, t in targets(objects)} == {"vllm", "llm-exporter-queues"}
    sm["spec"]["jobLabel"] = "app.kubernetes.io/component"
    assert {t["job"] for _, _, t in targets(objects)} == {"inference", "queue-collector"}
    pm = _load(K8S / "podmonitor.yaml")[0]
    cfg = scrape_config(pm, 0, "team-a")
    assert relabel({"job": cfg["job_name"]}, cfg["relabel_configs"][-3:]) is not None
    assert {t["job"] for _, _, t in targets([*objects[:2], pm], namespace="team-a")} == {"team-a/llm-exporter"}


def test_rendered_scrape_configs_pass_promtool(tmp_path: Path) -> None:
    """The emulated operator output is a valid Prometheus config (promtool check config).

    Debian's Prometheus is built without Kubernetes service discovery, so the SD block is swapped
    for a static one; the relabel configs, the part generated here, are checked as they are.
    """
    objects = plain_variant("native-sidecar+servicemonitor+queues") + _load(K8S / "podmonitor.yaml")
    configs = [cfg for cfg, _, _ in targets(objects)]
    unique = [
        {**{k: v for k, v in c.items() if k != "kubernetes_sd_configs"}, "static_configs": [{"targets": ["x:1"]}]}
        for c in {c["job_name"]: c for c in configs}.values()
    ]
    assert len(unique) == 2
    f = tmp_path / "prometheus.yml"
    f.write_text(yaml.safe_dump({"scrape_configs": unique}, sort_keys=False), encoding="utf-8")
    proc = subprocess.run([need_binary("promtool"), "check", "config", str(f)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
