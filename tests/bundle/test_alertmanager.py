"""alerts/alertmanager.yml: amtool check-config and a route table (amtool --verify.receivers)."""

from __future__ import annotations

import subprocess

import pytest
from support import need_binary

from bundle.common import AM_CONFIG, alert_rules

ROUTES = [
    ({"alertname": "Watchdog", "severity": "info"}, "deadmansswitch"),
    ({"alertname": "LLMTargetDown", "severity": "critical", "target": "vllm-a"}, "pager"),
    ({"alertname": "LLMErrorBudgetBurn", "severity": "critical", "model": "m1", "long": "1h"}, "pager"),
    ({"alertname": "LLMErrorBudgetBurn", "severity": "warning", "model": "m1", "long": "3d"}, "chat"),
    ({"alertname": "LLMGpuThrottled", "severity": "warning", "gpu": "0"}, "chat"),
    ({"alertname": "SomethingInformational", "severity": "info"}, "null"),
    ({"alertname": "NoSeverityAtAll"}, "default"),
]
BY_SEVERITY = {"critical": "pager", "warning": "chat", "info": "null"}


def _route(labels: dict[str, str], expected: str) -> subprocess.CompletedProcess[str]:
    amtool = need_binary("amtool")
    return subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={AM_CONFIG}",
            f"--verify.receivers={expected}",
            *(f"{k}={v}" for k, v in labels.items()),
        ],
        capture_output=True,
        text=True,
    )


def test_amtool_check_config() -> None:
    amtool = need_binary("amtool")
    res = subprocess.run([amtool, "check-config", str(AM_CONFIG)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(("labels", "receiver"), ROUTES, ids=[r[1] + ":" + r[0]["alertname"] for r in ROUTES])
def test_route_table(labels: dict[str, str], receiver: str) -> None:
    res = _route(labels, receiver)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_wrong_expectation_fails() -> None:
    res = _route({"alertname": "LLMTargetDown", "severity": "critical"}, "chat")
    assert res.returncode != 0


def test_every_generated_alert_reaches_its_severity_receiver() -> None:
    for rule in alert_rules():
        labels = {"alertname": rule["alert"], **rule["labels"]}
        expected = "deadmansswitch" if rule["alert"] == "Watchdog" else BY_SEVERITY[rule["labels"]["severity"]]
        res = _route(labels, expected)
        assert res.returncode == 0, f"{rule['alert']}: {res.stdout}{res.stderr}"


def test_secrets_come_from_files_and_inhibitions_have_equal() -> None:
    import yaml

    cfg = yaml.safe_load(AM_CONFIG.read_text())
    text = AM_CONFIG.read_text()
    assert "routing_key_file" in text and "api_url_file" in text and "credentials_file" in text
    assert "routing_key:" not in text and "api_url:" not in text
    assert all(rule.get("equal") for rule in cfg["inhibit_rules"])
    assert "alertname" in cfg["route"]["group_by"]
