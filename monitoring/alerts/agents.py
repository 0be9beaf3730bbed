"""Alerts on agent tasks: failure ratio, wait-time SLO burn, workers gone while tasks wait, retry storms.

Inputs are the per-task series of Celery task events and RQ worker counters
(``llm_queue_tasks_total``, ``llm_queue_task_wait_seconds``, ``llm_queue_workers``).
"""

from __future__ import annotations

from ..agent_rules import wait_slo
from ..bundle import Bundle
from ..matchers import eq, regex
from .model import Alert, Runbook

FINAL = "succeeded|failed|rejected|revoked"
AGENT_COMMANDS = (
    "celery -A <app> inspect active_queues                 # which workers consume which queue",
    "celery -A <app> inspect stats                         # pool size, tasks done per worker",
    "celery -A <app> events --dump | head -50              # are task events flowing (workers need -E)?",
    "celery -A <app> control enable_events                 # switch task events on in running workers",
    'rq info --url "$REDIS_URL" <queue>                  # RQ workers and queue sizes',
    "kubectl -n <namespace> get deploy,pods -l app.kubernetes.io/name=<agent-worker>",
    "kubectl -n <namespace> logs deploy/<agent-worker> --tail=200 | grep -iE 'error|retry|exception'",
)


def agent_alerts(b: Bundle) -> list[Alert]:
    """Agent task alerts, per (backend, target, queue[, task])."""
    out: list[Alert] = []
    by_task = b.by("backend", "target", "queue", "task")
    on_task = b.on("backend", "target", "queue", "task")

    def rate(window: str, *matchers: str) -> str:
        return f"sum {by_task} (rate({b.sel('llm_queue_tasks_total', *matchers)}[{window}]))"

    fa = b.alert("LLMAgentTaskFailureRatio")
    fw = str(fa.get("window", "10m"))
    failed, final = rate(fw, eq("outcome", "failed")), rate(fw, regex("outcome", FINAL))
    out.append(
        Alert(
            "LLMAgentTaskFailureRatio",
            "queue",
            f"{failed}\n/\n({final} > {float(fa.get('min_tasks_per_second', 0.01)):g})\n> {float(fa.get('ratio', 0.05)):g}",
            b.for_("LLMAgentTaskFailureRatio"),
            "warning",
            "An agent's tasks fail too often.",
            "{{ $value | humanizePercentage }} of {{ $labels.backend }} {{ with $labels.task }}task {{ . }} {{ end }}"
            "attempts on queue {{ $labels.queue }} (target {{ $labels.target }}) failed over the last " + fw + ".",
            Runbook(
                "The share of finished task attempts that ended in failure (Celery task-failed, RQ failed "
                "jobs) is above the threshold: the agent's work is being lost or redone.",
                f"{failed}\n/\n{final}",
                (
                    "Inference errors or rate limits (check LLM / Instance for errors and 429s).",
                    "A bad deploy of the agent code; malformed task arguments.",
                    "A dependency of the task (tool API, database) failing.",
                ),
                (
                    "Read the worker logs for the exception of the failing task name.",
                    "Roll back the agent deploy or fix the dependency; failed tasks may need replaying.",
                ),
                commands=AGENT_COMMANDS,
                panel="Task error ratio by agent",
            ),
        )
    )

    slo = wait_slo(b)
    budget = 1 - slo.objective
    for tier in slo.tiers:
        long_, short, factor = str(tier["long"]), str(tier["short"]), float(tier["factor"])
        limit = f"{factor * budget:.6g}"
        out.append(
            Alert(
                "LLMAgentTaskWaitBudgetBurn",
                "queue",
                f"{slo.ratio_rule(long_)} > {limit}\nand\n{slo.ratio_rule(short)} > {limit}\n"
                f"and\n{slo.events_rule(long_)} > {slo.floor:g}",
                str(tier["for"]),
                str(tier["severity"]),
                "Agent tasks wait too long before a worker starts them.",
                f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.backend }}}} tasks on queue "
                f"{{{{ $labels.queue }}}} (target {{{{ $labels.target }}}}) waited more than {slo.threshold:g} s "
                f"over {long_} and still over {short}: {factor:g}x the {budget:.4g} budget of the "
                f"{slo.objective:.4g} objective.",
                Runbook(
                    f"More agent tasks than the objective allows ({budget:.4g}) waited longer than "
                    f"{slo.threshold:g} s between being sent and being started, at {factor:g} times the "
                    f"sustainable rate over both the last {long_} and the last {short}.",
                    f"{slo.ratio_rule(long_)} / {budget:.6g}",
                    (
                        "Too few workers for the arrival rate; workers stuck on slow LLM calls.",
                        "Prefetch: tasks reserved by a busy worker wait although others are idle.",
                        "A burst of tasks from a fan-out step.",
                    ),
                    (
                        "Open LLM / Agent pipeline: compare tasks in and done, workers and the wait p95.",
                        "Scale workers (or the inference backend they wait on); lower the prefetch multiplier.",
                    ),
                    commands=AGENT_COMMANDS,
                    panel="Task wait p50 and p95 by agent",
                ),
                {"slo": "agent_wait", "long": long_, "short": short},
            )
        )

    by_q, on_q = b.by("target", "queue"), b.on("target", "queue")
    out.append(
        Alert(
            "LLMAgentWorkersGone",
            "queue",
            f"max {by_q} ({b.sel('llm_queue_ready_messages')}) > 0\nand {on_q}\n"
            f"max {by_q} ({b.sel('llm_queue_workers')}) == 0",
            b.for_("LLMAgentWorkersGone"),
            "critical",
            "Tasks wait and no worker of the agent is alive.",
            "Queue {{ $labels.queue }} (target {{ $labels.target }}) has {{ $value }} tasks waiting and no live "
            "worker (heartbeats or worker registrations stopped).",
            Runbook(
                "Every worker that consumed this queue stopped sending heartbeats (Celery) or left the "
                "worker registry (RQ) while tasks wait: the agent is down.",
                f"{b.sel('llm_queue_workers')} == 0",
                (
                    "Workers crashed, were OOM-killed or scaled to zero.",
                    "Workers lost the broker connection (network, broker failover).",
                ),
                (
                    "Check the worker pods/processes and their logs; restart or scale them.",
                    "Check llm_queue_events_connected: if the exporter itself lost the broker, heartbeats "
                    "are not seen either.",
                ),
                commands=AGENT_COMMANDS,
                panel="Workers by agent",
                escalate="Page: the on-call of the team owning the agent workers (the agent is down).",
            ),
        )
    )

    ra = b.alert("LLMAgentRetryStorm")
    rw = str(ra.get("window", "10m"))
    retried, attempts = rate(rw, eq("outcome", "retried")), rate(rw)
    out.append(
        Alert(
            "LLMAgentRetryStorm",
            "queue",
            f"{retried}\n/\n({attempts} > 0)\n> {float(ra.get('ratio', 0.5)):g}\n"
            f"and {on_task}\n{retried} > {float(ra.get('min_retries_per_second', 0.05)):g}",
            b.for_("LLMAgentRetryStorm"),
            "warning",
            "An agent's tasks are retrying in a storm.",
            "{{ $value | humanizePercentage }} of {{ $labels.backend }} {{ with $labels.task }}task {{ . }} {{ end }}"
            "attempts on queue {{ $labels.queue }} (target {{ $labels.target }}) ended in a retry over the last "
            + rw
            + ".",
            Runbook(
                "Most attempts of this task end in a retry: work is redone, the queue fills with retries "
                "and the LLM backend is hit again for nothing.",
                f"{retried}\n/\n{attempts}",
                (
                    "An LLM rate limit (429) or timeout the task retries on.",
                    "A downstream outage with retries and no backoff.",
                ),
                (
                    "Find the retried exception in the worker logs; add backoff and a retry limit.",
                    "Lower the producer rate or raise the provider's rate limit.",
                ),
                commands=AGENT_COMMANDS,
                panel="Task rate by agent and outcome",
            ),
        )
    )
    return out
