"""The drift guard: every family an engine exposes is mapped or deliberately ignored.

Real servers are checked in their own tests (llama.cpp, vLLM, Triton); here the guard itself
and every payload fixture (each built from the upstream definitions in reference/).
"""

from __future__ import annotations

import pytest
from http_upstream import fixture
from llm_exporter.collectors.inference.drift import classify, exposed_families, unknown_families
from llm_exporter.collectors.inference.engines import ENGINES, RAY_VLLM
from llm_exporter.collectors.inference.mapping import Engine

FIXTURES = {
    "vllm-v1.prom": ENGINES["vllm"],
    "vllm-v1-openmetrics.prom": ENGINES["vllm"],
    "vllm-v1-signals.prom": ENGINES["vllm"],
    "vllm-0.10.prom": ENGINES["vllm"],
    "vllm-v0.prom": ENGINES["vllm"],
    "ray-vllm.prom": RAY_VLLM,
    "sglang.prom": ENGINES["sglang"],
    "sglang-0.4.prom": ENGINES["sglang"],
    "sglang-dp.prom": ENGINES["sglang"],
    "tgi.prom": ENGINES["tgi"],
    "triton-trtllm.prom": ENGINES["triton"],
    "llamacpp.prom": ENGINES["llamacpp"],
    "llamacpp-legacy.prom": ENGINES["llamacpp"],
    "litellm.prom": ENGINES["litellm"],
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_fixture_family_is_mapped_or_ignored(name: str) -> None:
    families = classify(FIXTURES[name], fixture(name).decode())
    assert families.mapped
    assert families.unknown == ()


def test_a_renamed_family_fails_with_its_name() -> None:
    body = fixture("vllm-v1.prom").decode() + (
        "# HELP vllm:kv_cache_usage_ratio renamed upstream\n"
        "# TYPE vllm:kv_cache_usage_ratio gauge\n"
        'vllm:kv_cache_usage_ratio{engine="0",model_name="m"} 0.5\n'
        'vllm_brand_new_seconds_bucket{le="+Inf"} 1\n'  # untyped samples are a family too
    )
    assert unknown_families(ENGINES["vllm"], body) == ["vllm_brand_new_seconds_bucket", "vllm:kv_cache_usage_ratio"]


def test_created_series_and_suffixes_fold_into_their_family() -> None:
    body = (
        "# TYPE vllm:prompt_tokens counter\n"
        'vllm:prompt_tokens_total{model_name="m"} 3\n'
        "# TYPE vllm:prompt_tokens_created gauge\n"
        'vllm:prompt_tokens_created{model_name="m"} 1.7e9\n'
        "# TYPE vllm:e2e_request_latency_seconds histogram\n"
        'vllm:e2e_request_latency_seconds_bucket{le="+Inf"} 1\n'
        "vllm:e2e_request_latency_seconds_count 1\n"
        "vllm:e2e_request_latency_seconds_sum 0.5\n"
    )
    assert set(exposed_families(body).values()) == {"vllm:prompt_tokens", "vllm:e2e_request_latency_seconds"}
    assert classify(ENGINES["vllm"], body).mapped == ("vllm:e2e_request_latency_seconds", "vllm:prompt_tokens")


def test_ignored_patterns_follow_a_renamed_table() -> None:
    body = "# TYPE ray_vllm_cache_config_info gauge\nray_vllm_cache_config_info 1\n"
    assert classify(RAY_VLLM, body).ignored == ("ray_vllm_cache_config_info",)
    bare = Engine("x", (), ())
    assert unknown_families(bare, body) == ["ray_vllm_cache_config_info"]
