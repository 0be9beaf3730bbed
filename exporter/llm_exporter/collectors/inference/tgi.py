"""Hugging Face TGI: Rust ``metrics-exporter-prometheus`` names (no ``_total``, no model label).

The model comes from the config's ``model`` or ``GET /info`` (``model_id``). Tokens are
the sums of the per-request histograms ``tgi_request_input_length`` and
``tgi_request_generated_tokens`` (counted at validation / completion). TGI has no TTFT
and no prefix-cache metrics. Successes have no stop/length split (``unknown``);
failures map by ``err``.
"""

from __future__ import annotations

from .mapping import Engine, Rule, one, src

ERRORS = {
    "validation": "rejected",
    "overloaded": "rejected",
    "template": "rejected",
    "dropped": "abort",
    "generation": "error",
    "incomplete": "error",
}


TGI = Engine(
    server="tgi",
    model_labels=(),
    default_port=3000,
    title="TGI",
    notes={
        "llm_requests_running": "✓ `tgi_batch_current_size`",
        "llm_requests_waiting": "✓ `tgi_queue_size`",
        "llm_prompt_tokens_total": "≈ input-length histogram sum",
        "llm_generation_tokens_total": "≈ generated-tokens histogram sum",
        "llm_requests_total": "unknown/rejected/abort/error",
        "llm_request_prompt_tokens": "✓ `tgi_request_input_length`",
        "llm_request_generation_tokens": "✓ `tgi_request_generated_tokens`",
        "llm_request_inference_duration_seconds": "✓ batch entry → done",
    },
    version_path="/info",
    models_path="/info",
    rules=(
        one("llm_requests_running", "tgi_batch_current_size"),
        one("llm_requests_waiting", "tgi_queue_size"),
        one("llm_prompt_tokens_total", "tgi_request_input_length_sum"),
        one("llm_generation_tokens_total", "tgi_request_generated_tokens_sum"),
        Rule("llm_requests_total", ((src("tgi_request_success"),),), reason="unknown"),
        Rule("llm_requests_total", ((src("tgi_request_failure"),),), reason_label="err", reason_map=ERRORS),
        one("llm_request_duration_seconds", "tgi_request_duration"),
        one("llm_time_per_output_token_seconds", "tgi_request_mean_time_per_token_duration"),
        one("llm_request_queue_duration_seconds", "tgi_request_queue_duration"),
        one("llm_request_prompt_tokens", "tgi_request_input_length"),
        one("llm_request_generation_tokens", "tgi_request_generated_tokens"),
        one("llm_request_inference_duration_seconds", "tgi_request_inference_duration"),
    ),
    ignored=(
        "tgi_request_count",  # received; finished requests are success + failure
        "tgi_batch_current_max_tokens",
        "tgi_batch_inference_*",
        "tgi_batch_concat*",
        "tgi_batch_next_size",
        "tgi_batch_forward_duration",
        "tgi_batch_decode_duration",
        "tgi_batch_filter_duration",
        "tgi_request_validation_duration",
        "tgi_request_max_new_tokens",
        "tgi_request_skipped_tokens",
    ),
)
