"""Grafana dashboards as plain dicts (no SDK), one function per dashboard.

Conventions (reference Part 8): a ``datasource`` variable and no ``__inputs``; chained
query variables (job -> target -> model / instance -> gpu / queue) with ``refresh: 2``;
``$__rate_interval`` in every rate; a unit and a description that names the metrics on
every panel; a tag-based link bar keeping time and variables; ``id: null``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .bundle import Bundle, le
from .promql import metric_names
from .recording import groups, slis

DS = {"type": "prometheus", "uid": "${datasource}"}
RI = "$__rate_interval"


def _sources(b: Bundle) -> dict[str, set[str]]:
    """Recorded series -> raw llm_* metrics behind it (for descriptions)."""
    rec = {r.record: r.expr for _, _, rules in groups(b) for r in rules}
    memo: dict[str, set[str]] = {}

    def resolve(name: str) -> set[str]:
        if name not in rec:
            return {name}
        if name not in memo:
            memo[name] = set()
            memo[name] = set().union(*(resolve(n) for n in metric_names(rec[name])))
        return memo[name]

    return {n: resolve(n) for n in rec}


@dataclass
class Board:
    """Accumulates panels with automatic grid placement."""

    b: Bundle
    x: int = 0
    y: int = 0
    row_h: int = 0
    next_id: int = 1
    panels: list[dict[str, Any]] = field(default_factory=list)
    _collapsed: dict[str, Any] | None = None

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title: str, collapsed: bool = False) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel = {
            "id": self._id(),
            "type": "row",
            "title": title,
            "collapsed": collapsed,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
            "panels": [],
        }
        self.y += 1
        self.panels.append(panel)
        self._collapsed = panel if collapsed else None

    def _id(self) -> int:
        i = self.next_id
        self.next_id += 1
        return i

    def panel(
        self,
        kind: str,
        title: str,
        desc: str,
        targets: list[tuple[str, str]],
        unit: str,
        *,
        w: int = 8,
        h: int = 8,
        ratio: bool = False,
        stack: bool = False,
        thresholds: list[tuple[str, float | None]] | None = None,
        links: list[dict[str, Any]] | None = None,
        instant: bool = False,
    ) -> None:
        names: set[str] = set()
        for expr, _ in targets:
            names |= metric_names(expr)
        src = _sources(self.b)
        shown = []
        for n in sorted(names):
            raw = sorted(src.get(n, set()) - {n})
            shown.append(f"{n} (from {', '.join(raw)})" if raw and n in src else n)
        defaults: dict[str, Any] = {
            "unit": unit,
            "min": 0,
            "color": {"mode": "palette-classic"},
            "mappings": [
                {"type": "special", "options": {"match": "nan", "result": {"text": "No traffic", "index": 0}}}
            ],
        }
        if ratio:
            defaults["max"] = 1
        if unit in ("dateTimeFromNow",) or title.startswith(("Time since", "Time until")):
            defaults.pop("min")
        if thresholds:
            defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in thresholds]}
            defaults["color"] = {"mode": "thresholds"}
        else:
            defaults["thresholds"] = {"mode": "absolute", "steps": [{"color": "text", "value": None}]}
        if kind == "timeseries":
            defaults["custom"] = {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 10 if stack else 0,
                "showPoints": "never",
                "spanNulls": False,
                "stacking": {"mode": "normal" if stack else "none", "group": "A"},
            }
        if links:
            defaults["links"] = links
        p: dict[str, Any] = {
            "id": self._id(),
            "type": kind,
            "title": title,
            "description": f"{desc} Metrics: {', '.join(shown)}.",
            "datasource": DS,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "targets": [
                {
                    "refId": chr(ord("A") + i),
                    "datasource": DS,
                    "expr": expr,
                    "legendFormat": legend,
                    "range": not (instant or kind == "table"),
                    "instant": instant or kind == "table",
                    **({"format": "table"} if kind == "table" else {}),
                }
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        if kind == "timeseries":
            p["options"] = {
                "tooltip": {"mode": "multi", "sort": "desc"},
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            }
        elif kind == "stat":
            p["options"] = {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "value" if thresholds else "none",
                "graphMode": "area",
                "textMode": "auto",
                "orientation": "auto",
                "justifyMode": "auto",
            }
        elif kind == "table":
            p["options"] = {"showHeader": True, "cellHeight": "sm"}
            p["transformations"] = [
                {"id": "merge", "options": {}},
                {"id": "organize", "options": {"excludeByName": {"Time": True}}},
            ]
        if self._collapsed is not None:
            self._collapsed["panels"].append(p)
        else:
            self.panels.append(p)

    def ts(self, title: str, desc: str, targets: list[tuple[str, str]], unit: str, **kw: Any) -> None:
        self.panel("timeseries", title, desc, targets, unit, **kw)

    def stat(self, title: str, desc: str, expr: str, unit: str, **kw: Any) -> None:
        kw.setdefault("w", 4)
        kw.setdefault("h", 4)
        self.panel("stat", title, desc, [(expr, "")], unit, **kw)

    def table(self, title: str, desc: str, targets: list[tuple[str, str]], **kw: Any) -> None:
        self.panel("table", title, desc, targets, "short", **kw)


def _var(name: str, label: str, query: str, *, multi: bool = True) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        **(
            {"allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]}}
            if multi
            else {"current": {}}
        ),
        "hide": 0,
        "regex": "",
        "options": [],
    }


def _datasource_var(b: Bundle) -> dict[str, Any]:
    uid = b["dashboards"].get("datasource_uid", "prometheus")
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "current": {"text": uid, "value": uid},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


VARS = {
    "job": lambda: _var("job", "Job", "label_values(llm_exporter_build_info, job)"),
    "instance": lambda: _var("instance", "Instance", 'label_values(llm_exporter_build_info{job=~"$job"}, instance)'),
    "target": lambda: _var("target", "Target", 'label_values(llm_target_up{job=~"$job"}, target)'),
    "itarget": lambda: _var("target", "Target", 'label_values(llm_target_info{job=~"$job", kind="inference"}, target)'),
    "tinstance": lambda: _var(
        "instance", "Instance", 'label_values(llm_target_up{job=~"$job", target=~"$target"}, instance)'
    ),
    "model": lambda: _var("model", "Model", 'label_values(llm_model_info{job=~"$job"}, model)'),
    "tmodel": lambda: _var(
        "model", "Model", 'label_values(llm_model_info{job=~"$job", target=~"$target", instance=~"$instance"}, model)'
    ),
    "gpu_instance": lambda: _var(
        "instance", "Node (exporter instance)", 'label_values(llm_gpu_info{job=~"$job"}, instance)'
    ),
    "gpu_instance_one": lambda: _var(
        "instance", "Node (exporter instance)", 'label_values(llm_gpu_info{job=~"$job"}, instance)', multi=False
    ),
    "gpu": lambda: _var("gpu", "GPU", 'label_values(llm_gpu_info{job=~"$job", instance=~"$instance"}, gpu)'),
    "qtarget": lambda: _var("target", "Broker", 'label_values(llm_queue_info{job=~"$job"}, target)'),
    "queue": lambda: _var("queue", "Queue", 'label_values(llm_queue_info{job=~"$job", target=~"$target"}, queue)'),
}


def _dashboard(b: Bundle, key: str, title: str, description: str, board: Board, variables: list[str]) -> dict[str, Any]:
    d = b["dashboards"]
    return {
        "id": None,
        "uid": f"{d['uid_prefix']}-{key}",
        "title": title,
        "description": description,
        "tags": list(d["tags"]),
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": int(d["schema_version"]),
        "version": 1,
        "refresh": d["refresh"],
        "time": {"from": d["time_from"], "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "links": [
            {
                "type": "dashboards",
                "title": "llm-exporter dashboards",
                "tags": list(d["tags"]),
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "targetBlank": False,
                "icon": "external link",
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": [_datasource_var(b), *[VARS[v]() for v in variables]]},
        "panels": board.panels,
    }


def _q(*parts: str) -> str:
    return "{" + ", ".join(p for p in parts if p) + "}"


J = 'job=~"$job"'
M = 'model=~"$model"'
T = 'target=~"$target"'
I_ = 'instance=~"$instance"'
G_ = 'gpu=~"$gpu"'
QQ = 'queue=~"$queue"'


def _link(b: Bundle, key: str, title: str, extra: str = "") -> dict[str, Any]:
    uid = f"{b['dashboards']['uid_prefix']}-{key}"
    return {
        "title": title,
        "url": f"/d/{uid}?${{__url_time_range}}&${{datasource:queryparam}}&${{job:queryparam}}" + extra,
    }


def _quantiles(metric: str, sel: str, by: str = "model", recorded: bool = True) -> list[tuple[str, str]]:
    out = []
    for q in (0.5, 0.95, 0.99):
        if recorded:
            inner = f"sum by (job, {by}, le) (model_le:{metric}_bucket:rate5m{sel})"
        else:
            inner = f"sum by (job, {by}, le) (rate({metric}_bucket{sel}[{RI}]))"
        out.append((f"histogram_quantile({q}, {inner})", f"{{{{{by}}}}} p{int(q * 100)}"))
    return out


def overview(b: Bundle) -> dict[str, Any]:
    w = b.rate_window
    s = _q(J, M)
    errs = "|".join(b["slo"]["slis"]["errors"]["finish_reasons"])
    x = Board(b)
    x.stat(
        "Requests per second",
        "Finished requests per second, all selected models.",
        f"sum(model:llm_requests:rate{w}{s})",
        "reqps",
    )
    x.stat(
        "Error ratio",
        f"Share of finished requests with finish_reason {errs.replace('|', ' or ')}.",
        f"(sum(model_finish_reason:llm_requests:rate{w}{_q(J, M, f'finish_reason=~{chr(34)}{errs}{chr(34)}')})"
        f" or vector(0)) / (sum(model:llm_requests:rate{w}{s}) > 0)",
        "percentunit",
        ratio=True,
        thresholds=[("green", None), ("orange", 0.001), ("red", 0.01)],
    )
    x.stat(
        "Output tokens per second",
        "Generated tokens per second.",
        f"sum(model:llm_generation_tokens:rate{w}{s})",
        "suffix:tok/s",
    )
    x.stat(
        "TTFT p95",
        "95th percentile time to first token across the selected models.",
        f"histogram_quantile(0.95, sum by (le) (model_le:llm_time_to_first_token_seconds_bucket:rate{w}{s}))",
        "s",
    )
    x.stat(
        "KV cache (max)",
        "Highest KV-cache usage of any instance.",
        f"max(model:llm_kv_cache_usage_ratio:max{s})",
        "percentunit",
        ratio=True,
        thresholds=[("green", None), ("orange", 0.9), ("red", 0.98)],
    )
    x.stat(
        "Targets down",
        "Configured upstreams the exporters cannot read.",
        f"count(llm_target_up{_q(J)} == 0) or vector(0)",
        "short",
        thresholds=[("green", None), ("red", 1)],
    )
    x.row("Requests")
    x.ts(
        "Request rate by model",
        "Finished requests per second per model.",
        [(f"model:llm_requests:rate{w}{s}", "{{model}}")],
        "reqps",
        links=[
            _link(b, "instance", "LLM / Instance for ${__field.labels.model}", "&var-model=${__field.labels.model}")
        ],
    )
    x.ts(
        "Error ratio by model",
        "Failed share of finished requests (5m), per model.",
        [(f"model:llm_slo_failed_requests:ratio_rate5m{s}", "{{model}}")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Finish reasons",
        "Finished requests per second by finish_reason (stop, length, abort, error ...).",
        [(f"sum by (finish_reason) (model_finish_reason:llm_requests:rate{w}{s})", "{{finish_reason}}")],
        "reqps",
        stack=True,
    )
    x.row("Latency")
    x.ts(
        "Time to first token",
        "TTFT quantiles per model from the engine's histogram.",
        _quantiles("llm_time_to_first_token_seconds", s),
        "s",
    )
    x.ts(
        "Inter-token latency",
        "Time between output tokens, quantiles per model.",
        _quantiles("llm_inter_token_latency_seconds", s),
        "s",
    )
    x.ts(
        "End-to-end latency",
        "Request duration quantiles per model.",
        _quantiles("llm_request_duration_seconds", s),
        "s",
    )
    x.ts(
        "Time per output token",
        "Per-request mean time per output token (TPOT), p95 per model.",
        [
            (
                f"histogram_quantile(0.95, sum by (job, model, le) "
                f"(model_le:llm_time_per_output_token_seconds_bucket:rate{w}{s}))",
                "{{model}} p95",
            )
        ],
        "s",
    )
    x.ts(
        "Queue time (mean)",
        "Mean time a request waited in the engine before scheduling.",
        [
            (
                f"model:llm_request_queue_duration_seconds_sum:rate{w}{s} / "
                f"(model:llm_request_queue_duration_seconds_count:rate{w}{s} > 0)",
                "{{model}}",
            )
        ],
        "s",
    )
    x.row("Throughput and saturation")
    x.ts(
        "Tokens per second",
        "Prompt (in) and generated (out) tokens per second per model.",
        [
            (f"model:llm_prompt_tokens:rate{w}{s}", "{{model}} in"),
            (f"model:llm_generation_tokens:rate{w}{s}", "{{model}} out"),
        ],
        "suffix:tok/s",
    )
    x.ts(
        "Running and waiting requests",
        "Requests in the running batch and waiting in the engine queue.",
        [
            (f"model:llm_requests_running:sum{s}", "{{model}} running"),
            (f"model:llm_requests_waiting:sum{s}", "{{model}} waiting"),
        ],
        "short",
    )
    x.ts(
        "KV-cache usage (max per model)",
        "Highest KV-cache usage among a model's instances.",
        [(f"model:llm_kv_cache_usage_ratio:max{s}", "{{model}}")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Prefix-cache hit ratio",
        "Prompt tokens served from the prefix cache over tokens looked up.",
        [
            (
                f"model:llm_prefix_cache_hit_tokens:rate{w}{s} / (model:llm_prefix_cache_queried_tokens:rate{w}{s} > 0)",
                "{{model}}",
            )
        ],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Instances per model",
        "Instances reporting each model.",
        [(f"model:llm_model_instances:count{s}", "{{model}}")],
        "short",
    )
    x.row("SLO and cost")
    for sli in slis(b):
        x.ts(
            f"{sli.title} SLO attainment (1h)",
            f"Share of good events over the last hour; objective {sli.objective:g}.",
            [(f"1 - {sli.ratio_rule('1h')}{s}", "{{model}}")],
            "percentunit",
            ratio=True,
            w=6,
            thresholds=[("red", None), ("orange", sli.objective - (1 - sli.objective)), ("green", sli.objective)],
        )
    x.ts(
        "Cost per million tokens",
        "Dollars per million (prompt + generated) tokens, from configured prices.",
        [(f"model:llm_cost_dollars_per_million_tokens:ratio{s}", "{{model}}")],
        "currencyUSD",
        w=6,
    )
    x.row("GPUs serving these models")
    per_model = '* on (job, instance) group_right () group by (job, instance, model) (llm_model_info{job=~"$job", model=~"$model"})'
    x.ts(
        "GPU utilisation by model",
        "Mean utilisation of the GPUs in the pods serving each model.",
        [(f"avg by (job, instance) (llm_gpu_utilization_ratio{_q(J)}) {per_model}", "{{model}} {{instance}}")],
        "percentunit",
        ratio=True,
        w=6,
    )
    x.ts(
        "GPU memory used by model",
        "Framebuffer memory in use on the GPUs of each model's pods.",
        [(f"sum by (job, instance) (llm_gpu_memory_used_bytes{_q(J)}) {per_model}", "{{model}} {{instance}}")],
        "bytes",
        w=6,
    )
    x.ts(
        "GPU power by model",
        "Power drawn by the GPUs of each model's pods.",
        [(f"sum by (job, instance) (llm_gpu_power_watts{_q(J)}) {per_model}", "{{model}} {{instance}}")],
        "watt",
        w=6,
    )
    x.ts(
        "Generated tokens per joule",
        "Output tokens per joule of GPU energy in the serving pods.",
        [
            (
                f"sum by (job, instance, model) (rate(llm_generation_tokens_total{s}[{RI}]))\n/ on (job, instance, model)\n"
                f"(sum by (job, instance) (rate(llm_gpu_energy_joules_total{_q(J)}[{RI}])) {per_model})",
                "{{model}}",
            )
        ],
        "short",
        w=6,
    )
    x.row("Exporter health")
    x.stat("Targets up", "Configured upstreams answering.", f"sum(llm_target_up{_q(J)})", "short", w=6)
    x.stat(
        "Collectors failing",
        "Collectors that failed their last run.",
        f"count(llm_scrape_collector_success{_q(J)} == 0) or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("red", 1)],
    )
    x.stat(
        "Slowest collector",
        "Longest collector duration in the last scrape.",
        f"max(llm_scrape_collector_duration_seconds{_q(J)})",
        "s",
        w=6,
    )
    x.stat(
        "Config reload OK",
        "1 when every exporter's last config load succeeded.",
        f"min(llm_exporter_config_last_reload_successful{_q(J)})",
        "bool",
        w=6,
        thresholds=[("red", None), ("green", 1)],
    )
    return _dashboard(
        b,
        "overview",
        "LLM / Overview",
        "Golden signals per model: traffic, errors, latency, saturation, SLO, cost, GPUs.",
        x,
        ["job", "model"],
    )


def instance(b: Bundle) -> dict[str, Any]:
    s = _q(J, I_, T, M)
    t = _q(J, I_, T)
    x = Board(b)
    x.stat(
        "Target up",
        "1 when the exporter's last read of the upstream succeeded.",
        f"min(llm_target_up{t})",
        "bool",
        thresholds=[("red", None), ("green", 1)],
    )
    x.stat("Running", "Requests in the running batch.", f"sum(llm_requests_running{s})", "short")
    x.stat("Waiting", "Requests waiting in the engine.", f"sum(llm_requests_waiting{s})", "short")
    x.stat(
        "KV cache",
        "KV-cache usage.",
        f"max(llm_kv_cache_usage_ratio{s})",
        "percentunit",
        ratio=True,
        thresholds=[("green", None), ("orange", 0.9), ("red", 0.98)],
    )
    x.stat("Requests per second", "Finished requests per second.", f"sum(rate(llm_requests_total{s}[{RI}]))", "reqps")
    x.stat(
        "Output tokens per second",
        "Generated tokens per second.",
        f"sum(rate(llm_generation_tokens_total{s}[{RI}]))",
        "suffix:tok/s",
    )
    x.table(
        "Served models",
        "Models of the target with what the engine reports about them.",
        [(f"llm_model_info{s}", "")],
        w=12,
        h=6,
    )
    x.table("Target software", "Engine software and version of the target.", [(f"llm_target_info{t}", "")], w=12, h=6)
    x.row("Requests and tokens")
    x.ts(
        "Requests by finish reason",
        "Finished requests per second by finish_reason.",
        [
            (
                f"sum by (instance, model, finish_reason) (rate(llm_requests_total{s}[{RI}]))",
                "{{model}} {{finish_reason}}",
            )
        ],
        "reqps",
        stack=True,
    )
    x.ts(
        "Tokens per second",
        "Prompt and generated tokens per second.",
        [
            (f"sum by (instance, model) (rate(llm_prompt_tokens_total{s}[{RI}]))", "{{model}} in"),
            (f"sum by (instance, model) (rate(llm_generation_tokens_total{s}[{RI}]))", "{{model}} out"),
        ],
        "suffix:tok/s",
    )
    x.ts(
        "Running, waiting and KV cache",
        "Scheduler state of the engine.",
        [
            (f"sum by (instance, model) (llm_requests_running{s})", "{{model}} running"),
            (f"sum by (instance, model) (llm_requests_waiting{s})", "{{model}} waiting"),
        ],
        "short",
    )
    x.ts(
        "KV-cache usage",
        "Fraction of KV-cache blocks in use.",
        [(f"llm_kv_cache_usage_ratio{s}", "{{instance}} {{model}}")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Prefix-cache hit ratio",
        "Prefix-cache hit tokens over looked-up tokens.",
        [
            (
                f"sum by (instance, model) (rate(llm_prefix_cache_hit_tokens_total{s}[{RI}]))\n/\n"
                f"(sum by (instance, model) (rate(llm_prefix_cache_queried_tokens_total{s}[{RI}])) > 0)",
                "{{model}}",
            )
        ],
        "percentunit",
        ratio=True,
    )
    x.row("Latency")
    for metric, title in (
        ("llm_time_to_first_token_seconds", "Time to first token"),
        ("llm_inter_token_latency_seconds", "Inter-token latency"),
        ("llm_time_per_output_token_seconds", "Time per output token"),
        ("llm_request_duration_seconds", "End-to-end latency"),
        ("llm_request_queue_duration_seconds", "Queue time"),
    ):
        x.ts(
            title,
            f"{title}: p50, p95, p99 and mean from the engine's histogram.",
            [
                *_quantiles(metric, s, "model", recorded=False),
                (
                    f"sum by (model) (rate({metric}_sum{s}[{RI}])) / (sum by (model) (rate({metric}_count{s}[{RI}])) > 0)",
                    "{{model}} mean",
                ),
            ],
            "s",
        )
    x.row("Served process")
    x.ts(
        "Process CPU",
        "CPU seconds per second of the served inference process.",
        [(f"rate(llm_process_cpu_seconds_total{t}[{RI}])", "{{target}}")],
        "percentunit",
        w=6,
    )
    x.ts(
        "Process memory",
        "Resident memory of the served process.",
        [(f"llm_process_resident_memory_bytes{t}", "{{target}}")],
        "bytes",
        w=6,
    )
    x.ts("Process threads", "Threads of the served process.", [(f"llm_process_threads{t}", "{{target}}")], "short", w=6)
    x.ts(
        "Process open file descriptors",
        "Open file descriptors of the served process.",
        [(f"llm_process_open_fds{t}", "{{target}}")],
        "short",
        w=6,
    )
    x.row("Loaded models (Ollama /api/ps)")
    x.ts(
        "Loaded model memory",
        "Memory each loaded model holds (weights, KV cache, buffers) and the part "
        "resident in GPU memory; the rest is offloaded to CPU. Ollama targets only.",
        [(f"llm_model_memory_bytes{s}", "{{model}} total"), (f"llm_model_gpu_memory_bytes{s}", "{{model}} in VRAM")],
        "bytes",
        w=8,
    )
    x.ts(
        "Share of model in VRAM",
        "GPU-resident part of each loaded model; below 1 the model runs partly on the CPU (slow). Ollama targets only.",
        [(f"llm_model_gpu_memory_bytes{s} / (llm_model_memory_bytes{s} > 0)", "{{model}}")],
        "percentunit",
        ratio=True,
        w=8,
        thresholds=[("red", None), ("orange", 0.9), ("green", 1)],
    )
    x.ts(
        "Time until unload (keep-alive)",
        "Seconds until Ollama unloads the idle model (expires_at minus now); "
        "negative: the expiry has passed. Ollama targets only.",
        [(f"llm_model_expiry_timestamp_seconds{s} - time()", "{{model}}")],
        "s",
        w=8,
    )
    x.row("Active probe (requires inference[].probe in the exporter config)", collapsed=True)
    x.ts(
        "Probe success",
        "1 when the last synthetic chat completion succeeded.",
        [(f"llm_probe_success{s}", "{{model}}")],
        "bool",
        w=8,
        ratio=True,
    )
    x.ts(
        "Probe duration and TTFT",
        "Duration and time to first token of the last probe.",
        [
            (f"llm_probe_duration_seconds{s}", "{{model}} duration"),
            (f"llm_probe_time_to_first_token_seconds{s}", "{{model}} TTFT"),
        ],
        "s",
        w=8,
    )
    x.ts(
        "Rate-limit headroom",
        "x-ratelimit-remaining-* headers of the last probe.",
        [
            (f"llm_probe_ratelimit_remaining_requests{s}", "{{model}} requests"),
            (f"llm_probe_ratelimit_remaining_tokens{s}", "{{model}} tokens"),
        ],
        "short",
        w=8,
    )
    return _dashboard(
        b,
        "instance",
        "LLM / Instance",
        "One inference target in depth: scheduler, latency, tokens, the served process and the probe.",
        x,
        ["job", "itarget", "tinstance", "tmodel"],
    )


def gpu_fleet(b: Bundle) -> dict[str, Any]:
    g = _q(J, I_)
    x = Board(b)
    x.stat("GPUs visible", "GPUs NVML enumerates on the selected nodes.", f"sum(llm_gpu_devices{g})", "short")
    x.stat("GPUs up", "GPUs answering every NVML call.", f"sum(llm_gpu_up{g})", "short")
    x.stat(
        "GPUs lost",
        "GPUs whose NVML calls fail.",
        f"count(llm_gpu_up{g} == 0) or vector(0)",
        "short",
        thresholds=[("green", None), ("red", 1)],
    )
    x.stat("Power", "Total power draw.", f"sum(llm_gpu_power_watts{g})", "watt")
    x.stat(
        "Memory used",
        "Fleet framebuffer in use over total.",
        f"sum(llm_gpu_memory_used_bytes{g}) / (sum(llm_gpu_memory_total_bytes{g}) > 0)",
        "percentunit",
        ratio=True,
    )
    x.stat(
        "Hottest GPU",
        "Highest GPU temperature.",
        f"max(llm_gpu_temperature_celsius{g})",
        "celsius",
        thresholds=[("green", None), ("orange", 83), ("red", 87)],
    )
    x.stat(
        "GPUs asking for recovery",
        "GPUs whose driver asks for an action (recovery action above 0: GPU "
        "reset, node reboot, drain P2P, drain and reset).",
        f"count(llm_gpu_recovery_action{g} > 0) or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("red", 1)],
    )
    x.stat(
        "Row remaps pending or failed",
        "GPUs with a row remap waiting for a reset, or a failed remap.",
        f"count((llm_gpu_remapped_rows_pending{g} > 0) or (llm_gpu_remapped_rows_failure{g} > 0)) or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("orange", 1)],
    )
    x.stat(
        "Downtrained PCIe links",
        "GPUs whose PCIe link runs below its maximum generation or width.",
        f"count((llm_gpu_pcie_link_generation{_q(J, I_, chr(34).join(['state=', 'current', '']))} "
        f"< ignoring (state) llm_gpu_pcie_link_generation{_q(J, I_, chr(34).join(['state=', 'max', '']))}) "
        f"or (llm_gpu_pcie_link_width{_q(J, I_, chr(34).join(['state=', 'current', '']))} "
        f"< ignoring (state) llm_gpu_pcie_link_width{_q(J, I_, chr(34).join(['state=', 'max', '']))})) "
        f"or vector(0)",
        "short",
        w=6,
        thresholds=[("green", None), ("orange", 1)],
    )
    x.stat(
        "Hottest GPU memory",
        "Highest memory (HBM) temperature; HBM3 is specified up to about 95 °C.",
        f"max(llm_gpu_memory_temperature_celsius{g})",
        "celsius",
        w=6,
        thresholds=[("green", None), ("orange", 85), ("red", 95)],
    )
    node = _link(b, "gpu-node", "GPU / Node ${__field.labels.instance}", "&var-instance=${__field.labels.instance}")
    x.row("Utilisation and memory")
    x.ts(
        "GPU utilisation",
        "Share of time a kernel ran, per GPU.",
        [(f"llm_gpu_utilization_ratio{g}", "{{instance}} gpu{{gpu}}")],
        "percentunit",
        ratio=True,
        w=12,
        links=[node],
    )
    x.ts(
        "Memory used",
        "Framebuffer in use over total, per GPU.",
        [(f"llm_gpu_memory_used_bytes{g} / (llm_gpu_memory_total_bytes{g} > 0)", "{{instance}} gpu{{gpu}}")],
        "percentunit",
        ratio=True,
        w=12,
        links=[node],
    )
    x.row("Power, energy and temperature")
    x.ts("Power", "Power draw per GPU.", [(f"llm_gpu_power_watts{g}", "{{instance}} gpu{{gpu}}")], "watt")
    x.ts(
        "Energy per node",
        "Energy used per second (from the energy counter), per node.",
        [(f"sum by (instance) (rate(llm_gpu_energy_joules_total{g}[{RI}]))", "{{instance}}")],
        "watt",
    )
    x.ts(
        "Temperature",
        "GPU die and memory (HBM) temperature per GPU.",
        [
            (f"llm_gpu_temperature_celsius{g}", "{{instance}} gpu{{gpu}} die"),
            (f"llm_gpu_memory_temperature_celsius{g}", "{{instance}} gpu{{gpu}} memory"),
        ],
        "celsius",
    )
    x.row("Health")
    x.ts(
        "Clock-event reasons active",
        "GPUs with each clock-event (throttle) reason active.",
        [(f"sum by (reason) (llm_gpu_clock_event_active{g})", "{{reason}}")],
        "short",
    )
    x.ts(
        "Uncorrectable ECC errors",
        "Uncorrectable (volatile) ECC errors per GPU in the interval.",
        [
            (
                f"sum by (instance, gpu) (increase(llm_gpu_ecc_errors_total{_q(J, I_, chr(34).join(['error=', 'uncorrected', '']))}[{RI}]))",
                "{{instance}} gpu{{gpu}}",
            )
        ],
        "short",
    )
    x.ts(
        "Remapped rows",
        "Remapped memory rows by cause, and pending/failure flags.",
        [
            (f"sum by (instance, gpu, cause) (llm_gpu_remapped_rows{g})", "{{instance}} gpu{{gpu}} {{cause}}"),
            (f"llm_gpu_remapped_rows_pending{g}", "{{instance}} gpu{{gpu}} pending"),
            (f"llm_gpu_remapped_rows_failure{g}", "{{instance}} gpu{{gpu}} failure"),
        ],
        "short",
    )
    x.ts(
        "Recovery action",
        "Action the driver asks for: 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P, "
        "4 drain and reset (NVML recovery-action field, newest drivers).",
        [(f"llm_gpu_recovery_action{g}", "{{instance}} gpu{{gpu}}")],
        "short",
        thresholds=[("green", None), ("red", 1)],
    )
    x.ts(
        "XID errors",
        "XID errors per GPU and code in the interval.",
        [
            (
                f"sum by (instance, gpu, xid) (increase(llm_gpu_xid_errors_total{g}[{RI}]))",
                "{{instance}} gpu{{gpu}} xid {{xid}}",
            )
        ],
        "short",
    )
    x.ts(
        "PCIe replays",
        "PCIe replays per second per GPU.",
        [(f"rate(llm_gpu_pcie_replays_total{g}[{RI}])", "{{instance}} gpu{{gpu}}")],
        "short",
    )
    x.ts(
        "Compute processes",
        "Compute processes per GPU.",
        [(f"llm_gpu_processes{g}", "{{instance}} gpu{{gpu}}")],
        "short",
    )
    x.ts(
        "NVML re-initialisations",
        "NVML shutdowns and re-initialisations per node in the interval (a "
        "driver reload or lifecycle error each time).",
        [(f"increase(llm_gpu_nvml_reinitializations_total{g}[{RI}])", "{{instance}}")],
        "short",
    )
    x.ts(
        "Tensor-core activity (opt-in: gpu.gpm)",
        "Share of time the SMs ran tensor-core instructions, per GPU (GPM, Hopper and newer; opt-in: gpu.gpm).",
        [(f"llm_gpu_tensor_active_ratio{g}", "{{instance}} gpu{{gpu}}")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "PCIe link downtrained",
        "Current PCIe generation and width below their maximum, per GPU (1 = downtrained).",
        [
            (
                f"llm_gpu_pcie_link_generation{_q(J, I_, chr(34).join(['state=', 'current', '']))} "
                f"< bool ignoring (state) llm_gpu_pcie_link_generation{_q(J, I_, chr(34).join(['state=', 'max', '']))}",
                "{{instance}} gpu{{gpu}} generation",
            ),
            (
                f"llm_gpu_pcie_link_width{_q(J, I_, chr(34).join(['state=', 'current', '']))} "
                f"< bool ignoring (state) llm_gpu_pcie_link_width{_q(J, I_, chr(34).join(['state=', 'max', '']))}",
                "{{instance}} gpu{{gpu}} width",
            ),
        ],
        "short",
    )
    x.row("Models on these GPUs")
    per_model = 'group by (job, instance, model) (llm_model_info{job=~"$job", instance=~"$instance"})'
    inst = _link(
        b,
        "instance",
        "LLM / Instance for ${__field.labels.model}",
        "&var-instance=${__field.labels.instance}&var-model=${__field.labels.model}",
    )
    x.table(
        "GPUs per model",
        "Number of GPUs in the pods that serve each model (same job and instance).",
        [(f"instance_model:llm_gpus:count{_q(J, I_)}", "")],
        w=8,
        links=[inst],
    )
    x.ts(
        "Utilisation by model",
        "Mean GPU utilisation of each model's pods.",
        [
            (
                f"avg by (job, instance) (llm_gpu_utilization_ratio{g}) * on (job, instance) group_right () {per_model}",
                "{{model}} {{instance}}",
            )
        ],
        "percentunit",
        ratio=True,
        links=[inst],
    )
    x.ts(
        "Power by model",
        "GPU power of each model's pods.",
        [
            (
                f"sum by (job, instance) (llm_gpu_power_watts{g}) * on (job, instance) group_right () {per_model}",
                "{{model}} {{instance}}",
            )
        ],
        "watt",
        links=[inst],
    )
    return _dashboard(
        b,
        "gpu-fleet",
        "GPU / Fleet",
        "Every GPU the exporters see, and the models they serve.",
        x,
        ["job", "gpu_instance"],
    )


def gpu_node(b: Bundle) -> dict[str, Any]:
    g = _q(J, I_, G_)
    lg = "gpu{{gpu}}"
    x = Board(b)
    x.table(
        "GPU identity", "Name, PCI bus id, serial, driver and CUDA versions.", [(f"llm_gpu_info{g}", "")], w=16, h=6
    )
    x.stat(
        "NVML up",
        "1 when NVML answers on this node.",
        f"min(llm_gpu_nvml_up{_q(J, I_)})",
        "bool",
        thresholds=[("red", None), ("green", 1)],
        w=4,
        h=6,
    )
    x.stat("GPUs up", "GPUs answering NVML.", f"sum(llm_gpu_up{g})", "short", w=4, h=6)
    x.ts(
        "Utilisation",
        "Kernel (SM) and memory-controller busy shares.",
        [(f"llm_gpu_utilization_ratio{g}", f"{lg} kernel"), (f"llm_gpu_memory_utilization_ratio{g}", f"{lg} memory")],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Memory",
        "Framebuffer used, reserved by the driver, and total.",
        [
            (f"llm_gpu_memory_used_bytes{g}", f"{lg} used"),
            (f"llm_gpu_memory_reserved_bytes{g}", f"{lg} reserved"),
            (f"llm_gpu_memory_total_bytes{g}", f"{lg} total"),
        ],
        "bytes",
    )
    x.ts(
        "Temperature",
        "GPU die and memory (HBM) temperature; memory is absent without a sensor.",
        [(f"llm_gpu_temperature_celsius{g}", f"{lg} die"), (f"llm_gpu_memory_temperature_celsius{g}", f"{lg} memory")],
        "celsius",
    )
    x.ts(
        "Power and limit",
        "Power draw against the enforced limit.",
        [(f"llm_gpu_power_watts{g}", f"{lg} draw"), (f"llm_gpu_power_limit_watts{g}", f"{lg} limit")],
        "watt",
    )
    x.ts(
        "Energy",
        "Energy per second from the energy counter.",
        [(f"rate(llm_gpu_energy_joules_total{g}[{RI}])", lg)],
        "watt",
    )
    x.ts("Clocks", "Clock frequency per domain.", [(f"llm_gpu_clock_hertz{g}", f"{lg} {{{{clock}}}}")], "hertz")
    x.ts(
        "Fan speed",
        "Fan speed as a share of its maximum; absent on passively cooled GPUs (H100, A100).",
        [(f"llm_gpu_fan_speed_ratio{g}", lg)],
        "percentunit",
        ratio=True,
    )
    x.ts(
        "Performance state",
        "P-state as a number: 0 is full performance, higher is slower (P8 idle).",
        [(f"llm_gpu_performance_state{g}", lg)],
        "short",
    )
    x.ts(
        "Encoder and decoder",
        "Video encoder (NVENC) and decoder (NVDEC) busy shares.",
        [
            (f"llm_gpu_encoder_utilization_ratio{g}", f"{lg} encoder"),
            (f"llm_gpu_decoder_utilization_ratio{g}", f"{lg} decoder"),
        ],
        "percentunit",
        ratio=True,
    )
    x.row("Clock events (throttling)")
    x.ts(
        "Clock-event reasons active",
        "1 while the reason holds the clocks back.",
        [(f"llm_gpu_clock_event_active{g}", f"{lg} {{{{reason}}}}")],
        "short",
        w=12,
    )
    x.ts(
        "Time held back by reason",
        "Share of time clocks were held back, per reason.",
        [(f"rate(llm_gpu_clock_event_seconds_total{g}[{RI}])", f"{lg} {{{{reason}}}}")],
        "percentunit",
        w=12,
    )
    x.row("Errors")
    x.ts(
        "ECC errors",
        "ECC errors in the interval by error and counter.",
        [(f"increase(llm_gpu_ecc_errors_total{g}[{RI}])", f"{lg} {{{{error}}}} {{{{counter}}}}")],
        "short",
    )
    x.ts(
        "Remapped rows",
        "Remapped rows by cause and the pending/failure flags (1 = remap waits for a reset "
        "/ remap failed: service the GPU).",
        [
            (f"llm_gpu_remapped_rows{g}", f"{lg} {{{{cause}}}}"),
            (f"llm_gpu_remapped_rows_pending{g}", f"{lg} pending"),
            (f"llm_gpu_remapped_rows_failure{g}", f"{lg} failure"),
        ],
        "short",
    )
    x.ts(
        "Retired pages",
        "Retired memory pages by cause and the pending flag (pre-Ampere ECC GPUs; Ampere and "
        "newer remap rows instead).",
        [(f"llm_gpu_retired_pages{g}", f"{lg} {{{{cause}}}}"), (f"llm_gpu_retired_pages_pending{g}", f"{lg} pending")],
        "short",
    )
    x.ts(
        "Recovery action",
        "Action the driver asks for: 0 none, 1 GPU reset, 2 node reboot, 3 drain P2P "
        "(drain peer-to-peer work), 4 drain and reset (NVML recovery-action field, newest drivers).",
        [(f"llm_gpu_recovery_action{g}", lg)],
        "short",
        thresholds=[("green", None), ("red", 1)],
    )
    x.ts(
        "XID errors",
        "XID errors in the interval by code.",
        [(f"increase(llm_gpu_xid_errors_total{g}[{RI}])", f"{lg} xid {{{{xid}}}}")],
        "short",
    )
    x.ts(
        "Time since last XID",
        "Seconds since the last XID of each code.",
        [(f"time() - llm_gpu_xid_last_timestamp_seconds{g}", f"{lg} xid {{{{xid}}}}")],
        "s",
    )
    x.ts("PCIe replays", "PCIe replays per second.", [(f"rate(llm_gpu_pcie_replays_total{g}[{RI}])", lg)], "short")
    x.ts("Compute processes", "Compute processes on the GPU.", [(f"llm_gpu_processes{g}", lg)], "short")
    x.ts(
        "NVML re-initialisations",
        "NVML shutdowns and re-initialisations on this node in the interval "
        "(driver reload or lifecycle error); the GPU series restart from scratch each time.",
        [(f"increase(llm_gpu_nvml_reinitializations_total{_q(J, I_)}[{RI}])", "{{instance}}")],
        "short",
    )
    x.row("PCIe link")
    x.ts(
        "PCIe link generation",
        "Current against maximum PCIe generation; current below max is a downtrained link (bandwidth lost).",
        [(f"llm_gpu_pcie_link_generation{g}", f"{lg} {{{{state}}}}")],
        "short",
        w=12,
    )
    x.ts(
        "PCIe link width",
        "Current against maximum PCIe link width in lanes.",
        [(f"llm_gpu_pcie_link_width{g}", f"{lg} {{{{state}}}}")],
        "short",
        w=12,
    )
    x.row("MIG instances")
    mig_key = "job, instance, gpu, uuid, gpu_instance_id"
    profile = f"* on ({mig_key}) group_left (profile) max by ({mig_key}, profile) (llm_gpu_mig_instance_info{g})"
    x.table(
        "MIG devices",
        "MIG devices: GPU instance, compute instance, MIG UUID and profile (3g.40gb).",
        [(f"llm_gpu_mig_instance_info{g}", "")],
        w=12,
    )
    x.ts(
        "MIG instance memory",
        "Memory used and total per MIG GPU instance, labelled with its profile.",
        [
            (f"llm_gpu_mig_memory_used_bytes{g} {profile}", f"{lg} GI {{{{gpu_instance_id}}}} {{{{profile}}}} used"),
            (f"llm_gpu_mig_memory_total_bytes{g} {profile}", f"{lg} GI {{{{gpu_instance_id}}}} {{{{profile}}}} total"),
        ],
        "bytes",
        w=12,
    )
    x.row("GPM activity (opt-in: gpu.gpm)", collapsed=True)
    gpm = "(GPM, Hopper and newer; opt-in: gpu.gpm; no series on the first scrape after start.)"
    x.ts(
        "Tensor and SM activity",
        f"Share of time tensor cores and SMs were active, and SM occupancy (active "
        f"warps over the maximum), between scrapes {gpm}",
        [
            (f"llm_gpu_tensor_active_ratio{g}", f"{lg} tensor active"),
            (f"llm_gpu_sm_active_ratio{g}", f"{lg} SM active"),
            (f"llm_gpu_sm_occupancy_ratio{g}", f"{lg} SM occupancy"),
        ],
        "percentunit",
        ratio=True,
        w=12,
    )
    x.ts(
        "DRAM and graphics activity",
        f"DRAM bandwidth used over the maximum and graphics/compute engine activity between scrapes {gpm}",
        [
            (f"llm_gpu_dram_active_ratio{g}", f"{lg} DRAM active"),
            (f"llm_gpu_graphics_active_ratio{g}", f"{lg} graphics active"),
        ],
        "percentunit",
        ratio=True,
        w=12,
    )
    x.row("PCIe throughput and NVLink (opt-in: gpu.pcie_throughput, gpu.nvlink)", collapsed=True)
    x.ts(
        "PCIe throughput",
        "PCIe transmit and receive bytes per second over the driver's 20 ms window (opt-in: gpu.pcie_throughput).",
        [
            (f"llm_gpu_pcie_transmit_bytes_per_second{g}", f"{lg} tx"),
            (f"llm_gpu_pcie_receive_bytes_per_second{g}", f"{lg} rx"),
        ],
        "Bps",
    )
    x.ts(
        "NVLink traffic",
        "NVLink bytes per second over all links of the GPU (opt-in: gpu.nvlink).",
        [
            (f"sum by (job, instance, gpu) (rate(llm_gpu_nvlink_transmit_bytes_total{g}[{RI}]))", f"{lg} tx"),
            (f"sum by (job, instance, gpu) (rate(llm_gpu_nvlink_receive_bytes_total{g}[{RI}]))", f"{lg} rx"),
        ],
        "Bps",
    )
    x.ts(
        "NVLink errors and active links",
        "NVLink data-link errors per second by error (replay, recovery, CRC) "
        "over all links, and the number of active links (opt-in: gpu.nvlink).",
        [
            (f"sum by (job, instance, gpu, error) (rate(llm_gpu_nvlink_errors_total{g}[{RI}]))", f"{lg} {{{{error}}}}"),
            (f"sum by (job, instance, gpu) (llm_gpu_nvlink_active{g})", f"{lg} active links"),
        ],
        "short",
    )
    x.row("Per-process memory (requires gpu.processes: true)", collapsed=True)
    x.ts(
        "Memory by process",
        "GPU memory per process.",
        [(f"llm_gpu_process_memory_bytes{g}", f"{lg} {{{{process}}}} ({{{{pid}}}})")],
        "bytes",
        w=24,
    )
    return _dashboard(
        b,
        "gpu-node",
        "GPU / Node",
        "The GPUs of one node in depth: memory, power, clocks, errors.",
        x,
        ["job", "gpu_instance_one", "gpu"],
    )


def pipeline(b: Bundle) -> dict[str, Any]:
    q = _q(J, T, QQ)
    agent = (
        "* on (job, instance, backend, target, queue, group) group_left (agent) "
        f"group by (job, instance, backend, target, queue, group, agent) (llm_queue_info{q})"
    )
    lq = "{{agent}} {{queue}}"
    x = Board(b)
    x.stat("Ready messages", "Messages waiting in the selected queues.", f"sum(llm_queue_ready_messages{q})", "short")
    x.stat("In flight", "Messages delivered and not yet acknowledged.", f"sum(llm_queue_inflight_messages{q})", "short")
    x.stat("Oldest ready", "Age of the oldest ready message.", f"max(llm_queue_oldest_ready_age_seconds{q})", "s")
    x.stat("Consumers", "Consumers attached.", f"sum(llm_queue_consumers{q})", "short")
    x.stat(
        "Dead letters",
        "Messages in dead-letter queues.",
        f"sum(llm_queue_dead_messages{q})",
        "short",
        thresholds=[("green", None), ("orange", 1)],
    )
    x.stat(
        "Engine waiting", "Requests waiting inside the inference engines.", f"sum(llm_requests_waiting{_q(J)})", "short"
    )
    x.row("Backlog")
    x.ts(
        "Ready and in flight by agent and queue",
        "Ready and in-flight messages per queue, labelled by agent.",
        [
            (f"llm_queue_ready_messages{q} {agent}", f"{lq} ready"),
            (f"llm_queue_inflight_messages{q} {agent}", f"{lq} in flight"),
        ],
        "short",
        w=12,
    )
    x.ts(
        "Engine waiting requests",
        "Requests waiting inside each engine, next to the queue backlog.",
        [(f"sum by (job, target, model) (llm_requests_waiting{_q(J)})", "{{target}} {{model}}")],
        "short",
        w=12,
    )
    x.ts(
        "Oldest message age",
        "Age of the oldest ready and oldest in-flight message.",
        [
            (f"llm_queue_oldest_ready_age_seconds{q} {agent}", f"{lq} ready"),
            (f"llm_queue_oldest_inflight_age_seconds{q} {agent}", f"{lq} in flight"),
        ],
        "s",
    )
    x.ts(
        "Delayed messages",
        "Scheduled or deferred messages not yet due.",
        [(f"llm_queue_delayed_messages{q} {agent}", lq)],
        "short",
    )
    x.ts("Consumers", "Consumers or workers per queue.", [(f"llm_queue_consumers{q} {agent}", lq)], "short")
    x.ts(
        "NATS redelivering and waiting pulls",
        "NATS JetStream consumers: unacknowledged messages delivered "
        "more than once (num_redelivered, a gauge), and outstanding pull requests waiting for messages "
        "(num_waiting: idle consumer capacity).",
        [
            (f"llm_queue_redelivering_messages{q} {agent}", f"{lq} redelivering"),
            (f"llm_queue_pull_requests_waiting{q} {agent}", f"{lq} pull requests waiting"),
        ],
        "short",
    )
    x.row("Throughput and failures")
    x.ts(
        "Enqueued and completed",
        "Messages accepted and completed per second.",
        [
            (f"rate(llm_queue_enqueued_total{q}[{RI}]) {agent}", f"{lq} enqueued"),
            (f"rate(llm_queue_completed_total{q}[{RI}]) {agent}", f"{lq} completed"),
        ],
        "short",
    )
    # No supported broker counts failed executions (llm_queue_failed_total stays unset), so failures
    # show as redeliveries (RabbitMQ) and as growth of the dead-letter queue or failed registry.
    x.ts(
        "Redeliveries and dead-lettering",
        "Redeliveries per second and dead-letter growth per second.",
        [
            (f"rate(llm_queue_redelivered_total{q}[{RI}]) {agent}", f"{lq} redelivered"),
            (f"clamp_min(deriv(llm_queue_dead_messages{q}[{RI}]), 0) {agent}", f"{lq} dead-lettered"),
        ],
        "short",
    )
    x.ts(
        "Dead letters",
        "Messages in the dead-letter queue or failed registry.",
        [(f"llm_queue_dead_messages{q} {agent}", lq)],
        "short",
    )
    return _dashboard(
        b,
        "pipeline",
        "LLM / Agent pipeline",
        "Agent task queues feeding the engines: backlog, age, consumers, throughput, failures.",
        x,
        ["job", "qtarget", "queue"],
    )


def slo_cost(b: Bundle) -> dict[str, Any]:
    s = _q(J, M)
    w = b.rate_window
    period = str(b["slo"]["period"])
    x = Board(b)
    for sli in slis(b):
        budget = 1 - sli.objective
        thr = f" under {sli.threshold:g} s (bucket le={le(sli.threshold)})" if sli.threshold is not None else ""
        x.row(f"{sli.title} SLO: objective {sli.objective:g}{thr}")
        x.ts(
            "Error budget remaining",
            f"Share of the {period} error budget left (1 - bad ratio / budget).",
            [(f"{sli.budget_rule(period)}{s}", "{{model}}")],
            "percentunit",
            w=8,
            thresholds=[("red", None), ("orange", 0.25), ("green", 0.5)],
        )
        x.ts(
            "Burn rate by window",
            "Bad-event ratio divided by the budget, per window; 14.4 and 6 page, 3 and 1 "
            "ticket when the short window agrees.",
            [
                (f"{sli.ratio_rule(win)}{s} / {budget:.6g}", f"{{{{model}}}} {win}")
                for win in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
            ],
            "short",
            w=10,
        )
        x.ts(
            "Events per second",
            "Events the SLI counts (requests, first tokens or inter-token gaps).",
            [(f"{sli.events_rule('5m')}{s}", "{{model}}")],
            "short",
            w=6,
        )
    x.row("Cost")
    x.ts(
        "Dollars per hour by model",
        "Token cost plus GPU cost per hour, from the configured prices.",
        [(f"model:llm_cost_dollars_per_second:sum{s} * 3600", "{{model}}")],
        "currencyUSD",
        w=8,
    )
    x.ts(
        "Dollars per million tokens by model",
        "Cost over prompt + generated tokens.",
        [(f"model:llm_cost_dollars_per_million_tokens:ratio{s}", "{{model}}")],
        "currencyUSD",
        w=8,
    )
    x.ts(
        "Token and GPU cost per hour",
        "Where the money goes: token prices or GPU time.",
        [
            (f"model:llm_token_cost_dollars:rate{w}{s} * 3600", "{{model}} tokens"),
            (f"model:llm_gpu_cost_dollars_per_second:sum{s} * 3600", "{{model}} GPUs"),
        ],
        "currencyUSD",
        w=8,
    )
    budget = float(b["cost"]["daily_budget_dollars"])
    x.stat(
        "Spend over the last 24 hours",
        f"Average cost rate over 1d times 86400; budget {budget:g} dollars.",
        f"sum(avg_over_time(job:llm_cost_dollars_per_second:sum{_q(J)}[1d])) * 86400",
        "currencyUSD",
        w=8,
        thresholds=[("green", None), ("red", budget)],
    )
    x.stat(
        "Current dollars per hour",
        "All models and GPUs.",
        f"sum(job:llm_cost_dollars_per_second:sum{_q(J)}) * 3600",
        "currencyUSD",
        w=8,
    )
    x.stat(
        "GPU dollars per hour",
        "Every GPU the exporters see, at the configured price.",
        f"sum(job:llm_gpu_cost_dollars_per_second:sum{_q(J)}) * 3600",
        "currencyUSD",
        w=8,
    )
    return _dashboard(
        b,
        "slo",
        "LLM / SLO and cost",
        "Error budgets and burn rates per model and window; dollars per hour and per million tokens.",
        x,
        ["job", "model"],
    )


def exporter(b: Bundle) -> dict[str, Any]:
    e = _q(J, I_)
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
        "Time since last successful config load",
        "Seconds since the config was last loaded successfully.",
        [(f"time() - llm_exporter_config_last_reload_success_timestamp_seconds{e}", "{{instance}}")],
        "s",
        w=12,
    )
    return _dashboard(
        b,
        "exporter",
        "LLM / Exporter health",
        "The exporters themselves: per-collector success and duration, targets, config reloads.",
        x,
        ["job", "instance"],
    )


BUILDERS = {
    "llm-overview.json": overview,
    "llm-instance.json": instance,
    "gpu-fleet.json": gpu_fleet,
    "gpu-node.json": gpu_node,
    "llm-pipeline.json": pipeline,
    "llm-slo-cost.json": slo_cost,
    "llm-exporter-health.json": exporter,
}


def dashboards(b: Bundle) -> dict[str, dict[str, Any]]:
    return {name: fn(b) for name, fn in BUILDERS.items()}


def dashboard_files(b: Bundle) -> dict[str, str]:
    return {name: json.dumps(d, indent=2, sort_keys=False) + "\n" for name, d in dashboards(b).items()}


def provisioning_files(b: Bundle) -> dict[str, str]:
    uid = b["dashboards"].get("datasource_uid", "prometheus")
    header = "# Generated by `python -m monitoring.generate`. Do not edit.\n"
    ds = (
        header + "# Grafana datasource provisioning. timeInterval must equal the scrape interval:\n"
        "# Grafana derives $__rate_interval from it.\napiVersion: 1\ndatasources:\n"
        f"  - name: Prometheus\n    type: prometheus\n    uid: {uid}\n    access: proxy\n"
        "    # Grafana expands $VAR here but has no ${VAR:-default} form: edit the URL for your setup.\n"
        "    url: http://prometheus:9090\n    isDefault: true\n"
        "    jsonData:\n      timeInterval: 15s\n"
    )
    dash = (
        header + "# Grafana dashboard provisioning: mount dashboards/grafana at the path below.\n"
        "apiVersion: 1\nproviders:\n  - name: llm-exporter\n    orgId: 1\n    folder: LLM\n"
        "    folderUid: llm-exporter\n    type: file\n    disableDeletion: false\n"
        "    updateIntervalSeconds: 60\n    allowUiUpdates: false\n"
        "    options:\n      path: /var/lib/grafana/dashboards\n"
    )
    return {"datasources/prometheus.yml": ds, "dashboards/llm-exporter.yml": dash}
