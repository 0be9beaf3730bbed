"""vLLM: V1 engine names, the 0.10/0.11-era deprecated names, the V0 engine, and Ray Serve's ``ray_vllm_*``.

Labels: ``model_name`` (the served model name); ``engine`` (data-parallel engine core) is
folded. Token semantics: ``vllm:prompt_tokens_total`` already counts cached prompt tokens
(= usage.prompt_tokens); hits are ``prompt_tokens_cached_total`` (local + external KV
connector, = usage.prompt_tokens_details.cached_tokens), else the local
``prefix_cache_hits_total`` (``gpu_prefix_cache_hits_total`` before 0.10).
"""

from __future__ import annotations

from .mapping import Engine, Rule, rename, src

V = "vllm:"

REASONS = {"stop": "stop", "length": "length", "abort": "abort", "error": "error", "repetition": "stop"}


def _one(metric: str, *names: str, agg: str = "sum") -> Rule:
    return Rule(metric, tuple((src(V + n),) for n in names), agg=agg)


VLLM = Engine(
    server="vllm",
    model_labels=("model_name",),
    default_port=8000,
    version_path="/version",
    models_path="/v1/models",
    rules=(
        _one("llm_requests_running", "num_requests_running"),
        _one("llm_requests_waiting", "num_requests_waiting"),
        _one("llm_kv_cache_usage_ratio", "kv_cache_usage_perc", "gpu_cache_usage_perc", agg="mean"),
        _one("llm_prompt_tokens_total", "prompt_tokens_total"),
        _one("llm_generation_tokens_total", "generation_tokens_total"),
        _one("llm_prefix_cache_queried_tokens_total", "prefix_cache_queries_total", "gpu_prefix_cache_queries_total"),
        _one(
            "llm_prefix_cache_hit_tokens_total",
            "prompt_tokens_cached_total",
            "prefix_cache_hits_total",
            "gpu_prefix_cache_hits_total",
        ),
        Rule(
            "llm_requests_total",
            ((src(V + "request_success_total"),),),
            reason_label="finished_reason",
            reason_map=REASONS,
        ),
        Rule("llm_requests_total", ((src(V + "admission_rejections_total"),),), reason="rejected"),
        _one("llm_request_duration_seconds", "e2e_request_latency_seconds"),
        _one("llm_time_to_first_token_seconds", "time_to_first_token_seconds"),
        # ITL: current name, then the <=0.10 name (which was ITL, and is V0's only latency-per-token family).
        _one("llm_inter_token_latency_seconds", "inter_token_latency_seconds", "time_per_output_token_seconds"),
        _one("llm_time_per_output_token_seconds", "request_time_per_output_token_seconds"),
        _one("llm_request_queue_duration_seconds", "request_queue_time_seconds"),
    ),
)

RAY_VLLM = rename(VLLM, "vllm", "vllm_", "ray_vllm_")
