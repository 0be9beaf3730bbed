"""Shared helpers of the bundle tests: generated artefacts, their queries, promtool/amtool."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from monitoring.bundle import Bundle

REPO = Path(__file__).resolve().parents[2]

DASHBOARDS = REPO / "dashboards" / "grafana"
RULES = REPO / "alerts" / "rules"
ALERT_FILE = RULES / "llm-exporter.alerts.yml"
RECORD_FILE = RULES / "llm-exporter.rules.yml"
RUNBOOKS = REPO / "alerts" / "runbooks"
TESTS = REPO / "alerts" / "tests"
AM_CONFIG = REPO / "alerts" / "alertmanager.yml"
# Series Prometheus makes itself that a dashboard or rule may use.
BUILTIN = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"}


def bundle() -> Bundle:
    return Bundle.load()


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(d: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows (rows themselves excluded)."""
    for p in d["panels"]:
        if p["type"] == "row":
            yield from p.get("panels", [])
        else:
            yield p


def rule_groups(path: Path) -> list[dict[str, Any]]:
    return yaml.safe_load(path.read_text())["groups"]


def recorded_names() -> set[str]:
    return {r["record"] for g in rule_groups(RECORD_FILE) for r in g["rules"]}


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in rule_groups(ALERT_FILE) for r in g["rules"]]


def substitute(expr: str, rate_interval: str = "5m", rng: str = "1h") -> str:
    """Grafana variables replaced the way Grafana does for 'All' selections."""
    expr = expr.replace("$__rate_interval", rate_interval).replace("$__range", rng)
    return re.sub(r"\$\{?(\w+)\}?", ".*", expr)
