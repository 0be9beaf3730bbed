"""On a machine with a real NVIDIA GPU: compare the collector with nvidia-smi (marked gpu)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from gpu.test_subprocess import run_collect

pytestmark = pytest.mark.gpu


def _smi(fields: str) -> list[list[str]]:
    res = subprocess.run(
        ["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=True,
    )
    return [[c.strip() for c in line.split(",")] for line in res.stdout.strip().splitlines()]


def test_values_match_nvidia_smi() -> None:
    if shutil.which("nvidia-smi") is None:
        pytest.skip("nvidia-smi not installed: no NVIDIA driver here")
    samples, error = run_collect(None, None, enabled=True)
    assert error == ""
    rows = _smi("index,uuid,memory.total,temperature.gpu,power.limit,clocks.max.sm,pcie.link.width.max")
    for index, uuid, mem_total_mib, temp, power_limit, _max_sm, width_max in rows:
        L = (("gpu", index), ("uuid", uuid))
        assert samples[("llm_gpu_up", L)] == 1
        assert samples[("llm_gpu_memory_total_bytes", L)] == pytest.approx(float(mem_total_mib) * 2**20, rel=0.01)
        assert samples[("llm_gpu_temperature_celsius", L)] == pytest.approx(float(temp), abs=5)
        if power_limit not in ("[N/A]", "N/A"):
            assert samples[("llm_gpu_power_limit_watts", L)] == pytest.approx(float(power_limit), rel=0.01)
        assert samples[("llm_gpu_pcie_link_width", tuple(sorted((*L, ("state", "max")))))] == float(width_max)
