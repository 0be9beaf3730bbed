"""The LLM / Overview dashboard: traffic, errors, latency, tokens and saturation per model."""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..matchers import JOB, MODEL, regex, selector
from ..recording import slis
from .document import dashboard
from .panels import RATE_INTERVAL, Board, dashboard_link, quantile_targets


def overview(b: Bundle) -> dict[str, Any]:
    w = b.rate_window
    s = selector(JOB, MODEL)
    errs = "|".join(b["slo"]["slis"]["errors"]["finish_reasons"])
    x = Board(b)
    x.stat(
        "Requests per second",
        "Finished requests per second, all selected models.",
        f"sum(model:llm_requests:rate{w}{s})",
        "reqps",
    )
    x.stat(
        "Error ratio",
        f"Share of finished requests with finish_reason {errs.replace('|', ' or ')}.",
        f"(sum(model_finish_reason:llm_requests:rate{w}{selector(JOB, MODEL, regex('finish_reason', errs))})"
        f" or vector(0)) / (sum(model:llm_requests:rate{w}{s}) > 0)",
        "percentunit",
        ratio=True,
        thresholds=[("green", None), ("orange", 0.001), ("red", 0.01)],
    )
    x.stat(
        "Output tokens per second",
        "Generated tokens per second.",
        f"sum(model:llm_generation_tokens:rate{w}{s})",
        "suffix:tok/s",
    )
    x.stat(
        "TTFT p95",
        "95th percentile time to first token across the selected models.",
        f"histogram_quantile(0.95, sum by (le) (model_le:llm_time_to_first_token_seconds_bucket:rate{w}{s}))",
        "s",
    )
    x.stat(
        "KV cache (max)",
        "Highest KV-cache usage of any instance.",
        f"max(model:llm_kv_cache_usage_ratio:max{s})",
        "percentunit",
        ratio=True,
        thresholds=[("green", None), ("orange", 0.9), ("red", 0.98)],
    )
    x.stat(
        "Targets down",
        "Configured upstreams the exporters cannot read.",
        f"count(llm_target_up{selector(JOB)} == 0) or vector(0)",
        "short",
        thresholds=[("green", None), ("red", 1)],
    )
    x.row("Requests")
    x.ts(
        "Request rate by model",
        "Finished requests per second per model.",
        [(f"model:llm_requests:rate{w}{s}", "{{model}}")],
        "reqps",
        links=[
            dashboard_link(
                b, "instance", "LLM / Instance for ${__field.labels.model}", "&var-model=${__field.labels.model}"
            )
        ],
    )
    x.ts(
        "Error ratio by model",
        "Failed share of finished requests (5m), per model.",
        [(f"model:llm_slo_failed_requests:ratio_rate5m{s}", "{{model}}")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Finish reasons",
        "Finished requests per second by finish_reason (stop, length, abort, error ...).",
        [(f"sum by (finish_reason) (model_finish_reason:llm_requests:rate{w}{s})", "{{finish_reason}}")],
        "reqps",
        stack=True,
    )
    x.row("Latency")
    x.ts(
        "Time to first token",
        "TTFT quantiles per model from the engine's histogram.",
        quantile_targets("llm_time_to_first_token_seconds", s, window=w),
        "s",
    )
    x.ts(
        "Inter-token latency",
        "Time between output tokens, quantiles per model.",
        quantile_targets("llm_inter_token_latency_seconds", s, window=w),
        "s",
    )
    x.ts(
        "End-to-end latency",
        "Request duration quantiles per model.",
        quantile_targets("llm_request_duration_seconds", s, window=w),
        "s",
    )
    x.ts(
        "Time per output token",
        "Per-request mean time per output token (TPOT), p95 per model.",
        [
            (
                f"histogram_quantile(0.95, sum by (job, model, le) "
                f"(model_le:llm_time_per_output_token_seconds_bucket:rate{w}{s}))",
                "{{model}} p95",
            )
        ],
        "s",
    )
    x.ts(
        "Queue time (mean)",
        "Mean time a request waited in the engine before scheduling.",
        [
            (
                f"model:llm_request_queue_duration_seconds_sum:rate{w}{s} / "
                f"(model:llm_request_queue_duration_seconds_count:rate{w}{s} > 0)",
                "{{model}}",
            )
        ],
        "s",
    )
    x.row("Throughput and saturation")
    x.ts(
        "Tokens per second",
        "Prompt (in) and generated (out) tokens per second per model.",
        [
            (f"model:llm_prompt_tokens:rate{w}{s}", "{{model}} in"),
            (f"model:llm_generation_tokens:rate{w}{s}", "{{model}} out"),
        ],
        "suffix:tok/s",
    )
    x.ts(
        "Running and waiting requests",
        "Requests in the running batch and waiting in the engine queue.",
        [
            (f"model:llm_requests_running:sum{s}", "{{model}} running"),
            (f"model:llm_requests_waiting:sum{s}", "{{model}} waiting"),
        ],
        "short",
    )
    x.ts(
        "KV-cache usage (max per model)",
        "Highest KV-cache usage among a model's instances.",
        [(f"model:llm_kv_cache_usage_ratio:max{s}", "{{model}}")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Prefix-cache hit ratio",
        "Prompt tokens served from the prefix cache over tokens looked up.",
        [
            (
                f"model:llm_prefix_cache_hit_tokens:rate{w}{s} / (model:llm_prefix_cache_queried_tokens:rate{w}{s} > 0)",
                "{{model}}",
            )
        ],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Instances per model",
        "Instances reporting each model.",
        [(f"model:llm_model_instances:count{s}", "{{model}}")],
        "short",
    )
    x.row("Workload and drift")
    for metric, what in (("llm_request_prompt_tokens", "Prompt"), ("llm_request_generation_tokens", "Generation")):
        x.heatmap(
            f"{what} length (tokens)",
            f"Requests per second by {what.lower()} length, in the engine's token buckets (vLLM, SGLang, TGI, "
            "TRT-LLM); a shifting band is workload drift.",
            f"sum by (le) (model_le:{metric}_bucket:rate{w}{s})",
            "short",
            w=8,
        )
    x.ts(
        "Length vs last week",
        "Mean prompt and generation length over the last hour divided by the same hour one week earlier; "
        "LLMRequestLengthDrift fires outside 1/1.5 - 1.5.",
        [
            (
                f"model:llm_request_prompt_tokens:mean1h{s}\n/ model:llm_request_prompt_tokens:mean1h_last_week{s}",
                "{{model}} prompt",
            ),
            (
                f"model:llm_request_generation_tokens:mean1h{s}\n/ model:llm_request_generation_tokens:mean1h_last_week{s}",
                "{{model}} generation",
            ),
        ],
        "short",
        w=8,
    )
    x.ts(
        "Prefill vs decode time (mean)",
        "Mean time per request in prefill (scheduled to first token) and decode (first to last token).",
        [
            (
                f"model:llm_request_{phase}_duration_seconds_sum:rate{w}{s}\n"
                f"/ (model:llm_request_{phase}_duration_seconds_count:rate{w}{s} > 0)",
                "{{model}} " + phase,
            )
            for phase in ("prefill", "decode")
        ],
        "s",
        w=8,
    )
    x.ts(
        "Preemptions",
        "Requests pushed out of the running batch per second to free KV cache (vLLM preemptions, SGLang "
        "retractions); LLMPreemptionStorm fires on a sustained storm.",
        [(f"model:llm_preemptions:rate{w}{s}", "{{model}}")],
        "short",
        w=8,
    )
    x.ts(
        "Spec-decode acceptance",
        "Accepted draft tokens over proposed draft tokens (speculative decoding).",
        [(f"model:llm_spec_decode_acceptance:ratio_rate{w}{s}", "{{model}}")],
        "percentunit",
        ratio=True,
        w=8,
    )
    x.row("SLO and cost")
    for sli in slis(b):
        x.ts(
            f"{sli.title} SLO attainment (1h)",
            f"Share of good events over the last hour; objective {sli.objective:g}.",
            [(f"1 - {sli.ratio_rule('1h')}{s}", "{{model}}")],
            "percentunit",
            ratio=True,
            w=6,
            thresholds=[("red", None), ("orange", sli.objective - (1 - sli.objective)), ("green", sli.objective)],
        )
    x.ts(
        "Cost per million tokens",
        "Dollars per million (prompt + generated) tokens, from configured prices.",
        [(f"model:llm_cost_dollars_per_million_tokens:ratio{s}", "{{model}}")],
        "currencyUSD",
        w=6,
    )
    x.row("GPUs serving these models")
    per_model = '* on (job, instance) group_right () group by (job, instance, model) (llm_model_info{job=~"$job", model=~"$model"})'
    x.ts(
        "GPU utilisation by model",
        "Mean utilisation of the GPUs in the pods serving each model.",
        [(f"avg by (job, instance) (llm_gpu_utilization_ratio{selector(JOB)}) {per_model}", "{{model}} {{instance}}")],
        "percentunit",
        ratio=True,
        w=6,
    )
    x.ts(
        "GPU memory used by model",
        "Framebuffer memory in use on the GPUs of each model's pods.",
        [(f"sum by (job, instance) (llm_gpu_memory_used_bytes{selector(JOB)}) {per_model}", "{{model}} {{instance}}")],
        "bytes",
        w=6,
    )
    x.ts(
        "GPU power by model",
        "Power drawn by the GPUs of each model's pods.",
        [(f"sum by (job, instance) (llm_gpu_power_watts{selector(JOB)}) {per_model}", "{{model}} {{instance}}")],
        "watt",
        w=6,
    )
    x.ts(
        "Generated tokens per joule",
        "Output tokens per joule of GPU energy in the serving pods.",
        [
            (
                f"sum by (job, instance, model) (rate(llm_generation_tokens_total{s}[{RATE_INTERVAL}]))\n/ on (job, instance, model)\n"
                f"(sum by (job, instance) (rate(llm_gpu_energy_joules_total{selector(JOB)}[{RATE_INTERVAL}])) {per_model})",
                "{{model}}",
            )
        ],
        "short",
        w=6,
    )
    x.row("Exporter health")
    x.stat("Targets up", "Configured upstreams answering.", f"sum(llm_target_up{selector(JOB)})", "short", w=6)
    x.stat(
        "Collectors failing",
        "Collectors that failed their last run.",
        f"count(llm_scrape_collector_success{selector(JOB)} == 0) or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("red", 1)],
    )
    x.stat(
        "Slowest collector",
        "Longest collector duration in the last scrape.",
        f"max(llm_scrape_collector_duration_seconds{selector(JOB)})",
        "s",
        w=6,
    )
    x.stat(
        "Config reload OK",
        "1 when every exporter's last config load succeeded.",
        f"min(llm_exporter_config_last_reload_successful{selector(JOB)})",
        "bool",
        w=6,
        thresholds=[("red", None), ("green", 1)],
    )
    return dashboard(
        b,
        "overview",
        "LLM / Overview",
        "Golden signals per model: traffic, errors, latency, saturation, SLO, cost, GPUs.",
        x,
        ["job", "model"],
    )
