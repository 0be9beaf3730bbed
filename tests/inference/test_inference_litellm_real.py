"""A real LiteLLM proxy in front of the real llama.cpp server, read through the exporter and Prometheus.

Three named agents send chat completions and completions, streaming and not, through the
proxy; one request is rejected (4xx) and one fails upstream (5xx). The exporter's LiteLLM
table and its per-agent view must then equal the sums of the responses' ``usage`` exactly,
count requests by outcome, and report LiteLLM's spend (known prices x known tokens).
"""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from exporter_proc import run_exporter
from litellm_proxy import (
    BROKEN,
    GENERATION_PRICE,
    MODEL,
    PROMPT_PRICE,
    TAG_PREFIX,
    TAGGED_AGENTS,
    Proxy,
    run_litellm,
)
from llm_exporter.collectors.inference import InferenceCollector
from llm_exporter.collectors.inference.engines import ENGINES
from llm_exporter.config import AgentUsageConfig, InferenceTarget
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline, TargetDown
from prom import start_prometheus
from real_engines import LLAMA_ALIAS, assert_no_drift, run_llama
from support import wait_for

pytestmark = pytest.mark.slow

AGENTS = TAGGED_AGENTS  # planner, coder, critic


@dataclass
class Usage:
    prompt: int = 0
    completion: int = 0
    ok: int = 0
    streamed: int = 0
    rejected: int = 0
    failed: int = 0

    @property
    def spend(self) -> float:
        return self.prompt * PROMPT_PRICE + self.completion * GENERATION_PRICE


@dataclass
class Traffic:
    total: Usage = field(default_factory=Usage)
    by_agent: dict[str, Usage] = field(default_factory=dict)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama-server of this module's own: its counters see only this module's requests."""
    with run_llama(tmp_path_factory.mktemp("llama")) as url:
        yield url


@pytest.fixture(scope="module")
def proxy(llama: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    with run_litellm(tmp_path_factory.mktemp("litellm"), llama, LLAMA_ALIAS) as p:
        yield p


def _identity(agent: str) -> dict:
    """The request fields that name the agent three ways: user (end_user), metadata label, tag."""
    return {"user": agent, "metadata": {"agent": agent, "tags": [f"agent-{agent}"]}}


@pytest.fixture(scope="module")
def traffic(proxy: Proxy) -> Traffic:
    """Per agent: chat and text completions, streaming and not; critic gets a 4xx, coder a 5xx."""
    t = Traffic()
    for i, agent in enumerate(AGENTS):
        u = t.by_agent.setdefault(agent, Usage())
        for path, stream in (
            ("/v1/chat/completions", False),
            ("/v1/chat/completions", True),
            ("/v1/completions", False),
            ("/v1/completions", True),
        ):
            body: dict = {"model": MODEL, "max_tokens": 4 + i, "temperature": 0, **_identity(agent)}
            if path.endswith("chat/completions"):
                body["messages"] = [{"role": "user", "content": f"Say a word about {agent}s."}]
            else:
                body["prompt"] = f"A {agent} is"
            if stream:
                body["stream"] = True
                body["stream_options"] = {"include_usage": True}
            status, answer = proxy.post(path, body)
            assert status == 200, (path, stream, answer)
            usage = [e["usage"] for e in answer if e.get("usage")][-1] if stream else answer["usage"]
            for acc in (u, t.total):
                acc.prompt += usage["prompt_tokens"]
                acc.completion += usage["completion_tokens"]
                acc.ok += 1
                acc.streamed += stream
    # A 4xx on the served model (a prompt longer than llama.cpp's 2048-token context) and a 5xx
    # (a deployment whose upstream port is closed).
    too_long = [{"role": "user", "content": "word " * 3000}]
    status, answer = proxy.post("/v1/chat/completions", {"model": MODEL, "messages": too_long, **_identity("critic")})
    assert 400 <= status < 500, (status, answer)
    status, answer = proxy.post(
        "/v1/chat/completions", {"model": BROKEN, "messages": [{"role": "user", "content": "hi"}], **_identity("coder")}
    )
    assert status >= 500, (status, answer)
    t.by_agent["critic"].rejected = t.total.rejected = 1
    t.by_agent["coder"].failed = t.total.failed = 1
    return t


def _collector(proxy: Proxy, key: bool = True, **agents: object) -> InferenceCollector:
    return InferenceCollector(
        InferenceTarget(
            name="gw",
            url=proxy.url,
            server="litellm",
            bearer_token=proxy.key if key else None,
            agents=AgentUsageConfig(**agents) if agents else None,  # type: ignore[arg-type]
        )
    )


def test_metrics_redirect_and_key(proxy: Proxy) -> None:
    """/metrics redirects (with the key) to /metrics/ on the same origin; without the key it is 401."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    keyed = urllib.request.Request(proxy.url + "/metrics", headers={"Authorization": f"Bearer {proxy.key}"})
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(keyed, timeout=30)
    assert redirect.value.code in (301, 307, 308)
    assert redirect.value.headers["Location"] == proxy.url + "/metrics/"
    for path in ("/metrics", "/metrics/"):
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(proxy.url + path, timeout=30)
        assert denied.value.code == 401

    with pytest.raises(TargetDown, match="HTTP 401"):
        _collector(proxy, key=False).collect(MetricSet(), Deadline(30))
    out = MetricSet()
    _collector(proxy).collect(out, Deadline(30))  # follows the redirect and sends the key again
    assert out.get(
        "llm_target_info", {"target": "gw", "kind": "inference", "software": "litellm", "version": "1.108.7"}
    )


def test_metrics_without_auth(llama: str, tmp_path: Path) -> None:
    """``require_auth_for_metrics_endpoint: false``: the exporter reads it without a key."""
    with run_litellm(tmp_path, llama, LLAMA_ALIAS, require_auth=False) as open_proxy:
        status, answer = open_proxy.post(
            "/v1/chat/completions",
            {"model": MODEL, "max_tokens": 3, "messages": [{"role": "user", "content": "hi"}], "user": "solo"},
        )
        assert status == 200, answer
        assert open_proxy.metrics(key=False).startswith("#")

        def counted() -> MetricSet | None:
            out = MetricSet()
            _collector(open_proxy, key=False, label="end_user").collect(out, Deadline(30))
            lab = {"target": "gw", "agent": "solo", "model": MODEL}
            return out if out.get("llm_agent_generation_tokens_total", lab) else None

        out = wait_for(counted, 30, interval=0.5, what="solo's tokens")
        assert isinstance(out, MetricSet)
        lab = {"target": "gw", "model": MODEL}
        assert out.get("llm_prompt_tokens_total", lab) == answer["usage"]["prompt_tokens"]
        assert out.get("llm_generation_tokens_total", lab) == answer["usage"]["completion_tokens"]
        assert out.get("llm_requests_total", {**lab, "finish_reason": "unknown"}) == 1


def test_every_litellm_family_is_mapped_or_ignored(proxy: Proxy, traffic: Traffic) -> None:
    assert_no_drift(ENGINES["litellm"], proxy.metrics())


def _value(text: str, name: str, **labels: str) -> float | None:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + "{") and all(w in line for w in want):
            return float(line.rsplit(" ", 1)[1])
    return None


EXPORTER_CONFIG = """
inference:
  - name: gw
    server: litellm
    url: {url}
    bearer_token: {key}
    agents: {{label: end_user}}
  - name: gw-allow
    server: litellm
    url: {url}
    bearer_token: {key}
    agents: {{label: metadata_agent, allow: [planner]}}
  - name: gw-tags
    server: litellm
    url: {url}
    bearer_token: {key}
    agents: {{tag_prefix: {prefix}, max_agents: 2}}
scrape:
  min_interval: 0s
gpu:
  enabled: false
"""


def test_counts_are_exact_per_model_and_agent(proxy: Proxy, traffic: Traffic, tmp_path: Path) -> None:
    tot = traffic.total
    config = EXPORTER_CONFIG.format(url=proxy.url, key=proxy.key, prefix=TAG_PREFIX)
    with run_exporter(config, tmp_path) as exp:

        def settled() -> str | None:
            text = exp.metrics()
            got = (
                _value(text, "llm_prompt_tokens_total", target="gw", model=MODEL),
                _value(text, "llm_generation_tokens_total", target="gw", model=MODEL),
                _value(text, "llm_time_to_first_token_seconds_count", target="gw", model=MODEL),
            )
            return text if got == (tot.prompt, tot.completion, tot.streamed) else None

        try:
            text = wait_for(settled, 60, interval=0.5, what="exporter counters to match usage")
        except TimeoutError:
            raise AssertionError(f"usage {traffic}, exporter said:\n{exp.metrics()}") from None
        assert isinstance(text, str)
        gw = {"target": "gw", "model": MODEL}
        assert _value(text, "llm_requests_total", **gw, finish_reason="unknown") == tot.ok
        assert _value(text, "llm_requests_total", **gw, finish_reason="rejected") == tot.rejected
        assert _value(text, "llm_requests_total", target="gw", model=BROKEN, finish_reason="error") == tot.failed
        assert _value(text, "llm_request_duration_seconds_count", **gw) == tot.ok
        assert _value(text, "llm_time_per_output_token_seconds_count", **gw) == tot.ok
        assert f'llm_model_info{{model="{MODEL}",server="litellm",target="gw"}} 1' in text
        assert 'llm_target_info{kind="inference",software="litellm",target="gw",version="1.108.7"} 1' in text

        for agent, u in traffic.by_agent.items():
            lab = {"target": "gw", "agent": agent, "model": MODEL}
            assert _value(text, "llm_agent_prompt_tokens_total", **lab) == u.prompt, agent
            assert _value(text, "llm_agent_generation_tokens_total", **lab) == u.completion, agent
            assert math.isclose(_value(text, "llm_agent_spend_dollars_total", **lab) or 0, u.spend, rel_tol=1e-9)
            assert _value(text, "llm_agent_requests_total", **lab, outcome="succeeded") == u.ok, agent
            assert _value(text, "llm_agent_requests_total", **lab, outcome="rejected") == u.rejected, agent
        broken = {"target": "gw", "agent": "coder", "model": BROKEN}
        assert _value(text, "llm_agent_requests_total", **broken, outcome="failed") == 1
        assert _value(text, "llm_agent_folded_agents", target="gw") == 0

        # Allow-list on a metadata label: coder and critic are folded into "other".
        planner, rest = (
            traffic.by_agent["planner"],
            traffic.by_agent["coder"].prompt + traffic.by_agent["critic"].prompt,
        )
        allow = {"target": "gw-allow", "model": MODEL}
        assert _value(text, "llm_agent_prompt_tokens_total", **allow, agent="planner") == planner.prompt
        assert _value(text, "llm_agent_prompt_tokens_total", **allow, agent="other") == rest
        assert _value(text, "llm_agent_folded_agents", target="gw-allow") == 2

        # A cap of two agents on tag labels: two agents by name, the third in "other", nothing lost.
        tags = {"target": "gw-tags", "model": MODEL}
        named = [a for a in AGENTS if _value(text, "llm_agent_prompt_tokens_total", **tags, agent=a) is not None]
        assert len(named) == 2, named
        assert _value(text, "llm_agent_folded_agents", target="gw-tags") == 1
        values = [_value(text, "llm_agent_prompt_tokens_total", **tags, agent=a) for a in (*named, "other")]
        assert sum(v or 0 for v in values) == tot.prompt

        with start_prometheus(tmp_path, [exp.address]) as prom:
            for agent, u in traffic.by_agent.items():
                for metric, want in (
                    ("llm_agent_prompt_tokens_total", u.prompt),
                    ("llm_agent_generation_tokens_total", u.completion),
                ):
                    expr = f'{metric}{{target="gw",agent="{agent}",model="{MODEL}"}}'
                    res = prom.wait_for(f"{expr} == {want}", timeout=60)
                    assert float(res[0]["value"][1]) == want
            res = prom.wait_for('sum(llm_agent_spend_dollars_total{target="gw"}) > 0', timeout=60)
            assert math.isclose(float(res[0]["value"][1]), tot.spend, rel_tol=1e-9)
            prom.wait_for(f'llm_prompt_tokens_total{{target="gw",model="{MODEL}"}} == {tot.prompt}')
            prom.wait_for(f'llm_model_info{{target="gw",server="litellm",model="{MODEL}"}} == 1')
