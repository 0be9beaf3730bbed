"""The exporter imports only what its config uses (issue 14: startup time and idle memory).

Each test starts the exporter in a fresh process the way ``serve`` does (``startup_modules.py``:
config, runtime, HTTP server, first collection, one rendered ``/metrics``) and checks
``sys.modules``: a binding or parser the config does not need must never be loaded.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from llm_exporter.config import load_config_text
from llm_exporter.runtime import PYTHON_VERSION, Runtime
from llm_exporter.server import ExporterHTTPServer

SCRIPT = Path(__file__).resolve().parents[1] / "startup_modules.py"

# Never needed by the embedded default (no queues, no basic auth, no probe, no process, no TLS).
NOT_FOR_DEFAULT = ("redis", "bcrypt", "psutil", "requests", "celery", "kombu")
# The embedded default is built in code: no YAML parser (a file or a web config needs one), no
# target sections of the schema (no targets), and without --web.config.file no web config module.
NO_FILES = ("yaml", "llm_exporter.configschema", "llm_exporter.webconfig", "llm_exporter.configtargets")


def start(config: Path | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the startup script; its JSON report."""
    environ = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    environ.update(env or {})
    args = [sys.executable, str(SCRIPT), *([str(config)] if config else [])]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, env=environ)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def loaded(report: dict[str, Any], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in report["modules"])


def test_embedded_default_loads_no_binding_it_does_not_use() -> None:
    report = start()
    for package in NOT_FOR_DEFAULT:
        assert not loaded(report, package), f"{package} imported by the embedded default"
    for package in NO_FILES:
        assert not loaded(report, package), f"{package} imported without a config file"
    # no name resolution through the IDNA codec (bind and discovery use ASCII names as bytes)
    assert not loaded(report, "encodings.idna")
    if report["nvml_error"] is not None:  # no libnvidia-ml here: gpu auto stays quiet, without pynvml
        assert not loaded(report, "pynvml")
        assert not loaded(report, "llm_exporter.collectors.gpu.collector")
        assert report["gpu_series"] == 0
    if not report["targets"]:  # nothing answers on the engines' default ports: no engine table
        for module in ("engines", "mapping", "collector", "http"):
            assert not loaded(report, f"llm_exporter.collectors.inference.{module}")
        assert not loaded(report, "llm_exporter.promtext")


def test_a_config_that_uses_a_binding_loads_it(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yml"
    cfg.write_text(
        "gpu: {enabled: false}\n"
        "queues:\n"
        "  - {name: q, backend: redis, url: 'redis://127.0.0.1:1', queues: [{name: a, kind: list}]}\n"
    )
    report = start(cfg)
    assert loaded(report, "redis") and loaded(report, "yaml")
    assert not loaded(report, "pynvml") and not loaded(report, "bcrypt")


def test_build_info_reports_the_python_version_platform_would() -> None:
    """``runtime`` reads it from ``sys.version`` so as not to import ``platform`` at start."""
    assert platform.python_version() == PYTHON_VERSION


def test_the_server_binds_without_a_reverse_dns_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HTTPServer.server_bind`` calls ``socket.getfqdn`` (DNS) on every start; ours does not."""

    def no_dns(name: str = "") -> str:
        raise AssertionError(f"getfqdn({name!r}) at bind")

    monkeypatch.setattr(socket, "getfqdn", no_dns)
    runtime = Runtime(None, load_config_text("gpu: {enabled: false}\n"))
    server = ExporterHTTPServer(("127.0.0.1", 0), runtime)
    try:
        assert (server.server_name, server.server_port) == ("127.0.0.1", server.server_address[1])
    finally:
        server.server_close()
        runtime.close()


def test_the_target_classes_config_names_are_those_configtargets_defines() -> None:
    """config lists them by name (to import configtargets only on first use): the lists agree."""
    from llm_exporter import config, configtargets

    classes = set(configtargets.__all__) - {"Redirects"}
    assert set(config._TARGET_CLASSES) == classes and classes <= set(config.__all__)
