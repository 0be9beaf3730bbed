"""Scenarios that need their own process: another library on LD_LIBRARY_PATH, or none at all."""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gpu import fakenvml

HERE = Path(__file__).parent


def run_collect(lib_dir: Path | None, scenario: Path | None, **config: object) -> tuple[dict, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", fakenvml.ENV)}
    if lib_dir is not None:
        env["LD_LIBRARY_PATH"] = str(lib_dir)
    if scenario is not None:
        env[fakenvml.ENV] = str(scenario)
    res = subprocess.run(
        [sys.executable, str(HERE / "collect_once.py"), json.dumps(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for fam in text_string_to_metric_families(res.stdout):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    error = next((line[9:] for line in res.stdout.splitlines() if line.startswith("# error: ")), "")
    return samples, error


def names(samples: dict) -> set[str]:
    return {name for name, _ in samples}


def test_old_driver_missing_versioned_symbols_falls_back(tmp_path: Path) -> None:
    lib_dir = fakenvml.build("old_driver")
    scenario = fakenvml.write_scenario(
        tmp_path / "s.conf", fakenvml.render([fakenvml.h100(0), fakenvml.h100(1)], driver="470.82.01")
    )
    samples, error = run_collect(lib_dir, scenario, enabled=True)
    assert error == ""
    got = names(samples)
    # memory v1 (used includes reserved), unversioned temperature, throttle reasons, _v2 process list
    assert "llm_gpu_memory_used_bytes" in got and "llm_gpu_memory_reserved_bytes" not in got
    uuid0 = str(fakenvml.h100(0)["uuid"])
    used = samples[("llm_gpu_memory_used_bytes", (("gpu", "0"), ("uuid", uuid0)))]
    assert used == 10 * fakenvml.GIB + 512 * 1024 * 1024
    for name in ("llm_gpu_temperature_celsius", "llm_gpu_clock_event_active", "llm_gpu_processes"):
        assert name in got, name
    assert samples[("llm_gpu_up", (("gpu", "1"), ("uuid", str(fakenvml.h100(1)["uuid"]))))] == 1


def test_no_library_on_the_loader_path(tmp_path: Path) -> None:
    if ctypes.util.find_library("nvidia-ml"):
        pytest.skip("a real libnvidia-ml is installed here; the in-process library=... test covers this")
    samples, error = run_collect(tmp_path, None, enabled="auto")
    assert error == "" and not names(samples)
    samples, error = run_collect(tmp_path, None, enabled=True)
    assert "not found" in error
    assert samples[("llm_gpu_nvml_up", ())] == 0
