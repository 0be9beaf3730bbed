"""End to end: real Prometheus with the generated rules, real Alertmanager with the example config.

A second inference target plays a new pod still loading its model (nothing answers on its port):
for longer than the crash tier's `for`, nothing fires for it and nothing is paged. Then the
serving target (a local HTTP server playing vLLM) goes away; the exporter marks it down;
LLMTargetDown (a single target: warning) reaches the chat receiver (Slack payload, webhook URL
read from a file), never the pager, while LLMModelDisappeared for the same target is inhibited.
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
from support import free_port, wait_for

from bundle.common import AM_CONFIG
from bundle.live import LiveEngine, Webhook
from monitoring.bundle import DEFAULT_BUNDLE, Bundle
from monitoring.rulefiles import alert_file, recording_file


def _rules(tmp_path: Path) -> list[Path]:
    raw = yaml.safe_load(DEFAULT_BUNDLE.read_text())
    raw["startup_grace"] = "120s"  # a model load; 20m in production
    raw["alerts"]["LLMTargetDown"]["for"] = "3s"
    raw["alerts"]["LLMModelDisappeared"].update({"for": "8s", "lookback": "30s"})
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


def test_loading_pod_alerts_nobody_and_target_down_is_a_ticket(tmp_path: Path) -> None:
    engine = LiveEngine("vllm-v1.prom").start()
    hook = Webhook()
    loading = f"http://127.0.0.1:{free_port()}"  # a new pod's vLLM, still loading: nothing listens
    config = (
        f"inference:\n  - name: vllm-a\n    url: {engine.url}\n    server: vllm\n"
        f"  - name: vllm-new\n    url: {loading}\n    server: vllm\ngpu:\n  enabled: false\n"
    )
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
            # The loading target is down from the start, for longer than the crash tier's `for`
            # (3s) but shorter than startup_grace: no alert fires for it, nobody is paged.
            prom.wait_for('llm_target_up{target="vllm-new"} == 0')
            prom.wait_for('count_over_time(llm_target_up{target="vllm-new"}[20s]) >= 15', timeout=60)
            assert not prom.query('ALERTS{target="vllm-new", alertstate="firing"}'), "a loading pod must not alert"
            # Let the model be known for a while, then the serving target crashes.
            prom.wait_for('count_over_time(llm_model_info{target="vllm-a"}[20s]) >= 15', timeout=60)
            assert not hook.at("/pager") and not hook.at("/chat")

            engine.stop()
            prom.wait_for('llm_target_up{target="vllm-a"} == 0')

            def ticketed() -> list:
                return [b for _, b in hook.at("/chat") if "vllm-a" in json.dumps(b)]

            ticket = json.dumps(wait_for(ticketed, 60, what="the LLMTargetDown ticket")[0])  # type: ignore[index]
            for expected in (
                "LLMTargetDown",
                "An upstream read by llm-exporter is unreachable.",
                f"Target vllm-a behind {exp.address}",
                "LLMTargetDown.md",
            ):
                assert expected in ticket, f"{expected!r} not in {ticket}"
            assert not prom.query('ALERTS{target="vllm-new", alertstate="firing"}')

            # The model vanished with the target: Prometheus fires it, Alertmanager inhibits it.
            prom.wait_for('ALERTS{alertname="LLMModelDisappeared", alertstate="firing", target="vllm-a"}', 60)

            def inhibited() -> list:
                return [
                    a
                    for a in _am_alerts(am)
                    if a["labels"]["alertname"] == "LLMModelDisappeared" and a["status"]["inhibitedBy"]
                ]

            wait_for(inhibited, 30, what="LLMModelDisappeared to be inhibited")
            # Two more group intervals: still nothing paged, and no ticket for the inhibited alert.
            time.sleep(5)  # waiting only: two more group intervals for a page that must not come
            assert not hook.at("/pager"), "a single target down is a ticket, never a page"
            assert not [b for _, b in hook.at("/chat") if "LLMModelDisappeared" in json.dumps(b)]
    finally:
        engine.stop()
        hook.close()
