"""A real Prometheus (and Alertmanager) for tests, on free loopback ports.

    with start_prometheus(tmp_path, ["127.0.0.1:10556"]) as prom:
        prom.wait_for('up{job="llm-exporter"} == 1')
        prom.query("llm_exporter_build_info")

The scrape interval is 1 s so tests wait seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from support import free_port, need_binary, stop_process, wait_for, wait_process_ready


class Prometheus:
    """Handle on a running Prometheus: its URL and a few HTTP API calls."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.proc = proc
        self.log = log

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as resp:
            doc = json.load(resp)
        if doc.get("status") != "success":
            raise RuntimeError(f"prometheus API {path} failed: {doc}")
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; returns the result vector (``[{'metric': {...}, 'value': [ts, 'v']}]``)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def wait_for(self, expr: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Poll until ``expr`` returns at least one series."""
        try:
            return wait_for(lambda: self.query(expr), timeout, interval=0.25, what=f"PromQL {expr!r}")  # type: ignore[return-value]
        except TimeoutError:
            raise TimeoutError(
                f"no result for {expr!r} after {timeout}s; prometheus log tail:\n" + self.log.read_text()[-2000:]
            ) from None

    def targets(self) -> list[dict[str, Any]]:
        return list(self.api("targets")["activeTargets"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("alerts")["alerts"])


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as r:
        return bool(r.status == 200)


@contextlib.contextmanager
def start_prometheus(
    tmp_path: Path,
    targets: Sequence[str],
    rule_files: Sequence[Path] = (),
    alertmanager_url: str | None = None,
    job: str = "llm-exporter",
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    extra_scrape_config: dict[str, Any] | None = None,
    backfill: str | None = None,
    retention: str = "1h",
) -> Iterator[Prometheus]:
    """Start Prometheus scraping ``targets`` (host:port) with ``rule_files`` loaded.

    ``backfill``: OpenMetrics text (with timestamps) imported into the TSDB first with
    ``promtool tsdb create-blocks-from openmetrics``, e.g. last week's data; give a
    ``retention`` that keeps it.
    """
    binary = need_binary("prometheus")
    home = tmp_path / f"prometheus-{free_port()}"
    home.mkdir(parents=True)
    if backfill is not None:
        (home / "backfill.om").write_text(backfill)
        subprocess.run(
            [need_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "backfill.om", "data"],
            cwd=home,
            check=True,
            capture_output=True,
        )
    scrape: dict[str, Any] = {"job_name": job, "static_configs": [{"targets": list(targets)}]}
    scrape.update(extra_scrape_config or {})
    cfg: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            "scrape_timeout": scrape_interval,
        },
        "scrape_configs": [scrape],
    }
    if rule_files:
        cfg["rule_files"] = [str(Path(p).resolve()) for p in rule_files]
    if alertmanager_url:
        host = urllib.parse.urlsplit(alertmanager_url).netloc
        cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
    (home / "prometheus.yml").write_text(yaml.safe_dump(cfg))
    port = free_port()
    log = home / "prometheus.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={home / 'prometheus.yml'}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                f"--storage.tsdb.retention.time={retention}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home,
        )
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_process_ready(proc, lambda: _http_ok(f"{prom.url}/-/ready"), log, "prometheus to be ready")
        yield prom
    finally:
        stop_process(proc)


@contextlib.contextmanager
def start_alertmanager(tmp_path: Path, config: dict[str, Any] | str) -> Iterator[str]:
    """Start Alertmanager with ``config``; yields its base URL."""
    binary = need_binary("prometheus-alertmanager", "alertmanager")
    home = tmp_path / f"alertmanager-{free_port()}"
    home.mkdir(parents=True)
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    (home / "alertmanager.yml").write_text(text)
    port, cluster = free_port(), free_port()
    log = home / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={home / 'alertmanager.yml'}",
                f"--storage.path={home / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--cluster.listen-address=127.0.0.1:{cluster}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=home,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_process_ready(proc, lambda: _http_ok(f"{url}/-/ready"), log, "alertmanager to be ready")
        yield url
    finally:
        stop_process(proc)


def scrape_until(prom: Prometheus, expr: str, timeout: float = 60.0) -> float:
    """Wait for ``expr`` and return its first value as a float."""
    res = prom.wait_for(expr, timeout)
    return float(res[0]["value"][1])
