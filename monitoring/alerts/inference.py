"""Alerts on inference engines: lost models, hung engines, KV cache saturation, traffic anomalies."""

from __future__ import annotations

from ..bundle import Bundle
from .model import Alert, Runbook


def inference_alerts(b: Bundle) -> list[Alert]:
    """Engine and model alerts (the SLO burn-rate alerts are in ``slo``)."""
    a = b.alert
    by = b.by
    out: list[Alert] = []
    add = out.append
    lookback = str(a("LLMModelDisappeared").get("lookback", "2h"))
    lv = by("target", "model")
    add(
        Alert(
            "LLMModelDisappeared",
            "llm",
            f"group {lv} (max_over_time({b.sel('llm_model_info')}[{lookback}]))\n"
            f"unless {b.on('target', 'model')}\ngroup {lv} ({b.sel('llm_model_info')})",
            str(a("LLMModelDisappeared").get("for", b.startup_grace)),
            "warning",
            "A model that was served is no longer reported by any instance.",
            "Model {{ $labels.model }} of target {{ $labels.target }} (job {{ $labels.job }}) was served "
            "within the last "
            + lookback
            + " and no instance has reported it for "
            + str(a("LLMModelDisappeared").get("for", b.startup_grace))
            + ".",
            Runbook(
                f"llm_model_info for this model existed within the last {lookback} and no instance reports it now: "
                "every replica is gone, deleted or renamed the model. `up == 0` misses this when pods are "
                "deleted rather than failing. A ticket that waits longer than a model load (a Recreate "
                "rollout or a rename must not page); a model that users cannot reach pages through "
                "LLMModelProbesFailing and the SLO burn-rate alerts. The alert stops by itself once the old "
                f"series leaves the {lookback} lookback.",
                f"group {lv} (max_over_time({b.sel('llm_model_info')}[{lookback}])) unless {b.on('target', 'model')} "
                f"group {lv} ({b.sel('llm_model_info')})",
                (
                    "Deployment scaled to zero or deleted; pods stuck Pending (no GPU).",
                    "The model was renamed (served-model-name) by a deploy.",
                    "The inference server is down (then LLMTargetDown fires too and inhibits this).",
                ),
                (
                    "Check the deployment and pod status of the model (commands below).",
                    "If renamed on purpose, nothing to do; dashboards filter by the new name.",
                ),
                commands=(
                    "kubectl -n <namespace> get deploy,pods -l app.kubernetes.io/name=vllm -o wide",
                    "kubectl -n <namespace> get events --sort-by=.lastTimestamp | tail -20",
                    "kubectl -n <namespace> describe pod <pending-pod> | grep -A3 -i 'insufficient nvidia.com/gpu'",
                ),
                panel="Instances per model",
                escalate="The team owning the model; page them only if users report errors (the probe "
                "and SLO alerts page on user impact).",
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
    return out
