"""The Exporter health dashboard: scrapes, collectors, targets, reloads."""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..matchers import INSTANCE, JOB, selector
from .document import dashboard
from .panels import Board


def exporter(b: Bundle) -> dict[str, Any]:
    e = selector(JOB, INSTANCE)
    x = Board(b)
    x.stat(
        "Exporters up",
        "Exporter instances Prometheus scrapes successfully.",
        f"sum(up{e} and on (job, instance) llm_exporter_build_info{e})",
        "short",
        w=6,
    )
    x.stat(
        "Targets down",
        "Upstreams the exporters cannot read.",
        f"count(llm_target_up{e} == 0) or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("red", 1)],
    )
    x.stat(
        "Collectors failing",
        "Collectors failing their last run.",
        f"count(llm_scrape_collector_success{e} == 0) or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("red", 1)],
    )
    x.stat(
        "Config reload OK",
        "1 when the last config load of every exporter succeeded.",
        f"min(llm_exporter_config_last_reload_successful{e})",
        "bool",
        w=6,
        thresholds=[("red", None), ("green", 1)],
    )
    x.ts(
        "Collector success",
        "1 when the collector finished within the deadline without internal error.",
        [(f"llm_scrape_collector_success{e}", "{{instance}} {{collector}}")],
        "short",
        ratio=True,
        w=12,
    )
    x.ts(
        "Collector duration",
        "Wall time of each collector in the last scrape.",
        [(f"llm_scrape_collector_duration_seconds{e}", "{{instance}} {{collector}}")],
        "s",
        w=12,
    )
    x.ts(
        "Target up",
        "1 when the last read of the upstream succeeded.",
        [(f"llm_target_up{e}", "{{instance}} {{target}}")],
        "short",
        ratio=True,
        w=12,
    )
    x.ts(
        "Scrape duration and samples",
        "How long Prometheus' scrape of the exporter takes.",
        [(f"scrape_duration_seconds{e} and on (job, instance) llm_exporter_build_info{e}", "{{instance}}")],
        "s",
        w=12,
    )
    x.table("Targets", "Configured upstreams: kind, software, version.", [(f"llm_target_info{e}", "")], w=12)
    x.table("Exporter builds", "Exporter version and Python runtime.", [(f"llm_exporter_build_info{e}", "")], w=12)
    x.ts(
        "Config reloads",
        "Last reload result and time since the last successful load.",
        [(f"llm_exporter_config_last_reload_successful{e}", "{{instance}} ok")],
        "short",
        ratio=True,
        w=12,
    )
    x.ts(
        "Queues over max_queues",
        "Queues found on a broker target beyond its max_queues limit and therefore "
        "not monitored; above 0, raise max_queues or narrow the queue list.",
        [(f"llm_queue_dropped_queues{e}", "{{instance}} {{backend}} {{target}}")],
        "short",
        w=12,
        thresholds=[("green", None), ("orange", 1)],
    )
    x.ts(
        "Upstream samples rejected",
        "Upstream samples dropped as invalid (NaN, infinite, negative counters, ratios outside 0-1) per "
        "second; the rest of the target is still exported.",
        [
            (
                f"sum by (instance, target, reason) (rate(llm_upstream_rejected_samples_total{e}[$__rate_interval]))",
                "{{instance}} {{target}} {{reason}}",
            )
        ],
        "short",
        w=12,
    )
    x.ts(
        "Series dropped by caps",
        "Series of a target not exported because of its max_series or max_models cap; above 0, raise the "
        "cap or fix the upstream's label cardinality.",
        [(f"llm_target_dropped_series{e}", "{{instance}} {{target}}")],
        "short",
        w=12,
        thresholds=[("green", None), ("orange", 1)],
    )
    x.ts(
        "Celery event receivers",
        "1 while the receiver of a Celery target is connected to the broker, and the task events it takes per second.",
        [
            (f"llm_queue_events_connected{e}", "{{instance}} {{target}} connected"),
            (
                f"sum by (instance, target) (rate(llm_queue_events_received_total{e}[$__rate_interval]))",
                "{{instance}} {{target}} events/s",
            ),
        ],
        "short",
        w=12,
    )
    x.ts(
        "Time since last successful config load",
        "Seconds since the config was last loaded successfully.",
        [(f"time() - llm_exporter_config_last_reload_success_timestamp_seconds{e}", "{{instance}}")],
        "s",
        w=12,
    )
    return dashboard(
        b,
        "exporter",
        "LLM / Exporter health",
        "The exporters themselves: per-collector success and duration, targets, config reloads.",
        x,
        ["job", "instance"],
    )
