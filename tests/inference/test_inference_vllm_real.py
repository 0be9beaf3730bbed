"""A real vLLM (CPU build) end to end: usage sums, finish reasons, histogram counts, gauges.

vLLM serves a tiny random Llama made locally (``make_tiny_llama.py``). Completions and chat
completions, streaming and not, each ending once on ``stop`` (every token id is a stop id)
and once on ``length`` (``ignore_eos``), then a concurrent burst larger than
``--max-num-seqs 2``. The exporter and a real Prometheus scraping it must then agree
exactly with the responses, and the body must hold no family the vLLM table does not know.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from exporter_proc import Exporter, run_exporter
from llm_exporter.collectors.inference.engines import ENGINES
from prom import Prometheus, start_prometheus
from real_engines import VLLM_MODEL, Server, assert_no_drift, get_text, post_json, post_stream
from support import wait_for
from values import samples, text_value

pytestmark = pytest.mark.slow

T = "vllm"
BURST = 6


def value(text: str, name: str, **labels: str) -> float | None:
    return text_value(text, name, target=T, **labels)


@dataclass
class Traffic:
    """What the responses said, summed."""

    prompt: int = 0
    completion: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def add(self, usage: dict, reason: str) -> None:
        self.prompt += usage["prompt_tokens"]
        self.completion += usage["completion_tokens"]
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        self.requests += 1


def _request(server: Server, chat: bool, stream: bool, stop: bool, vocab: int, max_tokens: int = 8) -> tuple:
    body: dict = {"model": VLLM_MODEL, "max_tokens": max_tokens, "temperature": 0}
    if chat:
        body["messages"] = [{"role": "user", "content": "What colour is the sky?"}]
    else:
        body["prompt"] = "The quick brown fox"
    if stop:
        body["stop_token_ids"] = list(range(vocab))
    else:
        body["ignore_eos"] = True
    path = "/v1/chat/completions" if chat else "/v1/completions"
    if not stream:
        resp = post_json(server.url + path, body)
        return resp["usage"], resp["choices"][0]["finish_reason"]
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    events = post_stream(server.url + path, body)
    reasons = [c["finish_reason"] for e in events for c in e.get("choices", []) if c.get("finish_reason")]
    usage = [e["usage"] for e in events if e.get("usage")]
    assert len(reasons) == 1 and len(usage) == 1, events[-3:]
    return usage[0], reasons[0]


@dataclass
class Run:
    exp: Exporter
    prom: Prometheus
    traffic: Traffic
    seen_running: float
    seen_waiting: float
    body: str


@pytest.fixture(scope="module")
def run(vllm_server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("vllm-run")
    vocab = json.loads((Path(str(vllm_server.model_dir)) / "config.json").read_text())["vocab_size"]
    config = f"""
inference:
  - name: {T}
    server: vllm
    url: {vllm_server.url}
scrape:
  min_interval: 0s
gpu:
  enabled: false
"""
    with contextlib.ExitStack() as stack:
        exp = stack.enter_context(run_exporter(config, tmp))
        prom = stack.enter_context(start_prometheus(tmp, [exp.address]))
        prom.wait_for('llm_target_up{target="vllm"} == 1')
        traffic = Traffic()
        for chat in (False, True):
            for stream in (False, True):
                for stop in (True, False):
                    usage, reason = _request(vllm_server, chat, stream, stop, vocab)
                    assert reason == ("stop" if stop else "length"), (chat, stream, stop, reason)
                    traffic.add(usage, reason)

        # A burst of long requests, three times --max-num-seqs: some run, the rest wait.
        results: list[tuple] = []
        errors: list[BaseException] = []

        def one() -> None:
            try:
                results.append(_request(vllm_server, False, False, False, vocab, max_tokens=400))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(BURST)]
        for t in threads:
            t.start()
        seen_running = seen_waiting = 0.0
        while any(t.is_alive() for t in threads):
            text = exp.metrics()
            seen_running = max(seen_running, value(text, "llm_requests_running", model=VLLM_MODEL) or 0)
            seen_waiting = max(seen_waiting, value(text, "llm_requests_waiting", model=VLLM_MODEL) or 0)
            time.sleep(0.2)
        for t in threads:
            t.join()
        assert not errors, errors
        for usage, reason in results:
            traffic.add(usage, reason)
        body = get_text(vllm_server.metrics_url)
        yield Run(exp, prom, traffic, seen_running, seen_waiting, body)


def _settled(run: Run) -> str:
    """The exporter's body once its request count caught up with what was sent."""

    def done() -> str | None:
        text = run.exp.metrics()
        n = value(text, "llm_request_duration_seconds_count", model=VLLM_MODEL)
        return text if n == run.traffic.requests else None

    return str(wait_for(done, 30, interval=0.3, what="vLLM to count every request"))


def test_token_counters_equal_usage_sums(run: Run) -> None:
    text = _settled(run)
    assert value(text, "llm_prompt_tokens_total", model=VLLM_MODEL) == run.traffic.prompt
    assert value(text, "llm_generation_tokens_total", model=VLLM_MODEL) == run.traffic.completion
    for metric, want in (
        ("llm_prompt_tokens_total", run.traffic.prompt),
        ("llm_generation_tokens_total", run.traffic.completion),
    ):
        got = run.prom.wait_for(f'{metric}{{target="vllm",model="{VLLM_MODEL}"}} == {want}')
        assert float(got[0]["value"][1]) == want


def test_requests_by_finish_reason_equal_what_was_sent(run: Run) -> None:
    assert run.traffic.reasons == {"stop": 4, "length": 4 + BURST}
    text = _settled(run)
    got = {dict(k)["finish_reason"]: v for k, v in samples(text, "llm_requests_total").items() if ("target", T) in k}
    want = {"stop": 4.0, "length": 4.0 + BURST, "abort": 0.0, "error": 0.0, "rejected": 0.0}
    assert got == want
    for reason, n in want.items():
        run.prom.wait_for(f'llm_requests_total{{target="vllm",finish_reason="{reason}"}} == {n}')


def test_latency_histogram_counts_equal_request_count(run: Run) -> None:
    n = run.traffic.requests
    text = _settled(run)
    for metric in ("llm_time_to_first_token_seconds", "llm_request_duration_seconds"):
        assert value(text, metric + "_count", model=VLLM_MODEL) == n, metric
        assert value(text, metric + "_bucket", model=VLLM_MODEL, le="+Inf") == n, metric
        run.prom.wait_for(f'{metric}_count{{target="vllm",model="{VLLM_MODEL}"}} == {n}')


def test_length_and_phase_histograms_match_the_responses(run: Run) -> None:
    n = run.traffic.requests
    text = _settled(run)
    # Per-request length histograms: one observation per request, sums equal to the usage sums.
    assert value(text, "llm_request_prompt_tokens_count", model=VLLM_MODEL) == n
    assert value(text, "llm_request_prompt_tokens_sum", model=VLLM_MODEL) == run.traffic.prompt
    assert value(text, "llm_request_generation_tokens_count", model=VLLM_MODEL) == n
    assert value(text, "llm_request_generation_tokens_sum", model=VLLM_MODEL) == run.traffic.completion
    for phase in ("prefill", "decode", "inference"):
        assert value(text, f"llm_request_{phase}_duration_seconds_count", model=VLLM_MODEL) == n, phase
    assert value(text, "llm_preemptions_total", model=VLLM_MODEL) == 0
    assert value(text, "llm_engine_sleep_state", model=VLLM_MODEL, state="awake") == 1
    assert value(text, "llm_requests_waiting_by_reason", model=VLLM_MODEL, reason="capacity") == 0
    assert value(text, "llm_engine_requests_running", model=VLLM_MODEL, engine="0") == 0
    want = run.traffic.prompt
    run.prom.wait_for(f'llm_request_prompt_tokens_sum{{target="vllm",model="{VLLM_MODEL}"}} == {want}')
    run.prom.wait_for(f'llm_request_prefill_duration_seconds_count{{target="vllm",model="{VLLM_MODEL}"}} == {n}')


def test_running_and_waiting_move_under_a_burst(run: Run) -> None:
    assert run.seen_running >= 1 and run.seen_waiting >= 1, (run.seen_running, run.seen_waiting)
    assert run.seen_running <= 2  # --max-num-seqs 2
    for metric in ("llm_requests_running", "llm_requests_waiting", "llm_engine_requests_waiting"):
        run.prom.wait_for(f'max_over_time({metric}{{target="vllm"}}[10m]) >= 1')
        run.prom.wait_for(f'{metric}{{target="vllm"}} == 0')  # idle again after the burst
    # While waiting, the requests waited for capacity (--max-num-seqs), not by policy.
    run.prom.wait_for('max_over_time(llm_requests_waiting_by_reason{target="vllm",reason="capacity"}[10m]) >= 1')


def test_model_info_names_the_served_model(run: Run) -> None:
    text = run.exp.metrics()
    info = [dict(k) for k in samples(text, "llm_model_info") if ("target", T) in k]
    assert info == [{"target": T, "server": "vllm", "model": VLLM_MODEL, "max_model_len": "512"}]
    run.prom.wait_for(f'llm_model_info{{target="vllm",server="vllm",model="{VLLM_MODEL}"}} == 1')


def test_every_vllm_family_is_mapped_or_ignored(run: Run) -> None:
    assert_no_drift(ENGINES["vllm"], run.body)
