"""LLM usage per agent through a LiteLLM proxy: tokens, requests by outcome and spend.

LiteLLM labels its counters with who called (``end_user`` from the request's ``user``,
the key's ``user``, ``team``, ``team_alias``, ``api_key_alias``, custom metadata labels and
``tag_<name>`` labels). The operator names the one that identifies an agent (``agents:`` of
a ``server: litellm`` target); its values become the ``agent`` label of the ``llm_agent_*``
series, per target, agent and model. Requests without the label count as agent
``unknown``. Agent names are bounded: with an allow-list every other name is ``other``;
without one the first ``max_agents`` names seen are kept for the life of the exporter (a
name never moves between itself and ``other``) and later ones are ``other``.
``llm_agent_folded_agents`` says how many names of the last read were folded.

Counters are LiteLLM's own (provider-reported usage, LiteLLM's spend from its cost map or
the deployment's ``model_info`` prices), summed per agent and model and kept monotonic when
LiteLLM drops a series (its ``prometheus_metrics_ttl_seconds``) or restarts.
"""

from __future__ import annotations

from collections.abc import Callable

from ...config import AgentUsageConfig
from ...counters import CounterFolder, Key
from ...metricset import MetricSet
from ...promtext import LabelKey, Snapshot, canonical

# catalog metric -> LiteLLM counter (as exposed by prometheus_client).
COUNTERS = {
    "llm_agent_prompt_tokens_total": "litellm_input_tokens_metric_total",
    "llm_agent_generation_tokens_total": "litellm_output_tokens_metric_total",
    "llm_agent_spend_dollars_total": "litellm_spend_metric_total",
}
REQUESTS = "litellm_proxy_total_requests_metric_total"
OUTCOMES = ("succeeded", "rejected", "failed")
UNKNOWN, OTHER = "unknown", "other"
MAX_NAME = 128


def outcome(status_code: str) -> str:
    """LiteLLM's ``status_code`` as an outcome: 2xx succeeded, 4xx (429 included) rejected, else failed."""
    if status_code.startswith("2"):
        return "succeeded"
    if status_code.startswith("4"):
        return "rejected"
    return "failed"


def families() -> set[str]:
    """The upstream families the agent view reads."""
    return {*COUNTERS.values(), REQUESTS}


class AgentUsage:
    """Per-agent view of one LiteLLM target; keeps the admitted names and the folded counters."""

    def __init__(self, config: AgentUsageConfig, target: str) -> None:
        self.config = config
        self.target = target
        self._allow = frozenset(config.allow)
        self._admitted: dict[str, None] = {}  # insertion-ordered set, at most max_agents
        self._folder = CounterFolder()

    def raw_agent(self, labels: LabelKey) -> str:
        """The agent a series belongs to before bounding (``unknown`` when it carries none)."""
        cfg = self.config
        if cfg.label is not None:
            value = dict(labels).get(cfg.label, "")
            return value[:MAX_NAME] if value and value != "None" else UNKNOWN
        prefix = cfg.tag_prefix or ""
        for name, value in labels:  # labels are sorted: the first true tag wins
            if name.startswith(prefix) and len(name) > len(prefix) and value == "true":
                return name[len(prefix) :][:MAX_NAME]
        return UNKNOWN

    def bounded(self, agent: str, folded: set[str]) -> str:
        """``agent`` itself, or ``other`` past the allow-list or the cap (noted in ``folded``)."""
        if agent == UNKNOWN:
            return agent
        if self._allow:
            if agent in self._allow:
                return agent
        elif agent in self._admitted:
            return agent
        elif len(self._admitted) < self.config.max_agents:
            self._admitted[agent] = None
            return agent
        folded.add(agent)
        return OTHER

    def emit(self, snap: Snapshot, out: MetricSet, model_of: Callable[[LabelKey], str]) -> None:
        """Add the ``llm_agent_*`` series of this snapshot to ``out``."""
        self._folder.begin()
        folded: set[str] = set()
        sources: dict[tuple[str, ...], dict[Key, float]] = {}
        seen: set[tuple[str, str]] = set()
        for metric, family in (*COUNTERS.items(), ("llm_agent_requests_total", REQUESTS)):
            for labels, value in snap.scalars.get(canonical(family), {}).items():
                agent = self.bounded(self.raw_agent(labels), folded)
                model = model_of(labels)
                seen.add((agent, model))
                key: tuple[str, ...] = (metric, agent, model)
                if metric == "llm_agent_requests_total":
                    key += (outcome(dict(labels).get("status_code", "")),)
                sources.setdefault(key, {})[labels] = value
        for key, src in sources.items():
            series = {"target": self.target, "agent": key[1], "model": key[2]}
            if len(key) == 4:
                series["outcome"] = key[3]
            out.add(key[0], self._folder.update(key, src, forget_missing=True), series)
        for agent, model in seen:  # every series of a seen (agent, model) exists, 0 until used
            series = {"target": self.target, "agent": agent, "model": model}
            for metric in COUNTERS:
                if out.get(metric, series) is None:
                    out.add(metric, 0.0, series)
            for oc in OUTCOMES:
                if out.get("llm_agent_requests_total", {**series, "outcome": oc}) is None:
                    out.add("llm_agent_requests_total", 0.0, {**series, "outcome": oc})
        out.add("llm_agent_folded_agents", float(len(folded)), {"target": self.target})
