"""Agent task queues: backlog, ages, consumers, throughput, per backend."""

from __future__ import annotations

from .spec import MetricSpec, Q, metric

SPECS: tuple[MetricSpec, ...] = (
    # --- queues ----------------------------------------------------------------
    metric(
        "queue",
        "llm_queue_info",
        "gauge",
        "A watched queue, the agent that consumes it (from config) and its kind. Always 1.",
        Q,
        extra=True,
    ),
    metric(
        "queue",
        "llm_queue_ready_messages",
        "gauge",
        "Messages waiting and deliverable now (ready, stream lag, num_pending).",
        Q,
    ),
    metric(
        "queue",
        "llm_queue_inflight_messages",
        "gauge",
        "Messages delivered or started but not yet acknowledged or finished.",
        Q,
    ),
    metric("queue", "llm_queue_delayed_messages", "gauge", "Messages scheduled or deferred, not yet due.", Q),
    metric("queue", "llm_queue_dead_messages", "gauge", "Messages in the dead-letter queue or failed registry.", Q),
    metric(
        "queue",
        "llm_queue_oldest_ready_age_seconds",
        "gauge",
        "Age of the oldest ready message; 0 when empty, absent when unknowable.",
        Q,
        "seconds",
    ),
    metric(
        "queue",
        "llm_queue_oldest_inflight_age_seconds",
        "gauge",
        "Age of the longest-running or longest-unacknowledged message; absent when unknowable.",
        Q,
        "seconds",
    ),
    metric("queue", "llm_queue_consumers", "gauge", "Consumers or workers attached to the queue.", Q),
    metric(
        "queue",
        "llm_queue_enqueued_total",
        "counter",
        "Messages accepted into the queue: tasks per second in (RabbitMQ publish, stream entries-added, "
        "JetStream last_seq, Celery task-sent).",
        Q,
    ),
    metric(
        "queue",
        "llm_queue_delivered_total",
        "counter",
        "Messages handed to consumers, redeliveries included (RabbitMQ deliver_get, stream group entries-read, "
        "JetStream consumer delivered sequence, Celery task-received).",
        Q,
    ),
    metric(
        "queue",
        "llm_queue_completed_total",
        "counter",
        "Messages acknowledged or tasks done: tasks per second done (RabbitMQ ack, stream group entries-read minus "
        "pending, JetStream ack floor, RQ workers' finished jobs, Celery task-succeeded).",
        Q,
    ),
    metric(
        "queue",
        "llm_queue_failed_total",
        "counter",
        "Failed job executions (RQ workers' failed jobs), kept monotonic across worker restarts.",
        Q,
    ),
    metric("queue", "llm_queue_redelivered_total", "counter", "Messages delivered more than once.", Q),
    metric(
        "queue",
        "llm_queue_redelivering_messages",
        "gauge",
        "Unacknowledged messages that were delivered more than once (NATS num_redelivered; a gauge, not a counter).",
        Q,
    ),
    metric(
        "queue",
        "llm_queue_pull_requests_waiting",
        "gauge",
        "Outstanding pull requests of a pull consumer waiting for messages (NATS num_waiting): idle consumer capacity.",
        Q,
    ),
    metric(
        "queue",
        "llm_queue_dropped_queues",
        "gauge",
        "Queues found on the target beyond its max_queues limit and therefore not exported.",
        ("backend", "target"),
    ),
)
