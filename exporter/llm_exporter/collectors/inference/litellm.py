"""LiteLLM proxy (``callbacks: ["prometheus"]``): gateway-side tokens, latency and outcomes.

Model: ``requested_model`` (what clients asked for), else ``model_group``, else ``model``;
``"None"`` values count as missing. Key/team/user labels are folded (``agents:`` of the
target turns one of them into the ``llm_agent_*`` view, ``litellm_agents.py``). Tokens are
the provider-reported usage (input tokens include cached ones). Outcomes come from the
proxy's ``status_code``: 2xx ``unknown`` (no stop/length split), 429 and other 4xx
``rejected``, 5xx ``error``. The proxy counts an unauthenticated read of its own
``/metrics`` or ``/health/*`` as a failed request: those series are dropped. No queue, running or KV-cache
data exists in a gateway. Checked against the real proxy (litellm 1.108.7) by
tests/inference/test_inference_litellm_real.py, drift guard included.
"""

from __future__ import annotations

from ...promtext import Snapshot, canonical
from .mapping import PYTHON_RUNTIME, Engine, Rule, one, src

REQUESTS = "litellm_proxy_total_requests_metric_total"


def status_reason(code: str) -> str:
    if code.startswith("2"):
        return "unknown"
    if code.startswith("4"):
        return "rejected"
    if code.startswith("5"):
        return "error"
    return "unknown"


NOT_REQUESTS = ("/metrics", "/health")  # routes the exporter reads: never LLM traffic


def drop_own_scrapes(snap: Snapshot) -> None:
    """Remove the request-counter series of the proxy's ``/metrics`` and ``/health`` routes from ``snap``."""
    key = canonical(REQUESTS)
    series = snap.scalars.get(key)
    if series:
        snap.scalars[key] = {k: v for k, v in series.items() if not dict(k).get("route", "").startswith(NOT_REQUESTS)}


LITELLM = Engine(
    server="litellm",
    model_labels=("requested_model", "model_group", "model"),
    default_port=4000,
    title="LiteLLM",
    proof="real proxy (litellm[proxy] 1.108.7 in front of llama-server)",
    notes={
        "llm_requests_total": "by HTTP status",
        "llm_time_to_first_token_seconds": "✓ (streaming)",
        "llm_request_queue_duration_seconds": "✓ (proxy queue)",
        "llm_time_per_output_token_seconds": "≈ upstream latency / output tokens",
    },
    version_path="/health/readiness/details",
    version_key="litellm_version",
    rules=(
        one("llm_prompt_tokens_total", "litellm_input_tokens_metric_total"),
        one("llm_generation_tokens_total", "litellm_output_tokens_metric_total"),
        one("llm_prefix_cache_hit_tokens_total", "litellm_input_cached_tokens_metric_total"),
        Rule("llm_requests_total", ((src(REQUESTS),),), reason_label="status_code", reason_map=status_reason),
        one("llm_request_duration_seconds", "litellm_request_total_latency_metric"),
        one("llm_time_to_first_token_seconds", "litellm_llm_api_time_to_first_token_metric"),
        # Upstream call latency / output tokens, per request (TTFT included), seconds.
        one("llm_time_per_output_token_seconds", "litellm_deployment_latency_per_output_token"),
        one("llm_request_queue_duration_seconds", "litellm_request_queue_time_seconds"),
    ),
    ignored=(
        *PYTHON_RUNTIME,
        # Read by the per-agent view only (agents: on the target).
        "litellm_spend_metric_total",
        # Totals and details already covered, or deprecated spellings of mapped families.
        "litellm_total_tokens_metric_total",  # input + output
        "litellm_proxy_failed_requests_metric_total",  # the non-2xx part of proxy_total_requests
        "litellm_requests_metric_total",  # deprecated
        "litellm_llm_api_failed_requests_metric_total",  # deprecated
        "litellm_llm_api_latency_metric",  # upstream part of the mapped proxy end-to-end latency
        "litellm_overhead_latency_metric",  # proxy overhead, milliseconds
        "litellm_overhead_with_guardrails_latency_metric",
        "litellm_in_flight_requests",  # no model label
        "litellm_input_cache_creation_tokens_metric_total",
        "litellm_input_audio_tokens_metric_total",
        "litellm_output_reasoning_tokens_metric_total",
        "litellm_output_audio_tokens_metric_total",
        "litellm_provider_cache_read_input_tokens_metric_total",  # = input_cached_tokens for most providers
        "litellm_provider_cache_creation_input_tokens_metric_total",
        "litellm_video_duration_seconds_metric_total",
        "litellm_images_generated_metric_total",
        # LiteLLM's own response cache (not the engine's prefix cache).
        "litellm_cache_hits_metric_total",
        "litellm_cache_misses_metric_total",
        "litellm_cached_tokens_metric_total",
        # Router and deployment health (per upstream deployment, not per served model).
        "litellm_deployment_state",
        "litellm_deployment_tpm_limit",
        "litellm_deployment_rpm_limit",
        "litellm_deployment_cooled_down_total",
        "litellm_deployment_success_responses_total",
        "litellm_deployment_failure_responses_total",
        "litellm_deployment_total_requests_total",
        "litellm_deployment_successful_fallbacks_total",
        "litellm_deployment_failed_fallbacks_total",
        "litellm_remaining_requests_metric",  # upstream x-ratelimit headers
        "litellm_remaining_tokens_metric",
        # Budgets, rate limits and counts of keys, users, teams, orgs, customers (database-backed).
        "litellm_remaining_team_budget_metric",
        "litellm_team_max_budget_metric",
        "litellm_team_budget_remaining_hours_metric",
        "litellm_team_members_metric",
        "litellm_remaining_org_budget_metric",
        "litellm_org_max_budget_metric",
        "litellm_org_budget_remaining_hours_metric",
        "litellm_remaining_api_key_budget_metric",
        "litellm_api_key_max_budget_metric",
        "litellm_api_key_budget_remaining_hours_metric",
        "litellm_remaining_user_budget_metric",
        "litellm_user_max_budget_metric",
        "litellm_user_budget_remaining_hours_metric",
        "litellm_remaining_customer_budget_metric",
        "litellm_customer_max_budget_metric",
        "litellm_customer_budget_remaining_hours_metric",
        "litellm_remaining_api_key_requests_for_model",
        "litellm_remaining_api_key_tokens_for_model",
        "litellm_api_key_rate_limit_allowed_metric",
        "litellm_api_key_rate_limit_used_metric",
        "litellm_team_rate_limit_allowed_metric",
        "litellm_team_rate_limit_used_metric",
        "litellm_project_model_rate_limit_allowed_metric",
        "litellm_project_model_rate_limit_used_metric",
        "litellm_provider_remaining_budget_metric",
        "litellm_total_users",
        "litellm_active_users",
        "litellm_teams_count",
        # Guardrails, MCP tools, managed batches and files, cost bookkeeping, logging callbacks.
        "litellm_guardrail_latency_seconds",
        "litellm_guardrail_errors_total",
        "litellm_guardrail_requests_total",
        "litellm_mcp_tool_calls_total",
        "litellm_mcp_tool_call_spend_metric_total",
        "litellm_managed_batch_created_total",
        "litellm_managed_batch_duration_seconds",
        "litellm_managed_file_size_bytes",
        "litellm_managed_file_created_total",
        "litellm_managed_file_deleted_total",
        "litellm_check_batch_cost_jobs_polled",
        "litellm_check_batch_cost_jobs_processed_total",
        "litellm_check_batch_cost_errors_total",
        "litellm_check_batch_cost_last_run_timestamp",
        "litellm_zero_cost_requests_total",
        "litellm_spend_capture_rate",
        "litellm_callback_logging_failures_metric_total",
    ),
)
