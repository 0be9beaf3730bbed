"""A real Prometheus scrapes the real exporter; promtool lints the exposition."""

from __future__ import annotations

import subprocess
from pathlib import Path

from exporter_proc import run_exporter
from prom import start_prometheus
from support import need_binary

CONFIG = "gpu:\n  enabled: false\npricing:\n  gpu_per_hour: 3.6\n  models:\n    - {model: m, prompt_per_million: 1}\n"


def test_prometheus_scrapes_exporter_and_stores_self_metrics(tmp_path: Path) -> None:
    with run_exporter(CONFIG, tmp_path) as exp, start_prometheus(tmp_path, [exp.address]) as prom:
        up = prom.wait_for('up{job="llm-exporter"} == 1')
        assert up[0]["metric"]["instance"] == exp.address
        info = prom.wait_for("llm_exporter_build_info")
        assert info[0]["metric"]["version"]
        assert prom.wait_for("llm_exporter_config_last_reload_successful == 1")
        assert prom.wait_for('llm_scrape_collector_success{collector="pricing"} == 1')
        price = prom.wait_for('llm_pricing_prompt_token_dollars{model="m"}')
        assert float(price[0]["value"][1]) == 1e-6
        # Prometheus found no exposition problem in any scrape.
        target = next(t for t in prom.targets() if t["labels"]["job"] == "llm-exporter")
        assert target["health"] == "up" and target["lastError"] == ""


def test_promtool_check_metrics_is_clean(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    with run_exporter(CONFIG, tmp_path) as exp:
        body = exp.metrics()
    res = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "" and res.stderr.strip() == "", res.stdout + res.stderr
