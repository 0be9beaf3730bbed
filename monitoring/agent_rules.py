"""Recording rules of the agent-task wait-time SLI (Celery task events), per queue.

``queue:llm_queue_task_waits:rate<w>`` is tasks started per second and
``queue:llm_queue_task_slow_waits:ratio_rate<w>`` the share of them that waited longer than
``agents.wait_slo.threshold_seconds`` (a bucket boundary of ``llm_queue_task_wait_seconds``),
kept per (job, backend, target, queue) for every window a burn-rate tier uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .bundle import Bundle, le
from .matchers import eq

QUEUE_LABELS = ("backend", "target", "queue")


@dataclass(frozen=True)
class WaitSlo:
    objective: float
    threshold: float
    floor: float
    tiers: list[dict[str, Any]]

    @staticmethod
    def events_rule(window: str) -> str:
        return f"queue:llm_queue_task_waits:rate{window}"

    @staticmethod
    def ratio_rule(window: str) -> str:
        return f"queue:llm_queue_task_slow_waits:ratio_rate{window}"

    def windows(self) -> list[str]:
        out: list[str] = []
        for t in self.tiers:
            for w in (str(t["long"]), str(t["short"])):
                if w not in out:
                    out.append(w)
        return out


def wait_slo(b: Bundle) -> WaitSlo:
    s = b["agents"]["wait_slo"]
    return WaitSlo(
        float(s["objective"]), float(s["threshold_seconds"]), float(s["min_events_per_second"]), s["burn_rates"]
    )


def rules(b: Bundle) -> list[tuple[str, str]]:
    """(record, expr) pairs of the wait SLI for every window of its burn-rate tiers."""
    slo = wait_slo(b)
    by = b.by(*QUEUE_LABELS)
    out = []
    for w in slo.windows():
        total = f"sum {by} (rate({b.sel('llm_queue_task_wait_seconds_count')}[{w}]))"
        good = f"sum {by} (rate({b.sel('llm_queue_task_wait_seconds_bucket', eq('le', le(slo.threshold)))}[{w}]))"
        out.append((slo.events_rule(w), total))
        out.append((slo.ratio_rule(w), f"({total} - {good})\n/\n({total} > 0)"))
    return out
