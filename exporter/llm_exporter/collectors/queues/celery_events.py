"""Celery task events turned into bounded counters, histograms and worker liveness.

``TaskEventState`` is fed the event dicts Celery's ``EventReceiver`` delivers (on the
receiver thread) and hands the scrape a consistent ``Snapshot`` (under one lock). Nothing
here does I/O, so it is tested and benchmarked without a broker.

Per task attempt: ``task-sent`` (producers with ``task_send_sent_event``; the only event
that names the queue) -> ``task-received`` -> ``task-started`` -> one of ``task-succeeded``,
``task-failed``, ``task-retried``, ``task-rejected``, ``task-revoked``. Wait = started minus
max(sent or received, ETA), clamped at 0; runtime = the event's ``runtime`` (succeeded) or
finished minus started (other outcomes). Worker liveness comes from ``worker-online`` /
``worker-heartbeat`` (``freq`` seconds apart) and ``worker-offline``; a worker is gone after
``timeout_factor * freq`` seconds without one, measured on the exporter's clock.

Bounds: ``max_tasks`` task names (then ``other``), ``max_queues`` queue names (then
``other``), ``max_inflight`` unfinished tasks (the oldest forgotten and counted), and
``MAX_WORKERS`` workers. Counters only ever grow for the life of the object.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

OUTCOMES = ("succeeded", "failed", "retried", "rejected", "revoked")
STAGES = ("sent", "received", "started")
OTHER = "other"
MAX_WORKERS = 2_000
MAX_FOLDED_NAMES = 10_000  # distinct folded names remembered for the gauge
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, math.inf)

_OUTCOME_OF = {f"task-{o}": o for o in OUTCOMES}


class Hist:
    """A fixed-bucket histogram: per-bucket counts (not cumulative) and the sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(BUCKETS, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[float, float]]:
        out, total = [], 0
        for le, n in zip(BUCKETS, self.counts, strict=True):
            total += n
            out.append((le, float(total)))
        return out


@dataclass(slots=True)
class Pending:
    """One unfinished task attempt."""

    name: str
    queue: str | None
    sent: float | None = None
    received: float | None = None
    eta: float | None = None
    started: float | None = None
    hostname: str = ""
    resent: float | None = None  # a retry's new task-sent, seen before the old attempt's task-retried


@dataclass(slots=True)
class Worker:
    last_seen: float
    freq: float
    queues: set[str] = field(default_factory=set)


@dataclass
class Snapshot:
    """A consistent copy of the state for one scrape."""

    outcomes: dict[tuple[str, str, str], int]
    stages: dict[tuple[str, str, str], int]
    wait: dict[tuple[str, str], tuple[list[tuple[float, float]], float]]
    runtime: dict[tuple[str, str], tuple[list[tuple[float, float]], float]]
    workers: dict[str, int]  # queue -> workers alive
    oldest_waiting: dict[str, float]  # queue -> age in seconds (queues with sent-not-started tasks)
    age_known: set[str]  # queues whose waiting age the events can tell (sent and worker events seen)
    sent_seen: set[str]  # queues with task-sent events (producers send them)
    queues: list[str]
    tracked: int
    forgotten: int
    folded: int
    events: int
    connected: bool


def parse_eta(raw: Any) -> float | None:
    """ISO-8601 ETA of an event (naive = UTC) -> unix seconds."""
    if not raw or not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class TaskEventState:
    """Bounded task-event bookkeeping for one Celery target; thread-safe."""

    def __init__(
        self,
        queues: Iterable[str] = (),
        max_tasks: int = 100,
        max_queues: int = 500,
        max_inflight: int = 10_000,
        timeout_factor: float = 2.0,
        default_queue: str = "celery",
        queue_prefix: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_tasks = max_tasks
        self.max_queues = max_queues
        self.max_inflight = max_inflight
        self.timeout_factor = timeout_factor
        self.default_queue = default_queue
        self.queue_prefix = queue_prefix
        self._clock = clock
        self._lock = threading.Lock()
        self._configured = [queue_prefix + q for q in queues]
        self._queues: dict[str, None] = dict.fromkeys(self._configured)
        self._names: set[str] = set()
        self._folded: set[str] = set()
        self._outcomes: dict[tuple[str, str, str], int] = {}
        self._stages: dict[tuple[str, str, str], int] = {}
        self._wait: dict[tuple[str, str], Hist] = {}
        self._runtime: dict[tuple[str, str], Hist] = {}
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._workers: dict[str, Worker] = {}
        self._sent_seen: set[str] = set()
        self._worker_seen: set[str] = set()
        self._forgotten = 0
        self._events = 0
        self.connected = False
        self.new_workers: list[str] = []  # hostnames the receiver should inspect / enable

    # -- bounded names -------------------------------------------------------------------
    def _task(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            return OTHER
        if name in self._names:
            return name
        if len(self._names) < self.max_tasks:
            self._names.add(name)
            return name
        if len(self._folded) < MAX_FOLDED_NAMES:
            self._folded.add(name)
        return OTHER

    def _queue(self, name: Any) -> str:
        queue: str = self.queue_prefix + (name if isinstance(name, str) and name else self.default_queue)
        if queue in self._queues:
            return queue
        if len(self._queues) < self.max_queues:
            self._queues[queue] = None
            return queue
        return OTHER

    def _count(self, table: dict[tuple[str, str, str], int], queue: str, task: str, what: str) -> None:
        key = (queue, task, what)
        table[key] = table.get(key, 0) + 1

    # -- events (receiver thread) --------------------------------------------------------
    def on_event(self, event: dict[str, Any]) -> None:
        """Apply one Celery event dict (as delivered by ``EventReceiver``)."""
        kind = event.get("type")
        if not isinstance(kind, str):
            return
        with self._lock:
            self._events += 1
            if kind.startswith("task-"):
                self._on_task(kind, event)
            elif kind.startswith("worker-"):
                self._on_worker(kind, event)

    def _on_task(self, kind: str, ev: dict[str, Any]) -> None:
        uuid = ev.get("uuid")
        if not isinstance(uuid, str):
            return
        ts = _num(ev.get("timestamp")) or self._clock()
        pending = self._pending.get(uuid)
        if kind == "task-sent":
            queue = self._queue(ev.get("queue"))
            self._sent_seen.add(queue)
            if pending is not None and (pending.sent is not None or pending.started is not None):
                # A retry published by the running attempt; the worker buffers its own task
                # events, so this often arrives before that attempt's received/started.
                pending.resent = ts
            elif pending is not None:  # the worker's event overtook the producer's
                pending.sent = ts
                if pending.queue is None:
                    pending.queue = queue
            else:
                pending = Pending(self._task(ev.get("name")), queue, sent=ts)
                self._track(uuid, pending)
            self._count(self._stages, queue, pending.name, "sent")
            return
        if kind == "task-received":
            if pending is None:
                pending = Pending(self._task(ev.get("name")), None)
                self._track(uuid, pending)
            pending.received = ts
            pending.eta = parse_eta(ev.get("eta"))
            pending.hostname = str(ev.get("hostname") or "")
            known = pending.queue is not None
            queue = self._queue_of(pending)
            self._worker_seen.add(queue)
            worker = self._workers.get(pending.hostname)
            if worker is not None and known:
                worker.queues.add(queue)
            self._count(self._stages, queue, pending.name, "received")
            return
        if pending is None:
            pending = Pending(OTHER, None)  # received before the receiver started: name unknown
            if kind == "task-started":
                self._track(uuid, pending)
        queue = self._queue_of(pending)
        if kind == "task-started":
            pending.started = ts
            base = pending.sent if pending.sent is not None else pending.received
            if base is not None:
                if pending.eta is not None and pending.eta > base:
                    base = pending.eta
                self._observe(self._wait, queue, pending.name, max(0.0, ts - base))
            self._count(self._stages, queue, pending.name, "started")
            return
        outcome = _OUTCOME_OF.get(kind)
        if outcome is None:
            return
        runtime = _num(ev.get("runtime")) if outcome == "succeeded" else None
        if runtime is None and pending.started is not None:
            runtime = ts - pending.started
        if runtime is not None:
            self._observe(self._runtime, queue, pending.name, max(0.0, runtime))
        self._count(self._outcomes, queue, pending.name, outcome)
        if outcome == "retried" and pending.resent is not None:
            pending.sent, pending.resent = pending.resent, None
            pending.received = pending.started = pending.eta = None
        elif outcome == "rejected" and ev.get("requeue"):
            pending.received = pending.started = None
        else:
            self._pending.pop(uuid, None)

    def _queue_of(self, pending: Pending) -> str:
        if pending.queue is None:
            pending.queue = self._queue(None)
        return pending.queue

    def _track(self, uuid: str, pending: Pending) -> None:
        self._pending[uuid] = pending
        while len(self._pending) > self.max_inflight:
            self._pending.popitem(last=False)
            self._forgotten += 1

    def _observe(self, table: dict[tuple[str, str], Hist], queue: str, task: str, value: float) -> None:
        hist = table.get((queue, task))
        if hist is None:
            hist = table[(queue, task)] = Hist()
        hist.observe(value)

    def _on_worker(self, kind: str, ev: dict[str, Any]) -> None:
        host = ev.get("hostname")
        if not isinstance(host, str) or not host:
            return
        if kind == "worker-offline":
            self._workers.pop(host, None)
            return
        freq = _num(ev.get("freq")) or 2.0
        worker = self._workers.get(host)
        now = self._clock()
        if worker is None:
            if len(self._workers) >= MAX_WORKERS:
                self._expire(now)
                if len(self._workers) >= MAX_WORKERS:
                    return
            worker = self._workers[host] = Worker(now, freq)
            self.new_workers.append(host)
        elif kind == "worker-online" and len(self.new_workers) < MAX_WORKERS:  # restarted: ask it again
            self.new_workers.append(host)
        worker.last_seen, worker.freq = now, freq

    def set_worker_queues(self, host: str, queues: Iterable[str]) -> None:
        """Queues a worker consumes (from ``inspect active_queues``)."""
        with self._lock:
            worker = self._workers.get(host)
            if worker is not None:
                worker.queues.update(self._queue(q) for q in queues)

    def take_new_workers(self) -> list[str]:
        with self._lock:
            new, self.new_workers = self.new_workers, []
            return new

    def _expire(self, now: float) -> None:
        gone = [h for h, w in self._workers.items() if now - w.last_seen > self.timeout_factor * w.freq]
        for h in gone:
            del self._workers[h]

    # -- scrape --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """Everything the scrape exports, copied under the lock."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            workers: dict[str, int] = dict.fromkeys(self._queues, 0)
            for w in self._workers.values():
                for q in w.queues:
                    workers[q] = workers.get(q, 0) + 1
            oldest: dict[str, float] = {}
            for p in self._pending.values():
                if p.started is not None or p.sent is None or p.queue is None:
                    continue
                since = p.sent if p.eta is None or p.eta < p.sent else p.eta
                if since > now:
                    continue  # an ETA in the future: delayed, not waiting
                if p.queue not in oldest or since < oldest[p.queue]:
                    oldest[p.queue] = since
            return Snapshot(
                outcomes=dict(self._outcomes),
                stages=dict(self._stages),
                wait={k: (h.cumulative(), h.sum) for k, h in self._wait.items()},
                runtime={k: (h.cumulative(), h.sum) for k, h in self._runtime.items()},
                workers=workers,
                oldest_waiting={q: max(0.0, now - t) for q, t in oldest.items()},
                age_known=self._sent_seen & self._worker_seen,
                sent_seen=set(self._sent_seen),
                queues=list(self._queues),
                tracked=len(self._pending),
                forgotten=self._forgotten,
                folded=len(self._folded),
                events=self._events,
                connected=self.connected,
            )
