"""MetricSet enforces the catalog and renders valid families."""

from __future__ import annotations

import math

import pytest
from llm_exporter.metricset import CatalogViolation, MetricSet
from prometheus_client.exposition import generate_latest


def test_unknown_metric_is_refused() -> None:
    with pytest.raises(CatalogViolation, match="not in the catalog"):
        MetricSet().add("vllm:num_requests_running", 1)


def test_wrong_labels_are_refused() -> None:
    ms = MetricSet()
    with pytest.raises(CatalogViolation, match="missing labels"):
        ms.add("llm_target_up", 1, {})
    with pytest.raises(CatalogViolation, match="not in the catalog"):
        ms.add("llm_target_up", 1, {"target": "a", "instance": "x"})


def test_info_metrics_take_extra_identity_labels() -> None:
    ms = MetricSet()
    ms.add("llm_model_info", 1, {"target": "a", "server": "vllm", "model": "m", "max_model_len": "4096"})
    text = generate_latest(ms).decode()  # type: ignore[arg-type]
    assert 'llm_model_info{max_model_len="4096",model="m",server="vllm",target="a"} 1.0' in text


def test_duplicate_series_exported_once_last_wins() -> None:
    ms = MetricSet()
    ms.add("llm_target_up", 0, {"target": "a"})
    ms.add("llm_target_up", 1, {"target": "a"})
    text = generate_latest(ms).decode()  # type: ignore[arg-type]
    assert text.count('llm_target_up{target="a"}') == 1
    assert 'llm_target_up{target="a"} 1.0' in text


def test_none_is_absent_not_zero() -> None:
    ms = MetricSet()
    ms.add("llm_queue_oldest_ready_age_seconds", None, {"backend": "redis", "target": "t", "queue": "q", "group": ""})
    assert len(ms) == 0


def test_histogram_rendering_and_validation() -> None:
    ms = MetricSet()
    labels = {"target": "a", "model": "m"}
    ms.add_histogram("llm_time_to_first_token_seconds", labels, [(math.inf, 4), (0.1, 1), (1.0, 3)], 2.5)
    text = generate_latest(ms).decode()  # type: ignore[arg-type]
    assert 'llm_time_to_first_token_seconds_bucket{le="0.1",model="m",target="a"} 1.0' in text
    assert 'llm_time_to_first_token_seconds_bucket{le="+Inf",model="m",target="a"} 4.0' in text
    assert 'llm_time_to_first_token_seconds_count{model="m",target="a"} 4.0' in text
    assert 'llm_time_to_first_token_seconds_sum{model="m",target="a"} 2.5' in text
    with pytest.raises(ValueError, match=r"\+Inf"):
        ms.add_histogram("llm_time_to_first_token_seconds", labels, [(1.0, 3)], 1)
    with pytest.raises(CatalogViolation):
        ms.add("llm_time_to_first_token_seconds", 1, labels)


def test_counter_keeps_total_suffix() -> None:
    ms = MetricSet()
    ms.add("llm_prompt_tokens_total", 7, {"target": "a", "model": "m"})
    text = generate_latest(ms).decode()  # type: ignore[arg-type]
    assert "# TYPE llm_prompt_tokens_total counter" in text
    assert 'llm_prompt_tokens_total{model="m",target="a"} 7.0' in text


def test_histogram_from_columns_equals_histogram_from_pairs() -> None:
    """``add_histogram_columns`` stores what ``add_histogram`` stores, sorting bounds given out of order."""
    pairs = [(0.5, 1.0), (1.0, 3.0), (math.inf, 4.0)]
    for bounds, counts in [((0.5, 1.0, math.inf), (1.0, 3.0, 4.0)), ((1.0, 0.5, math.inf), (3.0, 1.0, 4.0))]:
        a, b = MetricSet(), MetricSet()
        a.add_histogram("llm_request_duration_seconds", {"model": "m", "target": "t"}, pairs, 2.5)
        b.add_histogram_columns("llm_request_duration_seconds", (("target", "t"), ("model", "m")), bounds, counts, 2.5)
        assert a.series("llm_request_duration_seconds") == b.series("llm_request_duration_seconds")
    with pytest.raises(ValueError):
        MetricSet().add_histogram_columns(
            "llm_request_duration_seconds", (("target", "t"), ("model", "m")), (1.0,), (1.0,), 0
        )
    with pytest.raises(CatalogViolation):
        MetricSet().add_key("llm_requests_running", (("target", "t"),), 1.0)


def test_label_pairs_in_another_order_are_put_in_catalog_order() -> None:
    ms = MetricSet()
    ms.add_key("llm_requests_running", (("model", "m"), ("target", "t")), 2.0)
    assert list(ms.series("llm_requests_running")) == [(("target", "t"), ("model", "m"))]
    assert ms.get("llm_requests_running", {"target": "t", "model": "m"}) == 2.0
