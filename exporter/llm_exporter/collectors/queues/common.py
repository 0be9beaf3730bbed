"""Shared pieces of the queue collectors: normalised queue stats, emission, the guard.

Every backend turns what it read into ``QueueStats`` rows (one per queue, or per queue
and consumer group) and ``emit`` writes them as ``llm_queue_*`` series with the labels
``backend``, ``target``, ``queue`` and ``group``. ``None`` means "cannot be known" and
is left out; 0 means "known and empty".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...config import QueueTarget
from ...metricset import MetricSet
from ...scrape import Deadline
from .. import httpread

log = logging.getLogger("llm_exporter.collectors.queues")

_VALUE_METRICS = (
    ("ready", "llm_queue_ready_messages"),
    ("inflight", "llm_queue_inflight_messages"),
    ("delayed", "llm_queue_delayed_messages"),
    ("dead", "llm_queue_dead_messages"),
    ("oldest_ready_age", "llm_queue_oldest_ready_age_seconds"),
    ("oldest_inflight_age", "llm_queue_oldest_inflight_age_seconds"),
    ("consumers", "llm_queue_consumers"),
    ("redelivering", "llm_queue_redelivering_messages"),
    ("pull_requests", "llm_queue_pull_requests_waiting"),
    ("enqueued_total", "llm_queue_enqueued_total"),
    ("delivered_total", "llm_queue_delivered_total"),
    ("completed_total", "llm_queue_completed_total"),
    ("failed_total", "llm_queue_failed_total"),
    ("redelivered_total", "llm_queue_redelivered_total"),
)


class WorkerTotals(Protocol):
    """Task totals a runtime's workers keep themselves (RQ): not per task name."""

    completed: float
    failed: float
    working_seconds: float
    alive: int


@dataclass
class QueueStats:
    """What one backend knows about one queue (and consumer group). None = unknowable."""

    backend: str
    queue: str
    kind: str
    group: str = ""
    agent: str = ""
    ready: float | None = None
    inflight: float | None = None
    delayed: float | None = None
    dead: float | None = None
    oldest_ready_age: float | None = None
    oldest_inflight_age: float | None = None
    consumers: float | None = None
    redelivering: float | None = None
    pull_requests: float | None = None
    enqueued_total: float | None = None
    delivered_total: float | None = None
    completed_total: float | None = None
    failed_total: float | None = None
    redelivered_total: float | None = None
    info: dict[str, str] = field(default_factory=dict)
    tasks: WorkerTotals | None = None


def emit(out: MetricSet, target: str, rows: Iterable[QueueStats]) -> None:
    """Write the rows as catalog series; ages are clamped at 0 (producer clock skew)."""
    for row in rows:
        labels = {"backend": row.backend, "target": target, "queue": row.queue, "group": row.group}
        out.add("llm_queue_info", 1.0, {**labels, "agent": row.agent, "kind": row.kind, **row.info})
        for attr, metric in _VALUE_METRICS:
            value = getattr(row, attr)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            if attr.startswith("oldest_"):
                value = max(0.0, value)
            out.add(metric, value, labels)
        if row.tasks is not None:
            emit_worker_totals(out, labels, row.tasks)


def emit_worker_totals(out: MetricSet, labels: Mapping[str, str], t: WorkerTotals) -> None:
    """Outcomes, runtime (sum and count only: one +Inf bucket) and workers alive, ``task=""``."""
    task = {**labels, "task": ""}
    out.add("llm_queue_tasks_total", t.completed, {**task, "outcome": "succeeded"})
    out.add("llm_queue_tasks_total", t.failed, {**task, "outcome": "failed"})
    out.add_histogram("llm_queue_task_runtime_seconds", task, [(math.inf, t.completed + t.failed)], t.working_seconds)
    out.add("llm_queue_workers", float(t.alive), labels)


class Guard:
    """Cardinality guard: at most ``limit`` queue rows per target, overflow counted and logged."""

    def __init__(self, target: str, limit: int) -> None:
        self.target = target
        self.limit = limit
        self._last_dropped: dict[str, int] = {}

    def apply(self, out: MetricSet, rows: list[QueueStats], backends: Iterable[str]) -> list[QueueStats]:
        """Keep the first ``limit`` rows (callers put configured queues first)."""
        kept, dropped = rows[: self.limit], rows[self.limit :]
        counts: dict[str, int] = dict.fromkeys(backends, 0)
        for row in dropped:
            counts[row.backend] = counts.get(row.backend, 0) + 1
        for backend, n in counts.items():
            out.add("llm_queue_dropped_queues", float(n), {"backend": backend, "target": self.target})
        total = sum(counts.values())
        if total != sum(self._last_dropped.values()):
            if total:
                log.warning(
                    "queue target %s: %d queues over max_queues=%d are not exported (first: %s)",
                    self.target,
                    total,
                    self.limit,
                    ", ".join(r.queue for r in dropped[:5]),
                )
            elif self._last_dropped:
                log.info("queue target %s: back under max_queues=%d", self.target, self.limit)
        self._last_dropped = counts
        return kept


class OnceLog:
    """Log a per-queue problem once per change of message, not on every scrape."""

    def __init__(self) -> None:
        self._seen: dict[Any, str] = {}

    def problem(self, key: Any, message: str) -> None:
        if self._seen.get(key) != message:
            self._seen[key] = message
            log.warning("%s", message)

    def ok(self, key: Any) -> None:
        if self._seen.pop(key, None) is not None:
            log.info("queue %s readable again", key)


def get_json(
    session: httpread.Session,
    url: str,
    deadline: Deadline,
    cfg: QueueTarget,
    max_bytes: int = 32 * 1024 * 1024,
    params: Mapping[str, Any] | None = None,
) -> Any:
    """GET ``url`` and parse JSON with the target's credentials, through the shared bounded reader."""
    auth = (cfg.username or "", cfg.password or "") if (cfg.username or cfg.password) else None
    return httpread.get_json(
        session, url, deadline, cap=cfg.timeout, params=params, auth=auth, max_bytes=max_bytes, redirects=cfg.redirects
    )


def mapping(value: object) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (for optional nested objects)."""
    return value if isinstance(value, dict) else {}


def num(value: Any) -> float | None:
    """A finite number from JSON, or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
