"""Alerts on agent task queues: old messages, no consumers, growing backlogs, dead letters, capacity."""

from __future__ import annotations

from ..bundle import Bundle
from .model import Alert, Runbook

QUEUE_COMMANDS = (
    'redis-cli -u "$REDIS_URL" LLEN <queue>                 # Redis list / Celery / RQ backlog',
    'redis-cli -u "$REDIS_URL" LINDEX <queue> -1            # the oldest message (Celery pushes left)',
    'redis-cli -u "$REDIS_URL" XINFO GROUPS <stream>        # stream consumer groups: pending, lag',
    'redis-cli -u "$REDIS_URL" XPENDING <stream> <group> - + 10',
    "celery -A <app> inspect active                         # what the Celery workers are doing",
    "kubectl exec -n <ns> <rabbitmq-pod> -- rabbitmqctl list_queues name messages_ready messages_unacknowledged consumers",
    "nats stream info <stream>; nats consumer info <stream> <consumer>",
    "kubectl -n <namespace> get deploy,pods -l app.kubernetes.io/name=<agent-worker>",
    "kubectl -n <namespace> logs deploy/<agent-worker> --tail=100",
)


def queue_alerts(b: Bundle) -> list[Alert]:
    """Queue alerts, per (backend, target, queue, group) unless noted."""
    a = b.alert
    by = b.by
    out: list[Alert] = []
    add = out.append
    qv = by("backend", "target", "queue", "group")
    qa = a("LLMQueueOldestMessageTooOld")
    add(
        Alert(
            "LLMQueueOldestMessageTooOld",
            "queue",
            f"max {qv} ({b.sel('llm_queue_oldest_ready_age_seconds')}) > {float(qa.get('age_seconds', 600)):g}",
            b.for_("LLMQueueOldestMessageTooOld"),
            "warning",
            "Agent tasks are waiting too long in a queue.",
            "The oldest ready message in {{ $labels.backend }} queue {{ $labels.queue }} (target "
            "{{ $labels.target }}) is {{ $value | humanizeDuration }} old.",
            Runbook(
                "The oldest deliverable message has waited longer than the threshold: agents are not "
                "keeping up or not consuming.",
                f"{b.sel('llm_queue_oldest_ready_age_seconds')}",
                (
                    "Too few workers; workers stuck on slow LLM calls (check the engine's waiting requests).",
                    "A poison message blocking an ordered consumer.",
                ),
                (
                    "Compare consumers, throughput and the engine's waiting requests in Agent pipeline.",
                    "Scale workers or the inference backend.",
                ),
                commands=QUEUE_COMMANDS,
                panel="Oldest message age",
            ),
        )
    )
    add(
        Alert(
            "LLMQueueNoConsumers",
            "queue",
            f"max {qv} ({b.sel('llm_queue_ready_messages')}) > 0\nand {b.on('backend', 'target', 'queue', 'group')}\n"
            f"max {qv} ({b.sel('llm_queue_consumers')}) == 0",
            b.for_("LLMQueueNoConsumers"),
            "critical",
            "A queue has a backlog and no consumers.",
            "{{ $labels.backend }} queue {{ $labels.queue }} (target {{ $labels.target }}) has {{ $value }} ready "
            "messages and no consumer attached.",
            Runbook(
                "Messages are waiting and nothing consumes them: the agents behind this queue are down, so "
                "the pipeline is stopped.",
                f"{b.sel('llm_queue_ready_messages')} and on (backend, target, queue, group) "
                f"{b.sel('llm_queue_consumers')} == 0",
                ("Worker deployment scaled to zero or crash-looping.", "Workers connected to another vhost/queue."),
                ("Check the worker pods and their logs; restart or scale them.",),
                commands=QUEUE_COMMANDS,
                panel="Consumers",
                escalate="Page: the on-call of the team owning the agent workers (the pipeline is stopped).",
            ),
        )
    )
    ba = a("LLMQueueBacklogGrowing")
    bw = str(ba.get("window", "15m"))
    add(
        Alert(
            "LLMQueueBacklogGrowing",
            "queue",
            f"sum {qv} ({b.sel('llm_queue_ready_messages')}) > {float(ba.get('min_ready', 100)):g}\n"
            f"and {b.on('backend', 'target', 'queue', 'group')}\n"
            f"sum {qv} (deriv({b.sel('llm_queue_ready_messages')}[{bw}])) > 0",
            b.for_("LLMQueueBacklogGrowing"),
            "warning",
            "A queue backlog keeps growing.",
            "{{ $labels.backend }} queue {{ $labels.queue }} (target {{ $labels.target }}) has grown for "
            + b.for_("LLMQueueBacklogGrowing")
            + " and holds {{ $value }} ready messages.",
            Runbook(
                "Messages arrive faster than the consumers finish them, for a sustained period.",
                f"deriv({b.sel('llm_queue_ready_messages')}[{bw}])",
                ("Consumers slowed by the inference backend (KV cache full, errors).", "More producers than usual."),
                ("Scale consumers and the inference backend; check LLM / Overview for saturation.",),
                commands=QUEUE_COMMANDS,
                panel="Ready and in flight by agent and queue",
            ),
        )
    )
    da = a("LLMQueueDeadLettersIncreasing")
    dw = str(da.get("window", "15m"))
    add(
        Alert(
            "LLMQueueDeadLettersIncreasing",
            "queue",
            f"sum {qv} (delta({b.sel('llm_queue_dead_messages')}[{dw}])) > 0",
            b.for_("LLMQueueDeadLettersIncreasing"),
            "warning",
            "Messages are being dead-lettered.",
            "{{ $labels.backend }} queue {{ $labels.queue }} (target {{ $labels.target }}) dead-lettered "
            "{{ $value }} messages in the last " + dw + ".",
            Runbook(
                "The dead-letter queue (or failed registry) grew: tasks fail permanently.",
                f"delta({b.sel('llm_queue_dead_messages')}[1h])",
                ("Agent bugs, malformed tasks, inference errors or rate limits exhausting retries.",),
                ("Inspect a few dead messages and the worker logs; fix and replay.",),
                commands=QUEUE_COMMANDS,
                panel="Redeliveries and dead-lettering",
            ),
        )
    )

    dq = b.sel("llm_queue_dropped_queues")
    add(
        Alert(
            "LLMQueueTargetOverCapacity",
            "queue",
            f"max {by('backend', 'target')} ({dq}) > 0",
            b.for_("LLMQueueTargetOverCapacity"),
            "warning",
            "A broker target has more queues than the exporter may export; some are not monitored.",
            "{{ $labels.backend }} target {{ $labels.target }} has {{ $value }} queues beyond its max_queues limit; "
            "they are not monitored.",
            Runbook(
                "Queue discovery on this target found more queues than the target's max_queues limit "
                "(cardinality guard). The configured queues come first; the queues beyond the limit are "
                "neither exported nor alerted on, so a backlog there goes unnoticed.",
                f"{dq} > 0",
                (
                    "More queues were created on the broker (per-tenant or per-session queues).",
                    "Discovery patterns (include) broader than intended.",
                    "max_queues set too low.",
                ),
                (
                    "Read the exporter's log: it names the first queues not exported.",
                    "Narrow the target's queue list or discovery pattern to the queues agents use, or raise "
                    "max_queues (each queue adds about ten series).",
                    "Reload (SIGHUP, or POST /-/reload with --web.enable-lifecycle) and watch the value return to 0.",
                ),
            ),
        )
    )
    return out
