"""The per-agent view of a LiteLLM proxy on bodies served over real HTTP: labels, bounds, monotonicity."""

from __future__ import annotations

import pytest
from http_upstream import Upstream, send
from llm_exporter.collectors.inference import InferenceCollector
from llm_exporter.config import AgentUsageConfig, ConfigError, InferenceTarget, load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline

T = "gw"


def body(rows: list[tuple], requests: list[tuple[str, str, str, float]] = ()) -> bytes:
    """LiteLLM-shaped counters: (family, end_user, tag_agent_x true label or "", value[, key alias])."""
    lines = []
    for family, user, tag, value, *key in rows:
        i = key[0] if key else ""
        tags = ",".join(f'tag_agent_{a}="{"true" if a == tag else "false"}"' for a in ("a", "b", "c"))
        lines.append(
            f'{family}{{api_key_alias="None",end_user="{user}",hashed_api_key="k{i}",model="smollm2-135m",'
            f'requested_model="smollm2",{tags},team="None",user="default_user_id"}} {value}'
        )
    for user, status, route, value in requests:
        lines.append(
            f'litellm_proxy_total_requests_metric_total{{end_user="{user}",requested_model="smollm2",'
            f'route="{route}",status_code="{status}"}} {value}'
        )
    return ("\n".join(lines) + "\n").encode()


def collect(c: InferenceCollector, payload: bytes) -> MetricSet:
    with Upstream({"/metrics": send(200, payload)}) as up:
        object.__setattr__(c.config, "url", up.url)
        out = MetricSet()
        c.collect(out, Deadline(10))
        return out


def collector(**agents: object) -> InferenceCollector:
    cfg = AgentUsageConfig(**agents)  # type: ignore[arg-type]
    return InferenceCollector(InferenceTarget(name=T, url="http://127.0.0.1:1", server="litellm", agents=cfg))


def g(out: MetricSet, metric: str, agent: str, **extra: str) -> float | None:
    v = out.get(metric, {"target": T, "agent": agent, "model": "smollm2", **extra})
    assert v is None or isinstance(v, float)
    return v


IN, OUT, SPEND = "litellm_input_tokens_metric_total", "litellm_output_tokens_metric_total", "litellm_spend_metric_total"


def test_label_outcomes_unknown_and_own_scrapes() -> None:
    payload = body(
        [
            (IN, "planner", "", 10),
            (IN, "planner", "", 5, "2"),
            (OUT, "planner", "", 3),
            (SPEND, "planner", "", 0.25),
            (IN, "None", "", 7),
        ],
        [
            ("planner", "200", "/v1/chat/completions", 4),
            ("planner", "429", "/v1/chat/completions", 2),
            ("planner", "503", "/v1/chat/completions", 1),
            ("None", "None", "/metrics", 9),  # an unauthenticated scrape of the proxy: not a request
            ("None", "None", "/health/readiness/details", 1),  # nor the exporter's version read
        ],
    )
    out = collect(collector(label="end_user"), payload)
    assert g(out, "llm_agent_prompt_tokens_total", "planner") == 15
    assert g(out, "llm_agent_generation_tokens_total", "planner") == 3
    assert g(out, "llm_agent_spend_dollars_total", "planner") == 0.25
    assert [g(out, "llm_agent_requests_total", "planner", outcome=o) for o in ("succeeded", "rejected", "failed")] == [
        4,
        2,
        1,
    ]
    assert g(out, "llm_agent_prompt_tokens_total", "unknown") == 7  # no end_user on the request
    assert g(out, "llm_agent_generation_tokens_total", "unknown") == 0  # pre-created
    assert g(out, "llm_agent_requests_total", "unknown", outcome="failed") == 0
    assert out.get("llm_agent_folded_agents", {"target": T}) == 0
    # The engine view drops the proxy's own /metrics requests too.
    lab = {"target": T, "model": "smollm2"}
    assert out.get("llm_requests_total", {**lab, "finish_reason": "unknown"}) == 4
    assert out.get("llm_requests_total", {**lab, "finish_reason": "rejected"}) == 2
    assert out.get("llm_requests_total", {**lab, "finish_reason": "error"}) == 1
    assert not out.has("llm_requests_total", model="unknown")


def test_cap_is_sticky_and_other_counts_the_rest() -> None:
    c = collector(label="end_user", max_agents=2)
    out = collect(c, body([(IN, "a", "", 1), (IN, "b", "", 2), (IN, "c", "", 4), (IN, "d", "", 8)]))
    assert (g(out, "llm_agent_prompt_tokens_total", "a"), g(out, "llm_agent_prompt_tokens_total", "b")) == (1, 2)
    assert g(out, "llm_agent_prompt_tokens_total", "other") == 12
    assert out.get("llm_agent_folded_agents", {"target": T}) == 2
    # "a" and "b" stay admitted even when a new name comes first in a later body.
    out = collect(c, body([(IN, "e", "", 16), (IN, "a", "", 1), (IN, "b", "", 2), (IN, "c", "", 4), (IN, "d", "", 8)]))
    assert g(out, "llm_agent_prompt_tokens_total", "a") == 1
    assert g(out, "llm_agent_prompt_tokens_total", "e") is None
    assert g(out, "llm_agent_prompt_tokens_total", "other") == 28
    assert out.get("llm_agent_folded_agents", {"target": T}) == 3


def test_allow_list_and_tags() -> None:
    c = collector(tag_prefix="tag_agent_", allow=["a"])
    out = collect(c, body([(IN, "x", "a", 3), (IN, "y", "b", 5), (IN, "z", "", 7)]))
    assert g(out, "llm_agent_prompt_tokens_total", "a") == 3
    assert g(out, "llm_agent_prompt_tokens_total", "other") == 5
    assert g(out, "llm_agent_prompt_tokens_total", "unknown") == 7  # no tag label is true
    assert out.get("llm_agent_folded_agents", {"target": T}) == 1


def test_counters_stay_monotonic_when_litellm_drops_or_resets_a_series() -> None:
    c = collector(label="end_user", max_agents=1)
    assert g(collect(c, body([(IN, "a", "", 10), (IN, "b", "", 5)])), "llm_agent_prompt_tokens_total", "other") == 5
    # b's series is removed (LiteLLM's series TTL) and c's appears: other goes on from 5.
    assert g(collect(c, body([(IN, "a", "", 10), (IN, "c", "", 2)])), "llm_agent_prompt_tokens_total", "other") == 7
    # b comes back from 0 (a new series after the TTL): counted as a restart, never a decrease.
    out = collect(c, body([(IN, "a", "", 4), (IN, "b", "", 1), (IN, "c", "", 2)]))
    assert g(out, "llm_agent_prompt_tokens_total", "other") == 8
    assert g(out, "llm_agent_prompt_tokens_total", "a") == 14  # proxy restart: 10 then 4 more


@pytest.mark.parametrize(
    ("agents", "error"),
    [
        ("{}", "inference[0].agents.label: give exactly one of label"),
        ("{label: end_user, tag_prefix: tag_}", "inference[0].agents.label: give exactly one of label"),
        ("{label: 'end-user'}", "inference[0].agents.label: 'end-user' is not a Prometheus label name"),
        ("{label: end_user, allow: [a, b], max_agents: 1}", "inference[0].agents.allow: 2 agents listed"),
        ("{label: end_user, max_agents: 0}", "inference[0].agents.max_agents"),
    ],
)
def test_agents_config_errors(agents: str, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("[", r"\[").replace("]", r"\]")):
        load_config_text(
            f"inference:\n  - name: gw\n    server: litellm\n    url: http://h:4000\n    agents: {agents}\n"
        )


def test_agents_need_a_litellm_target() -> None:
    with pytest.raises(ConfigError, match=r"inference\[0\]\.agents: .*needs server: litellm"):
        load_config_text(
            "inference:\n  - name: gw\n    server: vllm\n    url: http://h:8000\n    agents: {label: user}\n"
        )
