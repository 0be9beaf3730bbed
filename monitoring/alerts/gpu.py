"""Alerts on NVIDIA GPUs: lost GPUs, XID, ECC, row remapping, throttling, memory, recovery actions."""

from __future__ import annotations

from ..bundle import Bundle, seconds
from ..matchers import eq, regex
from .model import Alert, Runbook


def gpu_alerts(b: Bundle) -> list[Alert]:
    """GPU health alerts, per GPU (instance, gpu, uuid) unless noted."""
    a = b.alert
    by = b.by
    out: list[Alert] = []
    add = out.append
    g = by("instance", "gpu", "uuid")
    glb = str(a("LLMGpuLost").get("lookback", "30m"))
    add(
        Alert(
            "LLMGpuLost",
            "gpu",
            f"max {g} ({b.sel('llm_gpu_up')}) == 0\nor\n"
            f"(group {g} ({b.sel('llm_gpu_info')} offset {glb})\n"
            f"  unless {b.on('instance', 'uuid')} group {g} ({b.sel('llm_gpu_info')})\n"
            f"  and {b.on('instance')} group {by('instance')} ({b.sel('llm_gpu_nvml_up')} == 1))",
            b.for_("LLMGpuLost"),
            "critical",
            "A GPU stopped answering NVML or vanished from its node.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} is lost: NVML reports it as "
            "failing or it is no longer enumerated.",
            Runbook(
                "A GPU errors on every NVML call (llm_gpu_up 0, e.g. GPU_IS_LOST after XID 79) or no "
                f"longer appears although it did {glb} ago while the exporter is still scraped.",
                f"{b.sel('llm_gpu_up')} == 0",
                (
                    "Fell off the bus (XID 79), power or thermal event, driver crash.",
                    "Someone reset the GPU or unloaded the driver.",
                ),
                (
                    "Drain the node; check `nvidia-smi -q` and the kernel log (dmesg | grep -i xid).",
                    "Reset or reboot; replace the GPU if it recurs.",
                ),
            ),
        )
    )
    for name, severity in (("LLMGpuFatalXid", "critical"), ("LLMGpuXid", "warning")):
        add(_xid_alert(b, name, severity))
    ew = str(a("LLMGpuUncorrectableEccErrors").get("window", "10m"))
    add(
        Alert(
            "LLMGpuUncorrectableEccErrors",
            "gpu",
            f"sum {g} (increase({b.sel('llm_gpu_ecc_errors_total', eq('error', 'uncorrected'), eq('counter', 'volatile'))}[{ew}])) > 0",
            b.for_("LLMGpuUncorrectableEccErrors"),
            "critical",
            "A GPU had uncorrectable memory (ECC) errors.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} counted {{ $value }} "
            "uncorrectable ECC errors in the last " + ew + ".",
            Runbook(
                "Double-bit (uncorrectable) ECC errors corrupt data in flight; the process using the memory "
                "usually crashes and the GPU needs a reset so the row can be remapped.",
                f"increase({b.sel('llm_gpu_ecc_errors_total', eq('error', 'uncorrected'))}[1h])",
                ("Failing HBM/GDDR memory.", "Overheating."),
                (
                    "Drain the node and reset the GPU (row remapping happens on reset).",
                    "Watch llm_gpu_remapped_rows; replace the GPU if remapping fails.",
                ),
            ),
        )
    )
    add(
        Alert(
            "LLMGpuRowRemapFailure",
            "gpu",
            f"max {g} ({b.sel('llm_gpu_remapped_rows_failure')}) > 0",
            b.for_("LLMGpuRowRemapFailure"),
            "critical",
            "A GPU failed to remap a faulty memory row.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} reports a row-remap failure; "
            "it needs service.",
            Runbook(
                "The GPU ran out of spare rows or failed to remap a row after an uncorrectable error. NVIDIA "
                "treats this as a field-replacement condition.",
                f"{b.sel('llm_gpu_remapped_rows_failure')} or {b.sel('llm_gpu_remapped_rows')}",
                ("Worn-out or defective GPU memory.",),
                ("Drain the node, stop scheduling on this GPU, open an RMA/hardware ticket.",),
            ),
        )
    )
    add(
        Alert(
            "LLMGpuRowRemapPending",
            "gpu",
            f"max {g} ({b.sel('llm_gpu_remapped_rows_pending')}) > 0",
            b.for_("LLMGpuRowRemapPending"),
            "warning",
            "A GPU has a memory row remap pending until the next reset.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} has a pending row remap; "
            "reset it at the next opportunity.",
            Runbook(
                "A faulty row was found and will be remapped at the next GPU reset; until then the bad "
                "row may still be used.",
                f"{b.sel('llm_gpu_remapped_rows_pending')}",
                ("An uncorrectable (or repeated correctable) memory error.",),
                ("Drain the node and reset the GPU in a maintenance window.",),
            ),
        )
    )
    th = a("LLMGpuThrottled")
    tw = str(th.get("window", "10m"))
    reasons = "|".join(th.get("reasons", []))
    add(
        Alert(
            "LLMGpuThrottled",
            "gpu",
            f"sum {g} (rate({b.sel('llm_gpu_clock_event_seconds_total', regex('reason', reasons))}[{tw}]))"
            f" > {float(th.get('ratio', 0.25)):g}",
            b.for_("LLMGpuThrottled"),
            "warning",
            "A GPU is held back by thermal or power-brake slowdown.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} spent "
            "{{ $value | humanizePercentage }} of the time in thermal or power-brake slowdown.",
            Runbook(
                "The GPU's clocks are reduced by thermal slowdown or the power brake for a large share of "
                "the time. Throughput drops and latency SLOs burn. Software power capping alone is normal "
                "under load and not counted.",
                f"rate({b.sel('llm_gpu_clock_event_seconds_total')}[{tw}])",
                (
                    "Cooling failure: fans, airflow, data-centre inlet temperature.",
                    "Power supply problems (power brake is asserted by the system).",
                ),
                (
                    "Check llm_gpu_temperature_celsius and the node's BMC/fan status.",
                    "Move load away; have the hardware team inspect cooling and power.",
                ),
            ),
        )
    )
    mr = float(a("LLMGpuMemoryNearFull").get("ratio", 0.98))
    add(
        Alert(
            "LLMGpuMemoryNearFull",
            "gpu",
            f"max {g} ({b.sel('llm_gpu_memory_used_bytes')})\n/ {b.on('instance', 'gpu', 'uuid')}\n"
            f"(max {g} ({b.sel('llm_gpu_memory_total_bytes')}) > 0) > {mr:g}",
            b.for_("LLMGpuMemoryNearFull"),
            "warning",
            "GPU memory is nearly full.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} uses "
            "{{ $value | humanizePercentage }} of its memory.",
            Runbook(
                f"More than {mr * 100:g} % of the framebuffer is in use. Engines such as vLLM reserve a "
                "fixed share (gpu_memory_utilization, 0.9 by default) on purpose, so the threshold sits "
                "above that; beyond it new allocations (another process, CUDA graphs) fail with OOM.",
                f"{b.sel('llm_gpu_memory_used_bytes')} / {b.sel('llm_gpu_memory_total_bytes')}",
                ("A second process on the GPU.", "gpu_memory_utilization set too high.", "A memory leak."),
                (
                    "List the GPU's processes (GPU / Node dashboard, nvidia-smi).",
                    "Lower the engine's memory share or move the other process.",
                ),
            ),
        )
    )
    ia = a("LLMGpuIdleWhileRequestsWait")
    add(
        Alert(
            "LLMGpuIdleWhileRequestsWait",
            "gpu",
            f"max {by('instance')} ({b.sel('llm_gpu_utilization_ratio')}) < {float(ia.get('utilization_ratio', 0.05)):g}\n"
            f"and {b.on('instance')}\nsum {by('instance')} ({b.sel('llm_requests_waiting')}) > 0",
            b.for_("LLMGpuIdleWhileRequestsWait"),
            "warning",
            "GPUs are idle while requests wait in the engine.",
            "Every GPU on {{ $labels.instance }} is below "
            + f"{float(ia.get('utilization_ratio', 0.05)) * 100:g}"
            + " % utilisation while the engine has "
            "requests waiting.",
            Runbook(
                "The engine has queued requests, yet the GPUs of the same pod do nothing: the engine is "
                "not scheduling (stuck, waiting on KV transfer or CPU bound) or runs on other GPUs than "
                "the exporter sees.",
                f"max by (instance) ({b.sel('llm_gpu_utilization_ratio')}) and on (instance) "
                f"sum by (instance) ({b.sel('llm_requests_waiting')})",
                (
                    "A stuck scheduler or tokenizer/CPU bottleneck.",
                    "CUDA_VISIBLE_DEVICES mismatch between engine and exporter.",
                    "Engine in sleep mode or loading weights.",
                ),
                (
                    "Check LLMEngineHung, the engine log and the process CPU in LLM / Instance.",
                    "Restart the engine if it is stuck.",
                ),
            ),
        )
    )

    rec = b.sel("llm_gpu_recovery_action")
    action = (
        "{{ if eq $value 1.0 }}a GPU reset{{ else if eq $value 2.0 }}a node reboot"
        "{{ else if eq $value 3.0 }}draining peer-to-peer work{{ else if eq $value 4.0 }}a drain and reset"
        "{{ else }}recovery action {{ $value }}{{ end }}"
    )
    rec_runbook = Runbook(
        "The driver sets a recovery action on the GPU (NVML field NVML_FI_DEV_GET_GPU_RECOVERY_ACTION, newest "
        "drivers): 1 GPU reset, 2 node reboot, 3 drain P2P (stop peer-to-peer / NVLink work, no reset needed "
        "yet), 4 drain and reset. Until the action is taken the GPU may compute wrong results or fail again. "
        "A reset or reboot (1, 2, 4) pages; drain P2P (3) opens a ticket.",
        f"{rec} > 0",
        (
            "A fatal XID (48, 63, 64, 74, 79, 94, 95, 119, 120 ...): uncorrectable memory error, row-remap "
            "event, NVLink or GSP failure.",
            "A failed or pending row remap that needs a reset to apply.",
        ),
        (
            "Drain the node (cordon, move the model replicas away).",
            "Take the action the value names: nvidia-smi -r -i <gpu> for a reset (1, 4), a node reboot (2); for "
            "drain P2P (3) stop multi-GPU jobs using peer-to-peer transfers on this GPU.",
            "Check LLMGpuFatalXid, `nvidia-smi -q -d ECC,ROW_REMAPPER` and dmesg; open a hardware ticket if it "
            "repeats.",
        ),
    )
    add(
        Alert(
            "LLMGpuRecoveryActionRequired",
            "gpu",
            f"max {g} ({rec}) > 0 != 3",
            b.for_("LLMGpuRecoveryActionRequired"),
            "critical",
            "The driver asks for a GPU reset or a node reboot.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} needs "
            + action
            + " (driver recovery action {{ $value }}).",
            rec_runbook,
        )
    )
    add(
        Alert(
            "LLMGpuRecoveryActionRequired",
            "gpu",
            f"max {g} ({rec}) == 3",
            b.for_("LLMGpuRecoveryActionRequired"),
            "warning",
            "The driver asks to drain peer-to-peer work from a GPU.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} needs "
            + action
            + " (driver recovery action {{ $value }}).",
            rec_runbook,
        )
    )
    ra = a("LLMGpuNvmlReinitializing")
    rw = str(ra.get("window", "1h"))
    rn = int(ra.get("min_count", 2))
    add(
        Alert(
            "LLMGpuNvmlReinitializing",
            "gpu",
            f"sum {by('instance')} (increase({b.sel('llm_gpu_nvml_reinitializations_total')}[{rw}])) >= {rn}",
            b.for_("LLMGpuNvmlReinitializing"),
            "warning",
            "NVML keeps being re-initialised on a node.",
            'The exporter on {{ $labels.instance }} re-initialised NVML {{ $value | printf "%.0f" }} times in the '
            "last " + rw + ".",
            Runbook(
                f"The GPU collector shut NVML down and initialised it again at least {rn} times within {rw}, "
                "each time after a lifecycle error (driver unloaded or reloaded, NVML_ERROR_UNINITIALIZED, "
                "library gone). Every re-initialisation restarts the GPU series (XID counters, GPM seeds); "
                "repeated ones mean the driver on this node is unstable.",
                f"increase({b.sel('llm_gpu_nvml_reinitializations_total')}[{rw}])",
                (
                    "The NVIDIA driver or its kernel module is being reloaded (GPU operator upgrade, "
                    "driver container restarts).",
                    "A GPU reset or a GPU falling off the bus (see LLMGpuLost, LLMGpuFatalXid).",
                    "The persistence daemon (nvidia-persistenced) is not running.",
                ),
                (
                    "Read the exporter's log (it logs each re-initialisation and its reason) and the kernel log "
                    "(dmesg | grep -i -e nvrm -e xid).",
                    "Check the GPU operator / driver DaemonSet for restarts; enable persistence mode.",
                    "Drain the node if GPUs are lost or the driver keeps reloading.",
                ),
            ),
        )
    )
    return out


# NVIDIA's XID catalog (docs.nvidia.com/deploy/xid-errors): what each code means and what to do.
XID_ACTIONS: dict[int, tuple[str, str]] = {
    48: (
        "Double-bit ECC error (uncorrectable)",
        "Drain the node, reset the GPU (nvidia-smi -r) so the row is remapped; RMA if it repeats.",
    ),
    61: (
        "Internal micro-controller breakpoint/warning",
        "Watch for repeats; reset the GPU at the next drain if it does.",
    ),
    62: ("Internal micro-controller halt", "Drain the node and reset the GPU; update driver/firmware if it repeats."),
    63: (
        "ECC page retirement / row-remap recorded",
        "No immediate action: the remap applies at the next GPU reset; schedule one.",
    ),
    64: ("ECC page retirement / row-remap recording failure", "Drain the node; the GPU needs service (RMA)."),
    74: ("NVLink error", "Drain the node; check nvidia-smi nvlink -e, reseat/replace the NVLink bridge or board."),
    79: ("GPU has fallen off the bus", "Drain and reboot the node; check PCIe, power and thermals; RMA if it repeats."),
    92: ("High single-bit ECC error rate", "Schedule a drain and reset; watch llm_gpu_ecc_errors_total."),
    94: (
        "Contained ECC error (only the process using the bad memory was affected)",
        "Restart the affected application (its pod); the GPU keeps working; reset at the next drain to remap.",
    ),
    95: ("Uncontained ECC error (every process on the GPU affected)", "Drain the node and reset the GPU now."),
    119: ("GSP RPC timeout", "Drain the node, reset the GPU or reboot; update the driver if it repeats."),
    120: ("GSP error", "Drain the node, reset the GPU or reboot; update the driver if it repeats."),
}


def _xid_alert(b: Bundle, name: str, severity: str) -> Alert:
    """XIDs that need a reset or service now (critical) or soon / per application (warning)."""
    cfg = b.alert(name)
    default = [48, 62, 64, 74, 79, 95, 119, 120] if severity == "critical" else [61, 63, 92, 94]
    codes = [int(x) for x in cfg.get("xids", default)]
    xids = "|".join(str(x) for x in codes)
    recent = str(cfg.get("recent", "30m"))
    sel = b.sel("llm_gpu_xid_last_timestamp_seconds", regex("xid", xids))
    page = severity == "critical"
    return Alert(
        name,
        "gpu",
        f"time() - max {b.by('instance', 'gpu', 'uuid', 'xid')} ({sel}) < {seconds(recent):g}",
        b.for_(name),
        severity,
        "A GPU reported a fatal XID error." if page else "A GPU reported an XID that needs attention.",
        "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} reported XID {{ $labels.xid }} "
        "{{ $value | humanizeDuration }} ago.",
        Runbook(
            "The NVML event watcher saw an XID "
            + (
                "of the reset/reboot class: the GPU or its memory needs a reset or service now."
                if page
                else "that does not stop the GPU: one application was hit (94) or memory is wearing (61, 63, 92)."
            )
            + f" Codes {', '.join(map(str, codes))}; the alert fires for {recent} after the last event. "
            "Application XIDs (13, 31, 43, 45) never alert: they follow a program's own fault.",
            sel,
            ("Hardware fault (memory, NVLink, PCIe), overheating, power.", "Driver or firmware bug."),
            ("Find the code in the table below and take its action.", "Open a hardware ticket if it repeats."),
            commands=(
                "kubectl describe node <node> | grep -A5 -i taints",
                "kubectl cordon <node> && kubectl drain <node> --ignore-daemonsets --delete-emptydir-data",
                "kubectl debug node/<node> -it --image=ubuntu -- chroot /host dmesg -T | grep -i xid",
                "nvidia-smi -q -i <gpu> -d ECC,ROW_REMAPPER,PAGE_RETIREMENT",
                "nvidia-smi -r -i <gpu>    # reset, once no process uses the GPU",
            ),
            panel="XID errors",
            escalate=(
                "Page: infrastructure on-call drains the node; open a vendor/RMA ticket for 48, 64, 79, 95."
                if page
                else "Ticket to infrastructure; restart the affected pod for 94; escalate when the same GPU repeats."
            ),
            table=(("XID", "Meaning", "Action"), *((str(c), *XID_ACTIONS[c]) for c in codes if c in XID_ACTIONS)),
        ),
    )
