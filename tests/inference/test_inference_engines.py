"""Every engine fixture, read over real HTTP, normalised to exact expected values."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from http_upstream import Upstream, fixture, send
from llm_exporter.collectors.inference import InferenceCollector
from llm_exporter.config import InferenceTarget
from llm_exporter.metricset import Histogram, MetricSet
from llm_exporter.scrape import Deadline

from bench.payloads import ITL, LAT, TTFT  # vLLM V1's bucket boundaries (the benchmarks' bodies use them too)

T = "t"
M = "meta-llama/Llama-3.1-8B-Instruct"


def scrape(
    body: bytes,
    server: str,
    model: str | None = None,
    routes: dict | None = None,
    ctype: str = "text/plain; version=0.0.4; charset=utf-8",
) -> tuple[MetricSet, InferenceCollector]:
    with Upstream({"/metrics": send(200, body, ctype), **(routes or {})}) as up:
        c = InferenceCollector(InferenceTarget(name=T, url=up.url, server=server, model=model))
        out = MetricSet()
        c.collect(out, Deadline(10))
        return out, c


def v(out: MetricSet, name: str, model: str, **extra: str) -> float | Histogram | None:
    return out.get(name, {"target": T, "model": model, **extra})


def hist(out: MetricSet, name: str, model: str) -> tuple[dict[float, float], float]:
    h = v(out, name, model)
    assert isinstance(h, Histogram), f"{name} missing"
    return dict(h.buckets), h.sum


def reasons(out: MetricSet, model: str) -> dict[str, float]:
    return {
        dict(k)["finish_reason"]: val
        for k, val in out.series("llm_requests_total").items()
        if dict(k)["model"] == model
    }


def test_vllm_v1_two_engines_folded() -> None:
    out, _ = scrape(fixture("vllm-v1.prom"), "vllm")
    assert v(out, "llm_requests_running", M) == 7
    assert v(out, "llm_requests_waiting", M) == 1
    assert v(out, "llm_kv_cache_usage_ratio", M) == 0.5
    assert v(out, "llm_prompt_tokens_total", M) == 5120
    assert v(out, "llm_generation_tokens_total", M) == 1287440
    assert v(out, "llm_prefix_cache_queried_tokens_total", M) == 5000
    assert v(out, "llm_prefix_cache_hit_tokens_total", M) == 1280  # prompt_tokens_cached_total
    assert reasons(out, M) == {"stop": 32, "length": 4, "abort": 2, "error": 0, "rejected": 5}
    buckets, total = hist(out, "llm_time_to_first_token_seconds", M)
    expected = {b: min(14, i + 1) + min(28, 2 * (i + 1)) for i, b in enumerate(TTFT)}
    assert buckets == {**{float(b): float(c) for b, c in expected.items()}, math.inf: 42.0}
    assert total == 4.5
    buckets, total = hist(out, "llm_inter_token_latency_seconds", M)
    assert buckets == {**{float(b): 3.0 * (i + 1) for i, b in enumerate(ITL)}, math.inf: 300.0}
    assert total == 4.0
    buckets, total = hist(out, "llm_request_duration_seconds", M)
    assert sorted(buckets) == [*map(float, LAT), math.inf] and buckets[math.inf] == 42 and total == 40.0
    assert hist(out, "llm_time_per_output_token_seconds", M)[1] == pytest.approx(0.6)
    assert hist(out, "llm_request_queue_duration_seconds", M)[1] == 1.0
    assert out.has("llm_model_info", target=T, server="vllm", model=M)
    assert out.has("llm_target_info", target=T, kind="inference", software="vllm")


def test_vllm_openmetrics_underscore_spelling_maps_the_same() -> None:
    text, _ = scrape(fixture("vllm-v1.prom"), "vllm")
    om, _ = scrape(
        fixture("vllm-v1-openmetrics.prom"), "vllm", ctype="application/openmetrics-text; version=1.0.0; charset=utf-8"
    )
    assert "llm_requests_running" in text.names()
    assert sorted(om.names()) == sorted(text.names()), "the two formats must yield the same metric names"
    for name in text.names():
        assert om.series(name) == text.series(name), name


def test_vllm_010_deprecated_names() -> None:
    out, _ = scrape(fixture("vllm-0.10.prom"), "vllm")
    assert v(out, "llm_kv_cache_usage_ratio", "qwen") == 0.5
    assert v(out, "llm_prefix_cache_queried_tokens_total", "qwen") == 900
    assert v(out, "llm_prefix_cache_hit_tokens_total", "qwen") == 300
    assert v(out, "llm_prompt_tokens_total", "qwen") == 1000
    assert hist(out, "llm_inter_token_latency_seconds", "qwen") == ({0.01: 100, 0.025: 300, math.inf: 390}, 6.0)
    assert v(out, "llm_time_per_output_token_seconds", "qwen") is None  # not in this body: absent
    assert out.series("llm_requests_total") == {}  # no outcomes in the body: nothing faked


def test_vllm_v0_engine() -> None:
    m = "facebook/opt-125m"
    out, _ = scrape(fixture("vllm-v0.prom"), "vllm")
    assert v(out, "llm_requests_running", m) == 1
    assert v(out, "llm_kv_cache_usage_ratio", m) == 0.015
    assert v(out, "llm_prompt_tokens_total", m) == 2014348
    assert v(out, "llm_generation_tokens_total", m) == 77
    assert reasons(out, m)["stop"] == 6 and reasons(out, m)["length"] == 3
    assert hist(out, "llm_time_to_first_token_seconds", m)[0][math.inf] == 9
    assert hist(out, "llm_inter_token_latency_seconds", m) == ({0.01: 20, 0.025: 60, 2.5: 68, math.inf: 68}, 1.36)
    assert v(out, "llm_prefix_cache_hit_tokens_total", m) is None  # V0 only has a hit-rate gauge


def test_ray_serve_spelling_auto_detected() -> None:
    out, c = scrape(fixture("ray-vllm.prom"), "auto")
    assert c._detected == "ray_vllm"
    assert v(out, "llm_requests_running", "llama") == 7
    assert v(out, "llm_kv_cache_usage_ratio", "llama") == pytest.approx(0.3)
    assert v(out, "llm_prompt_tokens_total", "llama") == 350
    assert out.has("llm_target_info", software="vllm")


def test_sglang_current() -> None:
    m = "Qwen/Qwen2.5-7B-Instruct"
    out, _ = scrape(fixture("sglang.prom"), "sglang")
    assert v(out, "llm_requests_running", m) == 6
    assert v(out, "llm_requests_waiting", m) == 2
    assert v(out, "llm_kv_cache_usage_ratio", m) == 0.12
    assert v(out, "llm_prompt_tokens_total", m) == 2000
    assert v(out, "llm_generation_tokens_total", m) == 500
    assert v(out, "llm_prefix_cache_hit_tokens_total", m) == 500  # cache_source="total", not the sum of tiers
    assert reasons(out, m) == {"unknown": 20, "abort": 1}
    assert hist(out, "llm_time_to_first_token_seconds", m) == ({0.1: 3, 0.2: 9, math.inf: 20}, pytest.approx(5.4))
    assert hist(out, "llm_inter_token_latency_seconds", m) == ({0.002: 10, math.inf: 480}, 5.0)
    assert hist(out, "llm_request_queue_duration_seconds", m) == ({0.0: 3, 0.001: 9, math.inf: 20}, 0.7)


def test_sglang_04_name_label_and_old_itl() -> None:
    m = "meta-llama/Llama-3.1-8B-Instruct"
    out, _ = scrape(fixture("sglang-0.4.prom"), "sglang")
    assert v(out, "llm_requests_running", m) == 1
    assert v(out, "llm_kv_cache_usage_ratio", m) == 0.28
    assert v(out, "llm_prompt_tokens_total", m) == 8128902
    assert v(out, "llm_generation_tokens_total", m) == 7557572
    assert hist(out, "llm_inter_token_latency_seconds", m) == (
        {0.005: 1, 0.01: 73, math.inf: 7557572},
        866964.5791549598,
    )
    assert hist(out, "llm_request_duration_seconds", m) == ({0.3: 0, 60.0: 41000, math.inf: 42000}, 3116093.850019932)


def test_tgi_model_from_info_endpoint() -> None:
    m = "bigscience/bloom-560m"
    info = b'{"model_id":"bigscience/bloom-560m","max_total_tokens":2048,"version":"3.3.6"}'
    out, _ = scrape(fixture("tgi.prom"), "tgi", routes={"/info": send(200, info, "application/json")})
    assert v(out, "llm_requests_running", m) == 3
    assert v(out, "llm_requests_waiting", m) == 4
    assert v(out, "llm_prompt_tokens_total", m) == 2048
    assert v(out, "llm_generation_tokens_total", m) == 777
    assert reasons(out, m) == {"unknown": 18, "rejected": 2, "abort": 1, "error": 0}
    assert hist(out, "llm_request_duration_seconds", m) == (
        {0.00015000000000000001: 0, 0.00022500000000000002: 0, 1.7085937500000002: 10, math.inf: 18},
        40.25,
    )
    assert hist(out, "llm_request_queue_duration_seconds", m) == ({0.00015000000000000001: 5, math.inf: 18}, 0.5)
    assert hist(out, "llm_time_per_output_token_seconds", m) == ({0.0337: 15, math.inf: 18}, 0.45)
    assert v(out, "llm_time_to_first_token_seconds", m) is None
    assert out.has("llm_model_info", model=m, max_model_len="2048")
    assert out.has("llm_target_info", software="tgi", version="3.3.6")


def test_tgi_model_from_config() -> None:
    out, _ = scrape(fixture("tgi.prom"), "tgi", model="my-bloom")
    assert v(out, "llm_requests_running", "my-bloom") == 3


def test_triton_trtllm_units_and_reasons() -> None:
    m = "tensorrt_llm"
    out, _ = scrape(fixture("triton-trtllm.prom"), "triton")
    assert v(out, "llm_requests_running", m) == 5
    assert v(out, "llm_requests_waiting", m) == 2
    assert v(out, "llm_kv_cache_usage_ratio", m) == 0.3
    assert v(out, "llm_prompt_tokens_total", m) == 5120
    assert v(out, "llm_generation_tokens_total", m) == 2560
    assert reasons(out, m) == {"unknown": 40, "rejected": 3, "abort": 1, "error": 2}
    assert reasons(out, "ensemble") == {"unknown": 40, "rejected": 0, "abort": 0, "error": 0}
    assert hist(out, "llm_time_to_first_token_seconds", m) == ({0.1: 10, 0.5: 35, 2.0: 40, 5.0: 40, math.inf: 40}, 12.0)
    # µs cumulative counters -> +Inf-only histograms in seconds, count = successful requests
    buckets, total = hist(out, "llm_request_duration_seconds", m)
    assert buckets == {math.inf: 40} and total == pytest.approx(128.734)
    assert hist(out, "llm_request_queue_duration_seconds", m) == ({math.inf: 40}, pytest.approx(0.4))
    assert v(out, "llm_request_duration_seconds", "ensemble") is None


def test_llamacpp_current_token_semantics() -> None:
    out, _ = scrape(fixture("llamacpp.prom"), "llamacpp", model="smollm")
    assert v(out, "llm_prompt_tokens_total", "smollm") == 1287340 + 4096  # processed + cached
    assert v(out, "llm_prefix_cache_hit_tokens_total", "smollm") == 4096
    assert v(out, "llm_generation_tokens_total", "smollm") == 2000
    assert v(out, "llm_requests_running", "smollm") == 1
    assert v(out, "llm_requests_waiting", "smollm") == 3
    assert hist(out, "llm_inter_token_latency_seconds", "smollm") == ({math.inf: 2000}, 40.0)
    assert v(out, "llm_kv_cache_usage_ratio", "smollm") is None


def test_llamacpp_legacy_with_kv_gauges_and_model_from_api() -> None:
    models = b'{"object":"list","data":[{"id":"SmolLM2-135M-Instruct.Q4_1.gguf","object":"model"}]}'
    out, _ = scrape(
        fixture("llamacpp-legacy.prom"), "llamacpp", routes={"/v1/models": send(200, models, "application/json")}
    )
    m = "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert v(out, "llm_prompt_tokens_total", m) == 512
    assert v(out, "llm_prefix_cache_hit_tokens_total", m) is None
    assert v(out, "llm_kv_cache_usage_ratio", m) == 0.15625
    assert hist(out, "llm_inter_token_latency_seconds", m) == ({math.inf: 128}, 3.2)


def test_litellm_folds_identity_labels() -> None:
    out, _ = scrape(fixture("litellm.prom"), "litellm")
    assert v(out, "llm_prompt_tokens_total", "gpt-4o") == 2000
    assert v(out, "llm_generation_tokens_total", "gpt-4o") == 300
    assert v(out, "llm_prefix_cache_hit_tokens_total", "gpt-4o") == 256
    assert reasons(out, "gpt-4o") == {"unknown": 9, "rejected": 2, "error": 1}
    # requested_model="None" falls back to model_group
    assert hist(out, "llm_time_to_first_token_seconds", "gpt-4o") == ({0.25: 3, 0.5: 6, math.inf: 7}, 2.1)
    assert not out.has("llm_prompt_tokens_total", model="None")


def test_ollama_loaded_models() -> None:
    routes = {
        "/api/ps": send(200, fixture("ollama-ps.json"), "application/json"),
        "/api/version": send(200, fixture("ollama-version.json"), "application/json"),
    }
    with Upstream(routes) as up:
        for server in ("ollama", "auto"):
            c = InferenceCollector(InferenceTarget(name=T, url=up.url, server=server))
            out = MetricSet()
            c.collect(out, Deadline(10))
            assert v(out, "llm_model_memory_bytes", "llama3.2:3b") == 3399745536
            assert v(out, "llm_model_gpu_memory_bytes", "llama3.2:3b") == 2549809152
            assert v(out, "llm_model_gpu_memory_bytes", "nomic-embed-text:latest") == 849000000
            expiry = datetime(2026, 8, 1, 12, 4, 5, 123456, tzinfo=UTC).timestamp()
            assert v(out, "llm_model_expiry_timestamp_seconds", "llama3.2:3b") == pytest.approx(expiry)
            assert out.has(
                "llm_model_info",
                model="llama3.2:3b",
                family="llama",
                quantization_level="Q4_K_M",
                context_length="4096",
            )
            assert out.has("llm_target_info", software="ollama", version="0.12.6")
            assert v(out, "llm_requests_running", "llama3.2:3b") is None  # Ollama cannot tell: absent


@pytest.mark.parametrize(
    ("name", "software"),
    [
        ("vllm-v1.prom", "vllm"),
        ("vllm-v0.prom", "vllm"),
        ("vllm-v1-openmetrics.prom", "vllm"),
        ("sglang.prom", "sglang"),
        ("sglang-0.4.prom", "sglang"),
        ("tgi.prom", "tgi"),
        ("triton-trtllm.prom", "triton"),
        ("llamacpp.prom", "llamacpp"),
        ("llamacpp-legacy.prom", "llamacpp"),
        ("litellm.prom", "litellm"),
    ],
)
def test_auto_detection_matches_explicit_server(name: str, software: str) -> None:
    ctype = "application/openmetrics-text; version=1.0.0" if "openmetrics" in name else "text/plain"
    auto, _ = scrape(fixture(name), "auto", model="x", ctype=ctype)
    explicit, _ = scrape(fixture(name), software, model="x", ctype=ctype)
    assert auto.has("llm_target_info", software=software)
    for metric in explicit.names():
        assert auto.series(metric) == explicit.series(metric), metric


def test_openai_compatible_api_without_metrics() -> None:
    models = b'{"object":"list","data":[{"id":"gpt-x","object":"model"},{"id":"gpt-y","object":"model"}]}'
    with Upstream({"/v1/models": send(200, models, "application/json")}) as up:
        c = InferenceCollector(InferenceTarget(name=T, url=up.url + "/v1", server="auto"))
        out = MetricSet()
        c.collect(out, Deadline(10))
    assert out.has("llm_model_info", server="openai", model="gpt-x")
    assert out.has("llm_model_info", server="openai", model="gpt-y")
    assert c._detected == "openai"


def test_asks_for_text_004_and_sends_the_bearer_token() -> None:
    with Upstream({"/metrics": send(200, fixture("llamacpp.prom"))}) as up:
        c = InferenceCollector(
            InferenceTarget(name=T, url=up.url, server="llamacpp", model="m", bearer_token="tok-123")
        )
        c.collect(MetricSet(), Deadline(10))
        _, _, headers, _ = next(r for r in up.requests if r[1] == "/metrics")
    assert headers["Accept"].startswith("text/plain;version=0.0.4")
    assert headers["Authorization"] == "Bearer tok-123"
