"""The LLM / Instance dashboard: one inference target in detail (engine, process, models, probes)."""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..matchers import INSTANCE, JOB, MODEL, TARGET, selector
from .document import dashboard
from .panels import RATE_INTERVAL, Board, quantile_targets


def instance(b: Bundle) -> dict[str, Any]:
    s = selector(JOB, INSTANCE, TARGET, MODEL)
    t = selector(JOB, INSTANCE, TARGET)
    x = Board(b)
    x.stat(
        "Target up",
        "1 when the exporter's last read of the upstream succeeded.",
        f"min(llm_target_up{t})",
        "bool",
        thresholds=[("red", None), ("green", 1)],
    )
    x.stat("Running", "Requests in the running batch.", f"sum(llm_requests_running{s})", "short")
    x.stat("Waiting", "Requests waiting in the engine.", f"sum(llm_requests_waiting{s})", "short")
    x.stat(
        "KV cache",
        "KV-cache usage.",
        f"max(llm_kv_cache_usage_ratio{s})",
        "percentunit",
        ratio=True,
        thresholds=[("green", None), ("orange", 0.9), ("red", 0.98)],
    )
    x.stat(
        "Requests per second",
        "Finished requests per second.",
        f"sum(rate(llm_requests_total{s}[{RATE_INTERVAL}]))",
        "reqps",
    )
    x.stat(
        "Output tokens per second",
        "Generated tokens per second.",
        f"sum(rate(llm_generation_tokens_total{s}[{RATE_INTERVAL}]))",
        "suffix:tok/s",
    )
    x.table(
        "Served models",
        "Models of the target with what the engine reports about them.",
        [(f"llm_model_info{s}", "")],
        w=12,
        h=6,
    )
    x.table("Target software", "Engine software and version of the target.", [(f"llm_target_info{t}", "")], w=12, h=6)
    x.row("Requests and tokens")
    x.ts(
        "Requests by finish reason",
        "Finished requests per second by finish_reason.",
        [
            (
                f"sum by (instance, model, finish_reason) (rate(llm_requests_total{s}[{RATE_INTERVAL}]))",
                "{{model}} {{finish_reason}}",
            )
        ],
        "reqps",
        stack=True,
    )
    x.ts(
        "Tokens per second",
        "Prompt and generated tokens per second.",
        [
            (f"sum by (instance, model) (rate(llm_prompt_tokens_total{s}[{RATE_INTERVAL}]))", "{{model}} in"),
            (f"sum by (instance, model) (rate(llm_generation_tokens_total{s}[{RATE_INTERVAL}]))", "{{model}} out"),
        ],
        "suffix:tok/s",
    )
    x.ts(
        "Running, waiting and KV cache",
        "Scheduler state of the engine.",
        [
            (f"sum by (instance, model) (llm_requests_running{s})", "{{model}} running"),
            (f"sum by (instance, model) (llm_requests_waiting{s})", "{{model}} waiting"),
        ],
        "short",
    )
    x.ts(
        "KV-cache usage",
        "Fraction of KV-cache blocks in use.",
        [(f"llm_kv_cache_usage_ratio{s}", "{{instance}} {{model}}")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Prefix-cache hit ratio",
        "Prefix-cache hit tokens over looked-up tokens.",
        [
            (
                f"sum by (instance, model) (rate(llm_prefix_cache_hit_tokens_total{s}[{RATE_INTERVAL}]))\n/\n"
                f"(sum by (instance, model) (rate(llm_prefix_cache_queried_tokens_total{s}[{RATE_INTERVAL}])) > 0)",
                "{{model}}",
            )
        ],
        "percentunit",
        ratio=True,
    )
    x.row("Latency")
    for metric, title in (
        ("llm_time_to_first_token_seconds", "Time to first token"),
        ("llm_inter_token_latency_seconds", "Inter-token latency"),
        ("llm_time_per_output_token_seconds", "Time per output token"),
        ("llm_request_duration_seconds", "End-to-end latency"),
        ("llm_request_queue_duration_seconds", "Queue time"),
    ):
        x.ts(
            title,
            f"{title}: p50, p95, p99 and mean from the engine's histogram.",
            [
                *quantile_targets(metric, s, "model", recorded=False),
                (
                    f"sum by (model) (rate({metric}_sum{s}[{RATE_INTERVAL}])) / (sum by (model) (rate({metric}_count{s}[{RATE_INTERVAL}])) > 0)",
                    "{{model}} mean",
                ),
            ],
            "s",
        )
    x.row("Served process")
    x.ts(
        "Process CPU",
        "CPU seconds per second of the served inference process.",
        [(f"rate(llm_process_cpu_seconds_total{t}[{RATE_INTERVAL}])", "{{target}}")],
        "percentunit",
        w=6,
    )
    x.ts(
        "Process memory",
        "Resident memory of the served process.",
        [(f"llm_process_resident_memory_bytes{t}", "{{target}}")],
        "bytes",
        w=6,
    )
    x.ts("Process threads", "Threads of the served process.", [(f"llm_process_threads{t}", "{{target}}")], "short", w=6)
    x.ts(
        "Process open file descriptors",
        "Open file descriptors of the served process.",
        [(f"llm_process_open_fds{t}", "{{target}}")],
        "short",
        w=6,
    )
    x.row("Loaded models (Ollama /api/ps)")
    x.ts(
        "Loaded model memory",
        "Memory each loaded model holds (weights, KV cache, buffers) and the part "
        "resident in GPU memory; the rest is offloaded to CPU. Ollama targets only.",
        [(f"llm_model_memory_bytes{s}", "{{model}} total"), (f"llm_model_gpu_memory_bytes{s}", "{{model}} in VRAM")],
        "bytes",
        w=8,
    )
    x.ts(
        "Share of model in VRAM",
        "GPU-resident part of each loaded model; below 1 the model runs partly on the CPU (slow). Ollama targets only.",
        [(f"llm_model_gpu_memory_bytes{s} / (llm_model_memory_bytes{s} > 0)", "{{model}}")],
        "percentunit",
        ratio=True,
        w=8,
        thresholds=[("red", None), ("orange", 0.9), ("green", 1)],
    )
    x.ts(
        "Time until unload (keep-alive)",
        "Seconds until Ollama unloads the idle model (expires_at minus now); "
        "negative: the expiry has passed. Ollama targets only.",
        [(f"llm_model_expiry_timestamp_seconds{s} - time()", "{{model}}")],
        "s",
        w=8,
    )
    x.row("Active probe (requires inference[].probe in the exporter config)", collapsed=True)
    x.ts(
        "Probe success",
        "1 when the last synthetic chat completion succeeded.",
        [(f"llm_probe_success{s}", "{{model}}")],
        "bool",
        w=8,
        ratio=True,
    )
    x.ts(
        "Probe duration and TTFT",
        "Duration and time to first token of the last probe.",
        [
            (f"llm_probe_duration_seconds{s}", "{{model}} duration"),
            (f"llm_probe_time_to_first_token_seconds{s}", "{{model}} TTFT"),
        ],
        "s",
        w=8,
    )
    x.ts(
        "Rate-limit headroom",
        "x-ratelimit-remaining-* headers of the last probe.",
        [
            (f"llm_probe_ratelimit_remaining_requests{s}", "{{model}} requests"),
            (f"llm_probe_ratelimit_remaining_tokens{s}", "{{model}} tokens"),
        ],
        "short",
        w=8,
    )
    return dashboard(
        b,
        "instance",
        "LLM / Instance",
        "One inference target in depth: scheduler, latency, tokens, the served process and the probe.",
        x,
        ["job", "itarget", "tinstance", "tmodel"],
    )
