"""The generated bundle: freshness, dashboard-linter rules, catalog names, promtool, runbooks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from llm_exporter.catalog import CATALOG
from support import need_binary

from bundle.common import (
    ALERT_FILE,
    BUILTIN,
    DASHBOARDS,
    RECORD_FILE,
    REPO,
    RUNBOOKS,
    TESTS,
    alert_rules,
    bundle,
    dashboards,
    panels,
    recorded_names,
    rule_groups,
    substitute,
)
from monitoring.promql import metric_names

DS = {"type": "prometheus", "uid": "${datasource}"}


# --- freshness (the committed files: tests/core/test_generated_files.py) --------------


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "monitoring.generate", "--out", str(tmp_path)], cwd=REPO, check=True, capture_output=True
    )
    victim = tmp_path / "dashboards" / "grafana" / "gpu-node.json"
    victim.write_text(victim.read_text().replace("GPU / Node", "GPU / Knot"))
    res = subprocess.run(
        [sys.executable, "-m", "monitoring.generate", "--check", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1 and "gpu-node.json" in res.stderr


# --- dashboard-linter rules, re-implemented --------------------------------------------

DASH = dashboards()


def test_the_seven_dashboards_exist() -> None:
    titles = {d["title"] for d in DASH.values()}
    assert titles == {
        "LLM / Overview",
        "LLM / Instance",
        "GPU / Fleet",
        "GPU / Node",
        "LLM / Agent pipeline",
        "LLM / SLO and cost",
        "LLM / Exporter health",
    }


@pytest.mark.parametrize("name", sorted(DASH))
def test_dashboard_conventions(name: str) -> None:
    d = DASH[name]
    b = bundle()
    assert "__inputs" not in d and d["id"] is None
    assert d["uid"].startswith(b["dashboards"]["uid_prefix"] + "-") and len(d["uid"]) <= 40
    assert re.fullmatch(r"(LLM|GPU) / [A-Z][\w ]+", d["title"])
    assert set(b["dashboards"]["tags"]) <= set(d["tags"])
    assert d["editable"] is False  # uneditable-dashboard
    link = d["links"][0]
    assert link["type"] == "dashboards" and link["includeVars"] and link["keepTime"]
    variables = d["templating"]["list"]
    ds = [v for v in variables if v["type"] == "datasource"]  # template-datasource
    assert len(ds) == 1 and ds[0]["name"] == "datasource" and ds[0]["label"] == "Data source"
    assert ds[0]["query"] == "prometheus"
    names = [v["name"] for v in variables]
    assert "job" in names  # template-job
    if any("$instance" in t["expr"] for p in panels(d) for t in p["targets"]):
        assert "instance" in names  # template-instance
    for v in variables:
        if v["type"] == "query":
            assert v["refresh"] == 2, v["name"]  # template-on-time-change-reload
            assert v["datasource"] == DS
            used = set(re.findall(r"\$(\w+)", v["definition"]))
            assert used <= set(names[: names.index(v["name"])]), f"{v['name']} chains on later variables"


@pytest.mark.parametrize("name", sorted(DASH))
def test_panels_follow_the_linter_rules(name: str) -> None:
    d = DASH[name]
    seen_ids: set[int] = set()
    for p in [*d["panels"], *(c for r in d["panels"] if r["type"] == "row" for c in r.get("panels", []))]:
        assert p["id"] not in seen_ids, f"duplicate panel id {p['id']}"
        seen_ids.add(p["id"])
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24
    for p in panels(d):
        where = f"{name}: {p['title']!r}"
        assert p["title"] and p["description"], where  # panel-title-description
        assert p["datasource"] == DS, where  # panel-datasource
        assert p["fieldConfig"]["defaults"].get("unit"), where  # panel-units
        assert p["targets"], where  # panel-no-targets
        for t in p["targets"]:
            expr = t["expr"]
            assert t["datasource"] == DS, where
            assert "$job" in expr, f"{where}: query does not filter on $job: {expr}"  # target-job
            for fn, window in re.findall(r"\b(rate|irate|increase|deriv|delta)\([^\[]*\[([^\]]+)\]", expr):
                assert window == "$__rate_interval", f"{where}: {fn} over [{window}]"  # target-rate-interval
            for counter in re.findall(r"\b(\w+_total)\b", expr):  # target-counter-agg
                assert re.search(rf"\b(rate|irate|increase)\(\s*{counter}\b", expr), f"{where}: raw {counter}"
            for metric in metric_names(expr):
                assert metric in p["description"], f"{where}: description does not name {metric}"


def test_panels_do_not_overlap() -> None:
    """With every row expanded, no two panels (rows and the panels inside collapsed rows) share a cell."""
    for name, d in DASH.items():
        cells: dict[tuple[int, int], str] = {}
        everything = [*d["panels"], *(q for p in d["panels"] if p["type"] == "row" for q in p.get("panels", []))]
        assert len(everything) > len(d["panels"]) or not any(p.get("collapsed") for p in d["panels"])
        for p in everything:
            g = p["gridPos"]
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, f"{name}: {p['title']!r} overlaps {cells[(x, y)]!r}"
                    cells[(x, y)] = p["title"]


def test_overview_links_drill_down_keeping_time_and_variables() -> None:
    links = [lk for p in panels(DASH["llm-overview.json"]) for lk in p["fieldConfig"]["defaults"].get("links", [])]
    assert links and all("${__url_time_range}" in lk["url"] and "${job:queryparam}" in lk["url"] for lk in links)


# --- names: every metric used exists -------------------------------------------------------


def test_promql_reader_finds_names() -> None:
    expr = (
        'sum by (job, model) (rate(llm_requests_total{finish_reason=~"error|x_total"}[$__rate_interval]))'
        " / on (job) group_left (model) (model:llm_requests:rate5m offset 1d > 0) * 1e6"
        ' and histogram_quantile(0.9, sum by (le) (llm_ttft_bucket{job=~"$job"}))'
        ' or label_replace(up, "offset", "1d", "", "")'
    )
    assert metric_names(expr) == {"llm_requests_total", "model:llm_requests:rate5m", "llm_ttft_bucket", "up"}


def _known() -> set[str]:
    return CATALOG.series_names() | recorded_names() | BUILTIN


def test_every_metric_in_dashboards_exists() -> None:
    known, missing = _known(), []
    for name, d in DASH.items():
        exprs = [t["expr"] for p in panels(d) for t in p["targets"]]
        exprs += [
            v["definition"].replace("label_values(", "").rsplit(",", 1)[0]
            for v in d["templating"]["list"]
            if v["type"] == "query"
        ]
        for e in exprs:
            missing += [f"{name}: {m}" for m in metric_names(e) - known]
    assert not missing, missing


def test_every_metric_in_rules_exists() -> None:
    known, missing = _known(), []
    for path in (RECORD_FILE, ALERT_FILE):
        for g in rule_groups(path):
            for r in g["rules"]:
                missing += [f"{r.get('record') or r.get('alert')}: {m}" for m in metric_names(r["expr"]) - known]
    assert not missing, missing


def test_recording_rule_names_are_level_metric_operations() -> None:
    for name in recorded_names():
        level, metric, ops = name.split(":")
        assert level and metric.startswith("llm_") and ops, name
        assert not metric.endswith("_total"), name


def test_slo_thresholds_are_bucket_boundaries_of_the_vllm_fixture() -> None:
    text = (REPO / "tests" / "fixtures" / "inference" / "vllm-v1.prom").read_text()
    b = bundle()
    for key, upstream in (("ttft", "time_to_first_token_seconds"), ("inter_token", "inter_token_latency_seconds")):
        thr = float(b["slo"]["slis"][key]["threshold_seconds"])
        bounds = {float(v) for v in re.findall(rf"vllm:{upstream}_bucket{{[^}}]*le=\"([^\"]+)\"", text)}
        assert thr in bounds, f"{key} threshold {thr} is not a bucket boundary of vLLM's {upstream}"


# --- promtool --------------------------------------------------------------------------


def test_throttle_reasons_are_label_values_the_gpu_collector_emits() -> None:
    """LLMGpuThrottled (rule and promtool cases) matches reason values of llm_gpu_clock_event_seconds_total."""
    from llm_exporter.collectors.gpu.nvml import F_VIOLATION

    emitted = {reason for _, reason in F_VIOLATION}
    reasons = set(bundle()["alerts"]["LLMGpuThrottled"]["reasons"])
    assert reasons and reasons <= emitted, reasons - emitted
    rule = next(r for r in alert_rules() if r["alert"] == "LLMGpuThrottled")
    assert set(re.search(r'reason=~"([^"]+)"', rule["expr"]).group(1).split("|")) == reasons  # type: ignore[union-attr]
    cases = (TESTS / "gpu.test.yml").read_text()
    used = set(re.findall(r'llm_gpu_clock_event_seconds_total\{[^}]*reason="(\w+)"', cases))
    assert reasons <= used, "every counted reason has a promtool case"
    assert used <= emitted, used - emitted


def test_promtool_check_rules() -> None:
    promtool = need_binary("promtool")
    res = subprocess.run(
        [promtool, "check", "rules", str(RECORD_FILE), str(ALERT_FILE)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    rules = [
        {"record": f"dashboard:q{i}:check", "expr": substitute(t["expr"])}
        for i, t in enumerate(t for d in DASH.values() for p in panels(d) for t in p["targets"])
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    res = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_promtool_rule_unit_tests() -> None:
    promtool = need_binary("promtool")
    files = sorted(TESTS.glob("*.test.yml"))
    res = subprocess.run([promtool, "test", "rules", *map(str, files)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def test_every_alert_has_a_firing_and_a_quiet_case_with_annotations() -> None:
    firing: dict[str, list[dict]] = {}
    quiet: set[str] = set()
    pinned: set[str] = set()
    for f in TESTS.glob("*.test.yml"):
        for case in yaml.safe_load(f.read_text())["tests"]:
            evals = case.get("alert_rule_test", [])
            for ev in evals:
                if ev["exp_alerts"]:
                    firing.setdefault(ev["alertname"], []).extend(ev["exp_alerts"])
                    if any(e["alertname"] == ev["alertname"] and not e["exp_alerts"] for e in evals):
                        pinned.add(ev["alertname"])
                else:
                    quiet.add(ev["alertname"])
    for rule in alert_rules():
        name = rule["alert"]
        assert name in firing, f"{name}: no firing test"
        # Every variant of an alert (e.g. each burn-rate tier, told apart by its labels) fires somewhere.
        labels = set(rule.get("labels", {}).items())
        assert any(labels <= set(a.get("exp_labels", {}).items()) for a in firing[name]), (
            f"{name} {rule.get('labels')}: no firing test for this variant"
        )
        assert all(set(a["exp_annotations"]) >= {"summary", "description", "runbook_url"} for a in firing[name])
        if name != "Watchdog":  # always fires by design
            assert name in quiet, f"{name}: no not-firing test"
        if "for" in rule:
            assert name in pinned, f"{name}: for {rule['for']} not pinned by two evaluation times"


# --- alert conventions and runbooks -------------------------------------------------------


def test_alert_labels_and_annotations() -> None:
    b = bundle()
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"(LLM[A-Z]\w+|Watchdog)", name)
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        ann = rule["annotations"]
        assert ann["summary"].endswith(".") and "{{" not in ann["summary"], name
        assert ann["description"], name
        assert ann["runbook_url"] == b.runbook_url(name)


def test_every_alert_has_a_runbook_page() -> None:
    for name in {r["alert"] for r in alert_rules()}:
        page = RUNBOOKS / f"{name}.md"
        assert page.is_file(), name
        text = page.read_text()
        for section in ("## What it means", "## How to confirm", "## Likely causes", "## What to do"):
            assert section in text, f"{name}: {section}"
        assert "```promql" in text
        if name == "Watchdog":  # always firing by design: nothing to look at or run
            continue
        assert "?viewPanel=" in text, f"{name}: the runbook links a dashboard panel"
        assert re.search(r"```sh\n(kubectl|redis-cli|nvidia-smi|curl|celery|rabbitmqctl|nats) ", text), (
            f"{name}: the runbook lists commands to run"
        )
        assert "## Escalation" in text, name


def test_every_runbook_confirm_query_is_valid(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    queries = []
    for page in [*sorted(RUNBOOKS.glob("LLM*.md")), RUNBOOKS / "Watchdog.md"]:
        text = page.read_text().split("## How to confirm", 1)[1]
        queries.append(re.search(r"```promql\n(.*?)\n```", text, re.S).group(1))  # type: ignore[union-attr]
    rules = [{"record": f"runbook:q{i}:check", "expr": q} for i, q in enumerate(queries)]
    path = tmp_path / "runbook-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "runbooks", "rules": rules}]}))
    res = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    known = _known()
    for q in queries:
        assert metric_names(q) <= known, q


def test_provisioning_points_at_the_dashboards() -> None:
    prov = yaml.safe_load((REPO / "dashboards" / "provisioning" / "dashboards" / "llm-exporter.yml").read_text())
    assert prov["apiVersion"] == 1 and prov["providers"][0]["type"] == "file"
    ds = yaml.safe_load((REPO / "dashboards" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert ds["datasources"][0]["uid"] == bundle()["dashboards"]["datasource_uid"]
    assert DASHBOARDS.is_dir()
