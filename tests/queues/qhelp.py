"""Scrape helpers for the queue tests: run collectors through the real scrape engine."""

from __future__ import annotations

from collections.abc import Sequence

from llm_exporter.config import QueueTarget, load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Collector, ScrapeEngine
from values import value


def target(yaml_text: str) -> QueueTarget:
    """Parse one queue target from YAML (the list item under ``queues:``)."""
    indented = "\n".join("    " + line for line in yaml_text.strip().splitlines())
    cfg = load_config_text("queues:\n  -\n" + indented + "\n")
    return cfg.queues[0]


def scrape(*collectors: Collector, timeout: float = 10.0) -> MetricSet:
    """One scrape of the given collectors through ScrapeEngine (min interval 0)."""
    return ScrapeEngine(list(collectors), min_interval=0).scrape(timeout)


def up(ms: MetricSet, target_name: str) -> float | None:
    return value(ms, "llm_target_up", target=target_name)


def queues(ms: MetricSet, backend: str | None = None) -> set[tuple[str, str]]:
    """(queue, group) pairs that have an llm_queue_info series."""
    out = set()
    for key in ms.series("llm_queue_info"):
        d = dict(key)
        if backend is None or d["backend"] == backend:
            out.add((d["queue"], d["group"]))
    return out


def run_all(collectors: Sequence[Collector]) -> MetricSet:
    return scrape(*collectors)
