"""The alert and runbook records every area module fills in.

Every alert carries ``severity`` (critical pages, warning tickets, info is not routed),
a static ``summary`` ending in a period, a templated ``description`` that only uses
labels surviving the expression's aggregation, and a generated ``runbook_url``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Runbook:
    meaning: str
    confirm: str  # a PromQL query that shows the problem
    causes: tuple[str, ...]
    actions: tuple[str, ...]
    commands: tuple[str, ...] = ()  # shell commands to run (kubectl, nvidia-smi, redis-cli ...)
    panel: str = ""  # title of the panel to look at in the alert group's dashboard
    escalate: str = ""  # who to call, and when
    table: tuple[tuple[str, ...], ...] = ()  # optional table (header row first), e.g. per-XID actions


@dataclass(frozen=True)
class Alert:
    name: str
    group: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    runbook: Runbook
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Rule identity when one alert name has several rules (burn-rate tiers)."""
        return self.name + "".join(f"/{k}={v}" for k, v in sorted(self.labels.items()))
