"""The Redis queue collector: Celery, RQ, plain lists and streams on one Redis server.

Per scrape, after discovery, every read of the target goes into ONE pipeline (one round
trip). Discovery (the queue registries RQ and kombu keep, stream groups, server version)
runs on the first scrape and then every ``discovery_interval``; its SCAN of kombu binding
tables never runs on the scrape path. A queue whose key has the wrong type, or whose data
is garbage, is skipped and logged; the target stays up. A refused connection, a timeout
or a rejected password marks the target down; the next scrape reconnects.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis

from ...config import QueueTarget
from ...counters import CounterFolder
from ...metricset import MetricSet
from ...scrape import Deadline, TargetDown
from ..base import BaseCollector
from .celery_receiver import CeleryEvents
from .common import Guard, OnceLog, QueueStats, emit, log
from .redis_lists import (
    CeleryRead,
    CeleryUnacked,
    ListRead,
    QueueError,
    RqRead,
    apply_unacked,
    is_internal_exchange,
    parse_binding,
)
from .redis_streams import StreamRead

SCAN_LIMIT = 200  # SCAN iterations per discovery (x COUNT 1000 keys)
BACKENDS = ("celery", "rq", "redis_list", "redis_stream")

Reader = CeleryRead | RqRead | ListRead | StreamRead


class RedisQueueCollector(BaseCollector[QueueTarget]):
    """One configured Redis target."""

    name = "queue"

    def __init__(
        self,
        cfg: QueueTarget,
        connection_class: type[redis.Connection] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(cfg, key=f"queue/{cfg.name}", target=cfg.name)
        self._connection_class = connection_class
        self._clock = clock
        self._client: redis.Redis | None = None
        self._readers: list[Reader] | None = None
        self._discovered_at = float("-inf")
        self._unacked = CeleryUnacked(cfg.key_prefix, cfg.celery_unacked_limit)
        self._rq_counters = CounterFolder(keep=100)  # RQ worker job counters, kept monotonic
        self._guard = Guard(cfg.name, cfg.max_queues)
        self._problems = OnceLog()
        self._events = CeleryEvents(cfg, clock) if cfg.celery_events is not None else None
        self.version = ""

    # -- connection ------------------------------------------------------------------------
    def _connect(self, timeout: float) -> redis.Redis:
        if self._client is None:
            kwargs: dict[str, Any] = {
                "socket_timeout": timeout,
                "socket_connect_timeout": timeout,
                "decode_responses": True,
                "encoding_errors": "replace",
                "max_connections": 2,
            }
            if self.config.password is not None:
                kwargs["password"] = self.config.password
            if self.config.username is not None:
                kwargs["username"] = self.config.username
            if self._connection_class is not None:
                kwargs["connection_class"] = self._connection_class
            pool = redis.ConnectionPool.from_url(self.config.url, **kwargs)
            self._client = redis.Redis(connection_pool=pool)
        _set_timeout(self._client, timeout)
        return self._client

    def fallback(self, out: MetricSet) -> None:
        """A late broker read: the Celery event counters, kept by the receiver, are still served."""
        if self._events is not None:
            self._events.collect(out, [])

    def close(self) -> None:
        """Stop the Celery event receiver (if any) and drop the connection."""
        if self._events is not None:
            self._events.close()
        self._disconnect()

    def _disconnect(self) -> None:
        if self._client is not None:
            try:
                self._client.connection_pool.disconnect()
            finally:
                self._client = None

    # -- collect ---------------------------------------------------------------------------
    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        client = self._connect(deadline.timeout(self.config.timeout))
        try:
            if self._readers is None or time.monotonic() - self._discovered_at >= self.config.discovery_interval:
                self._readers = self._discover(client, deadline)
                self._discovered_at = time.monotonic()
                _set_timeout(client, deadline.timeout(self.config.timeout))  # what is left of this scrape
            rows = self._read(client, self._readers)
        except redis.AuthenticationError as exc:
            self._disconnect()
            raise TargetDown(f"redis {self._where()}: authentication failed: {exc}") from None
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._disconnect()
            raise TargetDown(f"redis {self._where()}: {type(exc).__name__}: {exc}") from None
        except redis.ResponseError as exc:  # NOAUTH, NOPERM, LOADING ... on a whole-target command
            self._disconnect()
            raise TargetDown(f"redis {self._where()}: {exc}") from None
        rows = self._guard.apply(out, rows, BACKENDS)
        if self._events is not None:
            self._events.collect(out, rows)
        emit(out, self.config.name, rows)
        out.add(
            "llm_target_info",
            1.0,
            {"target": self.config.name, "kind": "queue", "software": "redis", "version": self.version},
        )

    def _where(self) -> str:
        pool = self._client.connection_pool if self._client else None
        kw = pool.connection_kwargs if pool else {}
        return f"{kw.get('host', '?')}:{kw.get('port', '?')}" if kw else self.config.name

    # -- the one round trip ----------------------------------------------------------------
    def _read(self, client: redis.Redis, readers: list[Reader]) -> list[QueueStats]:
        celery = [r for r in readers if isinstance(r, CeleryRead)]
        self._rq_counters.begin()
        pipe = client.pipeline(transaction=False)
        spans: list[tuple[Reader | CeleryUnacked, int]] = []
        for reader in readers:
            spans.append((reader, reader.add(pipe)))
        if celery:
            spans.append((self._unacked, self._unacked.add(pipe)))
        replies = pipe.execute(raise_on_error=False) if spans else []
        now = self._clock()
        rows: list[QueueStats] = []
        pos = 0
        visible: dict[str, tuple[int, int, float | None]] = {}
        for part, n in spans:
            chunk = replies[pos : pos + n]
            pos += n
            _raise_target_errors(chunk)
            try:
                if isinstance(part, CeleryUnacked):
                    visible = part.parse(chunk, now, {r.name for r in celery})
                    continue
                rows.extend(part.parse(chunk, now))
                self._problems.ok(_label(part))
            except (QueueError, ValueError, TypeError, KeyError) as exc:
                self._problems.problem(_label(part), f"queue target {self.config.name}: {_label(part)} skipped: {exc}")
        apply_unacked(rows, visible, now)
        return rows

    # -- discovery (slow path) -------------------------------------------------------------
    def _discover(self, client: redis.Redis, deadline: Deadline) -> list[Reader]:
        cfg = self.config
        specs = cfg.queues
        pipe = client.pipeline(transaction=False)
        pipe.info("server")
        pipe.smembers(f"{cfg.rq_prefix}:queues")
        streams = list(dict.fromkeys(q.name for q in specs if q.kind == "stream"))
        for s in streams:
            pipe.xinfo_groups(s)
        replies = pipe.execute(raise_on_error=False)
        _raise_target_errors(replies)
        if isinstance(replies[0], dict):
            self.version = str(replies[0].get("redis_version", ""))
        readers: list[Reader] = []
        seen: set[tuple[str, str]] = set()
        for q in specs:
            agent = q.agent or ""
            if q.kind == "celery" and ("celery", q.name) not in seen:
                readers.append(CeleryRead(q.name, cfg, agent))
            elif q.kind == "rq" and ("rq", q.name) not in seen:
                readers.append(RqRead(q.name, cfg.rq_prefix, agent, self._rq_counters))
            elif q.kind == "list" and ("list", q.name) not in seen:
                readers.append(ListRead(q.name, q.name, agent))
            seen.add((q.kind or "", q.name))
        for i, s in enumerate(streams):
            mine = [q for q in specs if q.kind == "stream" and q.name == s]
            configured = [q.group for q in mine if q.group]
            live = replies[2 + i]
            live_groups = [str(g["name"]) for g in live] if isinstance(live, list) else []
            explicit_only = bool(configured) and all(q.group for q in mine)
            groups = configured if explicit_only else list(dict.fromkeys([*configured, *live_groups]))
            agents = {(q.group or ""): (q.agent or "") for q in mine}
            readers.append(StreamRead(s, groups, agents, only_configured=explicit_only))
        if cfg.discover:
            rq_queues = replies[1] if isinstance(replies[1], set) else set()
            qprefix = f"{cfg.rq_prefix}:queue:"
            for key in sorted(rq_queues):
                name = key[len(qprefix) :] if key.startswith(qprefix) else key
                if ("rq", name) not in seen:
                    seen.add(("rq", name))
                    readers.append(RqRead(name, cfg.rq_prefix, counters=self._rq_counters))
            for name in self._celery_queues(client, deadline):
                if ("celery", name) not in seen:
                    seen.add(("celery", name))
                    readers.append(CeleryRead(name, cfg))
        # HLEN of the unacked hash decides whether its entries are read on scrapes.
        if any(isinstance(r, CeleryRead) for r in readers):
            size = client.hlen(f"{cfg.key_prefix}unacked")
            self._unacked.last_size = int(size or 0)
        log.debug("queue target %s: discovered %d queue readers", self.target, len(readers))
        return readers

    def _celery_queues(self, client: redis.Redis, deadline: Deadline) -> list[str]:
        """Queue names from kombu binding tables (``_kombu.binding.<exchange>`` sets)."""
        cfg = self.config
        prefix = f"{cfg.key_prefix}_kombu.binding."
        tables: list[str] = []
        cursor: int | str = 0
        for _ in range(SCAN_LIMIT):
            cursor, keys = client.scan(cursor=int(cursor), match=f"{_glob_escape(prefix)}*", count=1000)
            # decode_responses=True: the keys are str
            tables.extend(k for k in keys if isinstance(k, str) and not is_internal_exchange(k[len(prefix) :]))
            if int(cursor) == 0 or deadline.expired():
                break
        if not tables:
            return []
        pipe = client.pipeline(transaction=False)
        for t in tables:
            pipe.smembers(t)
        names: list[str] = []
        routes: dict[tuple[str, str], str] = {}
        for table, members in zip(tables, pipe.execute(raise_on_error=False), strict=True):
            if not isinstance(members, set):
                continue
            exchange = table[len(prefix) :]
            for m in members:
                parsed = parse_binding(m, cfg.celery_separator)
                if parsed is None:
                    continue
                routing_key, _pattern, queue = parsed
                names.append(queue)
                routes[(exchange, routing_key)] = queue
        self._unacked.routes = routes
        return sorted(set(names))


def _label(reader: object) -> str:
    if isinstance(reader, CeleryRead):
        return f"celery queue {reader.name!r}"
    if isinstance(reader, RqRead):
        return f"rq queue {reader.name!r}"
    if isinstance(reader, ListRead):
        return f"list {reader.key!r}"
    if isinstance(reader, StreamRead):
        return f"stream {reader.key!r}"
    return "celery unacked"


def _raise_target_errors(replies: list[Any]) -> None:
    """Errors that concern the whole connection (auth, loading) are re-raised; per-key ones kept."""
    for r in replies:
        if isinstance(r, (redis.ConnectionError, redis.TimeoutError)):
            raise r
        if isinstance(r, redis.ResponseError):
            text = str(r).upper()
            if text.startswith(("NOAUTH", "WRONGPASS", "LOADING", "MASTERDOWN", "NOPERM")):
                raise redis.ResponseError(str(r))


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _set_timeout(client: redis.Redis, timeout: float) -> None:
    """Apply this scrape's per-call timeout to new and idle pooled connections.

    The connection's own timeout is not enough: redis-py's parser keeps the socket timeout
    of the moment the connection was opened (``SocketBuffer.socket_timeout``, hiredis'
    ``_socket_timeout``) and restores it after every ``can_read``, which the pool calls on
    each checkout. So the parser is told too.
    """
    pool = client.connection_pool
    pool.connection_kwargs["socket_timeout"] = timeout
    pool.connection_kwargs["socket_connect_timeout"] = timeout
    for conn in list(getattr(pool, "_available_connections", [])):
        conn.socket_timeout = timeout
        conn.socket_connect_timeout = timeout
        parser = getattr(conn, "_parser", None)
        buffer = getattr(parser, "_buffer", None)
        if buffer is not None and hasattr(buffer, "socket_timeout"):
            buffer.socket_timeout = timeout
        if parser is not None and hasattr(parser, "_socket_timeout"):
            parser._socket_timeout = timeout
        sock = getattr(conn, "_sock", None)
        if sock is not None:
            try:
                sock.settimeout(timeout)
            except OSError:
                pass
