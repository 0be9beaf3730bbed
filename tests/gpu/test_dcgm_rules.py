"""The opt-in DCGM-compatibility recording rules (alerts/optional/dcgm-compat.rules.yml), checked and
unit-tested with promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support import REPO, need_binary

RULES = REPO / "alerts" / "optional" / "dcgm-compat.rules.yml"
UUID = "GPU-00000000-1d2b-4c3a-9e8f-a1b2c3d4e5f0"


def test_dcgm_compat_rules_are_opt_in() -> None:
    """Shipped outside alerts/rules/ (loaded by default) and documented in docs/gpu.md."""
    assert RULES.is_file()
    assert not (REPO / "alerts" / "rules" / RULES.name).exists()
    assert "alerts/optional/dcgm-compat.rules.yml" in (REPO / "docs" / "gpu.md").read_text()


def test_dcgm_compat_rules(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    rules = tmp_path / "dcgm.rules.yml"
    rules.write_text(RULES.read_text())
    info = (
        f'llm_gpu_info{{gpu="0",uuid="{UUID}",name="NVIDIA H100 80GB HBM3",pci_bus_id="00000000:18:00.0",'
        f'driver_version="550.54.15",serial="1"}}'
    )
    L = f'gpu="0",uuid="{UUID}"'
    expected_labels = (
        f'gpu="0",uuid="{UUID}",UUID="{UUID}",modelName="NVIDIA H100 80GB HBM3",'
        f'pci_bus_id="00000000:18:00.0",device="nvidia0",DCGM_FI_DRIVER_VERSION="550.54.15"'
    )
    (tmp_path / "test.yml").write_text(f"""
rule_files: [dcgm.rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '{info}'
        values: '1x5'
      - series: 'llm_gpu_clock_hertz{{{L},clock="sm"}}'
        values: '1980000000x5'
      - series: 'llm_gpu_memory_used_bytes{{{L}}}'
        values: '11811160064x5'
      - series: 'llm_gpu_utilization_ratio{{{L}}}'
        values: '0.51x5'
      - series: 'llm_gpu_energy_joules_total{{{L}}}'
        values: '100+1x5'
      - series: 'llm_gpu_sm_active_ratio{{{L}}}'
        values: '0.61x5'
    promql_expr_test:
      - expr: DCGM_FI_DEV_SM_CLOCK
        eval_time: 2m
        exp_samples:
          - labels: 'DCGM_FI_DEV_SM_CLOCK{{{expected_labels}}}'
            value: 1980
      - expr: DCGM_FI_DEV_FB_USED
        eval_time: 2m
        exp_samples:
          - labels: 'DCGM_FI_DEV_FB_USED{{{expected_labels}}}'
            value: 11264
      - expr: DCGM_FI_DEV_GPU_UTIL
        eval_time: 2m
        exp_samples:
          - labels: 'DCGM_FI_DEV_GPU_UTIL{{{expected_labels}}}'
            value: 51
      - expr: DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION
        eval_time: 2m
        exp_samples:
          - labels: 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{{{expected_labels}}}'
            value: 102000
      - expr: DCGM_FI_PROF_SM_ACTIVE
        eval_time: 2m
        exp_samples:
          - labels: 'DCGM_FI_PROF_SM_ACTIVE{{{expected_labels}}}'
            value: 0.61
""")
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    res = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
