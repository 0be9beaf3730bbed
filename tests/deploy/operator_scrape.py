"""What Prometheus Operator and Prometheus make of our PodMonitors and ServiceMonitors, offline.

``scrape_config`` writes the scrape config the operator generates for one monitor endpoint,
following prometheus-operator ``pkg/prometheus/promcfg.go`` (generatePodMonitorConfig,
generateServiceMonitorConfig): selector keep rules, port filter, namespace/pod/container/service
labels, ``job`` from ``<namespace>/<PodMonitor name>`` or the Service name, overridden by
``jobLabel``, ``endpoint``, then the user's ``relabelings`` (no scrape classes, no sharding).
``discover`` builds the Kubernetes SD meta labels Prometheus gives each pod port (pod role) or
Service endpoint (endpoints role) of the workloads in a manifest set, and ``relabel`` applies
Prometheus' relabelling, so ``targets`` returns the label sets of the series ``up`` would carry.
"""

from __future__ import annotations

import re
from typing import Any

Labels = dict[str, str]
RUNNING_FILTER = {"action": "drop", "source_labels": ["__meta_kubernetes_pod_phase"], "regex": "(Failed|Succeeded)"}
WORKLOADS = ("Deployment", "DaemonSet", "StatefulSet")


def sanitize(name: str) -> str:
    """Kubernetes label key -> the Prometheus meta label suffix (prometheus-operator sanitizeLabelName)."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _selector_rules(selector: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key in sorted(selector.get("matchLabels", {})):
        src = [
            f"__meta_kubernetes_{kind}_label_{sanitize(key)}",
            f"__meta_kubernetes_{kind}_labelpresent_{sanitize(key)}",
        ]
        out.append({"action": "keep", "source_labels": src, "regex": f"({selector['matchLabels'][key]});true"})
    for exp in selector.get("matchExpressions", []):
        key = sanitize(exp["key"])
        value, present = f"__meta_kubernetes_{kind}_label_{key}", f"__meta_kubernetes_{kind}_labelpresent_{key}"
        values = "|".join(exp.get("values", []))
        out.append(
            {
                "In": {"action": "keep", "source_labels": [value, present], "regex": f"({values});true"},
                "NotIn": {"action": "drop", "source_labels": [value, present], "regex": f"({values});true"},
                "Exists": {"action": "keep", "source_labels": [present], "regex": "true"},
                "DoesNotExist": {"action": "drop", "source_labels": [present], "regex": "true"},
            }[exp["operator"]]
        )
    return out


def _user_relabelings(ep: dict[str, Any]) -> list[dict[str, Any]]:
    keys = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
    return [{keys.get(k, k): v for k, v in r.items()} for r in ep.get("relabelings", [])]


def scrape_config(monitor: dict[str, Any], index: int, namespace: str) -> dict[str, Any]:
    """The scrape config prometheus-operator generates for endpoint ``index`` of ``monitor``."""
    kind, name, spec = monitor["kind"], monitor["metadata"]["name"], monitor["spec"]
    ns = monitor["metadata"].get("namespace", namespace)
    if kind == "PodMonitor":
        ep = spec["podMetricsEndpoints"][index]
        rules = [RUNNING_FILTER, *_selector_rules(spec["selector"], "pod")]
        if "port" in ep:
            rules.append(
                {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": ep["port"]}
            )
        rules += [
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        ]
        rules += [
            {
                "source_labels": [f"__meta_kubernetes_pod_label_{sanitize(lbl)}"],
                "target_label": sanitize(lbl),
                "regex": "(.+)",
            }
            for lbl in spec.get("podTargetLabels", [])
        ]
        rules.append({"target_label": "job", "replacement": f"{ns}/{name}"})
        if spec.get("jobLabel"):
            src = [f"__meta_kubernetes_pod_label_{sanitize(spec['jobLabel'])}"]
            rules.append({"source_labels": src, "target_label": "job", "regex": "(.+)", "replacement": "${1}"})
        role = "pod"
    elif kind == "ServiceMonitor":
        ep = spec["endpoints"][index]
        rules = _selector_rules(spec["selector"], "service")
        if "port" in ep:
            rules.append(
                {"action": "keep", "source_labels": ["__meta_kubernetes_endpoint_port_name"], "regex": ep["port"]}
            )
        target = ["__meta_kubernetes_endpoint_address_target_kind", "__meta_kubernetes_endpoint_address_target_name"]
        rules += [
            {
                "source_labels": target,
                "separator": ";",
                "regex": "Node;(.*)",
                "replacement": "${1}",
                "target_label": "node",
            },
            {
                "source_labels": target,
                "separator": ";",
                "regex": "Pod;(.*)",
                "replacement": "${1}",
                "target_label": "pod",
            },
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
            RUNNING_FILTER,
        ]
        for lbl in spec.get("targetLabels", []):
            src = [f"__meta_kubernetes_service_label_{sanitize(lbl)}"]
            rules.append({"source_labels": src, "target_label": sanitize(lbl), "regex": "(.+)"})
        for lbl in spec.get("podTargetLabels", []):
            src = [f"__meta_kubernetes_pod_label_{sanitize(lbl)}"]
            rules.append({"source_labels": src, "target_label": sanitize(lbl), "regex": "(.+)"})
        rules.append(
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "job", "replacement": "${1}"}
        )
        if spec.get("jobLabel"):
            src = [f"__meta_kubernetes_service_label_{sanitize(spec['jobLabel'])}"]
            rules.append({"source_labels": src, "target_label": "job", "regex": "(.+)", "replacement": "${1}"})
        role = "endpoints"
    else:
        raise ValueError(f"not a monitor: {kind}")
    if "port" in ep:
        rules.append({"target_label": "endpoint", "replacement": ep["port"]})
    rules += _user_relabelings(ep)
    cfg: dict[str, Any] = {
        "job_name": f"{'podMonitor' if role == 'pod' else 'serviceMonitor'}/{ns}/{name}/{index}",
        "honor_labels": bool(ep.get("honorLabels", False)),
        "kubernetes_sd_configs": [{"role": role, "namespaces": {"names": [ns]}}],
        "metrics_path": ep.get("path", "/metrics"),
        "scheme": ep.get("scheme", "http").lower(),
        "relabel_configs": rules,
    }
    for src, dst in (("interval", "scrape_interval"), ("scrapeTimeout", "scrape_timeout")):
        if src in ep:
            cfg[dst] = ep[src]
    if "sampleLimit" in spec:
        cfg["sample_limit"] = spec["sampleLimit"]
    return cfg


def _go_template(replacement: str, match: re.Match[str]) -> str:
    def group(m: re.Match[str]) -> str:
        key = m.group(1) or m.group(2)
        try:
            return match.group(int(key) if key.isdigit() else key) or ""
        except (IndexError, re.error):
            return ""

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", group, replacement)


def relabel(labels: Labels, rules: list[dict[str, Any]]) -> Labels | None:
    """Prometheus relabelling (replace, keep, drop, labelmap, labeldrop, labelkeep, lower/uppercase)."""
    out = dict(labels)
    for rule in rules:
        action = rule.get("action", "replace").lower()
        regex = re.compile(f"^(?:{rule.get('regex', '(.*)')})$")
        value = rule.get("separator", ";").join(out.get(s, "") for s in rule.get("source_labels", []))
        target = rule.get("target_label", "")
        if action == "keep" and not regex.match(value):
            return None
        if action == "drop" and regex.match(value):
            return None
        if action == "replace":
            m = regex.match(value)
            if m:
                result = _go_template(str(rule.get("replacement", "$1")), m)
                if result:
                    out[target] = result
                else:
                    out.pop(target, None)
        elif action in ("lowercase", "uppercase"):
            out[target] = value.lower() if action == "lowercase" else value.upper()
        elif action == "labelmap":
            for name in list(out):
                m = regex.match(name)
                if m:
                    out[_go_template(str(rule.get("replacement", "$1")), m)] = out[name]
        elif action == "labeldrop":
            out = {k: v for k, v in out.items() if not regex.match(k)}
        elif action == "labelkeep":
            out = {k: v for k, v in out.items() if regex.match(k)}
    return out


def _pod_meta(
    workload: dict[str, Any], namespace: str, replica: int, index: int
) -> tuple[Labels, dict[str, Any], Labels]:
    tmpl = workload["spec"]["template"]
    name = f"{workload['metadata']['name']}-{replica}"
    meta = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_ip": f"10.0.{index}.{replica + 1}",
        "__meta_kubernetes_pod_node_name": f"node-{replica}",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_ready": "true",
        "__meta_kubernetes_pod_controller_kind": workload["kind"],
    }
    for key, value in tmpl["metadata"].get("labels", {}).items():
        meta[f"__meta_kubernetes_pod_label_{sanitize(key)}"] = value
        meta[f"__meta_kubernetes_pod_labelpresent_{sanitize(key)}"] = "true"
    return meta, tmpl["spec"], dict(tmpl["metadata"].get("labels", {}))


def _containers(pod_spec: dict[str, Any]) -> list[tuple[dict[str, Any], bool]]:
    return [(c, False) for c in pod_spec.get("containers", [])] + [
        (c, True) for c in pod_spec.get("initContainers", [])
    ]


def _port_meta(container: dict[str, Any], init: bool, port: dict[str, Any], ip: str) -> Labels:
    return {
        "__address__": f"{ip}:{port['containerPort']}",
        "__meta_kubernetes_pod_container_name": container["name"],
        "__meta_kubernetes_pod_container_init": str(init).lower(),
        "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
        "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
    }


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def discover(objects: list[dict[str, Any]], role: str, namespace: str, replicas: int = 2) -> list[Labels]:
    """Kubernetes SD targets (meta labels) for the workloads and Services in ``objects``."""
    workloads = [w for w in objects if w.get("kind") in WORKLOADS]
    pods = [_pod_meta(w, namespace, r, i) for i, w in enumerate(workloads) for r in range(replicas)]
    out: list[Labels] = []
    if role == "pod":
        for meta, spec, _ in pods:
            for c, init in _containers(spec):
                for port in c.get("ports", []):
                    out.append({**meta, **_port_meta(c, init, port, meta["__meta_kubernetes_pod_ip"])})
        return out
    for svc in (o for o in objects if o.get("kind") == "Service"):
        svc_meta = {"__meta_kubernetes_namespace": namespace, "__meta_kubernetes_service_name": svc["metadata"]["name"]}
        for key, value in svc["metadata"].get("labels", {}).items():
            svc_meta[f"__meta_kubernetes_service_label_{sanitize(key)}"] = value
            svc_meta[f"__meta_kubernetes_service_labelpresent_{sanitize(key)}"] = "true"
        for meta, spec, pod_labels in pods:
            if not _matches(svc["spec"].get("selector", {}), pod_labels):
                continue
            for sport in svc["spec"]["ports"]:
                found = [
                    (c, init, p)
                    for c, init in _containers(spec)
                    for p in c.get("ports", [])
                    if sport.get("targetPort", sport["port"]) in (p.get("name"), p["containerPort"])
                ]
                for c, init, p in found:
                    out.append(
                        {
                            **svc_meta,
                            **meta,
                            **_port_meta(c, init, p, meta["__meta_kubernetes_pod_ip"]),
                            "__meta_kubernetes_endpoint_port_name": sport.get("name", ""),
                            "__meta_kubernetes_endpoint_ready": "true",
                            "__meta_kubernetes_endpoint_address_target_kind": "Pod",
                            "__meta_kubernetes_endpoint_address_target_name": meta["__meta_kubernetes_pod_name"],
                        }
                    )
    return out


def targets(objects: list[dict[str, Any]], namespace: str = "llm") -> list[tuple[dict[str, Any], Labels, Labels]]:
    """(scrape config, discovered meta labels, final target labels) for every scraped target."""
    out = []
    for monitor in (o for o in objects if o.get("kind") in ("PodMonitor", "ServiceMonitor")):
        endpoints = monitor["spec"].get("podMetricsEndpoints") or monitor["spec"].get("endpoints") or []
        for i in range(len(endpoints)):
            cfg = scrape_config(monitor, i, namespace)
            role = cfg["kubernetes_sd_configs"][0]["role"]
            for meta in discover(objects, role, namespace):
                start = {**meta, "job": cfg["job_name"], "__metrics_path__": cfg["metrics_path"]}
                result = relabel(start, cfg["relabel_configs"])
                if result is None:
                    continue
                final = {k: v for k, v in result.items() if not k.startswith("__")}
                final.setdefault("instance", result["__address__"])
                out.append((cfg, meta, final))
    return out
