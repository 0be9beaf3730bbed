"""End to end: real Prometheus with the generated rules, real Alertmanager with the example config.

An inference target (a local HTTP server playing vLLM) goes away; the exporter marks it down;
LLMTargetDown pages the pager receiver (PagerDuty payload, routing key read from a file) with
its labels and annotations, while LLMModelDisappeared for the same target is inhibited.
Durations are shortened through a test copy of the bundle config (same generator).
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import yaml
from exporter_proc import run_exporter
from prom import start_alertmanager, start_prometheus
from support import wait_for

from bundle.common import AM_CONFIG
from bundle.live import LiveEngine, Webhook
from monitoring.bundle import DEFAULT_BUNDLE, Bundle
from monitoring.rulefiles import alert_file, recording_file


def _rules(tmp_path: Path) -> list[Path]:
    raw = yaml.safe_load(DEFAULT_BUNDLE.read_text())
    raw["alerts"]["LLMTargetDown"]["for"] = "3s"
    raw["alerts"]["LLMModelDisappeared"].update({"for": "8s", "lookback": "15s"})
    b = Bundle(raw)
    out = []
    for name, text in (("rec.yml", recording_file(b)), ("alerts.yml", alert_file(b))):
        (tmp_path / name).write_text(text)
        out.append(tmp_path / name)
    return out


def _am_config(tmp_path: Path, hook: Webhook) -> str:
    cfg = yaml.safe_load(AM_CONFIG.read_text())
    cfg["route"].update(group_wait="1s", group_interval="2s")
    for r in cfg["route"]["routes"]:
        r.pop("group_wait", None)
        r.pop("group_interval", None)
    secrets = tmp_path / "am-secrets"
    secrets.mkdir()
    (secrets / "pagerduty_routing_key").write_text("test-routing-key\n")
    (secrets / "slack_webhook_url").write_text(hook.url + "/chat\n")
    (secrets / "deadmansswitch_token").write_text("dms-token\n")
    for rcv in cfg["receivers"]:
        for pd in rcv.get("pagerduty_configs", []):
            pd["routing_key_file"] = str(secrets / "pagerduty_routing_key")
            pd["url"] = hook.url + "/pager"
        for sl in rcv.get("slack_configs", []):
            sl["api_url_file"] = str(secrets / "slack_webhook_url")
        for wh in rcv.get("webhook_configs", []):
            wh["url"] = hook.url + "/deadmansswitch"
            wh["http_config"]["authorization"]["credentials_file"] = str(secrets / "deadmansswitch_token")
    return yaml.safe_dump(cfg)


def _am_alerts(am: str) -> list[dict]:
    with urllib.request.urlopen(f"{am}/api/v2/alerts?inhibited=true&silenced=true&active=true", timeout=5) as r:
        return json.load(r)


def test_target_down_pages_and_inhibits(tmp_path: Path) -> None:
    engine = LiveEngine("vllm-v1.prom").start()
    hook = Webhook()
    config = f"inference:\n  - name: vllm-a\n    url: {engine.url}\n    server: vllm\ngpu:\n  enabled: false\n"
    try:
        with (
            run_exporter(config, tmp_path) as exp,
            start_alertmanager(tmp_path, _am_config(tmp_path, hook)) as am,
            start_prometheus(tmp_path, [exp.address], rule_files=_rules(tmp_path), alertmanager_url=am) as prom,
        ):
            prom.wait_for('llm_target_up{target="vllm-a"} == 1')
            prom.wait_for('llm_model_info{target="vllm-a"}')
            # Watchdog reaches the dead man's switch with the bearer token from its file.
            headers, _ = wait_for(lambda: hook.at("/deadmansswitch")[:1], 60, what="Watchdog")[0]  # type: ignore[index]
            assert headers.get("Authorization") == "Bearer dms-token"
            # Let the model be known for longer than the (shortened) disappearance lookback.
            prom.wait_for('count_over_time(llm_model_info{target="vllm-a"}[20s]) >= 15', timeout=60)
            assert not hook.at("/pager")

            engine.stop()
            prom.wait_for('llm_target_up{target="vllm-a"} == 0')

            def paged() -> list:
                return [b for _, b in hook.at("/pager") if "LLMTargetDown" in json.dumps(b)]

            page = wait_for(paged, 60, what="the LLMTargetDown page")[0]  # type: ignore[index]
            assert page["routing_key"] == "test-routing-key"
            assert page["event_action"] == "trigger"
            assert page["payload"]["severity"] == "critical"
            details = json.dumps(page["payload"]["custom_details"])
            for expected in (
                "alertname = LLMTargetDown",
                "target = vllm-a",
                "severity = critical",
                f"instance = {exp.address}",
                "runbook_url = ",
                "LLMTargetDown.md",
                "Target vllm-a behind",
            ):
                assert expected in details, f"{expected!r} not in {details}"
            assert page["payload"]["summary"].startswith("An upstream read by llm-exporter is unreachable.")

            # The model vanished with the target: Prometheus fires it, Alertmanager inhibits it.
            prom.wait_for('ALERTS{alertname="LLMModelDisappeared", alertstate="firing", target="vllm-a"}', 60)

            def inhibited() -> list:
                return [
                    a
                    for a in _am_alerts(am)
                    if a["labels"]["alertname"] == "LLMModelDisappeared" and a["status"]["inhibitedBy"]
                ]

            wait_for(inhibited, 30, what="LLMModelDisappeared to be inhibited")
            # Two more group intervals: still no page for it.
            time.sleep(5)  # waiting only: two more group intervals for a page that must not come
            assert not [b for _, b in hook.at("/pager") if "LLMModelDisappeared" in json.dumps(b)]
            assert not hook.at("/chat")
    finally:
        engine.stop()
        hook.close()
