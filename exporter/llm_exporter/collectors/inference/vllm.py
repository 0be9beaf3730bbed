"""vLLM: V1 engine names, the 0.10/0.11-era deprecated names, the V0 engine, and Ray Serve's ``ray_vllm_*``.

Labels: ``model_name`` (the served model name); ``engine`` (data-parallel engine core) is
folded (gauges summed, KV usage averaged) and kept on the ``llm_engine_*`` per-engine views. Token semantics: ``vllm:prompt_tokens_total`` already counts cached prompt tokens
(= usage.prompt_tokens); hits are ``prompt_tokens_cached_total`` (local + external KV
connector, = usage.prompt_tokens_details.cached_tokens), else the local
``prefix_cache_hits_total`` (``gpu_prefix_cache_hits_total`` before 0.10).
"""

from __future__ import annotations

from functools import partial

from .mapping import PYTHON_RUNTIME, Engine, LoraInfoRule, Rule, one, rename, src

V = "vllm:"

_one = partial(one, prefix=V)  # one rule from the first present of V-prefixed names

REASONS = {"stop": "stop", "length": "length", "abort": "abort", "error": "error", "repetition": "stop"}


ENGINE = (("engine", "engine"),)  # data-parallel engine core index


VLLM = Engine(
    server="vllm",
    model_labels=("model_name",),
    default_port=8000,
    title="vLLM",
    proof="real server (vLLM 0.32 CPU build)",
    notes={
        "llm_kv_cache_usage_ratio": "✓ mean over engines (≤0.10 and V0: `gpu_cache_usage_perc`)",
        "llm_prefix_cache_queried_tokens_total": "✓ (V0 ✗)",
        "llm_prefix_cache_hit_tokens_total": "✓ (V0 ✗)",
        "llm_requests_total": "✓ stop/length/abort/error/rejected",
        "llm_inter_token_latency_seconds": "✓ (≤0.10 and V0: `time_per_output_token_seconds`)",
        "llm_time_per_output_token_seconds": "✓ (V0 ✗)",
        "llm_spec_decode_drafts_total": "✓ with a speculative config (V0 ✗)",
        "llm_spec_decode_draft_tokens_total": "✓ with a speculative config",
        "llm_spec_decode_accepted_tokens_total": "✓ with a speculative config",
        "llm_lora_adapters": "✓ with `--enable-lora`",
        "llm_lora_adapters_max": "✓ with `--enable-lora`",
        "llm_requests_waiting_by_reason": "✓ (recent releases)",
        "llm_engine_sleep_state": "✓ (recent releases)",
        "llm_engine_requests_running": "✓ `engine` label (V0 ✗)",
        "llm_engine_requests_waiting": "✓ `engine` label (V0 ✗)",
        "llm_engine_kv_cache_usage_ratio": "✓ `engine` label (V0 ✗)",
    },
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
        _one("llm_preemptions_total", "num_preemptions_total"),
        _one("llm_request_prompt_tokens", "request_prompt_tokens"),
        _one("llm_request_generation_tokens", "request_generation_tokens"),
        _one("llm_request_prefill_duration_seconds", "request_prefill_time_seconds"),
        _one("llm_request_decode_duration_seconds", "request_decode_time_seconds"),
        _one("llm_request_inference_duration_seconds", "request_inference_time_seconds"),
        _one("llm_requests_waiting_by_reason", "num_requests_waiting_by_reason", keep=(("reason", "reason"),)),
        _one("llm_engine_sleep_state", "engine_sleep_state", agg="mean", keep=(("sleep_state", "state"),)),
        _one("llm_spec_decode_drafts_total", "spec_decode_num_drafts_total"),
        _one("llm_spec_decode_draft_tokens_total", "spec_decode_num_draft_tokens_total"),
        _one("llm_spec_decode_accepted_tokens_total", "spec_decode_num_accepted_tokens_total"),
        LoraInfoRule(src(V + "lora_requests_info")),
        _one("llm_engine_requests_running", "num_requests_running", keep=ENGINE),
        _one("llm_engine_requests_waiting", "num_requests_waiting", keep=ENGINE),
        _one("llm_engine_kv_cache_usage_ratio", "kv_cache_usage_perc", "gpu_cache_usage_perc", keep=ENGINE),
    ),
    ignored=(
        *PYTHON_RUNTIME,
        # prometheus_fastapi_instrumentator: HTTP-level, no model
        "http_requests_total",
        "http_request_duration_seconds",
        "http_request_duration_highr_seconds",
        "http_request_size_bytes",
        "http_response_size_bytes",
        V + "num_requests_kv_fetch_by_stage",  # disaggregated decode only
        V + "cache_config_info",  # configuration, no model label
        V + "external_prefix_cache_queries_total",  # KV-connector cache (hits are in prompt_tokens_cached)
        V + "external_prefix_cache_hits_total",
        V + "mm_cache_queries_total",
        V + "mm_cache_hits_total",
        V + "prompt_tokens_by_source_total",
        V + "prompt_tokens_cached_by_source_total",
        V + "prompt_tokens_recomputed_total",
        V + "corrupted_requests_total",
        V + "watermark_requests_total",
        V + "request_max_num_generation_tokens",
        V + "request_params_max_tokens",
        V + "request_params_n",
        V + "request_params_best_of",
        V + "request_prefill_kv_computed_tokens",
        V + "iteration_tokens_total",
        V + "request_num_preemptions",
        V + "kv_block_*",  # --kv-cache-metrics residency samples
        V + "spec_decode_num_accepted_tokens_per_pos_total",
        V + "spec_decode_num_emitted_tokens_total",  # V0
        V + "spec_decode_draft_acceptance_rate",  # V0 gauges: derive from the counters
        V + "spec_decode_efficiency",
        V + "estimated_*",  # --enable-mfu-metrics
        V + "nixl_*",  # KV-connector transfer metrics
        V + "mooncake_*",
        V + "hf3fs_*",
        V + "umbp_*",
        # V0 engine and removed names
        V + "num_requests_swapped",
        V + "cpu_cache_usage_perc",
        V + "gpu_prefix_cache_hit_rate",
        V + "cpu_prefix_cache_hit_rate",
        V + "tokens_total",  # defined, never incremented
        V + "time_in_queue_requests",
        V + "model_forward_time_milliseconds",
        V + "model_execute_time_milliseconds",
        V + "avg_prompt_throughput_toks_per_s",
        V + "avg_generation_throughput_toks_per_s",
    ),
)

# Ray Serve: Ray's metrics export port (default 8080) serves ``ray_vllm_*`` with a ``ReplicaId`` label.
RAY_VLLM = rename(
    VLLM, "vllm_", "ray_vllm_", kind="ray_vllm", title="Ray Serve vLLM", default_port=8080, proof="payload fixtures"
)
