"""Redis list queues: Celery (kombu), RQ and plain lists, as pipeline reads.

Each reader adds its commands to the target's one pipeline (``add``) and turns its slice
of the replies into ``QueueStats`` (``parse``). Reads that depend on an earlier reply
(the head job of an RQ queue and its ``enqueued_at``) run as one small read-only Lua
script inside the same pipeline, so a scrape stays one round trip.

Key layouts (reference/queues.md sections 2.2 and 7.1):

- Celery/kombu: list ``<prefix><queue>`` plus priority lists ``<queue>\\x06\\x16<step>``;
  LPUSH at the head, BRPOP from the tail. Delivered-unacked messages of every queue sit in
  the hash ``unacked`` (tag -> [message, exchange, routing_key]) and the sorted set
  ``unacked_index`` (tag -> delivery time). Messages carry no enqueue time.
- RQ: list ``rq:queue:<q>`` (oldest at index 0), registries ``rq:wip:<q>`` (started),
  ``rq:failed:<q>``, ``rq:deferred:<q>``, ``rq:scheduled:<q>``, workers ``rq:workers:<q>``,
  jobs ``rq:job:<id>`` with ``enqueued_at``/``started_at`` (``%Y-%m-%dT%H:%M:%S.%fZ``),
  worker hashes ``rq:worker:<name>`` with ``queues`` and the lifetime counters
  ``successful_job_count`` / ``failed_job_count``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...config import QueueTarget
from ...counters import CounterFolder, Key
from .common import QueueStats


class QueueError(Exception):
    """One queue could not be read (wrong key type, bad data); the target stays up."""


def check(replies: Sequence[Any], what: str) -> None:
    for r in replies:
        if isinstance(r, Exception):
            raise QueueError(f"{what}: {r}")


def as_int(value: Any) -> int:
    if isinstance(value, Exception):
        raise QueueError(str(value))
    return int(value or 0)


def parse_rq_time(raw: Any) -> float | None:
    """RQ's UTC timestamp text -> unix seconds (None when absent or unparsable)."""
    if not raw:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


# --- plain lists --------------------------------------------------------------------------


@dataclass
class ListRead:
    """A plain Redis list used as a queue: only its length is knowable."""

    key: str
    queue: str
    agent: str = ""

    def add(self, pipe: Any) -> int:
        pipe.llen(self.key)
        return 1

    def parse(self, replies: list[Any], now: float) -> list[QueueStats]:
        ready = as_int(replies[0])
        return [
            QueueStats(
                "redis_list",
                self.queue,
                "list",
                agent=self.agent,
                ready=ready,
                oldest_ready_age=0.0 if ready == 0 else None,
            )
        ]


# --- RQ ----------------------------------------------------------------------------------

# KEYS: queue list, started registry. ARGV: job key prefix, max started entries to inspect.
# Returns {enqueued_at of the head job, earliest started_at among started jobs}.
RQ_SCRIPT = """
local head = redis.call('LINDEX', KEYS[1], 0)
local enq = false
if head then enq = redis.call('HGET', ARGV[1] .. head, 'enqueued_at') end
local started = false
local members = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[2]) - 1)
for _, m in ipairs(members) do
  local id = string.match(m, '^(.*):[^:]*$') or m
  local ok, s = pcall(redis.call, 'HGET', ARGV[1] .. id, 'started_at')
  if ok and s and s ~= '' and ((not started) or s < started) then started = s end
end
return {enq, started}
"""

RQ_STARTED_INSPECT = 100

# The queue's workers (at most ARGV[1]) with their queue list and lifetime job counters;
# a member whose hash has expired (a killed worker RQ has not cleaned up yet) comes back with
# an empty queue list and is not alive.
RQ_WORKERS_SCRIPT = """
local out = {}
local members = redis.call('SMEMBERS', KEYS[1])
for i, key in ipairs(members) do
  if i > tonumber(ARGV[1]) then break end
  local h = redis.call('HMGET', key, 'queues', 'successful_job_count', 'failed_job_count', 'total_working_time')
  out[#out + 1] = key
  out[#out + 1] = h[1] or ''
  out[#out + 1] = h[2] or '0'
  out[#out + 1] = h[3] or '0'
  out[#out + 1] = h[4] or '0'
end
return out
"""
RQ_WORKERS_INSPECT = 200


@dataclass
class RqRead:
    """One RQ queue: waiting list, registries, workers and the oldest job's age."""

    name: str
    prefix: str = "rq"
    agent: str = ""
    counters: CounterFolder = field(default_factory=CounterFolder)

    def add(self, pipe: Any) -> int:
        p, n = self.prefix, self.name
        pipe.llen(f"{p}:queue:{n}")
        pipe.llen(f"{p}:queue:{n}:intermediate")
        pipe.zcard(f"{p}:wip:{n}")
        pipe.zcard(f"{p}:failed:{n}")
        pipe.zcard(f"{p}:deferred:{n}")
        pipe.zcard(f"{p}:scheduled:{n}")
        pipe.scard(f"{p}:workers:{n}")
        pipe.eval(RQ_SCRIPT, 2, f"{p}:queue:{n}", f"{p}:wip:{n}", f"{p}:job:", RQ_STARTED_INSPECT)
        pipe.eval(RQ_WORKERS_SCRIPT, 1, f"{p}:workers:{n}", RQ_WORKERS_INSPECT)
        return 9

    def parse(self, replies: list[Any], now: float) -> list[QueueStats]:
        check(replies[:7], f"RQ queue {self.name}")
        queued, intermediate, started, failed, deferred, scheduled, workers = (as_int(r) for r in replies[:7])
        ages = replies[7]
        head_at = started_at = None
        if isinstance(ages, Exception):
            raise QueueError(f"RQ queue {self.name}: {ages}")
        if isinstance(ages, list) and len(ages) == 2:
            head_at, started_at = parse_rq_time(ages[0]), parse_rq_time(ages[1])
        inflight = started + intermediate
        counters = self._job_counters(replies[8])
        return [
            QueueStats(
                "rq",
                self.name,
                "list",
                agent=self.agent,
                ready=queued,
                inflight=inflight,
                delayed=deferred + scheduled,
                dead=failed,
                consumers=counters.alive if workers <= RQ_WORKERS_INSPECT else workers,
                completed_total=counters.completed,
                failed_total=counters.failed,
                tasks=counters,
                oldest_ready_age=0.0 if queued == 0 else (now - head_at if head_at is not None else None),
                oldest_inflight_age=0.0 if inflight == 0 else (now - started_at if started_at is not None else None),
            )
        ]

    def _job_counters(self, reply: Any) -> RqCounters:
        """Jobs finished and failed by the workers that serve only this queue, kept monotonic.

        RQ keeps these counters per worker and deletes them when the worker exits; the folder
        keeps what departed workers did, so the totals never go back. A worker that serves
        several queues is left out: its counters cannot be split between them. Workers alive
        (hash present) are counted for every queue they serve.
        """
        if isinstance(reply, Exception) or not isinstance(reply, list):
            raise QueueError(f"RQ workers of {self.name}: {reply}")
        done: dict[Key, float] = {}
        failed: dict[Key, float] = {}
        working: dict[Key, float] = {}
        alive = 0
        for i in range(0, len(reply) - 4, 5):
            key, queues, ok, bad, busy = (_text(v) for v in reply[i : i + 5])
            if queues:
                alive += 1
            if queues != self.name:
                continue
            done[(key,)] = _float(ok)
            failed[(key,)] = _float(bad)
            working[(key,)] = _float(busy)
        series = (self.prefix, self.name)
        return RqCounters(
            self.counters.update((*series, "completed"), done),
            self.counters.update((*series, "failed"), failed),
            self.counters.update((*series, "working"), working),
            alive,
        )


@dataclass
class RqCounters:
    """What the workers' hashes say about one RQ queue (totals kept monotonic)."""

    completed: float
    failed: float
    working_seconds: float
    alive: int


def _float(value: str) -> float:
    try:
        f = float(value or 0)
    except ValueError:
        return 0.0
    return f if math.isfinite(f) and f >= 0 else 0.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- Celery (kombu Redis transport) --------------------------------------------------------


@dataclass
class CeleryUnacked:
    """Kombu's ack emulation, shared by every Celery queue of the target.

    ``HLEN unacked`` is always read; the entries themselves only while the hash had at
    most ``limit`` entries at the previous read, so the read stays bounded. Each entry is
    attributed to a queue by routing key (or the kombu binding table), split into
    in-flight and delayed (an ETA/countdown still in the future) by its ``eta`` header.
    """

    prefix: str
    limit: int
    last_size: int = 0
    routes: dict[tuple[str, str], str] = field(default_factory=dict)
    _detail: bool = False

    def add(self, pipe: Any) -> int:
        pipe.hlen(f"{self.prefix}unacked")
        self._detail = self.last_size <= self.limit and self.limit > 0
        if self._detail:
            pipe.hgetall(f"{self.prefix}unacked")
            pipe.zrange(f"{self.prefix}unacked_index", 0, -1, withscores=True)
            return 3
        return 1

    def parse(self, replies: list[Any], now: float, queues: set[str]) -> dict[str, tuple[int, int, float | None]]:
        """queue -> (in-flight, delayed, oldest in-flight delivery time); {} when not visible."""
        if isinstance(replies[0], Exception):
            raise QueueError(f"Celery unacked hash: {replies[0]}")
        self.last_size = int(replies[0] or 0)
        if not self._detail or any(isinstance(r, Exception) for r in replies[1:]):
            return {}
        entries: dict[str, Any] = replies[1] or {}
        delivered = {str(tag): float(score) for tag, score in (replies[2] or [])}
        result: dict[str, tuple[int, int, float | None]] = {q: (0, 0, None) for q in queues}
        for tag, raw in entries.items():
            queue, eta = self._route(raw, queues)
            if queue is None:
                continue
            inflight, delayed, oldest = result[queue]
            if eta is not None and eta > now:
                delayed += 1
            else:
                inflight += 1
                at = delivered.get(str(tag))
                if at is not None and (oldest is None or at < oldest):
                    oldest = at
            result[queue] = (inflight, delayed, oldest)
        return result

    def _route(self, raw: Any, queues: set[str]) -> tuple[str | None, float | None]:
        try:
            message, exchange, routing_key = json.loads(raw)
        except (ValueError, TypeError):
            return None, None
        queue = None
        if routing_key in queues:
            queue = routing_key
        elif (exchange or "", routing_key or "") in self.routes:
            queue = self.routes[(exchange or "", routing_key or "")]
        if queue not in queues:
            return None, None
        eta = None
        headers = message.get("headers") if isinstance(message, dict) else None
        if isinstance(headers, dict) and headers.get("eta"):
            try:
                parsed = datetime.fromisoformat(str(headers["eta"]))
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=UTC)
                eta = parsed.timestamp()
            except ValueError:
                eta = None
        return queue, eta


@dataclass
class CeleryRead:
    """One Celery queue: LLEN of the bare list and of each priority list, summed."""

    name: str
    cfg: QueueTarget
    agent: str = ""

    def keys(self) -> list[str]:
        base = f"{self.cfg.key_prefix}{self.name}"
        return [
            base if step == 0 else f"{base}{self.cfg.celery_separator}{step}" for step in self.cfg.celery_priority_steps
        ]

    def add(self, pipe: Any) -> int:
        keys = self.keys()
        for k in keys:
            pipe.llen(k)
        return len(keys)

    def parse(self, replies: list[Any], now: float) -> list[QueueStats]:
        check(replies, f"Celery queue {self.name}")
        ready = sum(as_int(r) for r in replies)
        # Celery messages carry no enqueue time: the ready age is only known when empty.
        return [
            QueueStats(
                "celery", self.name, "list", agent=self.agent, ready=ready, oldest_ready_age=0.0 if ready == 0 else None
            )
        ]


def apply_unacked(rows: list[QueueStats], visible: dict[str, tuple[int, int, float | None]], now: float) -> None:
    """Fill Celery rows' in-flight, delayed and oldest in-flight age from the unacked hash."""
    for row in rows:
        if row.backend != "celery" or row.queue not in visible:
            continue
        inflight, delayed, oldest = visible[row.queue]
        row.inflight, row.delayed = inflight, delayed
        row.oldest_inflight_age = 0.0 if inflight == 0 else (now - oldest if oldest is not None else None)


def parse_binding(member: str, sep: str) -> tuple[str, str, str] | None:
    """kombu binding-table member ``routing_key<sep>pattern<sep>queue`` -> its three parts."""
    parts = member.split(sep)
    if len(parts) != 3:
        return None
    return parts[0], parts[1], parts[2]


INTERNAL_EXCHANGE_SUFFIXES = (".pidbox", "celeryev")


def is_internal_exchange(exchange: str) -> bool:
    """Celery's control (pidbox) and event exchanges are not task queues."""
    return exchange.endswith(INTERNAL_EXCHANGE_SUFFIXES) or exchange.startswith("celeryev")
