"""Agents as services: task outcomes, wait and runtime (Celery events, RQ workers), and LLM usage
per agent through a proxy that knows the caller (LiteLLM)."""

from __future__ import annotations

from .spec import TAM, MetricSpec, Q, T, metric

SPECS: tuple[MetricSpec, ...] = (
    # --- agent tasks (Celery events, RQ worker counters) -----------------------
    metric(
        "queue",
        "llm_queue_tasks_total",
        "counter",
        "Finished task attempts by outcome: succeeded, failed, retried, rejected, revoked "
        '(Celery task events; RQ workers\' successful and failed job counts with task="").',
        (*Q, "task", "outcome"),
    ),
    metric(
        "queue",
        "llm_queue_task_events_total",
        "counter",
        "Task lifecycle events seen: sent (needs task_send_sent_event), received and started (Celery task events).",
        (*Q, "task", "event"),
    ),
    metric(
        "queue",
        "llm_queue_task_wait_seconds",
        "histogram",
        "Time from sent (or received) to started, or from the ETA when later (Celery task events).",
        (*Q, "task"),
        "seconds",
    ),
    metric(
        "queue",
        "llm_queue_task_runtime_seconds",
        "histogram",
        "Time from started to finished of each task attempt (Celery runtime; RQ total working time as sum and count).",
        (*Q, "task"),
        "seconds",
    ),
    metric(
        "queue",
        "llm_queue_workers",
        "gauge",
        "Task workers alive that consume the queue (Celery heartbeats within 2 intervals, RQ registered workers).",
        Q,
    ),
    metric(
        "queue",
        "llm_queue_task_names_folded",
        "gauge",
        'Distinct task names past max_tasks counted under task="other" since the receiver started.',
        ("backend", "target"),
    ),
    metric(
        "queue",
        "llm_queue_tasks_tracked",
        "gauge",
        "Unfinished tasks the Celery event receiver tracks (bounded by max_inflight).",
        ("backend", "target"),
    ),
    metric(
        "queue",
        "llm_queue_tasks_forgotten_total",
        "counter",
        "Unfinished tasks dropped from tracking because max_inflight was reached.",
        ("backend", "target"),
    ),
    metric(
        "queue",
        "llm_queue_events_connected",
        "gauge",
        "1 while the Celery event receiver is connected to the broker, 0 while it reconnects.",
        ("backend", "target"),
    ),
    metric(
        "queue",
        "llm_queue_events_received_total",
        "counter",
        "Celery events received by the event receiver (tasks and worker heartbeats).",
        ("backend", "target"),
    ),
    # --- LLM usage per agent (LiteLLM proxy, opt-in per target: agents) --------
    metric(
        "agent",
        "llm_agent_prompt_tokens_total",
        "counter",
        "Prompt (input) tokens of the agent's requests through the LiteLLM proxy (provider-reported usage).",
        TAM,
    ),
    metric(
        "agent",
        "llm_agent_generation_tokens_total",
        "counter",
        "Generated (output) tokens of the agent's requests through the LiteLLM proxy.",
        TAM,
    ),
    metric(
        "agent",
        "llm_agent_requests_total",
        "counter",
        "The agent's requests to the LiteLLM proxy by outcome: succeeded (2xx), rejected (4xx, 429 included), "
        "failed (5xx and others).",
        (*TAM, "outcome"),
    ),
    metric(
        "agent",
        "llm_agent_spend_dollars_total",
        "counter",
        "LiteLLM's own spend for the agent's requests (its cost map or the deployment's prices), in US dollars.",
        TAM,
        "dollars",
    ),
    metric(
        "agent",
        "llm_agent_folded_agents",
        "gauge",
        "Agent names in the last read beyond the target's allow-list or max_agents, counted as agent other.",
        T,
    ),
)
