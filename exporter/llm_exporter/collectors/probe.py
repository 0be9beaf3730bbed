"""Active probe: a small streaming chat completion against an OpenAI-compatible endpoint.

At most once per ``probe.interval`` a background thread (started lazily by ``collect``)
sends ``POST /v1/chat/completions`` with ``stream: true`` and measures the time to the
first streamed token and the total duration; ``x-ratelimit-remaining-requests`` /
``-tokens`` response headers (also on 429 answers) become gauges. Between probes the last
result is served. The API key is sent as a bearer token and never logged or exported.
Works for servers without metrics (Ollama, hosted APIs).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from ..config import InferenceTarget
from ..metricset import MetricSet
from ..scrape import Deadline
from .base import BaseCollector
from .httpread import join

log = logging.getLogger(__name__)

MAX_STREAM_BYTES = 1024 * 1024


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(str(raw).strip())
    except ValueError:
        return None


@dataclass
class ProbeResult:
    """The outcome of one probe."""

    model: str
    success: bool
    duration: float
    ttft: float | None = None
    remaining_requests: float | None = None
    remaining_tokens: float | None = None
    error: str = ""


class ProbeCollector(BaseCollector[InferenceTarget]):
    """Probes one target; ``config`` is the whole target (its ``probe`` section must be set).

    ``target`` stays ``None``: ``llm_target_up`` belongs to the inference reader of the same target.
    """

    name = "probe"

    def __init__(self, config: InferenceTarget) -> None:
        assert config.probe is not None
        super().__init__(config, key=f"probe/{config.name}")
        self._last: ProbeResult | None = None
        self._started_at = -1e18
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._last_error = ""

    # -- scrape side --------------------------------------------------------------------
    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        probe = self.config.probe
        assert probe is not None
        with self._lock:
            due = time.monotonic() - self._started_at >= probe.interval
            running = self._thread is not None and self._thread.is_alive()
            if due and not running:
                self._started_at = time.monotonic()
                self._done.clear()
                self._thread = threading.Thread(target=self._run, name=f"probe-{self.config.name}", daemon=True)
                self._thread.start()
                running = True
            first = self._last is None
        if first and running:
            # No result yet: wait for the first probe as long as the scrape allows.
            self._done.wait(max(0.0, deadline.remaining() - 0.05))
        result = self._last
        if result is None:
            return
        lab = {"target": self.config.name, "model": result.model}
        out.add("llm_probe_success", 1.0 if result.success else 0.0, lab)
        out.add("llm_probe_duration_seconds", result.duration, lab)
        out.add("llm_probe_time_to_first_token_seconds", result.ttft if result.success else None, lab)
        out.add("llm_probe_ratelimit_remaining_requests", result.remaining_requests, lab)
        out.add("llm_probe_ratelimit_remaining_tokens", result.remaining_tokens, lab)

    def _run(self) -> None:
        try:
            result = self.probe_once()
        except Exception as exc:  # never let the thread die silently
            result = ProbeResult(self._model_hint(), False, 0.0, error=f"{type(exc).__name__}")
        self._last = result
        if result.error != self._last_error:
            if result.error:
                log.warning("probe %s failed: %s", self.config.name, result.error)
            else:
                log.info("probe %s succeeded again", self.config.name)
            self._last_error = result.error
        self._done.set()

    def _model_hint(self) -> str:
        probe = self.config.probe
        assert probe is not None
        return probe.model or self.config.model or ""

    # -- the probe itself -----------------------------------------------------------------
    def _session_headers(self) -> dict[str, str]:
        probe = self.config.probe
        assert probe is not None
        key = probe.api_key or self.config.bearer_token
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _resolve_model(self, session: requests.Session, timeout: float) -> str:
        model = self._model_hint()
        if model:
            return model
        try:
            resp = session.get(
                join(self.config.url, "/v1/models"),
                headers=self._session_headers(),
                timeout=timeout,
                allow_redirects=False,  # never carry the API key or the prompt to another host
            )
            data = resp.json().get("data") if resp.status_code == 200 else None
            if isinstance(data, list) and data and isinstance(data[0], dict):
                return str(data[0].get("id", ""))
        except (requests.RequestException, ValueError, AttributeError):
            pass
        return ""

    def probe_once(self) -> ProbeResult:
        """Send one streaming chat completion and measure it (runs in the probe thread)."""
        probe = self.config.probe
        assert probe is not None
        with requests.Session() as session:
            model = self._resolve_model(session, probe.timeout)
            body = {
                "model": model or "default",
                "messages": [{"role": "user", "content": probe.prompt}],
                "max_tokens": probe.max_tokens,
                "stream": True,
            }
            t0 = time.monotonic()
            try:
                resp = session.post(
                    join(self.config.url, probe.path),
                    headers=self._session_headers(),
                    data=json.dumps(body),
                    timeout=probe.timeout,
                    stream=True,
                    allow_redirects=False,
                )
            except requests.Timeout:
                return ProbeResult(model, False, time.monotonic() - t0, error="timeout")
            except requests.ConnectionError:
                return ProbeResult(model, False, time.monotonic() - t0, error="connection failed")
            with resp:
                rl_req = _header_number(resp.headers, "x-ratelimit-remaining-requests")
                rl_tok = _header_number(resp.headers, "x-ratelimit-remaining-tokens")
                if resp.status_code != 200:
                    return ProbeResult(
                        model, False, time.monotonic() - t0, None, rl_req, rl_tok, error=f"HTTP {resp.status_code}"
                    )
                ttft, error = self._read_stream(resp, t0, probe.timeout)
            duration = time.monotonic() - t0
            ok = not error and ttft is not None
            if not error and ttft is None:
                error = "stream ended without a token"
            return ProbeResult(model, ok, duration, ttft, rl_req, rl_tok, error)

    @staticmethod
    def _read_stream(resp: requests.Response, t0: float, timeout: float) -> tuple[float | None, str]:
        """Read server-sent events until ``[DONE]``; returns (TTFT, error)."""
        ttft: float | None = None
        seen = 0
        try:
            for raw in resp.iter_lines(chunk_size=1024):
                seen += len(raw)
                if seen > MAX_STREAM_BYTES:
                    return ttft, "stream larger than 1 MiB"
                if time.monotonic() - t0 > timeout:
                    return ttft, "timeout"
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return ttft, ""
                try:
                    event = json.loads(data)
                except ValueError:
                    return ttft, "malformed stream event"
                if not isinstance(event, dict):
                    return ttft, "malformed stream event"
                if "error" in event:
                    return ttft, "error event in stream"
                if ttft is None and _has_token(event):
                    ttft = time.monotonic() - t0
        except requests.RequestException as exc:
            return ttft, "timeout" if "timed out" in str(exc).lower() else "stream broken"
        return ttft, "" if ttft is not None else "stream ended without [DONE]"


def _has_token(event: dict[str, Any]) -> bool:
    for choice in event.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        if isinstance(delta, dict) and (
            delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls")
        ):
            return True
        if choice.get("text"):
            return True
    return False
