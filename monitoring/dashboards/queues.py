"""The Agent pipeline dashboard: task queues (backlog, age, consumers, dead letters) and, per agent,
task rate, errors, wait and runtime percentiles and workers (Celery task events, RQ worker counters)."""

from __future__ import annotations

from typing import Any

from ..bundle import Bundle
from ..matchers import JOB, QUEUE, TARGET, selector
from .agent_llm import llm_usage_row
from .document import dashboard
from .panels import RATE_INTERVAL, Board


def pipeline(b: Bundle) -> dict[str, Any]:
    q = selector(JOB, TARGET, QUEUE)
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
        "Engine waiting",
        "Requests waiting inside the inference engines.",
        f"sum(llm_requests_waiting{selector(JOB)})",
        "short",
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
        [(f"sum by (job, target, model) (llm_requests_waiting{selector(JOB)})", "{{target}} {{model}}")],
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
            (f"rate(llm_queue_enqueued_total{q}[{RATE_INTERVAL}]) {agent}", f"{lq} enqueued"),
            (f"rate(llm_queue_completed_total{q}[{RATE_INTERVAL}]) {agent}", f"{lq} completed"),
        ],
        "short",
    )
    # No supported broker counts failed executions (llm_queue_failed_total stays unset), so failures
    # show as redeliveries (RabbitMQ) and as growth of the dead-letter queue or failed registry.
    x.ts(
        "Redeliveries and dead-lettering",
        "Redeliveries per second and dead-letter growth per second.",
        [
            (f"rate(llm_queue_redelivered_total{q}[{RATE_INTERVAL}]) {agent}", f"{lq} redelivered"),
            (f"clamp_min(deriv(llm_queue_dead_messages{q}[{RATE_INTERVAL}]), 0) {agent}", f"{lq} dead-lettered"),
        ],
        "short",
    )
    x.ts(
        "Dead letters",
        "Messages in the dead-letter queue or failed registry.",
        [(f"llm_queue_dead_messages{q} {agent}", lq)],
        "short",
    )
    _agents(x, q)
    llm_usage_row(x)
    return dashboard(
        b,
        "pipeline",
        "LLM / Agent pipeline",
        "Agent task queues feeding the engines: backlog, age, consumers, throughput, failures; "
        "LLM tokens, dollars and outcomes per agent (LiteLLM).",
        x,
        ["job", "qtarget", "queue"],
    )


def _agents(x: Board, q: str) -> None:
    """Per-agent task panels and the pipeline view across agents.

    Task series are joined to ``llm_queue_info`` on (job, instance, target, queue), not on
    ``backend``: Celery on RabbitMQ has its queue row under ``backend="rabbitmq"`` and its
    task series under ``backend="celery"``.
    """
    join = (
        "* on (job, instance, target, queue) group_left (agent) "
        f"group by (job, instance, target, queue, agent) (llm_queue_info{q})"
    )

    def per_agent(expr: str, by: str = "agent") -> str:
        return f"sum by ({by}) ({expr} {join})"

    def rate(metric: str, matcher: str = "") -> str:
        sel = q[:-1] + (f", {matcher}" if matcher else "") + "}"
        return f"rate({metric}{sel}[{RATE_INTERVAL}])"

    final = 'outcome=~"succeeded|failed|rejected|revoked"'
    failed = 'outcome="failed"'
    x.row("Agents")
    x.ts(
        "Task rate by agent and outcome",
        "Finished task attempts per second by outcome (Celery task events; RQ workers' finished and failed jobs).",
        [(per_agent(rate("llm_queue_tasks_total"), "agent, outcome"), "{{agent}} {{outcome}}")],
        "short",
        w=12,
    )
    x.ts(
        "Task error ratio by agent",
        "Failed attempts as a share of finished attempts (retries excluded).",
        [
            (
                f"{per_agent(rate('llm_queue_tasks_total', failed))}\n/\n"
                f"{per_agent(rate('llm_queue_tasks_total', final))}",
                "{{agent}}",
            )
        ],
        "percentunit",
        ratio=True,
        w=12,
    )
    x.ts(
        "Task wait p50 and p95 by agent",
        "Time from sent (or received) to started, from the wait histogram (Celery task events).",
        [
            (
                f"histogram_quantile({p}, {per_agent(rate('llm_queue_task_wait_seconds_bucket'), 'agent, le')})",
                f"{{{{agent}}}} p{int(p * 100)}",
            )
            for p in (0.5, 0.95)
        ],
        "s",
    )
    x.ts(
        "Task runtime p95 by agent",
        "Time from started to finished of each attempt (Celery task events; RQ only has the mean).",
        [
            (
                f"histogram_quantile(0.95, {per_agent(rate('llm_queue_task_runtime_seconds_bucket'), 'agent, le')})",
                "{{agent}} p95",
            ),
            (
                f"{per_agent(rate('llm_queue_task_runtime_seconds_sum'))}\n/\n"
                f"{per_agent(rate('llm_queue_task_runtime_seconds_count'))}",
                "{{agent}} mean",
            ),
        ],
        "s",
    )
    x.ts(
        "Workers by agent",
        "Task workers alive per agent (Celery heartbeats, RQ live worker registrations).",
        [(per_agent(f"llm_queue_workers{q}"), "{{agent}}")],
        "short",
    )
    x.table(
        "Pipeline: agents side by side",
        "Per agent now: tasks in and done per second, ready backlog, oldest waiting task, workers alive "
        "and the failed share of finished attempts.",
        [
            (per_agent(rate("llm_queue_enqueued_total")), "in/s"),
            (per_agent(rate("llm_queue_completed_total")), "done/s"),
            (per_agent(f"llm_queue_ready_messages{q}"), "ready"),
            (f"max by (agent) (llm_queue_oldest_ready_age_seconds{q} {join})", "oldest waiting (s)"),
            (per_agent(f"llm_queue_workers{q}"), "workers"),
        ],
        w=24,
    )
