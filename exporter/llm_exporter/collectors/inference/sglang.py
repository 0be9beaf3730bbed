"""SGLang: current names and the 0.4-era ones (label ``name`` instead of ``model_name``).

Rank labels (``tp_rank``, ``dp_rank`` ...), ``engine_type``, ``is_streaming`` and
``priority`` are folded. ``sglang:prompt_tokens_total`` counts every prompt token of
finished requests (cached included); hits are ``sglang:cached_tokens_total``
(``cache_source="total"`` when split by tier). SGLang has no stop/length split: finished
requests count as ``unknown``, aborted ones as ``abort``.
"""

from __future__ import annotations

from .mapping import Engine, Rule, src

S = "sglang:"


def _one(metric: str, *names: str, agg: str = "sum") -> Rule:
    return Rule(metric, tuple((src(S + n),) for n in names), agg=agg)


SGLANG = Engine(
    server="sglang",
    model_labels=("model_name", "name"),
    default_port=30000,
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
    ),
)
