"""The generator with a non-default monitoring/bundle.yml: every setting reaches rules, dashboards and runbooks.

Default values hide bugs (a hard-coded ``rate5m`` works as long as ``rate_window`` is 5m), so
this renders the whole bundle in memory from a config that changes every scoping setting and
checks the result: every recorded series a dashboard or alert reads exists, every raw selector
carries ``metric_selector``, dashboards get the scope variables, the exporter selector and the
runbook base URL are the configured ones, and promtool accepts the rules.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from support import need_binary

from monitoring.bundle import DEFAULT_BUNDLE, Bundle
from monitoring.generate import render
from monitoring.promql import metric_names

SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^{}]*)\}")


def custom_bundle() -> Bundle:
    raw = yaml.safe_load(DEFAULT_BUNDLE.read_text())
    raw.update(
        metric_selector='cluster="prod"',
        exporter_up_selector='job="llm-sidecars"',
        aggregation_labels=["cluster", "namespace", "job"],
        rate_window="2m",
        runbook_url_base="https://runbooks.example.com/llm/",
        grafana_url="https://grafana.example.com",
        startup_grace="30m",
    )
    raw["autoscaling"] = {"smoothing_window": "1m"}
    return Bundle(raw)


@functools.cache
def rendered() -> dict[str, str]:
    """The whole bundle rendered once per session from the custom config (read-only)."""
    return render(custom_bundle())


def rule_groups(files: dict[str, str]) -> list[dict[str, Any]]:
    return [
        g
        for name in ("rules", "alerts")
        for g in yaml.safe_load(files[f"alerts/rules/llm-exporter.{name}.yml"])["groups"]
    ]


def dashboards(files: dict[str, str]) -> dict[str, dict[str, Any]]:
    return {p: json.loads(t) for p, t in files.items() if p.startswith("dashboards/grafana/")}


def panel_exprs(d: dict[str, Any]) -> list[str]:
    out = []
    stack = list(d["panels"])
    while stack:
        p = stack.pop()
        stack.extend(p.get("panels", []))
        out += [t["expr"] for t in p.get("targets", [])]
    return out


def test_every_recorded_series_read_exists() -> None:
    files = rendered()
    groups = rule_groups(files)
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    assert "model:llm_requests:rate2m" in recorded and "model:llm_requests:rate5m" not in recorded
    missing = []
    for g in groups:
        for r in g["rules"]:
            missing += [
                (r.get("alert") or r["record"], n) for n in metric_names(r["expr"]) if ":" in n and n not in recorded
            ]
    for name, d in dashboards(files).items():
        for expr in panel_exprs(d):
            missing += [(f"{name}: {expr[:80]}", n) for n in metric_names(expr) if ":" in n and n not in recorded]
    assert not missing, "recorded series read but never recorded:\n" + "\n".join(f"{a}: {n}" for a, n in missing)


def test_metric_selector_reaches_every_raw_selector_in_rules_and_dashboards() -> None:
    files = rendered()
    unscoped = []
    for g in rule_groups(files):
        for r in g["rules"]:
            for name, body in SELECTOR.findall(r["expr"]):
                if name.startswith("llm_") and 'cluster="prod"' not in body:
                    unscoped.append(f"{r.get('alert') or r['record']}: {name}{{{body}}}")
            bare = metric_names(r["expr"]) - {n for n, _ in SELECTOR.findall(r["expr"])}
            unscoped += [f"{r.get('alert') or r['record']}: bare {n}" for n in bare if n.startswith("llm_")]
    for name, d in dashboards(files).items():
        for expr in panel_exprs(d):
            for metric, body in SELECTOR.findall(expr):
                if metric.startswith("llm_") and 'job=~"$job"' in body and 'cluster="prod"' not in body:
                    unscoped.append(f"{name}: {metric}{{{body}}}")
    assert not unscoped, "selectors without metric_selector:\n" + "\n".join(unscoped)


def test_dashboards_get_scope_variables_and_differ_from_the_default() -> None:
    files, default = rendered(), render(Bundle.load())
    for name, d in dashboards(files).items():
        names = [v["name"] for v in d["templating"]["list"]]
        assert names[1:4] == ["cluster", "namespace", "job"], f"{name}: {names}"
        assert files[name] != default[name], f"{name} ignores the bundle config"
        exprs = panel_exprs(d)
        assert any('namespace=~"$namespace"' in e for e in exprs), f"{name}: no query follows $namespace"
    job = next(
        v for v in dashboards(files)["dashboards/grafana/llm-overview.json"]["templating"]["list"] if v["name"] == "job"
    )
    assert (
        job["definition"]
        == 'label_values(llm_exporter_build_info{cluster=~"$cluster", namespace=~"$namespace", cluster="prod"}, job)'
    )


def test_recording_rules_keep_the_aggregation_labels() -> None:
    for g in rule_groups(rendered()):
        for r in g["rules"]:
            for by in re.findall(r"\bby \(([^)]*)\)", r["expr"]):
                labels = [x.strip() for x in by.split(",")]
                if "job" in labels:
                    assert {"cluster", "namespace"} <= set(labels), f"{r.get('record') or r.get('alert')}: by ({by})"


def test_exporter_selector_runbooks_and_panel_links_follow_the_config() -> None:
    files = rendered()
    rules = [r for g in rule_groups(files) for r in g["rules"] if "alert" in r]
    alerts = {r["alert"]: r for r in rules}
    down = [r["expr"] for r in rules if r["alert"] == "LLMExporterDown"]
    assert 'up{job="llm-sidecars"} == 0' in down and all('up{job="llm-sidecars"}' in e for e in down)
    for name, rule in alerts.items():
        assert rule["annotations"]["runbook_url"] == f"https://runbooks.example.com/llm/{name}.md"
        assert rule["annotations"]["dashboard_url"].startswith("https://grafana.example.com/d/")
    page = files["alerts/runbooks/LLMGpuXid.md"]
    assert re.search(r"\(https://grafana\.example\.com/d/llm-exporter-gpu-node\?viewPanel=\d+\)", page)
    assert alerts["LLMTargetDown"]["expr"].endswith("[30m]) == 1") or any(
        r["expr"].endswith("[30m]) == 1")
        for g in rule_groups(files)
        for r in g["rules"]
        if r.get("alert") == "LLMTargetDown"
    )


def test_promtool_accepts_the_custom_rules(tmp_path: Path) -> None:
    files = rendered()
    paths = []
    for name in ("rules", "alerts"):
        p = tmp_path / f"{name}.yml"
        p.write_text(files[f"alerts/rules/llm-exporter.{name}.yml"], encoding="utf-8")
        paths.append(str(p))
    proc = subprocess.run([need_binary("promtool"), "check", "rules", *paths], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_runbooks_link_a_panel_list_commands_and_escalation() -> None:
    files = render(Bundle.load())
    raw = yaml.safe_load(DEFAULT_BUNDLE.read_text())
    pages = {p.rsplit("/", 1)[1][:-3]: t for p, t in files.items() if p.startswith("alerts/runbooks/LLM")}
    for name, text in pages.items():
        assert "## Escalation" in text, name
        assert re.search(r"^Dashboard: \[[^\]]+\]\(<grafana>/d/[\w-]+", text, re.M), f"{name}: no dashboard link"
    for name in ("LLMExporterDown", "LLMTargetDown", "LLMModelDisappeared", "LLMModelProbesFailing", "LLMGpuLost"):
        assert "```sh\nkubectl" in pages[name], f"{name}: no kubectl commands"
        assert "viewPanel=" in pages[name], f"{name}: links a dashboard, not a panel"
    assert "redis-cli" in pages["LLMQueueNoConsumers"]
    for alert in ("LLMGpuFatalXid", "LLMGpuXid"):
        assert "nvidia-smi" in pages[alert]
        for xid in raw["alerts"][alert]["xids"]:
            assert re.search(rf"^\| {xid} \| .+ \| .+ \|$", pages[alert], re.M), f"{alert}: no action for XID {xid}"
