"""The DCGM-compatibility recording rules in docs/gpu.md, checked and unit-tested with promtool."""

from __future__ import annotations

import subprocess
from pathlib import Path

from support import REPO, need_binary

DOC = REPO / "docs" / "gpu.md"
UUID = "GPU-00000000-1d2b-4c3a-9e8f-a1b2c3d4e5f0"


def rules_text() -> str:
    text = DOC.read_text()
    block = text.split("<!-- dcgm-compat-rules:start -->", 1)[1].split("<!-- dcgm-compat-rules:end -->", 1)[0]
    return block.strip().removeprefix("```yaml").removesuffix("```").strip() + "\n"


def test_dcgm_compat_rules(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    rules = tmp_path / "dcgm.rules.yml"
    rules.write_text(rules_text())
    info = (f'llm_gpu_info{{gpu="0",uuid="{UUID}",name="NVIDIA H100 80GB HBM3",pci_bus_id="00000000:18:00.0",'
            f'driver_version="550.54.15",serial="1"}}')
    L = f'gpu="0",uuid="{UUID}"'
    expected_labels = (f'gpu="0",uuid="{UUID}",UUID="{UUID}",modelName="NVIDIA H100 80GB HBM3",'
                       f'pci_bus_id="00000000:18:00.0",device="nvidia0",DCGM_FI_DRIVER_VERSION="550.54.15"')
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
""")
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    res = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
