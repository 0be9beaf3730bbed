"""NATS JetStream streams and durable consumers from the monitoring endpoint ``/jsz``.

One request per scrape: ``/jsz?accounts=true&streams=true&consumers=true&config=true&
leader-only=true`` (``acc=`` when an account is configured), so only the stream/consumer
leader reports and replicas are not double counted. Ephemeral consumers (no
``durable_name``) are skipped: their random names would explode cardinality.

Per durable consumer (label ``group``): ready = ``num_pending``, in-flight =
``num_ack_pending``, ``num_redelivered`` (a gauge: unacked messages delivered more than
once), ``num_waiting`` (outstanding pull requests), consumers = 1/0 from ``push_bound``
for push consumers (unknown for pull consumers), enqueued = the stream's ``last_seq``,
delivered = ``delivered.consumer_seq`` (deliveries, redeliveries included) and completed =
``ack_floor.consumer_seq`` (deliveries up to the highest contiguous ack).
The oldest ready age is 0 when nothing is pending, and ``now - first_ts`` of a
work-queue/interest stream while nothing is awaiting ack (then the stream's first
message is the oldest undelivered one); otherwise it is unknowable here and absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ...config import QueueTarget
from ...metricset import MetricSet
from ...scrape import Deadline, TargetDown
from .. import httpread
from ..base import BaseCollector
from .common import Guard, QueueStats, emit, get_json, mapping, num

_RETAINING_BACKLOG = ("workqueue", "interest")


def parse_ts(text: Any) -> float | None:
    """RFC 3339 with nanoseconds (Go) -> unix seconds."""
    if not isinstance(text, str) or not text or text.startswith("0001-01-01"):
        return None
    t = text.strip().replace("Z", "+00:00")
    if "." in t:
        head, rest = t.split(".", 1)
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        t = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(t).timestamp()
    except ValueError:
        return None


def _seq(cursor: Any) -> float | None:
    """The consumer sequence of a ``delivered`` / ``ack_floor`` cursor: deliveries to this consumer."""
    return num(cursor.get("consumer_seq")) if isinstance(cursor, dict) else None


class NatsQueueCollector(BaseCollector[QueueTarget]):
    """One NATS server's monitoring endpoint."""

    name = "queue"

    def __init__(self, cfg: QueueTarget, clock: Callable[[], float] = time.time) -> None:
        super().__init__(cfg, key=f"queue/{cfg.name}", target=cfg.name)
        self._clock = clock
        self._session: httpread.Session | None = None
        self._guard = Guard(cfg.name, cfg.max_queues)
        self._agents = {(q.name, q.group or ""): q.agent or "" for q in cfg.queues}
        self._wanted = {(q.name, q.group or "") for q in cfg.queues}
        self.version = ""

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        if self._session is None:
            self._session = httpread.new_session()
        cfg = self.config
        url = httpread.join(cfg.url, "/jsz")
        params: dict[str, Any] = {
            "accounts": "true",
            "streams": "true",
            "consumers": "true",
            "config": "true",
            "leader-only": "true",
        }
        if cfg.account:
            params["acc"] = cfg.account
        body = get_json(self._session, url, deadline, cfg, params=params)
        if not isinstance(body, dict) or "server_id" not in body:
            raise TargetDown(f"{url}: not a JetStream /jsz response")
        if body.get("disabled") is True:
            raise TargetDown(f"{url}: JetStream is not enabled on this server")
        rows = self._rows(body)
        rows = self._guard.apply(out, rows, ("nats",))
        emit(out, self.config.name, rows)
        out.add(
            "llm_target_info",
            1.0,
            {
                "target": self.config.name,
                "kind": "queue",
                "software": "nats-server",
                "version": str(body.get("server_version", self.version)),
            },
        )

    def _selected(self, stream: str, consumer: str) -> bool:
        if self.config.discover or (stream, "") in self._wanted:
            return True
        return (stream, consumer) in self._wanted

    def _agent(self, stream: str, consumer: str) -> str:
        return self._agents.get((stream, consumer)) or self._agents.get((stream, ""), "")

    def _rows(self, body: dict[str, Any]) -> list[QueueStats]:
        now = self._clock()
        configured: list[QueueStats] = []
        discovered: list[QueueStats] = []
        for account in body.get("account_details") or []:
            if not isinstance(account, dict):
                continue
            for stream in account.get("stream_detail") or []:
                if not isinstance(stream, dict):
                    continue
                sname = str(stream.get("name", ""))
                state = mapping(stream.get("state"))
                scfg = mapping(stream.get("config"))
                retention = str(scfg.get("retention", ""))
                first_at = parse_ts(state.get("first_ts"))
                durable = [
                    c
                    for c in stream.get("consumer_detail") or []
                    if isinstance(c, dict) and isinstance(c.get("config"), dict) and c["config"].get("durable_name")
                ]
                if not durable and self._selected(sname, ""):
                    messages = num(state.get("messages"))
                    backlog = messages if retention in _RETAINING_BACKLOG else None
                    row = QueueStats(
                        "nats",
                        sname,
                        "jetstream",
                        agent=self._agent(sname, ""),
                        consumers=0,
                        ready=backlog,
                        enqueued_total=num(state.get("last_seq")),
                    )
                    if backlog == 0:
                        row.oldest_ready_age = 0.0
                    elif backlog is not None and first_at is not None:
                        row.oldest_ready_age = now - first_at
                    (configured if (sname, "") in self._wanted else discovered).append(row)
                for c in durable:
                    cname = str(c.get("name", ""))
                    if not self._selected(sname, cname):
                        continue
                    ccfg = c["config"]
                    pending, ack_pending = num(c.get("num_pending")), num(c.get("num_ack_pending"))
                    push = bool(ccfg.get("deliver_subject"))
                    row = QueueStats(
                        "nats",
                        sname,
                        "jetstream",
                        group=cname,
                        agent=self._agent(sname, cname),
                        ready=pending,
                        inflight=ack_pending,
                        redelivering=num(c.get("num_redelivered")),
                        pull_requests=None if push else num(c.get("num_waiting")),
                        consumers=(1.0 if c.get("push_bound") else 0.0) if push else None,
                        enqueued_total=num(state.get("last_seq")),
                        delivered_total=_seq(c.get("delivered")),
                        completed_total=_seq(c.get("ack_floor")),
                    )
                    if pending == 0:
                        row.oldest_ready_age = 0.0
                    elif retention in _RETAINING_BACKLOG and ack_pending == 0 and first_at is not None:
                        row.oldest_ready_age = now - first_at
                    if ack_pending == 0:
                        row.oldest_inflight_age = 0.0
                    wanted = (sname, cname) in self._wanted or (sname, "") in self._wanted
                    (configured if wanted else discovered).append(row)
        discovered.sort(key=lambda r: (r.queue, r.group))
        return configured + discovered
