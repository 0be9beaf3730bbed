"""Alerting rules and their runbooks, from one table.

Every alert carries ``severity`` (critical pages, warning tickets, info is not routed),
a static ``summary`` ending in a period, a templated ``description`` that only uses
labels surviving the expression's aggregation, and a generated ``runbook_url``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .bundle import Bundle, seconds
from .recording import slis

Q = '"'


@dataclass(frozen=True)
class Runbook:
    meaning: str
    confirm: str  # a PromQL query that shows the problem
    causes: tuple[str, ...]
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Alert:
    name: str
    group: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: Runbook
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Rule identity when one alert name has several rules (burn-rate tiers)."""
        return self.name + "".join(f"/{k}={v}" for k, v in sorted(self.labels.items()))


def _burn_alerts(b: Bundle) -> list[Alert]:
    out: list[Alert] = []
    names = {
        "errors": "LLMErrorBudgetBurn",
        "ttft": "LLMTimeToFirstTokenBudgetBurn",
        "inter_token": "LLMInterTokenLatencyBudgetBurn",
    }
    what = {
        "errors": "requests finishing with an error",
        "ttft": "requests whose first token took longer than the threshold",
        "inter_token": "output-token gaps longer than the threshold",
    }
    for sli in slis(b):
        name = names[sli.key]
        budget = 1 - sli.objective
        thr = f" (threshold {sli.threshold} s)" if sli.threshold is not None else ""
        for tier in b["slo"]["burn_rates"]:
            long_, short, factor = str(tier["long"]), str(tier["short"]), float(tier["factor"])
            limit = f"{factor * budget:.6g}"
            expr = (
                f"{sli.ratio_rule(long_)} > {limit}\n"
                f"and\n{sli.ratio_rule(short)} > {limit}\n"
                f"and\n{sli.events_rule(long_)} > {sli.floor:g}"
            )
            out.append(
                Alert(
                    name,
                    "slo",
                    expr,
                    str(tier["for"]),
                    str(tier["severity"]),
                    f"{sli.title} SLO of a model is burning its error budget too fast.",
                    f"Model {{{{ $labels.model }}}} (job {{{{ $labels.job }}}}): {what[sli.key]}{thr} are "
                    f"{{{{ $value | humanizePercentage }}}} over {long_} and still over {short}, "
                    f"{factor:g}x the {budget:.4g} budget of the {sli.objective:.4g} objective.",
                    Runbook(
                        f"The {sli.title.lower()} SLI of one model has burned error budget at {factor:g} times "
                        f"the sustainable rate over both the last {long_} and the last {short}. Critical tiers "
                        "(14.4x over 1h, 6x over 6h) exhaust a 30-day budget in days and page; warning tiers "
                        "(3x over 1d, 1x over 3d) open a ticket. The alert is quiet below the traffic floor "
                        f"of {sli.floor:g} events/s on the long window.",
                        f"{sli.ratio_rule(long_)} / {budget:.6g}",
                        (
                            "An engine overloaded beyond its KV cache (queueing inflates TTFT).",
                            "A bad deploy or model version; upstream errors (rejected requests, OOM).",
                            "A slow or lost GPU (thermal throttling, XID) under one replica.",
                            "A traffic surge beyond provisioned capacity.",
                        ),
                        (
                            "Open the SLO and cost dashboard; find which window and model burn.",
                            "Check LLM / Instance for the model's targets: waiting requests, KV cache, errors "
                            "by finish_reason.",
                            "Check GPU / Node for throttling or XID on the serving GPUs.",
                            "Roll back a recent change, add replicas, or shed load; then watch the short-window "
                            "ratio fall (the alert resolves within the short window).",
                        ),
                    ),
                    {"slo": sli.key, "long": long_, "short": short},
                )
            )
    return out


def alerts(b: Bundle) -> list[Alert]:
    a = b.alert
    by = b.by
    out: list[Alert] = []
    add = out.append

    add(
        Alert(
            "Watchdog",
            "meta",
            "vector(1)",
            "0m",
            "info",
            "Alerting pipeline heartbeat: this alert always fires.",
            "Always firing. Routed to a dead man's switch that pages when it stops arriving.",
            Runbook(
                "This alert fires all the time on purpose. Alertmanager routes it to a dead man's "
                "switch (healthchecks.io, Dead Man's Snitch, PagerDuty heartbeat); when the switch stops "
                "receiving it, Prometheus, the rules or Alertmanager are broken.",
                'ALERTS{alertname="Watchdog"}',
                (
                    "If the dead man's switch fired: Prometheus down, rules not loaded, Alertmanager down, "
                    "or the route to the switch broken.",
                ),
                (
                    "Nothing while it fires.",
                    "If the switch fired: check Prometheus /rules and /alerts, "
                    "Alertmanager status, and the receiver's credentials.",
                ),
            ),
        )
    )
    add(
        Alert(
            "LLMExporterDown",
            "meta",
            f"up{{{b['exporter_up_selector']}}} == 0",
            b.for_("LLMExporterDown"),
            "critical",
            "An llm-exporter instance cannot be scraped.",
            "Prometheus cannot scrape {{ $labels.instance }} (job {{ $labels.job }}); every inference, GPU and "
            "queue metric of that pod is missing.",
            Runbook(
                "Prometheus failed to scrape the exporter itself. All its collectors' series are stale, "
                "so the other alerts for that pod cannot fire.",
                f"up{{{b['exporter_up_selector']}}} == 0",
                (
                    "The pod or process is gone or restarting (OOM kill, crash loop).",
                    "Network policy, TLS or basic-auth settings that no longer match the scrape config.",
                    "A scrape timeout shorter than the exporter's slowest collector.",
                ),
                (
                    "curl the target's /metrics and /-/healthy from the Prometheus host.",
                    "Read the exporter's logs; check the Prometheus Targets page for the scrape error.",
                    "If the exporter is slow, raise scrape_timeout or lower collector timeouts.",
                ),
            ),
        )
    )
    add(
        Alert(
            "LLMTargetDown",
            "meta",
            f"{b.sel('llm_target_up')} == 0",
            b.for_("LLMTargetDown"),
            "critical",
            "An upstream read by llm-exporter is unreachable.",
            "Target {{ $labels.target }} behind {{ $labels.instance }} (job {{ $labels.job }}) has been "
            "unreachable for " + b.for_("LLMTargetDown") + "; its metrics are absent.",
            Runbook(
                "The exporter could not read a configured upstream (an inference server's /metrics or a "
                "queue broker). The exporter still answers; only that target's series are gone. The "
                "target's other alerts are inhibited in Alertmanager while this one fires.",
                f"{b.sel('llm_target_up')} == 0",
                (
                    "The inference server or broker crashed, is restarting or is still loading a model.",
                    "Wrong URL, port, credentials or TLS in the exporter config.",
                    "The upstream answers too slowly (timeout) or returns an oversized or malformed body.",
                ),
                (
                    "Read the exporter's log: it logs the reason once per state change.",
                    "curl the upstream URL from the exporter's pod.",
                    "Restart or fix the upstream; fix the config and POST /-/reload.",
                ),
            ),
        )
    )
    add(
        Alert(
            "LLMExporterCollectorFailing",
            "meta",
            f"{b.sel('llm_scrape_collector_success')} == 0",
            b.for_("LLMExporterCollectorFailing"),
            "warning",
            "An llm-exporter collector keeps failing.",
            "Collector {{ $labels.collector }} on {{ $labels.instance }} has failed every scrape for "
            + b.for_("LLMExporterCollectorFailing")
            + " (internal error or deadline).",
            Runbook(
                "A collector did not finish within the scrape deadline or raised an internal error. Its "
                "metrics are missing; other collectors are unaffected.",
                f"{b.sel('llm_scrape_collector_success')} == 0",
                (
                    "Scrape deadline too short for the upstream (many queues, a slow broker).",
                    "NVML hanging or a driver problem (gpu collector).",
                    "A bug in the exporter.",
                ),
                (
                    "Compare llm_scrape_collector_duration_seconds with the scrape timeout.",
                    "Read the exporter's log for the collector's error.",
                    "Raise scrape_timeout, lower max_queues, or report the bug with the log.",
                ),
            ),
        )
    )
    add(
        Alert(
            "LLMExporterConfigReloadFailed",
            "meta",
            f"{b.sel('llm_exporter_config_last_reload_successful')} == 0",
            b.for_("LLMExporterConfigReloadFailed"),
            "warning",
            "An llm-exporter rejected its new configuration.",
            "The exporter on {{ $labels.instance }} rejected its last config reload and is still running the "
            "previous config.",
            Runbook(
                "A SIGHUP or POST /-/reload found an invalid config file; the exporter kept the old one.",
                f"{b.sel('llm_exporter_config_last_reload_successful')} == 0",
                ("A typo or unknown key in the YAML.", "An unset ${ENV} variable or unreadable *_file secret."),
                (
                    "Run `llm-exporter check-config --config.file=...` on the new file; it names key and line.",
                    "Fix the file and reload again.",
                ),
            ),
        )
    )
    lookback = str(a("LLMModelDisappeared").get("lookback", "30m"))
    lv = by("target", "model")
    add(
        Alert(
            "LLMModelDisappeared",
            "llm",
            f"group {lv} ({b.sel('llm_model_info')} offset {lookback})\n"
            f"unless {b.on('target', 'model')}\ngroup {lv} ({b.sel('llm_model_info')})",
            b.for_("LLMModelDisappeared"),
            "critical",
            "A model that was served is no longer reported by any instance.",
            "Model {{ $labels.model }} of target {{ $labels.target }} (job {{ $labels.job }}) was served "
            + lookback
            + " ago and no instance reports it now.",
            Runbook(
                f"llm_model_info for this model existed {lookback} ago and no instance reports it now: "
                "every replica is gone, deleted or renamed the model. `up == 0` misses this when pods are "
                "deleted rather than failing. The alert stops by itself once the old series leaves the "
                f"{lookback} lookback.",
                f"group {lv} ({b.sel('llm_model_info')} offset {lookback}) unless {b.on('target', 'model')} "
                f"group {lv} ({b.sel('llm_model_info')})",
                (
                    "Deployment scaled to zero or deleted; pods stuck Pending (no GPU).",
                    "The model was renamed (served-model-name) by a deploy.",
                    "The inference server is down (then LLMTargetDown fires too and inhibits this).",
                ),
                (
                    "Check the deployment and pod status of the model.",
                    "If renamed on purpose, nothing to do; dashboards filter by the new name.",
                ),
            ),
        )
    )
    win = str(a("LLMEngineHung").get("window", "5m"))
    iv = by("instance", "target", "model")
    add(
        Alert(
            "LLMEngineHung",
            "llm",
            f"sum {iv} ({b.sel('llm_requests_running')}) > 0\n"
            f"and {b.on('instance', 'target', 'model')}\n"
            f"sum {iv} (rate({b.sel('llm_generation_tokens_total')}[{win}])) == 0",
            b.for_("LLMEngineHung"),
            "critical",
            "An inference engine has running requests but generates no tokens.",
            "{{ $labels.target }} on {{ $labels.instance }} has {{ $value }} running requests for model "
            "{{ $labels.model }} and has produced no token for " + b.for_("LLMEngineHung") + ".",
            Runbook(
                "The engine reports requests in its running batch, yet its generated-token counter has "
                f"not moved over {win}. Clients are waiting on a stuck engine; the HTTP port may still "
                "answer, so liveness probes stay green.",
                f"sum {iv} ({b.sel('llm_requests_running')}) > 0 and {b.on('instance', 'target', 'model')} "
                f"sum {iv} (rate({b.sel('llm_generation_tokens_total')}[{win}])) == 0",
                (
                    "A deadlocked scheduler or NCCL collective (multi-GPU tensor parallelism).",
                    "A GPU fell off the bus or hit a fatal XID (see LLMGpuFatalXid).",
                    "Every running request waits on a remote component (KV transfer, tool call).",
                ),
                (
                    "Check GPU / Node for XID, utilisation 0 and lost GPUs on this instance.",
                    "Take a stack dump (py-spy dump) of the engine if possible, then restart the pod.",
                ),
            ),
        )
    )
    kv = a("LLMKVCacheSaturated")
    gw = str(kv.get("growth_window", "10m"))
    add(
        Alert(
            "LLMKVCacheSaturated",
            "llm",
            f"max {iv} ({b.sel('llm_kv_cache_usage_ratio')}) > {float(kv.get('usage_ratio', 0.95)):g}\n"
            f"and {b.on('instance', 'target', 'model')}\n"
            f"sum {iv} (delta({b.sel('llm_requests_waiting')}[{gw}])) > 0\n"
            f"and {b.on('instance', 'target', 'model')}\n"
            f"sum {iv} ({b.sel('llm_requests_waiting')}) > 0",
            b.for_("LLMKVCacheSaturated"),
            "warning",
            "An engine's KV cache is full and its request queue keeps growing.",
            "{{ $labels.target }} on {{ $labels.instance }} (model {{ $labels.model }}) uses "
            "{{ $value | humanizePercentage }} of its KV cache while its waiting queue grew over the last " + gw + ".",
            Runbook(
                "The KV cache is (nearly) full, so the scheduler cannot admit the requests waiting in the "
                "engine, and that queue keeps growing: latency rises for everyone and TTFT SLOs burn.",
                f"max {iv} ({b.sel('llm_kv_cache_usage_ratio')}) and on (instance, target, model) "
                f"sum {iv} ({b.sel('llm_requests_waiting')})",
                (
                    "Traffic above the replica's capacity; long prompts or long outputs.",
                    "gpu_memory_utilization or max_num_seqs set too low; prefix caching off.",
                ),
                (
                    "Add replicas or route traffic elsewhere.",
                    "Tune the engine (memory share, max batch, max model length); enable prefix caching.",
                ),
            ),
        )
    )
    an = b["anomaly"]
    add(
        Alert(
            "LLMTrafficAnomaly",
            "llm",
            "abs(model:llm_requests:rate1h - model:llm_requests:rate1h_baseline_mean)\n"
            f"  > {float(an['stddevs']):g} * model:llm_requests:rate1h_baseline_stddev\n"
            "and\nabs(model:llm_requests:rate1h - model:llm_requests:rate1h_baseline_mean)\n"
            f"  > {float(an['min_relative_change']):g} * model:llm_requests:rate1h_baseline_mean\n"
            f"and\nmodel:llm_requests:rate1h_baseline_mean > {float(an['min_request_rate']):g}\n"
            f"and\nmodel:llm_requests:rate1h_baseline_days >= {int(an['min_baseline_days'])}",
            b.for_("LLMTrafficAnomaly"),
            "warning",
            "A model's request rate is far outside its usual level for this hour.",
            "Model {{ $labels.model }} (job {{ $labels.job }}) is off its same-hour baseline of the previous "
            + str(an["baseline_days"])
            + " days by more than "
            + f"{float(an['stddevs']):g}"
            + " standard deviations (deviation {{ $value | humanize }} requests/s).",
            Runbook(
                "The last hour's request rate differs from the mean of the same hour on the previous days "
                f"by more than {float(an['stddevs']):g} standard deviations (and by at least "
                f"{float(an['min_relative_change']) * 100:g} % of the mean). A drop often means clients "
                "cannot reach the model; a surge may precede saturation or be abuse.",
                "model:llm_requests:rate1h and on (job, model) model:llm_requests:rate1h_baseline_mean",
                (
                    "A client, gateway or DNS problem (drop).",
                    "A launch, batch job, retry storm or abuse (surge).",
                    "A holiday or planned event (expected).",
                ),
                (
                    "Compare with the gateway/load-balancer request rate and error logs.",
                    "For a surge, check saturation (KV cache, waiting requests) and rate limits.",
                ),
            ),
        )
    )
    out.extend(_burn_alerts(b))

    # --- GPU -------------------------------------------------------------------------
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
    xa = a("LLMGpuFatalXid")
    xids = "|".join(str(x) for x in xa.get("xids", [48, 79]))
    recent = str(xa.get("recent", "30m"))
    add(
        Alert(
            "LLMGpuFatalXid",
            "gpu",
            f"time() - max {by('instance', 'gpu', 'uuid', 'xid')} "
            f"({b.sel('llm_gpu_xid_last_timestamp_seconds', f'xid=~{Q}{xids}{Q}')}) < {seconds(recent):g}",
            b.for_("LLMGpuFatalXid"),
            "critical",
            "A GPU reported a fatal XID error.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} reported XID {{ $labels.xid }} "
            "{{ $value | humanizeDuration }} ago.",
            Runbook(
                "The NVML event watcher saw an XID of a class that means the GPU or its memory needs a "
                f"reset or service ({xids.replace('|', ', ')}: double-bit ECC, row-remap, fell off the bus, "
                f"NVLink, contained/uncontained errors). The alert fires for {recent} after the last event.",
                f"{b.sel('llm_gpu_xid_last_timestamp_seconds', f'xid=~{Q}{xids}{Q}')}",
                ("Hardware fault (memory, NVLink, PCIe), overheating, power.", "Driver or firmware bug."),
                (
                    "Drain the node; check dmesg and `nvidia-smi -q -d ECC,ROW_REMAPPER`.",
                    "Reset the GPU or reboot; open a hardware ticket if it repeats.",
                ),
            ),
        )
    )
    ew = str(a("LLMGpuUncorrectableEccErrors").get("window", "10m"))
    add(
        Alert(
            "LLMGpuUncorrectableEccErrors",
            "gpu",
            f"sum {g} (increase({b.sel('llm_gpu_ecc_errors_total', 'error=' + Q + 'uncorrected' + Q + ', counter=' + Q + 'volatile' + Q)}[{ew}])) > 0",
            b.for_("LLMGpuUncorrectableEccErrors"),
            "critical",
            "A GPU had uncorrectable memory (ECC) errors.",
            "GPU {{ $labels.gpu }} ({{ $labels.uuid }}) on {{ $labels.instance }} counted {{ $value }} "
            "uncorrectable ECC errors in the last " + ew + ".",
            Runbook(
                "Double-bit (uncorrectable) ECC errors corrupt data in flight; the process using the memory "
                "usually crashes and the GPU needs a reset so the row can be remapped.",
                f"increase({b.sel('llm_gpu_ecc_errors_total', 'error=' + Q + 'uncorrected' + Q)}[1h])",
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
            f"sum {g} (rate({b.sel('llm_gpu_clock_event_seconds_total', f'reason=~{Q}{reasons}{Q}')}[{tw}]))"
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

    # --- queues ------------------------------------------------------------------------
    qv = by("backend", "target", "queue", "group")
    qa = a("LLMQueueOldestMessageTooOld")
    add(
        Alert(
            "LLMQueueOldestMessageTooOld",
            "queue",
            f"max {qv} ({b.sel('llm_queue_oldest_ready_age_seconds')}) > {float(qa.get('age_seconds', 600)):g}",
            b.for_("LLMQueueOldestMessageTooOld"),
            "warning",
            "Agent tasks are waiting too long in a queue.",
            "The oldest ready message in {{ $labels.backend }} queue {{ $labels.queue }} (target "
            "{{ $labels.target }}) is {{ $value | humanizeDuration }} old.",
            Runbook(
                "The oldest deliverable message has waited longer than the threshold: agents are not "
                "keeping up or not consuming.",
                f"{b.sel('llm_queue_oldest_ready_age_seconds')}",
                (
                    "Too few workers; workers stuck on slow LLM calls (check the engine's waiting requests).",
                    "A poison message blocking an ordered consumer.",
                ),
                (
                    "Compare consumers, throughput and the engine's waiting requests in Agent pipeline.",
                    "Scale workers or the inference backend.",
                ),
            ),
        )
    )
    add(
        Alert(
            "LLMQueueNoConsumers",
            "queue",
            f"max {qv} ({b.sel('llm_queue_ready_messages')}) > 0\nand {b.on('backend', 'target', 'queue', 'group')}\n"
            f"max {qv} ({b.sel('llm_queue_consumers')}) == 0",
            b.for_("LLMQueueNoConsumers"),
            "critical",
            "A queue has a backlog and no consumers.",
            "{{ $labels.backend }} queue {{ $labels.queue }} (target {{ $labels.target }}) has {{ $value }} ready "
            "messages and no consumer attached.",
            Runbook(
                "Messages are waiting and nothing consumes them: the agents behind this queue are down, so "
                "the pipeline is stopped.",
                f"{b.sel('llm_queue_ready_messages')} and on (backend, target, queue, group) "
                f"{b.sel('llm_queue_consumers')} == 0",
                ("Worker deployment scaled to zero or crash-looping.", "Workers connected to another vhost/queue."),
                ("Check the worker pods and their logs; restart or scale them.",),
            ),
        )
    )
    ba = a("LLMQueueBacklogGrowing")
    bw = str(ba.get("window", "15m"))
    add(
        Alert(
            "LLMQueueBacklogGrowing",
            "queue",
            f"sum {qv} ({b.sel('llm_queue_ready_messages')}) > {float(ba.get('min_ready', 100)):g}\n"
            f"and {b.on('backend', 'target', 'queue', 'group')}\n"
            f"sum {qv} (deriv({b.sel('llm_queue_ready_messages')}[{bw}])) > 0",
            b.for_("LLMQueueBacklogGrowing"),
            "warning",
            "A queue backlog keeps growing.",
            "{{ $labels.backend }} queue {{ $labels.queue }} (target {{ $labels.target }}) has grown for "
            + b.for_("LLMQueueBacklogGrowing")
            + " and holds {{ $value }} ready messages.",
            Runbook(
                "Messages arrive faster than the consumers finish them, for a sustained period.",
                f"deriv({b.sel('llm_queue_ready_messages')}[{bw}])",
                ("Consumers slowed by the inference backend (KV cache full, errors).", "More producers than usual."),
                ("Scale consumers and the inference backend; check LLM / Overview for saturation.",),
            ),
        )
    )
    da = a("LLMQueueDeadLettersIncreasing")
    dw = str(da.get("window", "15m"))
    add(
        Alert(
            "LLMQueueDeadLettersIncreasing",
            "queue",
            f"sum {qv} (delta({b.sel('llm_queue_dead_messages')}[{dw}])) > 0",
            b.for_("LLMQueueDeadLettersIncreasing"),
            "warning",
            "Messages are being dead-lettered.",
            "{{ $labels.backend }} queue {{ $labels.queue }} (target {{ $labels.target }}) dead-lettered "
            "{{ $value }} messages in the last " + dw + ".",
            Runbook(
                "The dead-letter queue (or failed registry) grew: tasks fail permanently.",
                f"delta({b.sel('llm_queue_dead_messages')}[1h])",
                ("Agent bugs, malformed tasks, inference errors or rate limits exhausting retries.",),
                ("Inspect a few dead messages and the worker logs; fix and replay.",),
            ),
        )
    )

    dq = b.sel("llm_queue_dropped_queues")
    add(
        Alert(
            "LLMQueueTargetOverCapacity",
            "queue",
            f"max {by('backend', 'target')} ({dq}) > 0",
            b.for_("LLMQueueTargetOverCapacity"),
            "warning",
            "A broker target has more queues than the exporter may export; some are not monitored.",
            "{{ $labels.backend }} target {{ $labels.target }} has {{ $value }} queues beyond its max_queues limit; "
            "they are not monitored.",
            Runbook(
                "Queue discovery on this target found more queues than the target's max_queues limit "
                "(cardinality guard). The configured queues come first; the queues beyond the limit are "
                "neither exported nor alerted on, so a backlog there goes unnoticed.",
                f"{dq} > 0",
                (
                    "More queues were created on the broker (per-tenant or per-session queues).",
                    "Discovery patterns (include) broader than intended.",
                    "max_queues set too low.",
                ),
                (
                    "Read the exporter's log: it names the first queues not exported.",
                    "Narrow the target's queue list or discovery pattern to the queues agents use, or raise "
                    "max_queues (each queue adds about ten series).",
                    "POST /-/reload and watch the value return to 0.",
                ),
            ),
        )
    )

    # --- cost ---------------------------------------------------------------------------
    budget = float(b["cost"]["daily_budget_dollars"])
    add(
        Alert(
            "LLMCostOverDailyBudget",
            "cost",
            f"sum (avg_over_time(job:llm_cost_dollars_per_second:sum[1d])) * 86400 > {budget:g}",
            b.for_("LLMCostOverDailyBudget"),
            "warning",
            "LLM serving spent more than the daily budget in the last 24 hours.",
            'The last 24 hours cost {{ $value | printf "%.2f" }} dollars, over the daily budget of '
            f"{budget:g} dollars.",
            Runbook(
                "Token cost (prices per model) plus GPU cost (price per GPU-second), averaged over the last "
                "day and multiplied by 86400, exceeded the configured daily budget.",
                "sum (avg_over_time(job:llm_cost_dollars_per_second:sum[1d])) * 86400",
                (
                    "More traffic; a model with higher prices; more GPUs provisioned.",
                    "A runaway agent loop generating tokens.",
                ),
                (
                    "Open SLO and cost: find the model whose dollars/hour rose.",
                    "Check the agent pipeline for loops; rate-limit or scale down.",
                ),
            ),
        )
    )
    return out
