"""The Agent pipeline dashboard's "LLM usage per agent" row: tokens, dollars and outcomes from LiteLLM.

The ``llm_agent_*`` series come from a LiteLLM target with ``agents:`` (docs/inference.md); their
``target`` is the proxy, not a broker, so only ``$job`` filters them.
"""

from __future__ import annotations

from ..matchers import JOB, selector
from .panels import RATE_INTERVAL, Board


def llm_usage_row(x: Board) -> None:
    """Append the row to ``x``."""
    j = selector(JOB)
    x.row("LLM usage per agent (LiteLLM)")
    x.ts(
        "Tokens per second by agent",
        "Prompt and generated tokens per second of each agent's requests through the LiteLLM proxy.",
        [
            (f"sum by (agent) (rate(llm_agent_prompt_tokens_total{j}[{RATE_INTERVAL}]))", "{{agent}} prompt"),
            (f"sum by (agent) (rate(llm_agent_generation_tokens_total{j}[{RATE_INTERVAL}]))", "{{agent}} generated"),
        ],
        "short",
    )
    x.ts(
        "Spend per hour by agent",
        "LiteLLM's own spend of each agent, in US dollars per hour (its cost map or the deployment's prices).",
        [(f"sum by (agent) (rate(llm_agent_spend_dollars_total{j}[{RATE_INTERVAL}])) * 3600", "{{agent}}")],
        "currencyUSD",
    )
    x.ts(
        "LLM requests by agent and outcome",
        "Each agent's requests to the proxy per second: succeeded (2xx), rejected (4xx, 429 included), failed.",
        [(f"sum by (agent, outcome) (rate(llm_agent_requests_total{j}[{RATE_INTERVAL}]))", "{{agent}} {{outcome}}")],
        "reqps",
    )
    x.table(
        "Spend and tokens by agent and model",
        "Current rates of each agent and model: US dollars per day at the current pace, tokens per second.",
        [
            (f"sum by (agent, model) (rate(llm_agent_spend_dollars_total{j}[{RATE_INTERVAL}])) * 86400", "$/day"),
            (f"sum by (agent, model) (rate(llm_agent_prompt_tokens_total{j}[{RATE_INTERVAL}]))", "prompt tok/s"),
            (f"sum by (agent, model) (rate(llm_agent_generation_tokens_total{j}[{RATE_INTERVAL}]))", "gen tok/s"),
        ],
        w=16,
    )
    x.stat(
        "Agents folded into other",
        "Agent names beyond a LiteLLM target's allow-list or max_agents in the last read, counted as agent other.",
        f"sum(llm_agent_folded_agents{j})",
        "short",
        w=8,
        h=8,
        thresholds=[("green", None), ("orange", 1)],
    )
