"""SGLang: current names and the 0.4-era ones (label ``name`` instead of ``model_name``).

Rank labels (``tp_rank``, ``dp_rank`` ...), ``engine_type``, ``is_streaming`` and
``priority`` are folded; ``dp_rank`` is kept as ``engine`` on the ``llm_engine_*`` views.
Retractions (SGLang's preemption) are ``llm_preemptions_total``. ``sglang:prompt_tokens_total`` counts every prompt token of
finished requests (cached included); hits are ``sglang:cached_tokens_total``
(``cache_source="total"`` when split by tier). SGLang has no stop/length split: finished
requests count as ``unknown``, aborted ones as ``abort``.
"""

from __future__ import annotations

from functools import partial

from .mapping import Engine, Rule, one, src

S = "sglang:"

_one = partial(one, prefix=S)  # one rule from the first present of S-prefixed names


DP = (("dp_rank", "engine"),)  # data-parallel attention rank (only with --enable-dp-attention)


SGLANG = Engine(
    server="sglang",
    model_labels=("model_name", "name"),
    default_port=30000,
    title="SGLang",
    notes={
        "llm_kv_cache_usage_ratio": "✓ `token_usage`",
        "llm_requests_total": "unknown/abort",
        "llm_inter_token_latency_seconds": "✓ (0.4: old name)",
        "llm_preemptions_total": "✓ retractions",
        "llm_engine_requests_running": "with DP attention (`dp_rank`)",
        "llm_engine_requests_waiting": "with DP attention (`dp_rank`)",
        "llm_engine_kv_cache_usage_ratio": "with DP attention (`dp_rank`)",
    },
    version_path="/get_server_info",
    models_path="/v1/models",
    rules=(
        _one("llm_requests_running", "num_running_reqs"),
        _one("llm_requests_waiting", "num_queue_reqs"),
        _one("llm_kv_cache_usage_ratio", "token_usage", agg="mean"),
        _one("llm_prompt_tokens_total", "prompt_tokens_total"),
        _one("llm_generation_tokens_total", "generation_tokens_total"),
        Rule(
            "llm_prefix_cache_hit_tokens_total",
            ((src(S + "cached_tokens_total", cache_source="total"),), (src(S + "cached_tokens_total"),)),
        ),
        Rule("llm_requests_total", ((src(S + "num_requests_total"),),), reason="unknown"),
        Rule("llm_requests_total", ((src(S + "num_aborted_requests_total"),),), reason="abort"),
        _one("llm_request_duration_seconds", "e2e_request_latency_seconds"),
        _one("llm_time_to_first_token_seconds", "time_to_first_token_seconds"),
        _one("llm_inter_token_latency_seconds", "inter_token_latency_seconds", "time_per_output_token_seconds"),
        _one("llm_time_per_output_token_seconds", "request_time_per_output_token_seconds"),
        _one("llm_request_queue_duration_seconds", "queue_time_seconds"),
        _one("llm_preemptions_total", "num_retracted_requests_total"),
        _one("llm_request_prompt_tokens", "prompt_tokens_histogram"),
        _one("llm_request_generation_tokens", "generation_tokens_histogram"),
        _one("llm_engine_requests_running", "num_running_reqs", keep=DP),
        _one("llm_engine_requests_waiting", "num_queue_reqs", keep=DP),
        _one("llm_engine_kv_cache_usage_ratio", "token_usage", keep=DP),
    ),
    ignored=(
        S + "num_grammar_queue_reqs",
        S + "gen_throughput",
        S + "cache_hit_rate",  # hits are the cached_tokens counter
        S + "full_token_usage",
        S + "swa_token_usage",
        S + "mamba_usage",
        S + "num_used_tokens",
        S + "kv_*_tokens",
        S + "swa_*",
        S + "mamba_*",
        S + "max_total_num_tokens",
        S + "page_size",
        S + "num_pages",
        S + "context_len",
        S + "*_memory_usage_gb",
        S + "startup_*",
        S + "utilization",
        S + "fwd_occupancy",
        S + "new_token_ratio",
        S + "is_cuda_graph",
        S + "decode_sum_seq_lens",
        S + "spec_*",
        S + "num_retracted_reqs",
        S + "num_retracted_input_tokens_total",
        S + "num_retracted_output_tokens_total",
        S + "cuda_graph_passes_total",
        S + "realtime_tokens_total",
        S + "per_stage_req_latency_seconds",
        S + "routing_key_*",  # gauges with `le` labels, not histograms
        S + "num_so_requests_total",
        S + "uncached_prompt_tokens_histogram",
        S + "http_*",  # HTTP-level, no model labels
        S + "func_latency_seconds",
    ),
)
