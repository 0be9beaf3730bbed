"""The GPU / Node dashboard: the GPUs of one node in detail."""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..matchers import GPU, INSTANCE, JOB, selector
from .document import dashboard
from .panels import RATE_INTERVAL, Board


def gpu_node(b: Bundle) -> dict[str, Any]:
    g = selector(JOB, INSTANCE, GPU)
    lg = "gpu{{gpu}}"
    x = Board(b)
    x.table(
        "GPU identity", "Name, PCI bus id, serial, driver and CUDA versions.", [(f"llm_gpu_info{g}", "")], w=16, h=6
    )
    x.stat(
        "NVML up",
        "1 when NVML answers on this node.",
        f"min(llm_gpu_nvml_up{selector(JOB, INSTANCE)})",
        "bool",
        thresholds=[("red", None), ("green", 1)],
        w=4,
        h=6,
    )
    x.stat("GPUs up", "GPUs answering NVML.", f"sum(llm_gpu_up{g})", "short", w=4, h=6)
    x.ts(
        "Utilisation",
        "Kernel (SM) and memory-controller busy shares.",
        [(f"llm_gpu_utilization_ratio{g}", f"{lg} kernel"), (f"llm_gpu_memory_utilization_ratio{g}", f"{lg} memory")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Memory",
        "Framebuffer used, reserved by the driver, and total.",
        [
            (f"llm_gpu_memory_used_bytes{g}", f"{lg} used"),
            (f"llm_gpu_memory_reserved_bytes{g}", f"{lg} reserved"),
            (f"llm_gpu_memory_total_bytes{g}", f"{lg} total"),
        ],
        "bytes",
    )
    x.ts(
        "Temperature",
        "GPU die and memory (HBM) temperature; memory is absent without a sensor.",
        [(f"llm_gpu_temperature_celsius{g}", f"{lg} die"), (f"llm_gpu_memory_temperature_celsius{g}", f"{lg} memory")],
        "celsius",
    )
    x.ts(
        "Power and limit",
        "Power draw against the enforced limit.",
        [(f"llm_gpu_power_watts{g}", f"{lg} draw"), (f"llm_gpu_power_limit_watts{g}", f"{lg} limit")],
        "watt",
    )
    x.ts(
        "Energy",
        "Energy per second from the energy counter.",
        [(f"rate(llm_gpu_energy_joules_total{g}[{RATE_INTERVAL}])", lg)],
        "watt",
    )
    x.ts("Clocks", "Clock frequency per domain.", [(f"llm_gpu_clock_hertz{g}", f"{lg} {{{{clock}}}}")], "hertz")
    x.ts(
        "Fan speed",
        "Fan speed as a share of its maximum; absent on passively cooled GPUs (H100, A100).",
        [(f"llm_gpu_fan_speed_ratio{g}", lg)],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Performance state",
        "P-state as a number: 0 is full performance, higher is slower (P8 idle).",
        [(f"llm_gpu_performance_state{g}", lg)],
        "short",
    )
    x.ts(
        "Encoder and decoder",
        "Video encoder (NVENC) and decoder (NVDEC) busy shares.",
        [
            (f"llm_gpu_encoder_utilization_ratio{g}", f"{lg} encoder"),
            (f"llm_gpu_decoder_utilization_ratio{g}", f"{lg} decoder"),
        ],
        "percentunit",
        ratio=True,
    )
    x.row("Clock events (throttling)")
    x.ts(
        "Clock-event reasons active",
        "1 while the reason holds the clocks back.",
        [(f"llm_gpu_clock_event_active{g}", f"{lg} {{{{reason}}}}")],
        "short",
        w=12,
    )
    x.ts(
        "Time held back by reason",
        "Share of time clocks were held back, per reason.",
        [(f"rate(llm_gpu_clock_event_seconds_total{g}[{RATE_INTERVAL}])", f"{lg} {{{{reason}}}}")],
        "percentunit",
        w=12,
    )
    x.row("Errors")
    x.ts(
        "ECC errors",
        "ECC errors in the interval by error and counter.",
        [(f"increase(llm_gpu_ecc_errors_total{g}[{RATE_INTERVAL}])", f"{lg} {{{{error}}}} {{{{counter}}}}")],
        "short",
    )
    x.ts(
        "Remapped rows",
        "Remapped rows by cause and the pending/failure flags (1 = remap waits for a reset "
        "/ remap failed: service the GPU).",
        [
            (f"llm_gpu_remapped_rows{g}", f"{lg} {{{{cause}}}}"),
            (f"llm_gpu_remapped_rows_pending{g}", f"{lg} pending"),
            (f"llm_gpu_remapped_rows_failure{g}", f"{lg} failure"),
        ],
        "short",
    )
    x.ts(
        "Retired pages",
        "Retired memory pages by cause and the pending flag (pre-Ampere ECC GPUs; Ampere and "
        "newer remap rows instead).",
        [(f"llm_gpu_retired_pages{g}", f"{lg} {{{{cause}}}}"), (f"llm_gpu_retired_pages_pending{g}", f"{lg} pending")],
        "short",
    )
    x.ts(
        "Recovery action",
        "Action the driver asks for: 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P "
        "(drain peer-to-peer work), 4 drain and reset (NVML recovery-action field, newest drivers).",
        [(f"llm_gpu_recovery_action{g}", lg)],
        "short",
        thresholds=[("green", None), ("red", 1)],
    )
    x.ts(
        "XID errors",
        "XID errors in the interval by code.",
        [(f"increase(llm_gpu_xid_errors_total{g}[{RATE_INTERVAL}])", f"{lg} xid {{{{xid}}}}")],
        "short",
    )
    x.ts(
        "Time since last XID",
        "Seconds since the last XID of each code.",
        [(f"time() - llm_gpu_xid_last_timestamp_seconds{g}", f"{lg} xid {{{{xid}}}}")],
        "s",
    )
    x.ts(
        "PCIe replays",
        "PCIe replays per second.",
        [(f"rate(llm_gpu_pcie_replays_total{g}[{RATE_INTERVAL}])", lg)],
        "short",
    )
    x.ts("Compute processes", "Compute processes on the GPU.", [(f"llm_gpu_processes{g}", lg)], "short")
    x.ts(
        "NVML re-initialisations",
        "NVML shutdowns and re-initialisations on this node in the interval "
        "(driver reload or lifecycle error); the GPU series restart from scratch each time.",
        [(f"increase(llm_gpu_nvml_reinitializations_total{selector(JOB, INSTANCE)}[{RATE_INTERVAL}])", "{{instance}}")],
        "short",
    )
    x.row("PCIe link")
    x.ts(
        "PCIe link generation",
        "Current against maximum PCIe generation; current below max is a downtrained link (bandwidth lost).",
        [(f"llm_gpu_pcie_link_generation{g}", f"{lg} {{{{state}}}}")],
        "short",
        w=12,
    )
    x.ts(
        "PCIe link width",
        "Current against maximum PCIe link width in lanes.",
        [(f"llm_gpu_pcie_link_width{g}", f"{lg} {{{{state}}}}")],
        "short",
        w=12,
    )
    x.row("MIG instances")
    mig_key = "job, instance, gpu, uuid, gpu_instance_id"
    profile = f"* on ({mig_key}) group_left (profile) max by ({mig_key}, profile) (llm_gpu_mig_instance_info{g})"
    x.table(
        "MIG devices",
        "MIG devices: GPU instance, compute instance, MIG UUID and profile (3g.40gb).",
        [(f"llm_gpu_mig_instance_info{g}", "")],
        w=12,
    )
    x.ts(
        "MIG instance memory",
        "Memory used and total per MIG GPU instance, labelled with its profile.",
        [
            (f"llm_gpu_mig_memory_used_bytes{g} {profile}", f"{lg} GI {{{{gpu_instance_id}}}} {{{{profile}}}} used"),
            (f"llm_gpu_mig_memory_total_bytes{g} {profile}", f"{lg} GI {{{{gpu_instance_id}}}} {{{{profile}}}} total"),
        ],
        "bytes",
        w=12,
    )
    x.row("GPM activity (opt-in: gpu.gpm)", collapsed=True)
    gpm = "(GPM, Hopper and newer; opt-in: gpu.gpm; no series on the first scrape after start.)"
    x.ts(
        "Tensor and SM activity",
        f"Share of time tensor cores and SMs were active, and SM occupancy (active "
        f"warps over the maximum), between scrapes {gpm}",
        [
            (f"llm_gpu_tensor_active_ratio{g}", f"{lg} tensor active"),
            (f"llm_gpu_sm_active_ratio{g}", f"{lg} SM active"),
            (f"llm_gpu_sm_occupancy_ratio{g}", f"{lg} SM occupancy"),
        ],
        "percentunit",
        ratio=True,
        w=12,
    )
    x.ts(
        "DRAM and graphics activity",
        f"DRAM bandwidth used over the maximum and graphics/compute engine activity between scrapes {gpm}",
        [
            (f"llm_gpu_dram_active_ratio{g}", f"{lg} DRAM active"),
            (f"llm_gpu_graphics_active_ratio{g}", f"{lg} graphics active"),
        ],
        "percentunit",
        ratio=True,
        w=12,
    )
    x.row("PCIe throughput and NVLink (opt-in: gpu.pcie_throughput, gpu.nvlink)", collapsed=True)
    x.ts(
        "PCIe throughput",
        "PCIe transmit and receive bytes per second over the driver's 20 ms window (opt-in: gpu.pcie_throughput).",
        [
            (f"llm_gpu_pcie_transmit_bytes_per_second{g}", f"{lg} tx"),
            (f"llm_gpu_pcie_receive_bytes_per_second{g}", f"{lg} rx"),
        ],
        "Bps",
    )
    x.ts(
        "NVLink traffic",
        "NVLink bytes per second over all links of the GPU (opt-in: gpu.nvlink).",
        [
            (
                f"sum by (job, instance, gpu) (rate(llm_gpu_nvlink_transmit_bytes_total{g}[{RATE_INTERVAL}]))",
                f"{lg} tx",
            ),
            (f"sum by (job, instance, gpu) (rate(llm_gpu_nvlink_receive_bytes_total{g}[{RATE_INTERVAL}]))", f"{lg} rx"),
        ],
        "Bps",
    )
    x.ts(
        "NVLink errors and active links",
        "NVLink data-link errors per second by error (replay, recovery, CRC) "
        "over all links, and the number of active links (opt-in: gpu.nvlink).",
        [
            (
                f"sum by (job, instance, gpu, error) (rate(llm_gpu_nvlink_errors_total{g}[{RATE_INTERVAL}]))",
                f"{lg} {{{{error}}}}",
            ),
            (f"sum by (job, instance, gpu) (llm_gpu_nvlink_active{g})", f"{lg} active links"),
        ],
        "short",
    )
    x.row("Per-process memory (requires gpu.processes: true)", collapsed=True)
    x.ts(
        "Memory by process",
        "GPU memory per process.",
        [(f"llm_gpu_process_memory_bytes{g}", f"{lg} {{{{process}}}} ({{{{pid}}}})")],
        "bytes",
        w=24,
    )
    return dashboard(
        b,
        "gpu-node",
        "GPU / Node",
        "The GPUs of one node in depth: memory, power, clocks, errors.",
        x,
        ["job", "gpu_instance_one", "gpu"],
    )
