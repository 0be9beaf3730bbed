"""Alerts on workload drift and latency anomalies: request lengths against last week, truncated
outputs, TTFT / inter-token latency against their own baseline, preemption storms, and a KV
cache that keeps requests waiting even when the queue does not grow."""

from __future__ import annotations

from ..bundle import Bundle
from ..drift import LATENCIES, LENGTHS, mean1h
from ..matchers import eq
from .model import Alert, Runbook


def drift_alerts(b: Bundle) -> list[Alert]:
    out: list[Alert] = []
    out += _length_drift(b)
    out.append(_length_stops(b))
    out += _latency_anomaly(b)
    out.append(_preemption_storm(b))
    out.append(_kv_holds_requests(b))
    return out


def _length_drift(b: Bundle) -> list[Alert]:
    a = b.alert("LLMRequestLengthDrift")
    factor = float(a.get("factor", 1.5))
    floor = float(a.get("min_request_rate", 0.05))
    out = []
    by = b.by("model")
    requests = f"sum {by} (rate({b.sel('llm_requests_total')}[1h]))"
    for kind, metric in LENGTHS:
        # Inline on the raw series (not the recorded means): no dependency on rule-group timing.
        def mean(offset: str, metric: str = metric) -> str:
            return (
                f"sum {by} (rate({b.sel(metric + '_sum')}[1h]{offset}))\n  / "
                f"sum {by} (rate({b.sel(metric + '_count')}[1h]{offset}))"
            )

        ratio = f"(\n  {mean('')}\n)\n/\n(\n  {mean(' offset 7d')}\n)"
        now, before = mean1h(metric), mean1h(metric) + "_last_week"
        expr = (
            f"(\n{ratio} > {factor:g}\nor\n{ratio} < {1 / factor:.4g}\n)\nand {b.on('model')}\n{requests} > {floor:g}"
        )
        out.append(
            Alert(
                "LLMRequestLengthDrift",
                "llm",
                expr,
                b.for_("LLMRequestLengthDrift"),
                "warning",
                "A model's mean request length moved far from the same hour last week.",
                "Mean " + kind + " length of model {{ $labels.model }} (job {{ $labels.job }}) is "
                "{{ $value | humanize }} times its value at the same hour last week.",
                Runbook(
                    "The mean prompt or generation length per request over the last hour differs from the "
                    f"same hour one week earlier by more than a factor {factor:g}. Length drives KV-cache "
                    "use, prefill time and cost per request: a new client, a prompt-template change, a "
                    "RAG pipeline stuffing more context, or a max_tokens change shifts capacity needs.",
                    f"{now} and on (job, model) {before}",
                    (
                        "A deploy changed the prompt template, system prompt or retrieved context size.",
                        "A new client or agent with different request shapes.",
                        "A max_tokens default changed (generation length).",
                    ),
                    (
                        "Compare the prompt / generation length heatmaps of the LLM / Overview dashboard with last week.",
                        "Check deploys of clients and gateways in the window; re-plan KV cache and replicas if the shift is intended.",
                    ),
                ),
                {"length": kind},
            )
        )
    return out


def _length_stops(b: Bundle) -> Alert:
    a = b.alert("LLMLengthStopShareHigh")
    ratio, factor = float(a.get("ratio", 0.2)), float(a.get("factor", 2))
    by = b.by("model")

    def share(offset: str) -> str:
        total = f"sum {by} (rate({b.sel('llm_requests_total')}[1h]{offset}))"
        length = f"sum {by} (rate({b.sel('llm_requests_total', eq('finish_reason', 'length'))}[1h]{offset}))"
        return f"(({length} or {total} * 0) / ({total} > 0))"

    now, before = share(""), share(" offset 7d")
    return Alert(
        "LLMLengthStopShareHigh",
        "llm",
        f"{now} > {ratio:g}\nand (\n  {now} > {factor:g} * {before}\n  or\n  {now} unless {b.on('model')} {before}\n)",
        b.for_("LLMLengthStopShareHigh"),
        "warning",
        "Many requests stop because they hit max_tokens.",
        "{{ $value | humanizePercentage }} of the requests of model {{ $labels.model }} (job {{ $labels.job }}) "
        "stopped on length over the last hour.",
        Runbook(
            f"More than {ratio * 100:g} % of finished requests ended with finish_reason length (cut off by "
            f"max_tokens or the context window), and that share is over {factor:g} times last week's (or the "
            "model has no history). Clients receive truncated answers, agents loop or fail to parse output.",
            "model:llm_requests_length:ratio_rate1h and on (job, model) model:llm_requests_length:ratio_rate1h_last_week",
            (
                "A client lowered max_tokens, or prompts grew so the context window leaves little room.",
                "A model change that rambles (no stop token learned, wrong chat template).",
            ),
            (
                "Check the generation-length heatmap and which clients send small max_tokens.",
                "Verify the chat template / stop tokens of the served model.",
            ),
        ),
    )


def _latency_anomaly(b: Bundle) -> list[Alert]:
    a = b.alert("LLMLatencyAnomaly")
    k, rel = float(a.get("stddevs", 3)), float(a.get("min_relative_change", 0.5))
    days, floor = int(a.get("min_baseline_days", 3)), float(a.get("min_request_rate", 0.05))
    out = []
    for kind, metric in LATENCIES:
        now = mean1h(metric)
        expr = (
            f"{now} - {now}_baseline_mean > {k:g} * {now}_baseline_stddev\n"
            f"and\n{now} > {1 + rel:g} * {now}_baseline_mean\n"
            f"and\n{now}_baseline_days >= {days}\n"
            f"and {b.on('model')}\nmodel:llm_requests:rate1h > {floor:g}"
        )
        title = "time to first token" if kind == "ttft" else "inter-token latency"
        out.append(
            Alert(
                "LLMLatencyAnomaly",
                "llm",
                expr,
                b.for_("LLMLatencyAnomaly"),
                "warning",
                "A model's mean latency is far above its usual level for this hour.",
                "Mean " + title + " of model {{ $labels.model }} (job {{ $labels.job }}) is {{ $value | humanize }}s "
                "above its same-hour baseline.",
                Runbook(
                    "The last hour's mean time to first token or inter-token latency exceeds the mean of the "
                    f"same hour on the previous days by more than {k:g} standard deviations and by at least "
                    f"{rel * 100:g} %. Unlike the SLO burn-rate alerts this needs no fixed threshold: it "
                    "catches a model that got slower than it normally is at this time of day.",
                    f"{now} and on (job, model) {now}_baseline_mean",
                    (
                        "Longer prompts (see LLMRequestLengthDrift) or a bigger batch (more traffic).",
                        "KV-cache pressure and preemptions; a GPU throttling or a replica lost.",
                        "An engine or driver upgrade.",
                    ),
                    (
                        "Check prefill vs decode time and preemptions on the LLM / Overview dashboard.",
                        "Check GPU throttling and the number of replicas; roll back a recent upgrade if it coincides.",
                    ),
                ),
                {"latency": kind},
            )
        )
    return out


def _preemption_storm(b: Bundle) -> Alert:
    a = b.alert("LLMPreemptionStorm")
    w = b.rate_window
    rate, per = float(a.get("min_rate", 0.1)), float(a.get("per_request", 0.1))
    pre = f"model:llm_preemptions:rate{w}"
    return Alert(
        "LLMPreemptionStorm",
        "llm",
        f"{pre} > {rate:g}\nand {b.on('model')}\n{pre} / (model:llm_requests:rate{w} > 0) > {per:g}",
        b.for_("LLMPreemptionStorm"),
        "warning",
        "An engine keeps preempting running requests to free KV cache.",
        "Model {{ $labels.model }} (job {{ $labels.job }}) preempts {{ $value | humanize }} requests per second.",
        Runbook(
            "The engine evicts running requests from its batch (vLLM preemption, SGLang retraction) because "
            "the KV cache cannot hold every sequence, then recomputes them later. Throughput collapses and "
            f"latency rises; here more than {rate:g} preemptions per second and more than {per:g} per "
            "finished request.",
            f"{pre} and on (job, model) model:llm_requests:rate{w}",
            (
                "KV cache too small for the batch (gpu_memory_utilization, max_num_seqs too high).",
                "Generation lengths grew (see LLMRequestLengthDrift).",
            ),
            (
                "Lower max_num_seqs / max_num_batched_tokens or raise the KV-cache share.",
                "Add replicas or route long requests to a larger deployment.",
            ),
        ),
    )


def _kv_holds_requests(b: Bundle) -> Alert:
    a = b.alert("LLMKVCacheHoldsRequests")
    usage = float(a.get("usage_ratio", 0.9))
    iv = b.by("instance", "target", "model")
    return Alert(
        "LLMKVCacheHoldsRequests",
        "llm",
        f"max {iv} ({b.sel('llm_kv_cache_usage_ratio')}) > {usage:g}\n"
        f"and {b.on('instance', 'target', 'model')}\nsum {iv} ({b.sel('llm_requests_waiting')}) > 0",
        b.for_("LLMKVCacheHoldsRequests"),
        "warning",
        "A nearly full KV cache keeps requests waiting, even though the queue is not growing.",
        "{{ $labels.target }} on {{ $labels.instance }} (model {{ $labels.model }}) has used "
        "{{ $value | humanizePercentage }} of its KV cache while requests kept waiting for "
        + b.for_("LLMKVCacheHoldsRequests")
        + ".",
        Runbook(
            f"For {b.for_('LLMKVCacheHoldsRequests')} the KV cache stayed above {usage * 100:g} % and requests stayed "
            "in the engine's waiting queue. The queue may be flat (arrivals match completions), so "
            "LLMKVCacheSaturated, which needs a growing queue, stays quiet; yet every request pays extra "
            'queueing time. vLLM\'s llm_requests_waiting_by_reason{reason="capacity"} says the same directly. '
            "With several data-parallel engines the folded KV usage is their mean: check "
            "llm_engine_kv_cache_usage_ratio for the full one.",
            f"max {iv} ({b.sel('llm_kv_cache_usage_ratio')}) and on (instance, target, model) "
            f"sum {iv} ({b.sel('llm_requests_waiting')})",
            (
                "Steady traffic just above the replica's capacity.",
                "Long contexts holding KV blocks; prefix caching off.",
            ),
            (
                "Add a replica or raise the KV-cache share; enable prefix caching.",
                "Check queue time (llm_request_queue_duration_seconds) against the TTFT SLO.",
            ),
        ),
    )
