"""The active probe against a fake OpenAI-compatible server (real HTTP, server-sent events)."""

from __future__ import annotations

import json
import logging
import socket
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from http_upstream import Upstream, send
from llm_exporter.collectors.inference import build
from llm_exporter.collectors.probe import ProbeCollector
from llm_exporter.config import load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline
from prometheus_client import generate_latest

KEY = "sk-test-SECRET-0123456789"


def sse(events: list[str], status: int = 200, headers: dict[str, str] | None = None, delay: float = 0.0):
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        for e in events:
            if delay:
                time.sleep(delay)
            data = f"data: {e}\n\n".encode()
            h.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            h.wfile.flush()
        h.wfile.write(b"0\r\n\r\n")

    return route


def chunk(text: str) -> str:
    return json.dumps(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
    )


GOOD = [json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant"}}]}), chunk("O"), chunk("K"), "[DONE]"]
LIMITS = {
    "x-ratelimit-remaining-requests": "4999",
    "x-ratelimit-remaining-tokens": "159980",
    "x-ratelimit-limit-requests": "5000",
}


def _probe(tmp_path: Path, url: str, timeout: str = "5s") -> ProbeCollector:
    (tmp_path / "key").write_text(KEY + "\n")
    cfg = load_config_text(f"""
inference:
  - name: api
    server: openai
    url: {url}
    probe:
      model: gpt-test
      interval: 1h
      timeout: {timeout}
      max_tokens: 4
      api_key_file: {tmp_path / "key"}
""")
    probes = [c for c in build(cfg) if c.name == "probe"]
    assert len(probes) == 1 and probes[0].key == "probe/api"
    return probes[0]


def _collect(p: ProbeCollector) -> MetricSet:
    out = MetricSet()
    p.collect(out, Deadline(10))
    return out


def test_probe_success_with_ratelimit_headers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Upstream({"POST /v1/chat/completions": sse(GOOD, headers=LIMITS, delay=0.05)}) as up:
        p = _probe(tmp_path, up.url + "/v1")  # a base URL ending in /v1 is not doubled
        out = _collect(p)
        again = _collect(p)  # within the interval: served from the last result, no new request
        method, path, headers, body = up.requests[0]
    lab = {"target": "api", "model": "gpt-test"}
    assert out.get("llm_probe_success", lab) == 1.0
    ttft, duration = out.get("llm_probe_time_to_first_token_seconds", lab), out.get("llm_probe_duration_seconds", lab)
    assert 0 < ttft < duration  # the first token came before the end of the stream
    assert out.get("llm_probe_ratelimit_remaining_requests", lab) == 4999
    assert out.get("llm_probe_ratelimit_remaining_tokens", lab) == 159980
    assert again.get("llm_probe_duration_seconds", lab) == duration
    assert len(up.requests) == 1 and (method, path) == ("POST", "/v1/chat/completions")
    assert headers["Authorization"] == f"Bearer {KEY}"
    sent = json.loads(body)
    assert sent["stream"] is True and sent["max_tokens"] == 4 and sent["model"] == "gpt-test"
    rendered = generate_latest(out).decode()
    assert KEY not in rendered and KEY not in caplog.text


@pytest.mark.parametrize(
    ("route", "error"),
    [
        (
            sse([], status=429, headers={"x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "0"}),
            "HTTP 429",
        ),
        (send(500, b'{"error":{"message":"boom"}}', "application/json"), "HTTP 500"),
        (sse([json.dumps({"error": {"message": "model overloaded"}})]), "error event"),
        (sse(["{not json"]), "malformed stream event"),
        (sse([json.dumps({"choices": [{"delta": {"role": "assistant"}}]}), "[DONE]"]), "without a token"),
        # A redirect (here to another origin, which answers fine) is not followed: no key or prompt leaves.
        ("redirect", "HTTP 307"),
    ],
)
def test_probe_failures(tmp_path: Path, caplog: pytest.LogCaptureFixture, route, error: str) -> None:
    caplog.set_level(logging.DEBUG)
    with Upstream({"POST /v1/chat/completions": sse(["{}"])}) as other:
        if route == "redirect":
            route = send(307, b"", headers={"Location": other.url + "/v1/chat/completions"})
        with Upstream({"POST /v1/chat/completions": route}) as up:
            out = _collect(_probe(tmp_path, up.url))
        assert other.requests == []
    lab = {"target": "api", "model": "gpt-test"}
    assert out.get("llm_probe_success", lab) == 0.0
    assert out.get("llm_probe_duration_seconds", lab) >= 0
    assert out.get("llm_probe_time_to_first_token_seconds", lab) is None
    if "429" in error:
        assert out.get("llm_probe_ratelimit_remaining_requests", lab) == 0
        assert out.get("llm_probe_ratelimit_remaining_tokens", lab) == 0
    assert error in caplog.text
    assert KEY not in caplog.text and KEY not in generate_latest(out).decode()


def test_probe_timeout_and_refused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with Upstream({"POST /v1/chat/completions": sse(GOOD, delay=2.0)}) as up:
        out = _collect(_probe(tmp_path, up.url, timeout="500ms"))
    assert out.get("llm_probe_success", {"target": "api", "model": "gpt-test"}) == 0.0
    assert "probe api failed: timeout" in caplog.text
    # A port held by a bound socket that never listens: a connect to it is refused at once,
    # whatever else runs on the machine (a port merely free now may be taken by a forwarder).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        out = _collect(_probe(tmp_path, f"http://127.0.0.1:{held.getsockname()[1]}"))
    lab = {"target": "api", "model": "gpt-test"}
    assert out.get("llm_probe_success", lab) == 0.0
    assert "probe api failed: connection failed" in caplog.text, out.get("llm_probe_duration_seconds", lab)


def test_probe_model_from_models_endpoint(tmp_path: Path) -> None:
    models = b'{"object":"list","data":[{"id":"served-model","object":"model"}]}'
    with Upstream({"POST /v1/chat/completions": sse(GOOD), "/v1/models": send(200, models, "application/json")}) as up:
        (tmp_path / "key").write_text(KEY)
        cfg = load_config_text(
            f"inference:\n  - name: api\n    server: openai\n    url: {up.url}\n    probe: {{interval: 1m}}\n"
        )
        p = next(c for c in build(cfg) if c.name == "probe")
        out = _collect(p)
    assert out.get("llm_probe_success", {"target": "api", "model": "served-model"}) == 1.0
