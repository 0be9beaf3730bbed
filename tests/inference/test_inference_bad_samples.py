"""Non-finite, negative and out-of-range upstream samples (issue 10 items 1-2), over real sockets.

An exported counter is finite and never decreases; a bad upstream sample is dropped for that
scrape, logged once per target and family, and counted in
``llm_upstream_rejected_samples_total{target,reason}``; the next valid sample continues the series.
"""

from __future__ import annotations

import logging
import math

import pytest
from http_upstream import Upstream, send
from llm_exporter.collectors.inference import InferenceCollector
from llm_exporter.config import InferenceTarget
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline
from prometheus_client.exposition import generate_latest

M = {"target": "t", "model": "m"}


def _scrapes(bodies: list[bytes]) -> list[MetricSet]:
    outs = []
    with Upstream({"/metrics": send(200, bodies[0])}) as up:
        c = InferenceCollector(InferenceTarget(name="t", url=up.url, server="vllm"))
        for body in bodies:
            up.routes["/metrics"] = send(200, body)
            out = MetricSet()
            c.collect(out, Deadline(5))
            generate_latest(out)  # renders
            outs.append(out)
    return outs


def _rejected(out: MetricSet, reason: str) -> float | None:
    v = out.get("llm_upstream_rejected_samples_total", {"target": "t", "reason": reason})
    assert v is None or isinstance(v, float)
    return v


def _gen(value: str) -> bytes:
    return b'vllm:generation_tokens_total{engine="0",model_name="m"} %s\n' % value.encode()


def test_infinite_counter_sample_is_dropped_and_the_series_continues(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    values = ["500", "+Inf", "600", "+Inf", "-Inf", "700", "NaN", "800"]
    outs = _scrapes([_gen(v) for v in values])
    seen = [out.get("llm_generation_tokens_total", M) for out in outs]
    assert seen == [500, 500, 600, 600, 600, 700, 700, 800]
    assert _rejected(outs[-1], "inf") == 3
    assert _rejected(outs[-1], "nan") == 1
    assert _rejected(outs[0], "inf") == 0  # exported from the first scrape
    logged = [r.getMessage() for r in caplog.records if "dropped an upstream" in r.getMessage()]
    assert len(logged) == 2, logged  # once per family and reason, not per scrape
    assert all("vllm_generation_tokens_total" in m for m in logged)


def test_first_sample_infinite_leaves_the_series_absent_until_a_valid_one() -> None:
    outs = _scrapes([_gen("+Inf"), _gen("42")])
    assert outs[0].get("llm_generation_tokens_total", M) is None
    assert outs[1].get("llm_generation_tokens_total", M) == 42


def test_negative_counter_is_not_taken_as_a_reset() -> None:
    def body(stop: str) -> bytes:
        return (
            b'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} %s\n'
            b'vllm:request_success_total{engine="0",finished_reason="length",model_name="m"} 3\n' % stop.encode()
        )

    outs = _scrapes([body("13"), body("-5"), body("15"), body("2")])  # the last one is a real reset
    stop = [out.get("llm_requests_total", {**M, "finish_reason": "stop"}) for out in outs]
    assert stop == [13, 13, 15, 17]
    assert [_rejected(o, "negative") for o in outs] == [0, 1, 1, 1]


def test_bad_gauges_are_dropped_and_counted() -> None:
    def body(kv: str, running: str) -> bytes:
        return (
            b'vllm:kv_cache_usage_perc{engine="0",model_name="m"} %s\n'
            b'vllm:num_requests_running{engine="0",model_name="m"} %s\n' % (kv.encode(), running.encode())
        )

    outs = _scrapes([body("-Inf", "+Inf"), body("1.7", "NaN"), body("-0.2", "3"), body("0.5", "4")])
    kv = [out.get("llm_kv_cache_usage_ratio", M) for out in outs]
    running = [out.get("llm_requests_running", M) for out in outs]
    assert kv == [None, None, None, 0.5]
    assert running == [None, None, 3, 4]
    assert _rejected(outs[-1], "inf") == 2
    assert _rejected(outs[-1], "nan") == 1
    assert _rejected(outs[-1], "out_of_range") == 2


def test_bad_histogram_samples_never_reach_the_export() -> None:
    def body(inf_bucket: str, total: str) -> bytes:
        return (
            b'vllm:e2e_request_latency_seconds_bucket{engine="0",le="1.0",model_name="m"} 1\n'
            b'vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="m"} %s\n'
            b'vllm:e2e_request_latency_seconds_sum{engine="0",model_name="m"} %s\n'
            b'vllm:e2e_request_latency_seconds_count{engine="0",model_name="m"} %s\n'
            % (inf_bucket.encode(), total.encode(), inf_bucket.encode())
        )

    outs = _scrapes([body("2", "3.5"), body("+Inf", "4"), body("3", "NaN"), body("4", "-1"), body("5", "6")])
    hists = [out.get("llm_request_duration_seconds", M) for out in outs]
    present = [h for h in hists if h is not None]
    assert [h.count for h in present] == [2, 5]  # type: ignore[union-attr]
    assert all(math.isfinite(h.sum) for h in present)  # type: ignore[union-attr]
    assert _rejected(outs[-1], "inf") == 1 and _rejected(outs[-1], "nan") == 1
    assert _rejected(outs[-1], "negative") == 1
