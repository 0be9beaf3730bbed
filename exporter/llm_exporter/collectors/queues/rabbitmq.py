"""RabbitMQ queues from the management HTTP API (``rabbitmq_management`` plugin).

Per scrape: the queue listing ``/api/queues[/{vhost}]`` with ``columns=`` (only the
fields used) and pagination (``page``/``page_size``, at most enough pages for
``max_queues``). Without discovery only the configured queues (and their dead-letter
queues) are asked for, by a name regex. Slowly (``discovery_interval``): ``/api/overview``
for the version and whether message statistics are collected, and the bindings of each
dead-letter exchange, which map a queue to its dead-letter queue(s).

Per queue: ready = ``messages_ready``, in-flight = ``messages_unacknowledged``,
consumers, dead = messages in its dead-letter queue(s) (``x-dead-letter-exchange`` and
``x-dead-letter-routing-key`` arguments or the ``dead-letter-*`` policy keys), oldest
ready age from ``head_message_timestamp`` (only when publishers or the timestamp
interceptor set it), and the ``message_stats`` publish/ack/redeliver counters where the
management statistics are enabled.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from ...config import QueueTarget
from ...metricset import MetricSet
from ...scrape import Deadline, TargetDown
from .. import httpread
from ..base import BaseCollector
from .celery_receiver import CeleryEvents
from .common import Guard, OnceLog, QueueStats, emit, get_json, log, mapping, num

COLUMNS = ",".join(
    (
        "name",
        "vhost",
        "type",
        "state",
        "messages",
        "messages_ready",
        "messages_unacknowledged",
        "consumers",
        "arguments",
        "effective_policy_definition",
        "head_message_timestamp",
        "message_stats.publish",
        "message_stats.deliver_get",
        "message_stats.ack",
        "message_stats.redeliver",
    )
)
MAX_DLX_LOOKUPS = 50


def queue_label(vhost: str, name: str) -> str:
    """``name`` in the default vhost ``/``, else ``vhost/name``."""
    return name if vhost == "/" else f"{vhost}/{name}"


class RabbitMQQueueCollector(BaseCollector[QueueTarget]):
    """One RabbitMQ management API target."""

    name = "queue"

    def __init__(self, cfg: QueueTarget, clock: Callable[[], float] = time.time) -> None:
        super().__init__(cfg, key=f"queue/{cfg.name}", target=cfg.name)
        self._clock = clock
        self._session: httpread.Session | None = None
        self._discovered_at = float("-inf")
        self._dlq: dict[tuple[str, str, str], list[str]] = {}  # (vhost, dlx, routing key) -> queues
        self._stats_enabled = True
        self._asked: set[str] = set()
        self._guard = Guard(cfg.name, cfg.max_queues)
        self._problems = OnceLog()
        self._events = CeleryEvents(cfg, clock) if cfg.celery_events is not None else None
        self.version = ""
        default_vhost = cfg.vhost or "/"
        self._configured = [(q.vhost or default_vhost, q.name) for q in cfg.queues]
        self._agents = {(q.vhost or default_vhost, q.name): q.agent or "" for q in cfg.queues}

    def fallback(self, out: MetricSet) -> None:
        """A late broker read: the Celery event counters, kept by the receiver, are still served."""
        if self._events is not None:
            self._events.collect(out, [])

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
        if self._session is not None:
            self._session.close()
            self._session = None

    def _url(self, path: str) -> str:
        return httpread.join(self.config.url, path)

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        if self._session is None:
            self._session = httpread.new_session()
        session = self._session
        cfg = self.config
        if time.monotonic() - self._discovered_at >= cfg.discovery_interval:
            overview = get_json(
                session,
                self._url("/api/overview"),
                deadline,
                cfg,
                params={"columns": "rabbitmq_version,rates_mode,disable_stats"},
            )
            if not isinstance(overview, dict):
                raise TargetDown(f"{self._url('/api/overview')}: unexpected JSON ({type(overview).__name__})")
            self.version = str(overview.get("rabbitmq_version", ""))
            self._stats_enabled = overview.get("rates_mode", "basic") != "none" and not overview.get("disable_stats")
            self._dlq.clear()
            self._discovered_at = time.monotonic()
        items, unlisted = self._list(session, deadline)
        by_key = {(str(q.get("vhost", "/")), str(q.get("name", ""))): q for q in items}
        self._resolve_dlx(session, deadline, by_key)
        missing_dlq = {d for (vh, _x, _k), qs in self._dlq.items() for d in qs if (vh, d) not in by_key}
        if missing_dlq and not cfg.discover and self._listed_names() - self._asked:
            items, unlisted = self._list(session, deadline)  # dead-letter queues learned just now
            by_key = {(str(q.get("vhost", "/")), str(q.get("name", ""))): q for q in items}
        order = list(dict.fromkeys([*(k for k in self._configured), *(sorted(by_key) if cfg.discover else [])]))
        rows: list[QueueStats] = []
        for key in order:
            q = by_key.get(key)
            if q is None:
                self._problems.problem(
                    key, f"queue target {self.target}: queue {key[1]!r} in vhost {key[0]!r} does not exist"
                )
                continue
            self._problems.ok(key)
            rows.append(self._row(q, by_key))
        rows = self._guard.apply(out, rows, ("rabbitmq",))
        if self._events is not None:
            self._events.collect(out, rows)
        if unlisted:
            out.add(
                "llm_queue_dropped_queues",
                float(unlisted + _dropped(out, self.config.name)),
                {"backend": "rabbitmq", "target": self.config.name},
            )
        emit(out, self.config.name, rows)
        out.add(
            "llm_target_info",
            1.0,
            {"target": self.config.name, "kind": "queue", "software": "rabbitmq", "version": self.version},
        )

    # -- listing ---------------------------------------------------------------------------
    def _list(self, session: httpread.Session, deadline: Deadline) -> tuple[list[dict[str, Any]], int]:
        """Queue rows of the listing (bounded pages) and how many were left unread."""
        cfg = self.config
        path = "/api/queues" + (f"/{quote(cfg.vhost, safe='')}" if cfg.vhost else "")
        params: dict[str, Any] = {"columns": COLUMNS, "page_size": cfg.page_size}
        if not cfg.discover:
            names = self._listed_names()
            self._asked = names
            if not names:
                return [], 0
            params.update(name="^(" + "|".join(re.escape(n) for n in sorted(names)) + ")$", use_regex="true")
        max_pages = max(1, math.ceil((cfg.max_queues + len(self._configured)) / cfg.page_size)) + 1
        items: list[dict[str, Any]] = []
        page, page_count, filtered = 1, 1, 0
        while page <= min(page_count, max_pages):
            body = get_json(session, self._url(path), deadline, cfg, params={**params, "page": page})
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise TargetDown(f"{self._url(path)}: not a paginated queue listing")
            items.extend(q for q in body["items"] if isinstance(q, dict))
            page_count = int(body.get("page_count") or 0)
            filtered = int(body.get("filtered_count") or len(items))
            page += 1
        return items, max(0, filtered - len(items))

    def _listed_names(self) -> set[str]:
        """Queue names the filtered listing asks for: configured ones and their dead-letter queues."""
        names = {n for _, n in self._configured}
        names.update(q for qs in self._dlq.values() for q in qs)
        return names

    # -- dead letters ----------------------------------------------------------------------
    @staticmethod
    def _dlx_of(q: dict[str, Any]) -> tuple[str, str] | None:
        args = mapping(q.get("arguments"))
        policy = q.get("effective_policy_definition")
        policy = policy if isinstance(policy, dict) else {}
        dlx = args.get("x-dead-letter-exchange", policy.get("dead-letter-exchange"))
        if dlx is None:
            return None
        rk = args.get("x-dead-letter-routing-key", policy.get("dead-letter-routing-key")) or q.get("name", "")
        return str(dlx), str(rk)

    def _resolve_dlx(
        self, session: httpread.Session, deadline: Deadline, by_key: dict[tuple[str, str], dict[str, Any]]
    ) -> None:
        lookups = 0
        for (vhost, _name), q in by_key.items():
            dl = self._dlx_of(q)
            if dl is None or (vhost, *dl) in self._dlq or lookups >= MAX_DLX_LOOKUPS:
                continue
            dlx, rk = dl
            if dlx == "":  # the default exchange routes by queue name
                self._dlq[(vhost, dlx, rk)] = [rk]
                continue
            lookups += 1
            url = self._url(f"/api/exchanges/{quote(vhost, safe='')}/{quote(dlx, safe='')}/bindings/source")
            try:
                bindings = get_json(session, url, deadline, self.config)
            except TargetDown as exc:
                if "HTTP 404" not in str(exc):
                    raise
                bindings = []
            bindings = (
                [b for b in bindings if isinstance(b, dict) and b.get("destination_type") == "queue"]
                if isinstance(bindings, list)
                else []
            )
            exact = [str(b.get("destination")) for b in bindings if b.get("routing_key") == rk]
            loose = [str(b.get("destination")) for b in bindings if b.get("routing_key") in ("", "#")]
            self._dlq[(vhost, dlx, rk)] = sorted(set(exact or loose))
            log.debug(
                "queue target %s: dead letters of %s go to %s", self.target, q.get("name"), self._dlq[(vhost, dlx, rk)]
            )

    # -- one row ---------------------------------------------------------------------------
    def _row(self, q: dict[str, Any], by_key: dict[tuple[str, str], dict[str, Any]]) -> QueueStats:
        vhost, name = str(q.get("vhost", "/")), str(q.get("name", ""))
        ready = num(q.get("messages_ready"))
        row = QueueStats(
            "rabbitmq",
            queue_label(vhost, name),
            "amqp",
            agent=self._agents.get((vhost, name), ""),
            ready=ready,
            inflight=num(q.get("messages_unacknowledged")),
            consumers=num(q.get("consumers")),
        )
        head = num(q.get("head_message_timestamp"))
        if ready == 0:
            row.oldest_ready_age = 0.0
        elif head is not None:
            row.oldest_ready_age = self._clock() - (head / 1000.0 if head > 1e11 else head)
        dl = self._dlx_of(q)
        if dl is not None:
            dlqs = self._dlq.get((vhost, *dl))
            if dlqs:
                counts = [num(by_key[(vhost, d)].get("messages")) for d in dlqs if (vhost, d) in by_key]
                if counts and all(c is not None for c in counts):
                    row.dead = float(sum(c for c in counts if c is not None))
        stats = mapping(q.get("message_stats"))
        default = 0.0 if self._stats_enabled else None
        for attr, key in (
            ("enqueued_total", "publish"),
            ("delivered_total", "deliver_get"),
            ("completed_total", "ack"),
            ("redelivered_total", "redeliver"),
        ):
            value = num(stats.get(key))
            setattr(row, attr, value if value is not None else default)
        return row


def _dropped(out: MetricSet, target: str) -> int:
    value = out.get("llm_queue_dropped_queues", {"backend": "rabbitmq", "target": target})
    return int(value) if isinstance(value, float) else 0
