"""NVIDIA Triton (+ TensorRT-LLM backend), prometheus-cpp names on the metrics port 8002.

``model`` is Triton's model name (``ensemble``, ``tensorrt_llm`` ...). Cumulative
microsecond counters become histograms with only the +Inf bucket (sum in seconds, count
= successful requests), so ``rate(_sum)/rate(_count)`` is the mean. The optional
``nv_inference_first_response_histogram_ms`` (``histogram_latencies=true``) is TTFT in
ms, scaled to seconds. Failure ``reason`` maps to ``finish_reason`` (no label: error).
"""

from __future__ import annotations

from .mapping import Engine, Rule, SumCountRule, src

REASONS = {"REJECTED": "rejected", "CANCELED": "abort", "BACKEND": "error", "OTHER": "error", "": "error"}

TRITON = Engine(
    server="triton",
    model_labels=("model",),
    default_port=8002,
    title="Triton + TRT-LLM",
    proof="real server for the Triton core `nv_inference_*` families (PyTriton 0.7, Triton 2.51); "
    "TensorRT-LLM families on payloads only",
    notes={
        "llm_requests_running": "✓ TRT-LLM `scheduled`",
        "llm_requests_waiting": "✓ TRT-LLM `waiting`, else pending count",
        "llm_kv_cache_usage_ratio": "✓ TRT-LLM `fraction`",
        "llm_prompt_tokens_total": "✓ TRT-LLM input-length sum",
        "llm_generation_tokens_total": "✓ TRT-LLM output-length sum",
        "llm_requests_total": "unknown/rejected/abort/error",
        "llm_request_duration_seconds": "≈ +Inf only (µs counters)",
        "llm_time_to_first_token_seconds": "✓ if `histogram_latencies=true` (ms→s)",
        "llm_request_queue_duration_seconds": "≈ +Inf only (µs counters)",
        "llm_request_prompt_tokens": "✓ TRT-LLM input-length histogram",
        "llm_request_generation_tokens": "✓ TRT-LLM output-length histogram",
    },
    rules=(
        Rule("llm_requests_running", ((src("nv_trt_llm_request_metrics", request_type="scheduled"),),)),
        Rule(
            "llm_requests_waiting",
            (
                (src("nv_trt_llm_request_metrics", request_type="waiting"),),
                (src("nv_inference_pending_request_count"),),
            ),
        ),
        Rule(
            "llm_kv_cache_usage_ratio",
            ((src("nv_trt_llm_kv_cache_block_metrics", kv_cache_block_type="fraction"),),),
            agg="mean",
        ),
        Rule("llm_prompt_tokens_total", ((src("nv_llm_input_token_len_sum"),),)),
        Rule("llm_generation_tokens_total", ((src("nv_llm_output_token_len_sum"),),)),
        Rule("llm_request_prompt_tokens", ((src("nv_llm_input_token_len"),),)),
        Rule("llm_request_generation_tokens", ((src("nv_llm_output_token_len"),),)),
        Rule("llm_requests_total", ((src("nv_inference_request_success"),),), reason="unknown"),
        Rule(
            "llm_requests_total", ((src("nv_inference_request_failure"),),), reason_label="reason", reason_map=REASONS
        ),
        Rule("llm_time_to_first_token_seconds", ((src("nv_inference_first_response_histogram_ms", 0.001),),)),
        SumCountRule(
            "llm_request_duration_seconds",
            src("nv_inference_request_duration_us", 1e-6),
            (src("nv_inference_request_success"),),
        ),
        SumCountRule(
            "llm_request_queue_duration_seconds",
            src("nv_inference_queue_duration_us", 1e-6),
            (src("nv_inference_request_success"),),
        ),
    ),
    ignored=(
        "nv_inference_count",  # inferences (a batch of n counts n): requests are the success/failure counters
        "nv_inference_exec_count",  # executions (batches)
        "nv_inference_compute_*_duration_us",  # compute phases inside the request duration
        "nv_inference_*_summary_us",  # optional summaries of the same µs durations
        "nv_model_load_duration_secs",
        "nv_cache_*",  # response cache
        "nv_pinned_memory_pool_*",
        "nv_gpu_*",  # GPU data comes from NVML (the gpu collector)
        "nv_energy_consumption",
        "nv_cpu_*",
        "nv_trt_llm_runtime_memory_metrics",
        "nv_trt_llm_disaggregated_serving_metrics",
        "nv_trt_llm_inflight_batcher_metrics",
        "nv_trt_llm_v1_metrics",
        "nv_trt_llm_general_metrics",
    ),
)
