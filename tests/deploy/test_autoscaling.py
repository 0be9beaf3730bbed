"""Autoscaling manifests: KEDA ScaledObjects and the prometheus-adapter + HPA alternative.

Schemas: KEDA's ScaledObject CRD (tests/deploy/keda_schema.py), Kubernetes for the HPAs. Queries:
only recorded autoscaling series, and promtool evaluates every query exactly as written in the
manifests over a modelled cluster (3 serving vLLM pods, a loading one, another model and another
namespace, a queue with a backlog) and proves the value each scaler reads, the replica count the
HPA derives from it, and that a vanished source reads as "no data" (KEDA error -> fallback),
never as zero load.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from keda_schema import SCALED_OBJECT, fallback_problems
from support import REPO, need_binary

from monitoring.autoscaling import names
from monitoring.bundle import Bundle
from monitoring.promql import metric_names

HERE = REPO / "deploy" / "kubernetes" / "autoscaling"
RULES = REPO / "alerts" / "rules" / "llm-exporter.rules.yml"
DOC = REPO / "docs" / "autoscaling.md"
MODEL = "Qwen/Qwen2.5-0.5B-Instruct"


def load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((HERE / name).read_text(encoding="utf-8")) if d]


def scaled_objects() -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for f in ("keda-vllm.yaml", "keda-agent-worker.yaml") for o in load(f)}


def triggers(name: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in scaled_objects()[name]["spec"]["triggers"]}


def adapter_queries() -> dict[str, str]:
    values = yaml.safe_load((HERE / "prometheus-adapter.values.yml").read_text(encoding="utf-8"))
    out = {}
    for rule in values["rules"]["external"]:
        series = rule["seriesQuery"].split("{", 1)[0]
        q = rule["metricsQuery"].replace("<<.Series>>", series).replace("<<.LabelMatchers>>", 'namespace="llm"')
        out[rule["name"]["as"]] = q
    return out


def recorded() -> set[str]:
    return {r["record"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "record" in r}


def test_scaled_objects_validate_against_the_keda_crd() -> None:
    objs = scaled_objects()
    assert set(objs) == {"vllm", "agent-worker"}
    for obj in objs.values():
        jsonschema.Draft202012Validator(SCALED_OBJECT).validate(obj)
        assert fallback_problems(obj) == []
        for t in obj["spec"]["triggers"]:
            if t.get("metricType", "AverageValue") == "AverageValue" and "or vector(0)" not in t["metadata"]["query"]:
                assert t["metadata"]["ignoreNullValues"] == "false", f"{t['name']}: a lost source must not read as 0"


def test_keda_schema_rejects_mistakes() -> None:
    good = scaled_objects()["vllm"]
    trig = good["spec"]["triggers"][0]
    bad_triggers = [
        {**trig, "metadata": {**trig["metadata"], "threshold": 4}},  # number instead of string
        {**trig, "metadata": {k: v for k, v in trig["metadata"].items() if k != "query"}},
        {**trig, "metadata": {**trig["metadata"], "metricName": "x"}},  # removed in KEDA 2.12
        {**trig, "metricType": "Average"},
    ]
    for t in bad_triggers:
        obj = {**good, "spec": {**good["spec"], "triggers": [t]}}
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(SCALED_OBJECT).validate(obj)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCALED_OBJECT).validate({**good, "spec": {**good["spec"], "minReplicas": 1}})
    value_only = {**good, "spec": {**good["spec"], "triggers": [{**trig, "metricType": "Value"}]}}
    assert fallback_problems(value_only) == ["fallback needs at least one AverageValue trigger"]


def test_hpas_validate_and_target_the_manifests_deployments() -> None:
    hpas = load("hpa-prometheus-adapter.yaml")
    for hpa in hpas:
        for version in ("1.29", kubernetes_validate.utils.latest_version()):
            kubernetes_validate.validate(hpa, version, strict=True)
    metrics = {m["external"]["metric"]["name"] for h in hpas for m in h["spec"]["metrics"]}
    assert metrics == set(adapter_queries())
    deployments = {
        d["metadata"]["name"]
        for p in (REPO / "deploy" / "kubernetes").glob("vllm*.yaml")
        for d in yaml.safe_load_all(p.read_text())
        if d and d["kind"] == "Deployment"
    }
    assert scaled_objects()["vllm"]["spec"]["scaleTargetRef"]["name"] in deployments
    assert next(h for h in hpas if h["metadata"]["name"] == "vllm")["spec"]["scaleTargetRef"]["name"] in deployments


def test_queries_read_only_the_autoscaling_recording_rules() -> None:
    wanted = set(names(Bundle.load()).values())
    assert wanted <= recorded(), "run python -m monitoring.generate"
    queries = [t["metadata"]["query"] for o in scaled_objects().values() for t in o["spec"]["triggers"]]
    for q in [*queries, *adapter_queries().values()]:
        assert metric_names(q) - {"vector"} <= wanted, q
        assert re.match(r"^(sum|max)\(", q), f"one value per query (KEDA reads the first series): {q}"


def test_docs_show_every_query_and_rule() -> None:
    text = DOC.read_text(encoding="utf-8")
    for o in scaled_objects().values():
        for t in o["spec"]["triggers"]:
            assert t["metadata"]["query"] in text, f"docs/autoscaling.md lacks {t['metadata']['query']}"
    for name in names(Bundle.load()).values():
        assert name in text


def _series(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _pod(i: int, ns: str = "llm", model: str = MODEL) -> dict[str, str]:
    return {"job": "llm-exporter", "namespace": ns, "pod": f"vllm-{i}", "instance": f"10.0.0.{i}:10556", "model": model}


def test_promtool_evaluates_the_scaler_queries(tmp_path: Path) -> None:
    """What each scaler reads over a modelled cluster, and the replica count the HPA derives."""
    waiting = {1: 6, 2: 8, 3: 10}
    kv = {1: 0.75, 2: 0.5, 3: 0.75}
    series = []
    for i in waiting:
        series.append({"series": _series("llm_requests_waiting", _pod(i)), "values": f"{waiting[i]}x20"})
        series.append({"series": _series("llm_requests_running", _pod(i)), "values": "16x20"})
        series.append({"series": _series("llm_kv_cache_usage_ratio", _pod(i)), "values": f"{kv[i]}x20"})
    # a pod still loading its model (exporter up, engine not yet): no engine series at all
    series.append({"series": _series("llm_target_up", {**_pod(4), "target": "vllm"}), "values": "0x20"})
    # other model, other namespace: must not count
    for other in (_pod(5, model="other"), _pod(6, ns="team-b")):
        series.append({"series": _series("llm_requests_waiting", other), "values": "100x20"})
        series.append({"series": _series("llm_requests_running", other), "values": "1x20"})
        series.append({"series": _series("llm_kv_cache_usage_ratio", other), "values": "1x20"})
    q = {"job": "llm-exporter", "namespace": "llm", "backend": "redis", "target": "redis", "group": ""}
    series.append({"series": _series("llm_queue_ready_messages", {**q, "queue": "celery"}), "values": "35x20"})
    series.append(
        {"series": _series("llm_queue_oldest_ready_age_seconds", {**q, "queue": "celery"}), "values": "90x20"}
    )
    series.append({"series": _series("llm_queue_ready_messages", {**q, "queue": "other"}), "values": "1000x20"})
    v, w = triggers("vllm"), triggers("agent-worker")
    expected = {
        v["waiting-requests"]["metadata"]["query"]: 24,
        v["kv-cache-usage"]["metadata"]["query"]: 2.0,
        w["backlog"]["metadata"]["query"]: 35,
        w["oldest-message-age"]["metadata"]["query"]: 90,
    }
    a = adapter_queries()
    expected_adapter = {a["llm_queue_backlog"]: 1035, a["llm_queue_oldest_age_seconds"]: 90}
    tests = [
        {"expr": expr, "eval_time": "10m", "exp_samples": [{"labels": "{}", "value": value}]}
        for expr, value in {**expected, **expected_adapter}.items()
    ]
    per_replica = names(Bundle.load())["waiting_per_replica"]
    tests.append(
        {
            "expr": f'{per_replica}{{namespace="llm", model="{MODEL}"}}',
            "eval_time": "10m",
            "exp_samples": [
                {
                    "labels": _series(per_replica, {"job": "llm-exporter", "model": MODEL, "namespace": "llm"}),
                    "value": 8,
                }
            ],
        }
    )
    # every replica gone (rollout of all pods, or the exporter lost): no data, never zero
    gone = [{"expr": e, "eval_time": "30m", "exp_samples": []} for e in list(expected)[:3]]
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests + gone}],
    }
    f = tmp_path / "autoscaling.test.yml"
    f.write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    proc = subprocess.run([need_binary("promtool"), "test", "rules", str(f)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The HPA's arithmetic on those values (AverageValue: ceil(total / target); Value: ceil(current x v / target)).
    assert math.ceil(24 / float(v["waiting-requests"]["metadata"]["threshold"])) == 6
    assert math.ceil(2.0 / float(v["kv-cache-usage"]["metadata"]["threshold"])) == 3
    assert math.ceil(35 / float(w["backlog"]["metadata"]["threshold"])) == 4
    assert math.ceil(4 * 90 / float(w["oldest-message-age"]["metadata"]["threshold"])) == 6
