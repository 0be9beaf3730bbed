"""Issue 10 item 4: a reload that fails (POST /-/reload or SIGHUP) answers 500 with the
reasons, sets ``llm_exporter_config_last_reload_successful 0``, keeps the old config, and
never prints a traceback or a secret. Real exporter process, real sockets.
"""

from __future__ import annotations

import signal
import urllib.error
import urllib.request
from pathlib import Path

from exporter_proc import run_exporter
from support import wait_for

PRICED = "gpu:\n  enabled: false\npricing:\n  gpu_per_hour: 3.6\n"
LIFECYCLE = ("--web.enable-lifecycle",)


def post(url: str) -> tuple[int, str]:
    req = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return int(r.status), r.read().decode()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode()


def test_failed_reload_answers_500_with_reasons_and_keeps_old_config(tmp_path: Path) -> None:
    env = {"TOK": "*S3cretStar"}  # old code: YAML re-parse of the value crashed the reload
    with run_exporter(PRICED, tmp_path, env=env, args=LIFECYCLE) as exp:
        exp.config.write_text(
            PRICED
            + "inference:\n  - name: a\n    url: http://alice:S3cretPw@h:99999/\n    bearer_token: ${TOK}\n"
            + "    timeout: ${TOK}\n"
        )
        code, body = post(exp.url + "/-/reload")
        assert code == 500, body
        assert "inference[0].url: not a URL: 'http://alice:xxxxx@h:99999/' (bad port) (line 7)" in body
        assert "inference[0].timeout: must be a duration like 15s, 2m or 500ms, got 'xxxxx' (line 9)" in body
        assert "S3cret" not in body
        text = exp.metrics()
        assert "llm_exporter_config_last_reload_successful 0.0" in text
        assert "llm_pricing_gpu_second_dollars 0.001" in text, "old config keeps running"

        before = exp.logs().count("config reload rejected")
        exp.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: exp.logs().count("config reload rejected") > before, 10, what="SIGHUP reload logged")
        logs = exp.logs()
        assert "Traceback" not in logs and "S3cret" not in logs
        rejected = [line for line in logs.splitlines() if "config reload rejected" in line]
        assert all(line.startswith("ts=") and "level=error" in line for line in rejected), rejected
        assert exp.proc.poll() is None

        exp.config.write_text("gpu:\n  enabled: false\npricing:\n  gpu_per_hour: 7.2\n")
        exp.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "llm_pricing_gpu_second_dollars 0.002" in exp.metrics(), 10)
        assert "llm_exporter_config_last_reload_successful 1.0" in exp.metrics()


def test_lifecycle_endpoints_are_off_by_default_and_sighup_still_works(tmp_path: Path) -> None:
    """Item 6: without --web.enable-lifecycle, /-/reload is 404 for every method and reloads
    nothing; SIGHUP always reloads."""
    with run_exporter(PRICED, tmp_path) as exp:
        exp.config.write_text("gpu:\n  enabled: false\npricing:\n  gpu_per_hour: 7.2\n")
        for method in ("POST", "PUT", "GET"):
            req = urllib.request.Request(exp.url + "/-/reload", method=method, data=b"" if method != "GET" else None)
            try:
                urllib.request.urlopen(req, timeout=10)
                code = 200
            except urllib.error.HTTPError as e:
                code = e.code
            assert code == 404, method
        assert "llm_pricing_gpu_second_dollars 0.001" in exp.metrics(), "nothing was reloaded"
        assert "config reloaded" not in exp.logs()
        exp.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "llm_pricing_gpu_second_dollars 0.002" in exp.metrics(), 10)
