"""``gpu.enabled: auto``: the NVML binding is loaded only once libnvidia-ml can be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llm_exporter.collectors.gpu import AutoGpuCollector, build
from llm_exporter.config import Config, GpuConfig
from llm_exporter.metricset import MetricSet

from gpu import fakenvml
from gpu.helpers import collect

SCRIPT = Path(__file__).resolve().parents[1] / "startup_modules.py"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_auto_reads_the_gpus_when_nvml_loads(scenario: Path) -> None:
    (c,) = build(Config(gpu=GpuConfig(enabled="auto")))
    assert isinstance(c, AutoGpuCollector)
    try:
        m, err = collect(c)  # type: ignore[arg-type]
        assert err is None and c.loaded
        assert m.get("llm_gpu_nvml_up") == 1 and m.get("llm_gpu_devices") == 8
        assert len(m.series("llm_gpu_up")) == 8
    finally:
        c.close(join=5.0)


def test_auto_without_nvml_is_quiet_and_tries_again_after_a_minute(scenario: Path, tmp_path: Path) -> None:
    lib = tmp_path / "libnvidia-ml.so.1"
    clock = Clock()
    c = AutoGpuCollector(GpuConfig(enabled="auto", library=str(lib)), clock=clock)
    try:
        m, err = collect(c)  # type: ignore[arg-type]
        assert err is None and not c.loaded and not list(m.names())
        fallback = MetricSet()
        c.fallback(fallback)
        assert fallback.get("llm_gpu_nvml_up") == 0
        lib.symlink_to(fakenvml.build("default") / "libnvidia-ml.so.1")  # the driver appears
        clock.t += 59
        m, err = collect(c)  # type: ignore[arg-type]
        assert err is None and not c.loaded and not list(m.names())
        clock.t += 2
        m, err = collect(c)  # type: ignore[arg-type]
        assert err is None and c.loaded and m.get("llm_gpu_nvml_up") == 1
    finally:
        c.close(join=5.0)


def test_auto_in_a_fresh_process_imports_pynvml_only_where_nvml_loads(scenario: Path, fake_lib_dir: Path) -> None:
    """The embedded default, in a process where libnvidia-ml.so.1 is (not) on the loader's path."""
    base = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    reports = {}
    for name, extra in (("fake", {"LD_LIBRARY_PATH": str(fake_lib_dir)}), ("none", {})):
        proc = subprocess.run(
            [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120, env={**base, **extra}
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        reports[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    fake = reports["fake"]
    assert fake["nvml_error"] is None and "pynvml" in fake["modules"] and fake["gpu_series"] > 8
    none = reports["none"]
    if none["nvml_error"] is not None:  # a machine with a real driver loads NVML either way
        assert "pynvml" not in none["modules"] and none["gpu_series"] == 0
