"""LiteLLM proxy (``callbacks: ["prometheus"]``): gateway-side tokens, latency and outcomes.

Model: ``requested_model`` (what clients asked for), else ``model_group``, else ``model``;
``"None"`` values count as missing. Key/team/user labels are folded. Tokens are the
provider-reported usage (input tokens include cached ones). Outcomes come from the
proxy's ``status_code``: 2xx ``unknown`` (no stop/length split), 429 and other 4xx
``rejected``, 5xx ``error``. No queue, running or KV-cache data exists in a gateway.
"""

from __future__ import annotations

from .mapping import Engine, Rule, one, src


def status_reason(code: str) -> str:
    if code.startswith("2"):
        return "unknown"
    if code.startswith("4"):
        return "rejected"
    if code.startswith("5"):
        return "error"
    return "unknown"


LITELLM = Engine(
    server="litellm",
    model_labels=("requested_model", "model_group", "model"),
    default_port=4000,
    title="LiteLLM",
    notes={
        "llm_requests_total": "by HTTP status",
        "llm_time_to_first_token_seconds": "✓ (streaming)",
        "llm_request_queue_duration_seconds": "✓ (proxy queue)",
    },
    rules=(
        one("llm_prompt_tokens_total", "litellm_input_tokens_metric_total"),
        one("llm_generation_tokens_total", "litellm_output_tokens_metric_total"),
        one("llm_prefix_cache_hit_tokens_total", "litellm_input_cached_tokens_metric_total"),
        Rule(
            "llm_requests_total",
            ((src("litellm_proxy_total_requests_metric_total"),),),
            reason_label="status_code",
            reason_map=status_reason,
        ),
        one("llm_request_duration_seconds", "litellm_request_total_latency_metric"),
        one("llm_time_to_first_token_seconds", "litellm_llm_api_time_to_first_token_metric"),
        one("llm_request_queue_duration_seconds", "litellm_request_queue_time_seconds"),
    ),
)
