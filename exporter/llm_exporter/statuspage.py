"""The landing page ``/``: what the exporter reads, and how that went, at a glance.

Plain server-rendered HTML with inline CSS, no script and no external asset. It lists every
configured or discovered target (kind, up/down, last error, last read duration, series
exported and dropped), each collector's last duration, the loaded config with its secrets
redacted and when it was loaded, and the version. When nothing was found it says so (the
same sentence ``scrape-once`` prints on stderr). Every text shown goes through
``redact.redact`` and ``html.escape``.
"""

from __future__ import annotations

import dataclasses
import html
import platform
import time
from typing import Any

import yaml

from . import __version__
from .config import Config
from .metricset import MetricSet
from .redact import MASK, redact, redact_url
from .runtime import Runtime

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1b1b1b;background:#fff}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f0f0f0}
.state{font-weight:bold;padding:.1em .5em;border-radius:.3em;color:#fff}
.up .state{background:#1b7f3b}
.down .state{background:#c62828}
tr.down{background:#fde8e8}
.error{font-family:monospace;white-space:pre-wrap;max-width:50em}
.empty{background:#fff4d6;border:1px solid #e0b000;padding:.6em}
pre{background:#f6f6f6;padding:.6em;overflow:auto}
"""


def nothing_found(config: Config, metrics: MetricSet | None) -> str | None:
    """The honest sentence when no target is configured and none was discovered, else None."""
    if config.inference or config.queues:
        return None
    if metrics is not None and (metrics.series("llm_target_up") or metrics.series("llm_target_info")):
        return None
    if config.discovery.enabled:
        from .collectors.inference.engines import DEFAULT_PORTS

        ports = ", ".join(str(p) for p in DEFAULT_PORTS)
        return f"no target configured, and no engine answered on the default ports of {config.discovery.host}: {ports}"
    return "no target configured and engine discovery is off: only the exporter's own (and GPU) metrics are served"


def _e(text: object) -> str:
    return html.escape(redact(str(text)))


def _value(metrics: MetricSet | None, name: str, **labels: str) -> float | None:
    if metrics is None:
        return None
    for key, value in metrics.series(name).items():
        d = dict(key)
        if all(d.get(k) == v for k, v in labels.items()) and isinstance(value, float):
            return value
    return None


def _series_of(metrics: MetricSet | None, target: str) -> int:
    if metrics is None:
        return 0
    own = {"llm_target_up", "llm_target_info", "llm_target_dropped_series"}
    return sum(
        1 for name in metrics.names() if name not in own for key in metrics.series(name) if ("target", target) in key
    )


def _targets(runtime: Runtime) -> list[dict[str, Any]]:
    metrics = runtime.last_metrics
    outcomes = {c.target: (c, o) for c, o in runtime.engine.last_outcomes() if c.target is not None}
    names = list(outcomes)
    if metrics is not None:
        for metric in ("llm_target_info", "llm_target_up"):
            for key in metrics.series(metric):
                name = dict(key)["target"]
                if name not in names:
                    names.append(name)
    rows = []
    for name in names:
        collector, outcome = outcomes.get(name, (None, None))
        info = {}
        if metrics is not None:
            info = next((dict(k) for k in metrics.series("llm_target_info") if dict(k).get("target") == name), {})
        up = _value(metrics, "llm_target_up", target=name)
        error = outcome.error if outcome is not None and not outcome.target_ok else ""
        if up == 0.0 and not error:
            error = "no answer within the scrape deadline (a read is still running)"
        rows.append(
            {
                "name": name,
                "kind": info.get("kind") or (collector.name if collector is not None else "inference"),
                "software": " ".join(v for v in (info.get("software"), info.get("version")) if v),
                "up": None if up is None else up == 1.0,
                "error": error,
                "duration": outcome.duration if outcome is not None else None,
                "series": _series_of(metrics, name),
                "dropped": _value(metrics, "llm_target_dropped_series", target=name) or 0,
                "discovered": collector is None,
            }
        )
    return rows


def redacted_config(config: Config) -> str:
    """The loaded config as YAML, secret fields masked and URLs redacted."""

    def walk(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            out = {}
            for f in dataclasses.fields(obj):
                value = getattr(obj, f.name)
                if f.metadata.get("secret") and value:
                    out[f.name] = MASK
                else:
                    out[f.name] = walk(value)
            return out
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        if isinstance(obj, dict):
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, str) and "://" in obj:
            return redact_url(obj)
        return obj

    return yaml.safe_dump(walk(config), sort_keys=False, allow_unicode=True)


def render(runtime: Runtime) -> str:
    """The whole page."""
    metrics = runtime.last_metrics
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>llm-exporter</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>llm-exporter {_e(__version__)}</h1>",
        "<p>Prometheus exporter for LLM inference servers, NVIDIA GPUs and agent task queues. "
        '<a href="metrics">Metrics</a> · <a href="-/healthy">Health</a> · <a href="-/ready">Readiness</a></p>',
    ]
    if metrics is None:
        parts.append("<p class='empty'>No collection has run yet: the first one starts with the server.</p>")
    else:
        age = max(0.0, time.time() - runtime.last_collected_at)
        parts.append(f"<p>Last collection {age:.0f} s ago.</p>")
    empty = nothing_found(runtime.config, metrics)
    parts.append("<h2>Targets</h2>")
    rows = _targets(runtime)
    if empty and not rows:
        parts.append(f"<p class='empty' id='nothing-found'>{_e(empty)}</p>")
    else:
        parts.append(
            "<table id='targets'><tr><th>target</th><th>kind</th><th>software</th><th>state</th>"
            "<th>last read</th><th>series exported</th><th>series dropped</th><th>last error</th></tr>"
        )
        for r in rows:
            state = "unknown" if r["up"] is None else ("up" if r["up"] else "down")
            duration = "" if r["duration"] is None else f"{r['duration']:.3f} s"
            name = _e(r["name"]) + (" <small>(discovered)</small>" if r["discovered"] else "")
            parts.append(
                f"<tr class='{state}' data-target='{_e(r['name'])}'><td>{name}</td><td>{_e(r['kind'])}</td>"
                f"<td>{_e(r['software'])}</td><td><span class='state'>{state}</span></td><td>{duration}</td>"
                f"<td>{r['series']}</td><td>{r['dropped']:.0f}</td><td class='error'>{_e(r['error'])}</td></tr>"
            )
        parts.append("</table>")
    parts.append(
        "<h2>Collectors</h2><table id='collectors'><tr><th>collector</th><th>state</th><th>last duration</th></tr>"
    )
    if metrics is not None:
        for key, value in sorted(metrics.series("llm_scrape_collector_duration_seconds").items()):
            name = dict(key)["collector"]
            ok = _value(metrics, "llm_scrape_collector_success", collector=name) == 1.0
            cls = "up" if ok else "down"
            dur = f"{value:.3f} s" if isinstance(value, float) else ""
            parts.append(
                f"<tr class='{cls}'><td>{_e(name)}</td><td><span class='state'>{'ok' if ok else 'failed'}</span></td>"
                f"<td>{dur}</td></tr>"
            )
    parts.append("</table>")
    loaded = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(runtime.reload_ok_at))
    source = runtime.config_path or "embedded default"
    last = "succeeded" if runtime.reload_ok else "was rejected: the config below is still running"
    parts.append(
        f"<h2>Configuration</h2><p>{_e(source)}, loaded {loaded}; the last (re)load {last}.</p>"
        f"<pre id='config'>{_e(redacted_config(runtime.config))}</pre>"
        f"<p><small>llm-exporter {_e(__version__)}, Python {_e(platform.python_version())}</small></p>"
        "</body></html>\n"
    )
    return "".join(parts)
