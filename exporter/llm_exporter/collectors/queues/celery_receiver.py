"""The Celery event receiver thread of a queue target, and what the scrape exports from it.

``CeleryEvents`` belongs to one Redis or RabbitMQ queue collector. On the first scrape it
starts a daemon thread that consumes the Celery event stream with Celery's own
``EventReceiver`` (kombu underneath, so every transport detail is Celery's) and feeds a
``TaskEventState``. The thread reconnects after a broker loss every
``reconnect_interval``; the state (and so every counter) lives as long as the collector,
so counters stay monotonic across reconnects and broker restarts. Between events the
receiver's ``on_iteration`` hook (at least once a second) asks each newly seen worker which
queues it consumes (``inspect active_queues``, one worker at a time, 1 s timeout) and,
when ``enable_events`` is set, sends it Celery's ``enable_events`` control command.

At scrape time ``collect`` reads one snapshot and writes the task series, fills the
Celery rows' consumers (Redis has no consumer list) and, where the events can tell it, the
age of the oldest task sent but not yet started.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from ...config import CeleryEventsConfig, QueueTarget
from ...metricset import MetricSet
from .celery_events import OUTCOMES, STAGES, Hist, TaskEventState
from .common import QueueStats

log = logging.getLogger("llm_exporter.collectors.queues.celery")

INSPECT_TIMEOUT = 1.0
INSPECT_TRIES = 5
ENABLE_EVENTS_EVERY = 60.0  # seconds between enable_events broadcasts to all workers
INSPECT_RETRY = 5.0  # seconds, times the attempt number
MAX_INSPECTS_PER_ITERATION = 4
BACKEND = "celery"


def _vhost_prefix(url: str) -> str:
    """``vhost/`` for an AMQP URL with a non-default vhost (the RabbitMQ collector's queue label)."""
    parts = urlsplit(url)
    if not parts.scheme.startswith(("amqp", "pyamqp")):
        return ""
    vhost = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    return "" if vhost in ("", "/") else f"{vhost}/"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


class CeleryEvents:
    """The event receiver of one target: state, thread and the scrape-time export."""

    def __init__(self, cfg: QueueTarget, clock: Callable[[], float] = time.time) -> None:
        ec = cfg.celery_events or CeleryEventsConfig()
        self.config = ec
        self.target = cfg.name
        self.url = ec.broker_url or cfg.url
        self.key_prefix = cfg.key_prefix if self.url.startswith(("redis", "rediss")) else ""
        configured = [q.name for q in cfg.queues if q.kind == "celery"] if cfg.backend == "redis" else []
        self.state = TaskEventState(
            configured,
            max_tasks=ec.max_tasks,
            max_queues=cfg.max_queues,
            max_inflight=ec.max_inflight,
            timeout_factor=ec.worker_timeout_factor,
            default_queue=ec.default_queue,
            queue_prefix=_vhost_prefix(self.url),
            clock=clock,
        )
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._receiver: Any = None
        self._last_error = ""
        self._missing_logged = False
        self._inspect_due: dict[str, tuple[float, int]] = {}  # worker -> (when, attempts so far)
        self._enable_all_at = time.monotonic() + ENABLE_EVENTS_EVERY

    # -- thread --------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            if importlib.util.find_spec("celery") is None:
                if not self._missing_logged:
                    self._missing_logged = True
                    log.error(
                        "queue target %s: celery_events needs the celery package "
                        "(pip install 'llm-exporter[celery]'); no task events are read",
                        self.target,
                    )
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"celery-events-{self.target}", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        recv = self._receiver
        if recv is not None:
            recv.should_stop = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _app(self) -> Any:
        from celery import Celery

        app = Celery(f"llm-exporter-{self.target}", broker=self.url, set_as_current=False)
        app.conf.broker_connection_timeout = 5.0
        app.conf.broker_connection_retry = False
        app.conf.broker_connection_max_retries = 0
        if self.key_prefix:
            app.conf.broker_transport_options = {"global_keyprefix": self.key_prefix}
        return app

    def _run(self) -> None:
        from celery.events.receiver import EventReceiver

        owner = self

        class Receiver(EventReceiver):  # type: ignore[misc]
            iterations = 0

            def on_iteration(self) -> None:
                if owner._stop.is_set():
                    self.should_stop = True
                    return
                self.iterations += 1
                if self.iterations == 2:  # one drain done: subscribed (Redis fanout is pub/sub)
                    owner.state.connected = True
                    owner._note_ok()
                owner._housekeeping(self.app)

        while not self._stop.is_set():
            app = self._app()
            try:
                with app.connection_for_read() as conn:
                    conn.ensure_connection(max_retries=1)
                    recv = Receiver(conn, handlers={"*": self.state.on_event}, app=app)
                    self._receiver = recv
                    if self.config.enable_events:
                        self._control(app, "enable_events")
                    for _ in recv.itercapture(limit=None, timeout=None, wakeup=True):
                        pass
            except Exception as exc:  # any broker or transport failure: reconnect later
                self._note_error(exc)
            finally:
                self.state.connected = False
                self._receiver = None
                try:
                    app.close()
                except Exception:
                    pass
            self._stop.wait(self.config.reconnect_interval)

    def _note_ok(self) -> None:
        if self._last_error:
            log.info("celery events of %s: connected again to %s", self.target, _redact(self.url))
        self._last_error = ""

    def _note_error(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if self.url in text:
            text = text.replace(self.url, _redact(self.url))
        if text != self._last_error:
            log.warning(
                "celery events of %s: broker %s lost or unreachable (%s); reconnecting every %gs",
                self.target,
                _redact(self.url),
                text[:300],
                self.config.reconnect_interval,
            )
        self._last_error = text

    def _housekeeping(self, app: Any) -> None:
        now = time.monotonic()
        hosts = self.state.take_new_workers()
        if self.config.enable_events:
            for host in hosts:
                self._control(app, "enable_events", [host])
            if now >= self._enable_all_at:  # workers that restarted under the same name forget it
                self._enable_all_at = now + ENABLE_EVENTS_EVERY
                self._control(app, "enable_events")
        if not self.config.inspect_queues:
            return
        for host in hosts:
            self._inspect_due.setdefault(host, (now, 0))
        due = [h for h, (at, _) in self._inspect_due.items() if at <= now][:MAX_INSPECTS_PER_ITERATION]
        for host in due:
            tries = self._inspect_due.pop(host)[1] + 1
            try:
                reply = app.control.inspect(destination=[host], timeout=INSPECT_TIMEOUT).active_queues() or {}
            except Exception as exc:
                log.debug("celery events of %s: inspect %s failed: %s", self.target, host, exc)
                reply = {}
            queues = reply.get(host)
            if isinstance(queues, list):
                names = [str(q.get("name")) for q in queues if isinstance(q, dict) and q.get("name")]
                self.state.set_worker_queues(host, names)
                if self.config.enable_events:  # it answers control commands now: ask once more
                    self._control(app, "enable_events", [host])
            elif tries < INSPECT_TRIES:  # no answer in time (busy worker or broker): ask again later
                self._inspect_due[host] = (now + INSPECT_RETRY * tries, tries)

    def _control(self, app: Any, command: str, destination: list[str] | None = None) -> None:
        try:
            app.control.broadcast(command, destination=destination)
        except Exception as exc:
            log.debug("celery events of %s: %s broadcast failed: %s", self.target, command, exc)

    # -- scrape --------------------------------------------------------------------------
    def collect(self, out: MetricSet, rows: list[QueueStats]) -> None:
        """Export the snapshot and fill the Celery rows' consumers and waiting age."""
        self.start()
        snap = self.state.snapshot()
        base = {"backend": BACKEND, "target": self.target, "group": ""}
        pairs = {(q, t) for q, t, _ in snap.outcomes} | {(q, t) for q, t, _ in snap.stages}
        for queue, task in sorted(pairs):
            labels = {**base, "queue": queue, "task": task}
            for outcome in OUTCOMES:
                out.add(
                    "llm_queue_tasks_total",
                    float(snap.outcomes.get((queue, task, outcome), 0)),
                    {**labels, "outcome": outcome},
                )
            for stage in STAGES:
                out.add(
                    "llm_queue_task_events_total",
                    float(snap.stages.get((queue, task, stage), 0)),
                    {**labels, "event": stage},
                )
            for metric, table in (
                ("llm_queue_task_wait_seconds", snap.wait),
                ("llm_queue_task_runtime_seconds", snap.runtime),
            ):
                buckets, total = table.get((queue, task), (Hist().cumulative(), 0.0))
                out.add_histogram(metric, labels, buckets, total)
        for queue, n in snap.workers.items():
            out.add("llm_queue_workers", float(n), {**base, "queue": queue})
        health = {"backend": BACKEND, "target": self.target}
        out.add("llm_queue_events_connected", 1.0 if snap.connected else 0.0, health)
        out.add("llm_queue_events_received_total", float(snap.events), health)
        out.add("llm_queue_tasks_tracked", float(snap.tracked), health)
        out.add("llm_queue_tasks_forgotten_total", float(snap.forgotten), health)
        out.add("llm_queue_task_names_folded", float(snap.folded), health)
        per_queue = _per_queue(snap.stages, snap.outcomes)
        for row in rows:
            if row.backend == BACKEND and row.queue in snap.workers:
                row.consumers = float(snap.workers[row.queue])
                # Celery on Redis has no broker counters: the events are the throughput.
                counts = per_queue.get(row.queue, {})
                if row.queue in snap.sent_seen:
                    row.enqueued_total = counts.get("sent", 0.0)
                row.delivered_total = counts.get("received", 0.0)
                row.completed_total = counts.get("succeeded", 0.0)
                row.failed_total = counts.get("failed", 0.0)
            if row.oldest_ready_age is None and row.queue in snap.age_known:
                row.oldest_ready_age = snap.oldest_waiting.get(row.queue)


def _per_queue(*tables: dict[tuple[str, str, str], int]) -> dict[str, dict[str, float]]:
    """Sum event and outcome counts over task names: queue -> {event or outcome: count}."""
    out: dict[str, dict[str, float]] = {}
    for table in tables:
        for (queue, _task, what), n in table.items():
            q = out.setdefault(queue, {})
            q[what] = q.get(what, 0.0) + n
    return out
