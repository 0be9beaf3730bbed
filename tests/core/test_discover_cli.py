"""`llm-exporter discover` finds an engine on a local port and prints a config that validates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from http_upstream import Upstream, fixture, send
from llm_exporter.config import load_config_text
from support import free_port


def test_discover_prints_valid_config(tmp_path: Path) -> None:
    closed = free_port()
    with Upstream({"/metrics": send(body=fixture("vllm-v1.prom"))}) as vllm:
        res = subprocess.run(
            [sys.executable, "-m", "llm_exporter", "discover", f"--port={vllm.port}", f"--port={closed}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert res.returncode == 0, res.stderr
    cfg = load_config_text(res.stdout)
    assert [(t.server, t.url) for t in cfg.inference] == [("vllm", f"http://127.0.0.1:{vllm.port}")]


def test_discover_says_when_nothing_answers() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "llm_exporter", "discover", f"--port={free_port()}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert "no inference server answered" in res.stderr
