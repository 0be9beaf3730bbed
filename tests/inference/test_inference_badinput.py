"""Broken upstreams (real local HTTP servers that misbehave): the target goes down, the rest is served."""

from __future__ import annotations

import logging
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest
from http_upstream import Upstream, fixture, send, slow, streamed, truncated
from llm_exporter.collectors.inference import InferenceCollector
from llm_exporter.config import InferenceTarget
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline, ScrapeEngine
from support import free_port

M = "meta-llama/Llama-3.1-8B-Instruct"
GOOD = fixture("vllm-v1.prom")


def _big_body(total: int) -> Iterator[bytes]:
    line = b'vllm:num_requests_running{engine="0",model_name="m"} 1.0\n'
    chunk = line * (65536 // len(line))
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)


def _many_series(n: int) -> Iterator[bytes]:
    batch = []
    for i in range(n):
        batch.append(b'vllm:num_requests_running{engine="%d",model_name="m"} 1\n' % i)
        if len(batch) == 2000:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)


def _zeros(total: int) -> Iterator[bytes]:
    block = b"0" * 65536
    for _ in range(total // len(block)):
        yield block


def _gzip_bomb(total: int) -> bytes:
    """``total`` bytes of '0' (no newline) gzip-compressed to about 1/1000 of that."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"0" * (1 << 20)
    return b"".join([*(z.compress(block) for _ in range(total >> 20)), z.flush()])


BAD = {
    "http500": send(500, b"Internal Server Error", "text/plain"),
    "html": send(200, b"<!DOCTYPE html><html><body>Bad gateway</body></html>\n", "text/html"),
    "html_as_text": send(200, b"<!DOCTYPE html>\n<html><body>oops</body></html>\n", "text/plain"),
    "truncated": truncated(GOOD[:5000], len(GOOD)),
    "truncated_openmetrics": send(
        200,
        fixture("vllm-v1-openmetrics.prom").replace(b"# EOF\n", b"")[:-300],
        "application/openmetrics-text; version=1.0.0",
    ),
    "big": streamed(lambda: _big_body(50 * 1024 * 1024)),
    "big_announced": streamed(lambda: _big_body(50 * 1024 * 1024), announce_length=50 * 1024 * 1024),
    "millions": streamed(lambda: _many_series(2_000_000)),
    "utf8": send(200, GOOD[:3000] + b'vllm:num_requests_running{model_name="\xff\xfe"} 1\n'),
    "slow": slow(3.0, GOOD),
    "no_newlines": streamed(lambda: _zeros(30 * 1024 * 1024)),
    "gzip_bomb": send(200, _gzip_bomb(256 * 1024 * 1024), headers={"Content-Encoding": "gzip"}),
}

REASONS = {
    "http500": "HTTP 500",
    "html": "text/html, not Prometheus text",
    "html_as_text": "an HTML page",
    "truncated": "truncated body",
    "truncated_openmetrics": "without '# EOF'",
    "big": "larger than 4194304 bytes",
    "big_announced": "more than the limit",
    "millions": "more than 20000 samples",
    "utf8": "invalid UTF-8",
    "slow": "timeout",
    "no_newlines": "longer than 65536",
    "gzip_bomb": "longer than 65536",
}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    routes = {"/good/metrics": send(200, GOOD)}
    routes.update({f"/{k}/metrics": r for k, r in BAD.items()})
    with Upstream(routes) as up:
        yield up


def _engine(upstream: Upstream, bad_url: str, timeout: float = 1.0, **limits: int) -> ScrapeEngine:
    good = InferenceCollector(InferenceTarget(name="good", url=upstream.url + "/good", server="vllm"))
    bad = InferenceCollector(InferenceTarget(name="bad", url=bad_url, server="vllm", timeout=timeout, **limits))
    return ScrapeEngine([good, bad], min_interval=0.0)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_upstream_marks_only_its_target_down(
    upstream: Upstream, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Small limits keep the test quick; the defaults are 32 MiB and 200,000 samples.
    limits = (
        {"max_samples": 20_000, "max_body_bytes": 1 << 30}
        if case == "millions"
        else {"max_body_bytes": 4 * 1024 * 1024}
    )
    # The target's timeout bounds the whole call: 1 s for "slow" (3 s late), room for the big bodies.
    engine = _engine(upstream, f"{upstream.url}/{case}", timeout=1.0 if case == "slow" else 8.0, **limits)
    caplog.set_level(logging.WARNING, logger="llm_exporter.scrape")
    tracemalloc.start()
    try:
        first = engine.scrape(timeout=8.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    second = engine.scrape(timeout=8.0)
    for out in (first, second):
        assert out.get("llm_target_up", {"target": "bad"}) == 0.0
        assert out.get("llm_target_up", {"target": "good"}) == 1.0
        assert out.get("llm_requests_running", {"target": "good", "model": M}) == 7
        assert not out.has("llm_requests_running", target="bad")  # partial output dropped
        assert out.get("llm_scrape_collector_success", {"collector": "inference"}) == 1.0
    downs = [r for r in caplog.records if "target bad is down" in r.getMessage()]
    assert len(downs) == 1, [r.getMessage() for r in caplog.records]  # once per state change
    assert REASONS[case] in downs[0].getMessage()
    assert peak < 16 * 1024 * 1024, f"peak memory {peak} bytes while reading {case}"


def test_connection_refused(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    with Upstream({"/metrics": send(200, GOOD)}) as up:
        good = InferenceCollector(InferenceTarget(name="good", url=up.url, server="vllm"))
        bad = InferenceCollector(InferenceTarget(name="bad", url=f"http://127.0.0.1:{port}", server="auto"))
        engine = ScrapeEngine([good, bad], min_interval=0.0)
        caplog.set_level(logging.WARNING, logger="llm_exporter.scrape")
        for _ in range(3):
            out = engine.scrape(timeout=5.0)
            assert out.get("llm_target_up", {"target": "bad"}) == 0.0
            assert out.get("llm_target_up", {"target": "good"}) == 1.0
    downs = [r.getMessage() for r in caplog.records if "target bad is down" in r.getMessage()]
    assert len(downs) == 1 and "connection refused" in downs[0]


def test_recovery_is_logged_and_target_comes_back(caplog: pytest.LogCaptureFixture) -> None:
    with Upstream({"/metrics": send(500, b"boom")}) as up:
        c = InferenceCollector(InferenceTarget(name="flaky", url=up.url, server="vllm"))
        engine = ScrapeEngine([c], min_interval=0.0)
        caplog.set_level(logging.INFO, logger="llm_exporter.scrape")
        assert engine.scrape(5.0).get("llm_target_up", {"target": "flaky"}) == 0.0
        up.routes["/metrics"] = send(200, GOOD)
        out = engine.scrape(5.0)
        assert out.get("llm_target_up", {"target": "flaky"}) == 1.0
        assert out.get("llm_prompt_tokens_total", {"target": "flaky", "model": M}) == 5120
    assert any("recovered" in r.getMessage() for r in caplog.records)


def test_duplicate_series_keep_first_value_and_warn(caplog: pytest.LogCaptureFixture) -> None:
    body = (
        b'vllm:num_requests_running{engine="0",model_name="m"} 2\n'
        b'vllm:num_requests_running{engine="0",model_name="m"} 9\n'
        b'vllm:prompt_tokens_total{engine="0",model_name="m"} 10\n'
        b'vllm:prompt_tokens_total{model_name="m",engine="0"} 99\n'
    )
    caplog.set_level(logging.WARNING)
    with Upstream({"/metrics": send(200, body)}) as up:
        c = InferenceCollector(InferenceTarget(name="dup", url=up.url, server="vllm"))
        for _ in range(2):
            out = MetricSet()
            c.collect(out, Deadline(5))
            assert out.get("llm_requests_running", {"target": "dup", "model": "m"}) == 2
            assert out.get("llm_prompt_tokens_total", {"target": "dup", "model": "m"}) == 10
    warnings = [r.getMessage() for r in caplog.records if "duplicate series" in r.getMessage()]
    assert warnings == ["target dup: 2 duplicate series in the body (first value kept)"]


def test_counters_going_backwards_stay_monotonic() -> None:
    """An engine restart resets its counters; the folded export must never go down."""

    def body(e0: int, e1: int) -> bytes:
        return (
            b'vllm:generation_tokens_total{engine="0",model_name="m"} %d\n'
            b'vllm:generation_tokens_total{engine="1",model_name="m"} %d\n'
            b'vllm:e2e_request_latency_seconds_bucket{engine="0",le="1.0",model_name="m"} %d\n'
            b'vllm:e2e_request_latency_seconds_bucket{engine="0",le="+Inf",model_name="m"} %d\n'
            b'vllm:e2e_request_latency_seconds_sum{engine="0",model_name="m"} %d\n'
            b'vllm:e2e_request_latency_seconds_count{engine="0",model_name="m"} %d\n' % (e0, e1, e0, e0, e0, e0)
        )

    seen = []
    with Upstream({"/metrics": send(200, body(100, 1000))}) as up:
        c = InferenceCollector(InferenceTarget(name="r", url=up.url, server="vllm"))
        for e0, e1 in ((100, 1000), (130, 1010), (5, 1020), (25, 1020)):  # engine 0 restarts after #2
            up.routes["/metrics"] = send(200, body(e0, e1))
            out = MetricSet()
            c.collect(out, Deadline(5))
            h = out.get("llm_request_duration_seconds", {"target": "r", "model": "m"})
            seen.append((out.get("llm_generation_tokens_total", {"target": "r", "model": "m"}), h.count, h.sum))
    assert [s[0] for s in seen] == [1100, 1140, 1155, 1175]
    assert [s[1] for s in seen] == [100, 130, 135, 155]
    assert [s[2] for s in seen] == [100, 130, 135, 155]
