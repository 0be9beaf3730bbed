"""The exporter itself and the upstream targets it reads."""

from __future__ import annotations

from .spec import MetricSpec, T, metric

SPECS: tuple[MetricSpec, ...] = (
    # --- the exporter itself ---------------------------------------------------
    metric(
        "exporter",
        "llm_exporter_build_info",
        "gauge",
        "Build of llm-exporter: version and Python runtime. Always 1.",
        ("version", "python_version"),
    ),
    metric(
        "exporter",
        "llm_exporter_config_last_reload_successful",
        "gauge",
        "1 if the last configuration (re)load succeeded, 0 if it was rejected and the previous one is still running.",
    ),
    metric(
        "exporter",
        "llm_exporter_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful configuration load.",
        unit="seconds",
    ),
    metric(
        "exporter",
        "llm_scrape_collector_success",
        "gauge",
        "1 if the collector finished without an internal error (and, for a collector without a target such as "
        "the GPU one, within the scrape deadline). An unreachable or slow upstream is reported by llm_target_up, "
        "not here.",
        ("collector",),
    ),
    metric(
        "exporter",
        "llm_scrape_collector_duration_seconds",
        "gauge",
        "Wall time the collector took in this scrape (or the deadline when it timed out).",
        ("collector",),
        "seconds",
    ),
    # --- upstream targets ------------------------------------------------------
    metric(
        "target",
        "llm_target_up",
        "gauge",
        "1 if the last read of the configured upstream (inference server or queue broker) succeeded.",
        T,
    ),
    metric(
        "target",
        "llm_target_info",
        "gauge",
        "Identity of a configured upstream: kind (inference, queue), software and version. Always 1.",
        ("target", "kind", "software", "version"),
    ),
    metric(
        "target",
        "llm_target_dropped_series",
        "gauge",
        "Series of the target not exported in this scrape because it is over its max_models or max_series limit "
        "(an upstream series left unread past max_series in one family counts once).",
        T,
    ),
    metric(
        "target",
        "llm_upstream_rejected_samples_total",
        "counter",
        "Upstream samples dropped as invalid, by reason: nan, inf, negative (a counter below 0), "
        "out_of_range (a ratio outside 0-1). The exported series keeps its last valid value.",
        ("target", "reason"),
    ),
)
