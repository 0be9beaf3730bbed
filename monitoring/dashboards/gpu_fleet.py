"""The GPU / Fleet dashboard: every GPU of the selected jobs, health and usage."""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..matchers import INSTANCE, JOB, eq, selector
from .document import dashboard
from .panels import RATE_INTERVAL, Board, dashboard_link


def gpu_fleet(b: Bundle) -> dict[str, Any]:
    g = selector(JOB, INSTANCE)
    x = Board(b)
    x.stat("GPUs visible", "GPUs NVML enumerates on the selected nodes.", f"sum(llm_gpu_devices{g})", "short")
    x.stat("GPUs up", "GPUs answering every NVML call.", f"sum(llm_gpu_up{g})", "short")
    x.stat(
        "GPUs lost",
        "GPUs whose NVML calls fail.",
        f"count(llm_gpu_up{g} == 0) or vector(0)",
        "short",
        thresholds=[("green", None), ("red", 1)],
    )
    x.stat("Power", "Total power draw.", f"sum(llm_gpu_power_watts{g})", "watt")
    x.stat(
        "Memory used",
        "Fleet framebuffer in use over total.",
        f"sum(llm_gpu_memory_used_bytes{g}) / (sum(llm_gpu_memory_total_bytes{g}) > 0)",
        "percentunit",
        ratio=True,
    )
    x.stat(
        "Hottest GPU",
        "Highest GPU temperature.",
        f"max(llm_gpu_temperature_celsius{g})",
        "celsius",
        thresholds=[("green", None), ("orange", 83), ("red", 87)],
    )
    x.stat(
        "GPUs asking for recovery",
        "GPUs whose driver asks for an action (recovery action above 0: GPU "
        "reset, node reboot, drain P2P, drain and reset).",
        f"count(llm_gpu_recovery_action{g} > 0) or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("red", 1)],
    )
    x.stat(
        "Row remaps pending or failed",
        "GPUs with a row remap waiting for a reset, or a failed remap.",
        f"count((llm_gpu_remapped_rows_pending{g} > 0) or (llm_gpu_remapped_rows_failure{g} > 0)) or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("orange", 1)],
    )
    x.stat(
        "Downtrained PCIe links",
        "GPUs whose PCIe link runs below its maximum generation or width.",
        f"count((llm_gpu_pcie_link_generation{selector(JOB, INSTANCE, eq('state', 'current'))} "
        f"< ignoring (state) llm_gpu_pcie_link_generation{selector(JOB, INSTANCE, eq('state', 'max'))}) "
        f"or (llm_gpu_pcie_link_width{selector(JOB, INSTANCE, eq('state', 'current'))} "
        f"< ignoring (state) llm_gpu_pcie_link_width{selector(JOB, INSTANCE, eq('state', 'max'))})) "
        f"or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("orange", 1)],
    )
    x.stat(
        "Hottest GPU memory",
        "Highest memory (HBM) temperature; HBM3 is specified up to about 95 °C.",
        f"max(llm_gpu_memory_temperature_celsius{g})",
        "celsius",
        w=6,
        thresholds=[("green", None), ("orange", 85), ("red", 95)],
    )
    node = dashboard_link(
        b, "gpu-node", "GPU / Node ${__field.labels.instance}", "&var-instance=${__field.labels.instance}"
    )
    x.row("Utilisation and memory")
    x.ts(
        "GPU utilisation",
        "Share of time a kernel ran, per GPU.",
        [(f"llm_gpu_utilization_ratio{g}", "{{instance}} gpu{{gpu}}")],
        "percentunit",
        ratio=True,
        w=12,
        links=[node],
    )
    x.ts(
        "Memory used",
        "Framebuffer in use over total, per GPU.",
        [(f"llm_gpu_memory_used_bytes{g} / (llm_gpu_memory_total_bytes{g} > 0)", "{{instance}} gpu{{gpu}}")],
        "percentunit",
        ratio=True,
        w=12,
        links=[node],
    )
    x.row("Power, energy and temperature")
    x.ts("Power", "Power draw per GPU.", [(f"llm_gpu_power_watts{g}", "{{instance}} gpu{{gpu}}")], "watt")
    x.ts(
        "Energy per node",
        "Energy used per second (from the energy counter), per node.",
        [(f"sum by (instance) (rate(llm_gpu_energy_joules_total{g}[{RATE_INTERVAL}]))", "{{instance}}")],
        "watt",
    )
    x.ts(
        "Temperature",
        "GPU die and memory (HBM) temperature per GPU.",
        [
            (f"llm_gpu_temperature_celsius{g}", "{{instance}} gpu{{gpu}} die"),
            (f"llm_gpu_memory_temperature_celsius{g}", "{{instance}} gpu{{gpu}} memory"),
        ],
        "celsius",
    )
    x.row("Health")
    x.ts(
        "Clock-event reasons active",
        "GPUs with each clock-event (throttle) reason active.",
        [(f"sum by (reason) (llm_gpu_clock_event_active{g})", "{{reason}}")],
        "short",
    )
    x.ts(
        "Uncorrectable ECC errors",
        "Uncorrectable (volatile) ECC errors per GPU in the interval.",
        [
            (
                f"sum by (instance, gpu) (increase(llm_gpu_ecc_errors_total{selector(JOB, INSTANCE, eq('error', 'uncorrected'))}[{RATE_INTERVAL}]))",
                "{{instance}} gpu{{gpu}}",
            )
        ],
        "short",
    )
    x.ts(
        "Remapped rows",
        "Remapped memory rows by cause, and pending/failure flags.",
        [
            (f"sum by (instance, gpu, cause) (llm_gpu_remapped_rows{g})", "{{instance}} gpu{{gpu}} {{cause}}"),
            (f"llm_gpu_remapped_rows_pending{g}", "{{instance}} gpu{{gpu}} pending"),
            (f"llm_gpu_remapped_rows_failure{g}", "{{instance}} gpu{{gpu}} failure"),
        ],
        "short",
    )
    x.ts(
        "Recovery action",
        "Action the driver asks for: 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P, "
        "4 drain and reset (NVML recovery-action field, newest drivers).",
        [(f"llm_gpu_recovery_action{g}", "{{instance}} gpu{{gpu}}")],
        "short",
        thresholds=[("green", None), ("red", 1)],
    )
    x.ts(
        "XID errors",
        "XID errors per GPU and code in the interval.",
        [
            (
                f"sum by (instance, gpu, xid) (increase(llm_gpu_xid_errors_total{g}[{RATE_INTERVAL}]))",
                "{{instance}} gpu{{gpu}} xid {{xid}}",
            )
        ],
        "short",
    )
    x.ts(
        "PCIe replays",
        "PCIe replays per second per GPU.",
        [(f"rate(llm_gpu_pcie_replays_total{g}[{RATE_INTERVAL}])", "{{instance}} gpu{{gpu}}")],
        "short",
    )
    x.ts(
        "Compute processes",
        "Compute processes per GPU.",
        [(f"llm_gpu_processes{g}", "{{instance}} gpu{{gpu}}")],
        "short",
    )
    x.ts(
        "NVML re-initialisations",
        "NVML shutdowns and re-initialisations per node in the interval (a "
        "driver reload or lifecycle error each time).",
        [(f"increase(llm_gpu_nvml_reinitializations_total{g}[{RATE_INTERVAL}])", "{{instance}}")],
        "short",
    )
    x.ts(
        "Tensor-core activity (opt-in: gpu.gpm)",
        "Share of time the SMs ran tensor-core instructions, per GPU (GPM, Hopper and newer; opt-in: gpu.gpm).",
        [(f"llm_gpu_tensor_active_ratio{g}", "{{instance}} gpu{{gpu}}")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "PCIe link downtrained",
        "Current PCIe generation and width below their maximum, per GPU (1 = downtrained).",
        [
            (
                f"llm_gpu_pcie_link_generation{selector(JOB, INSTANCE, eq('state', 'current'))} "
                f"< bool ignoring (state) llm_gpu_pcie_link_generation{selector(JOB, INSTANCE, eq('state', 'max'))}",
                "{{instance}} gpu{{gpu}} generation",
            ),
            (
                f"llm_gpu_pcie_link_width{selector(JOB, INSTANCE, eq('state', 'current'))} "
                f"< bool ignoring (state) llm_gpu_pcie_link_width{selector(JOB, INSTANCE, eq('state', 'max'))}",
                "{{instance}} gpu{{gpu}} width",
            ),
        ],
        "short",
    )
    x.row("Models on these GPUs")
    per_model = 'group by (job, instance, model) (llm_model_info{job=~"$job", instance=~"$instance"})'
    inst = dashboard_link(
        b,
        "instance",
        "LLM / Instance for ${__field.labels.model}",
        "&var-instance=${__field.labels.instance}&var-model=${__field.labels.model}",
    )
    x.table(
        "GPUs per model",
        "Number of GPUs in the pods that serve each model (same job and instance).",
        [(f"instance_model:llm_gpus:count{selector(JOB, INSTANCE)}", "")],
        w=8,
        links=[inst],
    )
    x.ts(
        "Utilisation by model",
        "Mean GPU utilisation of each model's pods.",
        [
            (
                f"avg by (job, instance) (llm_gpu_utilization_ratio{g}) * on (job, instance) group_right () {per_model}",
                "{{model}} {{instance}}",
            )
        ],
        "percentunit",
        ratio=True,
        links=[inst],
    )
    x.ts(
        "Power by model",
        "GPU power of each model's pods.",
        [
            (
                f"sum by (job, instance) (llm_gpu_power_watts{g}) * on (job, instance) group_right () {per_model}",
                "{{model}} {{instance}}",
            )
        ],
        "watt",
        links=[inst],
    )
    return dashboard(
        b,
        "gpu-fleet",
        "GPU / Fleet",
        "Every GPU the exporters see, and the models they serve.",
        x,
        ["job", "gpu_instance"],
    )
