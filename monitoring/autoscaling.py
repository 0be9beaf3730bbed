"""Recording rules made for autoscaling (KEDA, prometheus-adapter + HPA): smoothed, one value per workload.

Scalers read one number per query, every 15-30 s. These rules give them series that are already
aggregated per Kubernetes namespace and model (engines) or per namespace and queue (the queue
collector's namespace), smoothed over ``autoscaling.smoothing_window`` so a single scrape does not
flap the replica count. Totals (``:sum_avg<w>``) feed ``AverageValue`` targets, which the HPA
divides by the current replica count; the ``:per_replica_avg<w>`` series are that same quotient as
Prometheus sees it (serving replicas only), for dashboards and the docs (docs/autoscaling.md).
"""

from __future__ import annotations

from .bundle import Bundle
from .recording import Rule


def window(b: Bundle) -> str:
    return str((b.raw.get("autoscaling") or {}).get("smoothing_window", "2m"))


def names(b: Bundle) -> dict[str, str]:
    """Role -> recorded series name, for the deploy manifests and the docs."""
    w = window(b)
    return {
        "waiting": f"namespace_model:llm_requests_waiting:sum_avg{w}",
        "replicas": "namespace_model:llm_serving_replicas:count",
        "waiting_per_replica": f"namespace_model:llm_requests_waiting:per_replica_avg{w}",
        "kv": f"namespace_model:llm_kv_cache_usage_ratio:sum_avg{w}",
        "kv_per_replica": f"namespace_model:llm_kv_cache_usage_ratio:per_replica_avg{w}",
        "backlog": f"namespace_queue:llm_queue_ready_messages:sum_avg{w}",
        "oldest_age": f"namespace_queue:llm_queue_oldest_ready_age_seconds:max_avg{w}",
    }


def rules(b: Bundle) -> list[Rule]:
    w, n = window(b), names(b)
    model = b.by("namespace", "model")
    queue = b.by("namespace", "backend", "queue")
    return [
        Rule(n["waiting"], f"sum {model} (avg_over_time({b.sel('llm_requests_waiting')}[{w}]))"),
        # Replicas that serve the model right now (a loading pod reports no engine series yet).
        Rule(
            n["replicas"],
            f"count {model} (group {b.by('namespace', 'model', 'instance')} ({b.sel('llm_requests_running')}))",
        ),
        Rule(n["waiting_per_replica"], f"{n['waiting']}\n/\n{n['replicas']}"),
        Rule(n["kv"], f"sum {model} (avg_over_time({b.sel('llm_kv_cache_usage_ratio')}[{w}]))"),
        Rule(n["kv_per_replica"], f"{n['kv']}\n/\n{n['replicas']}"),
        Rule(n["backlog"], f"sum {queue} (avg_over_time({b.sel('llm_queue_ready_messages')}[{w}]))"),
        Rule(n["oldest_age"], f"max {queue} (avg_over_time({b.sel('llm_queue_oldest_ready_age_seconds')}[{w}]))"),
    ]
