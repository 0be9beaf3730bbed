"""Scrape-target checks shared by the plain-manifest and Helm tests.

``check_variant`` takes a set of Kubernetes objects (workloads, Services, PodMonitor/ServiceMonitor),
renders the targets Prometheus Operator + Prometheus would scrape (operator_scrape.py) and checks:
every exporter container scraped exactly once on its metrics port, the usual target labels, every
alert selector's target-label matchers satisfied, and, with promtool, LLMExporterDown firing for the
``up`` series those targets produce.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from operator_scrape import targets
from support import REPO, need_binary

RULE_FILES = sorted((REPO / "alerts" / "rules").glob("*.yml"))
TARGET_LABELS = {"job", "namespace", "pod", "container", "node", "instance", "endpoint", "service"}
EXPORTER_PORT = "metrics"


def exporter_ports(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(workload, container) of every exporter container that exposes the metrics port."""
    out = set()
    for w in objects:
        if w.get("kind") not in ("Deployment", "DaemonSet", "StatefulSet"):
            continue
        spec = w["spec"]["template"]["spec"]
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            if c["image"].split("@")[0].rsplit(":", 1)[0].endswith("/llm-exporter") and any(
                p.get("name") == EXPORTER_PORT for p in c.get("ports", [])
            ):
                out.add((w["metadata"]["name"], c["name"]))
    return out


_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def matchers(selector: str) -> list[tuple[str, str, str]]:
    body = selector[selector.index("{") + 1 : selector.rindex("}")]
    return [(n, op, v.encode().decode("unicode_escape")) for n, op, v in _MATCHER.findall(body)]


def satisfies(labels: dict[str, str], ms: list[tuple[str, str, str]]) -> bool:
    for name, op, value in ms:
        actual = labels.get(name, "")
        ok = {
            "=": actual == value,
            "!=": actual != value,
            "=~": re.fullmatch(value, actual) is not None,
            "!~": re.fullmatch(value, actual) is None,
        }[op]
        if not ok:
            return False
    return True


def rule_selectors() -> list[tuple[str, str]]:
    """(rule name, selector) for every ``name{...}`` selector with a target-label matcher."""
    out = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                for sel in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*\{[^{}]*\}", str(rule["expr"])):
                    if any(n in TARGET_LABELS for n, _, _ in matchers(sel)):
                        out.append((rule.get("alert") or rule.get("record"), sel))
    return out


def check_variant(objects: list[dict[str, Any]], tmp_path: Path) -> list[dict[str, str]]:
    """All assertions for one variant; returns its target label sets."""
    found = targets(objects)
    scraped = [(t["pod"].rsplit("-", 1)[0], t["container"], t["endpoint"]) for _, _, t in found]
    expected = exporter_ports(objects)
    assert expected, "variant has no exporter"
    assert {(w, c) for w, c, _ in scraped} == expected, f"scraped {sorted(set(scraped))}, exporters {sorted(expected)}"
    assert all(e == EXPORTER_PORT for _, _, e in scraped), "only the exporter's metrics port is scraped"
    pods = [(t["pod"], t["container"]) for _, _, t in found]
    assert len(pods) == len(set(pods)), "an exporter is scraped twice (PodMonitor and ServiceMonitor together?)"
    labels = [t for _, _, t in found]
    for t in labels:
        assert {"job", "namespace", "pod", "container", "node", "instance"} <= set(t), t
    sels = rule_selectors()
    assert any(sel.startswith("up{") for _, sel in sels), "no exporter-down selector found in the rules"
    for name, sel in sels:
        ms = [m for m in matchers(sel) if m[0] in TARGET_LABELS]
        hits = [t for t in labels if satisfies(t, ms)]
        assert hits, f"{name}: {sel} matches no scraped target; targets: {labels}"
        if sel.startswith("up{"):
            assert hits == labels, f"{name}: {sel} misses targets {[t for t in labels if t not in hits]}"
    promtool_exporter_down(labels, tmp_path)
    return labels


def series_of(name: str, labels: dict[str, str]) -> str:
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def promtool_exporter_down(labels: list[dict[str, str]], tmp_path: Path) -> None:
    """promtool: with every target's ``up`` at 0, LLMExporterDown fires once per target."""
    rules = [
        r
        for p in RULE_FILES
        for g in yaml.safe_load(p.read_text())["groups"]
        for r in g["rules"]
        if r.get("alert") == "LLMExporterDown"
    ]
    assert rules, "no LLMExporterDown rule"
    holds = [re.fullmatch(r"(\d+)m", r.get("for", "0m")) for r in rules]
    assert all(holds), [r.get("for") for r in rules]
    minutes = max(int(h.group(1)) for h in holds if h) + 2
    firing = {"alertname": "LLMExporterDown", "alertstate": "firing"}
    expected = []
    for rule in rules:
        if rule["expr"].lstrip().startswith("up{"):  # per exporter: keeps the target's labels
            expected += [{**t, **rule.get("labels", {}), **firing} for t in labels]
        else:  # a share of a job's exporters: one alert per job
            expected += [{"job": j, **rule.get("labels", {}), **firing} for j in sorted({t["job"] for t in labels})]

    test = {
        "rule_files": [str(p) for p in RULE_FILES],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": series_of("up", t), "values": f"0x{minutes + 2}"} for t in labels],
                "promql_expr_test": [
                    {
                        "expr": 'ALERTS{alertname="LLMExporterDown", alertstate="firing"}',
                        "eval_time": f"{minutes}m",
                        "exp_samples": [{"labels": series_of("ALERTS", e), "value": 1} for e in expected],
                    }
                ],
            }
        ],
    }
    f = tmp_path / "exporter-down.test.yml"
    f.write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    proc = subprocess.run([need_binary("promtool"), "test", "rules", str(f)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
