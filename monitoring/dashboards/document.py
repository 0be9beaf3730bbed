"""The dashboard document around the panels: variables, annotations, the link bar.

Conventions: a ``datasource`` variable and no ``__inputs``; chained query variables
(job -> target -> model / instance -> gpu / queue) with ``refresh: 2``; a tag-based link bar
keeping time and variables; ``id: null``.
"""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from .panels import DATASOURCE, Board, scope, scope_labels


def _var(name: str, label: str, query: str, *, multi: bool = True) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
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


def _scope_vars(b: Bundle) -> list[dict[str, Any]]:
    """``cluster`` then ``namespace`` (bundle dashboards.scope_labels), each chained on the ones before.
    A label that does not exist leaves the variable empty; "All" (``.*``) still matches."""
    out: list[dict[str, Any]] = []
    for lbl in scope_labels(b):
        before = ", ".join(f'{v["name"]}=~"${v["name"]}"' for v in out)
        extra = (b.raw.get("metric_selector") or "").strip()
        matchers = ", ".join(x for x in (before, extra) if x)
        sel = f"{{{matchers}}}" if matchers else ""
        out.append(_var(lbl, lbl.capitalize(), f"label_values(llm_exporter_build_info{sel}, {lbl})"))
    return out


def _scoped(b: Bundle, var: dict[str, Any]) -> dict[str, Any]:
    """A variable whose query selects on ``$job`` also follows the scope variables; ``job`` itself
    is chained on them."""
    q = var["definition"]
    if var["name"] == "job":
        scoped = scope(b, 'llm_exporter_build_info{job=~"$job"}').replace('job=~"$job", ', "")
        q = "label_values(" + scoped.replace('{job=~"$job"}', "") + ", job)"
    else:
        q = scope(b, q)
    return {**var, "definition": q, "query": {**var["query"], "query": q}}


def dashboard(b: Bundle, key: str, title: str, description: str, board: Board, variables: list[str]) -> dict[str, Any]:
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
        "templating": {"list": [_datasource_var(b), *_scope_vars(b), *[_scoped(b, VARS[v]()) for v in variables]]},
        "panels": board.panels,
    }
