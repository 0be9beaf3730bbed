"""The panel grid: ``Board`` places panels left to right in rows of 24 columns and writes
each panel's JSON (unit, thresholds, a description naming the metrics, one target per query).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..bundle import Bundle
from ..promql import metric_names
from ..recording import groups

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE_INTERVAL = "$__rate_interval"


def recorded_sources(b: Bundle) -> dict[str, set[str]]:
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
        targets = [(scope(self.b, expr), legend) for expr, legend in targets]
        names: set[str] = set()
        for expr, _ in targets:
            names |= metric_names(expr)
        src = recorded_sources(self.b)
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
            "datasource": DATASOURCE,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "targets": [
                {
                    "refId": chr(ord("A") + i),
                    "datasource": DATASOURCE,
                    "expr": expr,
                    "legendFormat": legend,
                    "range": not (instant or kind == "table"),
                    "instant": instant or kind == "table",
                    **({"format": "table"} if kind == "table" else {}),
                    **({"format": "heatmap"} if kind == "heatmap" else {}),
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
        elif kind == "heatmap":
            # Pre-bucketed data (Prometheus le buckets, one series per bound): no re-bucketing.
            p["options"] = {
                "calculate": False,
                "yAxis": {"unit": unit, "axisPlacement": "left"},
                "rowsFrame": {"layout": "le"},
                "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64},
                "cellGap": 1,
                "tooltip": {"mode": "single", "yHistogram": True},
                "legend": {"show": True},
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

    def heatmap(self, title: str, desc: str, expr: str, unit: str, **kw: Any) -> None:
        """A heatmap of a histogram's per-bucket rate (``expr`` keeps the ``le`` label)."""
        self.panel("heatmap", title, desc, [(expr, "{{le}}")], unit, **kw)

    def table(self, title: str, desc: str, targets: list[tuple[str, str]], **kw: Any) -> None:
        self.panel("table", title, desc, targets, "short", **kw)


_JOB_MATCHER = 'job=~"$job"'
_SELECTOR = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^{}]*job=~"\$job"[^{}]*)\}')


def scope_labels(b: Bundle) -> list[str]:
    """Labels the dashboards get a variable for (cluster, namespace by default)."""
    return list((b.raw.get("dashboards") or {}).get("scope_labels", ["cluster", "namespace"]))


def scope(b: Bundle, expr: str) -> str:
    """Every selector that filters on ``$job`` also filters on the scope variables and the bundle's
    ``metric_selector``. Recorded series (names with ``:``) only keep the aggregation labels, so
    they get only the matchers on those labels."""
    kept = set(b.agg)
    extra = (b.raw.get("metric_selector") or "").strip()
    extra_labels = set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", extra))

    def add(m: re.Match[str]) -> str:
        name, body = m.group(1), m.group(2)
        recorded = ":" in name
        more = [f'{lbl}=~"${lbl}"' for lbl in scope_labels(b) if not recorded or lbl in kept]
        if extra and (not recorded or extra_labels <= kept):
            more.append(extra)
        more = [x for x in more if x not in body]
        if not more:
            return m.group(0)
        return name + "{" + body.replace(_JOB_MATCHER, ", ".join([_JOB_MATCHER, *more]), 1) + "}"

    return _SELECTOR.sub(add, expr)


def dashboard_link(b: Bundle, key: str, title: str, extra: str = "") -> dict[str, Any]:
    uid = f"{b['dashboards']['uid_prefix']}-{key}"
    return {
        "title": title,
        "url": f"/d/{uid}?${{__url_time_range}}&${{datasource:queryparam}}&${{job:queryparam}}" + extra,
    }


def quantile_targets(
    metric: str, sel: str, by: str = "model", recorded: bool = True, window: str = "5m"
) -> list[tuple[str, str]]:
    """p50/p95/p99 of ``metric``: from the recorded bucket rates over ``window`` (the bundle's
    rate_window) or from raw buckets over ``$__rate_interval``."""
    out = []
    for q in (0.5, 0.95, 0.99):
        if recorded:
            inner = f"sum by (job, {by}, le) (model_le:{metric}_bucket:rate{window}{sel})"
        else:
            inner = f"sum by (job, {by}, le) (rate({metric}_bucket{sel}[{RATE_INTERVAL}]))"
        out.append((f"histogram_quantile({q}, {inner})", f"{{{{{by}}}}} p{int(q * 100)}"))
    return out
