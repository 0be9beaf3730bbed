"""The signals operators miss: preemptions, request lengths, phase times, waiting reasons,
sleep state, speculative decoding, LoRA and per data-parallel engine views (payload fixtures)."""

from __future__ import annotations

import math

from http_upstream import fixture
from llm_exporter.metricset import Histogram
from test_inference_engines import T, scrape

M = "meta-llama/Llama-3.1-8B-Instruct"
Q = "Qwen/Qwen3-8B"


def get(out, name: str, model: str, **extra: str):  # type: ignore[no-untyped-def]
    return out.get(name, {"target": T, "model": model, **extra})


def hist(out, name: str, model: str) -> Histogram:  # type: ignore[no-untyped-def]
    h = get(out, name, model)
    assert isinstance(h, Histogram), f"{name} missing"
    return h


def test_vllm_preemptions_and_spec_decode_sum_over_engines() -> None:
    out, _ = scrape(fixture("vllm-v1-signals.prom"), "vllm")
    assert get(out, "llm_preemptions_total", M) == 12
    assert get(out, "llm_spec_decode_drafts_total", M) == 160
    assert get(out, "llm_spec_decode_draft_tokens_total", M) == 480
    assert get(out, "llm_spec_decode_accepted_tokens_total", M) == 300  # acceptance 300/480


def test_vllm_length_histograms_are_in_tokens_and_keep_buckets() -> None:
    out, _ = scrape(fixture("vllm-v1-signals.prom"), "vllm")
    prompt = hist(out, "llm_request_prompt_tokens", M)
    b = dict(prompt.buckets)
    assert (b[50.0], b[100.0], b[1000.0], b[math.inf]) == (3, 7, 9, 9)  # engines added bucket by bucket
    assert prompt.sum == 2550
    gen = hist(out, "llm_request_generation_tokens", M)
    assert dict(gen.buckets)[math.inf] == 9 and gen.sum == 1445


def test_vllm_phase_histograms() -> None:
    out, _ = scrape(fixture("vllm-v1-signals.prom"), "vllm")
    for metric, total in (
        ("llm_request_prefill_duration_seconds", 2.2),
        ("llm_request_decode_duration_seconds", 28.5),
        ("llm_request_inference_duration_seconds", 30.7),
    ):
        h = hist(out, metric, M)
        assert dict(h.buckets)[math.inf] == 9, metric
        assert math.isclose(h.sum, total), metric


def test_vllm_waiting_by_reason_and_sleep_state() -> None:
    out, _ = scrape(fixture("vllm-v1-signals.prom"), "vllm")
    assert get(out, "llm_requests_waiting", M) == 6
    assert get(out, "llm_requests_waiting_by_reason", M, reason="capacity") == 5
    assert get(out, "llm_requests_waiting_by_reason", M, reason="deferred") == 1
    # engine 0 awake, engine 1 offloaded: half the engines in each state
    assert get(out, "llm_engine_sleep_state", M, state="awake") == 0.5
    assert get(out, "llm_engine_sleep_state", M, state="weights_offloaded") == 0.5
    assert get(out, "llm_engine_sleep_state", M, state="discard_all") == 0


def test_vllm_lora_counts_from_the_newest_info_series() -> None:
    out, _ = scrape(fixture("vllm-v1-signals.prom"), "vllm")
    assert get(out, "llm_lora_adapters", M, state="running") == 2
    assert get(out, "llm_lora_adapters", M, state="waiting") == 3
    assert get(out, "llm_lora_adapters_max", M) == 4
    # No adapter name is a label: the series count is fixed whatever the adapters.
    assert len(out.series("llm_lora_adapters")) == 2


def test_vllm_per_engine_views_beside_the_folded_series() -> None:
    out, _ = scrape(fixture("vllm-v1-signals.prom"), "vllm")
    assert get(out, "llm_requests_running", M) == 7
    assert get(out, "llm_kv_cache_usage_ratio", M) == 0.6  # mean of 0.9 and 0.3
    assert get(out, "llm_engine_requests_running", M, engine="0") == 3
    assert get(out, "llm_engine_requests_running", M, engine="1") == 4
    assert get(out, "llm_engine_requests_waiting", M, engine="0") == 5
    assert get(out, "llm_engine_kv_cache_usage_ratio", M, engine="0") == 0.9
    assert get(out, "llm_engine_kv_cache_usage_ratio", M, engine="1") == 0.3


def test_vllm_v0_has_no_engine_label_so_no_per_engine_view() -> None:
    out, _ = scrape(fixture("vllm-v0.prom"), "vllm")
    assert out.series("llm_requests_running")
    assert out.series("llm_engine_requests_running") == {}


def test_sglang_retractions_lengths_and_dp_ranks() -> None:
    out, _ = scrape(fixture("sglang-dp.prom"), "sglang")
    assert get(out, "llm_preemptions_total", Q) == 10
    assert get(out, "llm_requests_running", Q) == 8
    assert get(out, "llm_kv_cache_usage_ratio", Q) == 0.5
    assert get(out, "llm_engine_requests_running", Q, engine="0") == 6
    assert get(out, "llm_engine_requests_waiting", Q, engine="0") == 3
    assert get(out, "llm_engine_kv_cache_usage_ratio", Q, engine="1") == 0.2
    prompt = hist(out, "llm_request_prompt_tokens", Q)
    assert dict(prompt.buckets)[300.0] == 3 and dict(prompt.buckets)[math.inf] == 4 and prompt.sum == 2380
    assert hist(out, "llm_request_generation_tokens", Q).sum == 1264


def test_tgi_lengths_and_inference_time_keep_the_token_counters() -> None:
    out, _ = scrape(fixture("tgi.prom"), "tgi", model="m")
    prompt = hist(out, "llm_request_prompt_tokens", "m")
    assert dict(prompt.buckets) == {40.96: 3, math.inf: 20} and prompt.sum == 2048
    assert get(out, "llm_prompt_tokens_total", "m") == 2048  # the same _sum read as a counter too
    assert hist(out, "llm_request_generation_tokens", "m").sum == 777
    assert get(out, "llm_generation_tokens_total", "m") == 777
    inf = hist(out, "llm_request_inference_duration_seconds", "m")
    assert dict(inf.buckets)[math.inf] == 18 and inf.sum == 21.5


def test_llamacpp_spec_decode_counters() -> None:
    """Current llama-server builds expose spec-decode counters (the real server's drift guard found them)."""
    out, _ = scrape(fixture("llamacpp.prom"), "llamacpp", model="m")
    assert get(out, "llm_spec_decode_drafts_total", "m") == 200
    assert get(out, "llm_spec_decode_draft_tokens_total", "m") == 800
    assert get(out, "llm_spec_decode_accepted_tokens_total", "m") == 600
