"""The config sections that list targets: ``inference:`` and ``queues:`` (with their probes,
served processes, per-agent usage, watched queues and Celery event receivers).

Their dataclasses are built only when a config file is read or a target is configured
(``config`` exports them lazily): the embedded default has no targets, and every frozen
dataclass costs about a millisecond of start to create.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from .configtypes import Duration, Url, label_name, non_empty, non_negative, positive

__all__ = [
    "AgentUsageConfig",
    "CeleryEventsConfig",
    "InferenceTarget",
    "ProbeConfig",
    "ProcessConfig",
    "QueueSpec",
    "QueueTarget",
    "Redirects",
]

Problems = Iterator[tuple[str, str]]
Redirects = Literal["same_origin", "none", "any"]  # which upstream HTTP redirects are followed


def known_server(value: str) -> str | None:
    """``server:`` must name an engine table (``collectors.inference.engines``) or be ``auto``."""
    from .collectors.inference.engines import SERVER_KINDS  # the engine tables own the list

    if value in SERVER_KINDS:
        return None
    return f"must be one of {', '.join(map(repr, SERVER_KINDS))}, got {value!r}"


@dataclass(frozen=True)
class ProbeConfig:
    """Active probe: a small streaming chat completion at most once per ``interval``."""

    model: str = ""
    interval: Duration = field(default=60.0, metadata={"check": positive})
    prompt: str = "Reply with the single word OK."
    max_tokens: int = field(default=8, metadata={"check": positive})
    timeout: Duration = field(default=30.0, metadata={"check": positive})
    api_key: str | None = field(default=None, metadata={"secret": True})
    path: str = "/v1/chat/completions"


@dataclass(frozen=True)
class ProcessConfig:
    """The served process, found by pid file or by the port the target listens on."""

    pid_file: str | None = field(default=None, metadata={"path": True})
    from_port: bool = True


@dataclass(frozen=True)
class AgentUsageConfig:
    """LLM usage per agent from a LiteLLM proxy (docs/agents.md).

    The agent is the value of the LiteLLM label ``label`` (``end_user``, ``user``, ``team``,
    ``team_alias``, ``api_key_alias`` or a ``custom_prometheus_metadata_labels`` label), or,
    with ``tag_prefix``, the rest of the first ``custom_prometheus_tags`` label starting with
    it whose value is ``true``. ``allow`` lists the agents exported by name; without it the
    first ``max_agents`` names seen are. Everything else is counted as agent ``other``.
    """

    label: str | None = None
    tag_prefix: str | None = None
    allow: list[str] = field(default_factory=list)
    max_agents: int = field(default=50, metadata={"check": positive})

    def validate(self) -> Problems:
        if (self.label is None) == (self.tag_prefix is None):
            yield "label", "give exactly one of label (a LiteLLM label such as end_user) or tag_prefix"
        for key, value in (("label", self.label), ("tag_prefix", self.tag_prefix)):
            if value is not None and not _LABEL_NAME.fullmatch(value):
                yield key, f"{value!r} is not a Prometheus label name"
        if len(self.allow) > self.max_agents:
            yield "allow", f"{len(self.allow)} agents listed, more than max_agents ({self.max_agents})"


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class InferenceTarget:
    """One inference server to read."""

    name: str = field(metadata={"check": label_name})
    url: Url
    server: str = field(default="auto", metadata={"check": known_server})
    model: str | None = None
    metrics_path: str = "/metrics"
    timeout: Duration = field(default=5.0, metadata={"check": positive})
    max_body_bytes: int = field(default=32 * 1024 * 1024, metadata={"check": positive})
    max_samples: int = field(default=200_000, metadata={"check": positive})
    max_series: int = field(default=20_000, metadata={"check": positive})
    max_models: int = field(default=1_000, metadata={"check": positive})
    redirects: Redirects = "same_origin"
    bearer_token: str | None = field(default=None, metadata={"secret": True})
    probe: ProbeConfig | None = None
    process: ProcessConfig | None = None
    agents: AgentUsageConfig | None = None

    def validate(self) -> Problems:
        if self.agents is not None and self.server != "litellm":
            yield "agents", "per-agent usage is read from a LiteLLM proxy: needs server: litellm"


@dataclass(frozen=True)
class QueueSpec:
    """One watched queue of a broker target.

    ``name`` is the Redis key name without framework prefix (Celery queue, RQ queue name,
    list or stream key), the RabbitMQ queue name or the NATS stream name. ``group`` is the
    Redis stream consumer group or the NATS durable consumer (all of them when empty).
    ``agent`` is exported on ``llm_queue_info``. ``vhost`` is for RabbitMQ (default ``/``).
    """

    name: str = field(metadata={"check": non_empty})
    kind: Literal["celery", "rq", "list", "stream", "rabbitmq", "jetstream"] | None = None
    group: str | None = None
    agent: str | None = None
    vhost: str | None = None


@dataclass(frozen=True)
class CeleryEventsConfig:
    """Celery task-event receiver of a queue target (docs/queues.md, "Celery task events").

    A background thread consumes the Celery event stream on ``broker_url`` (default: the
    target's own ``url``, which must then be a Redis URL; a RabbitMQ target needs its
    ``amqp://`` URL here). Workers must send task events (``-E`` or
    ``worker_send_task_events``); ``task_send_sent_event`` on producers adds wait times and
    the queue of each task. ``enable_events`` broadcasts Celery's ``enable_events`` control
    to every worker seen (opt-in, as in celery-exporter). ``inspect_queues`` asks each new
    worker once which queues it consumes (``inspect active_queues``). Task names past
    ``max_tasks`` are folded into ``other``; at most ``max_inflight`` unfinished tasks are
    tracked (the oldest are forgotten first). A worker is gone after ``worker_timeout_factor``
    times its heartbeat interval without a heartbeat. ``default_queue`` labels tasks whose
    queue is unknown (no ``task-sent`` event).
    """

    broker_url: str | None = field(default=None, metadata={"secret": True})
    max_tasks: int = field(default=100, metadata={"check": positive})
    max_inflight: int = field(default=10_000, metadata={"check": positive})
    worker_timeout_factor: float = field(default=2.0, metadata={"check": positive})
    enable_events: bool = False
    inspect_queues: bool = True
    default_queue: str = field(default="celery", metadata={"check": non_empty})
    reconnect_interval: Duration = field(default=5.0, metadata={"check": positive})

    def validate(self) -> Problems:
        if self.broker_url is not None and not self.broker_url.startswith(
            ("redis://", "rediss://", "amqp://", "amqps://", "pyamqp://")
        ):
            yield "broker_url", "must be a redis://, rediss:// or amqp:// URL of the Celery broker"


_REDIS_KINDS = ("celery", "rq", "list", "stream")
_KINDS_BY_BACKEND = {"redis": _REDIS_KINDS, "rabbitmq": ("rabbitmq",), "nats": ("jetstream",)}


@dataclass(frozen=True)
class QueueTarget:
    """One broker: a Redis server, a RabbitMQ management API or a NATS monitoring endpoint.

    ``discover`` adds the queues the framework registers itself (RQ ``rq:queues``, kombu
    bindings of Celery, the RabbitMQ queue listing, JetStream durable consumers), refreshed
    every ``discovery_interval``. ``max_queues`` caps exported queue rows per target.
    """

    name: str = field(metadata={"check": label_name})
    backend: Literal["redis", "rabbitmq", "nats"]
    url: Url
    username: str | None = None
    password: str | None = field(default=None, metadata={"secret": True})
    queues: list[QueueSpec] = field(default_factory=list)
    discover: bool = False
    discovery_interval: Duration = field(default=300.0, metadata={"check": positive})
    max_queues: int = field(default=500, metadata={"check": positive})
    timeout: Duration = field(default=5.0, metadata={"check": positive})
    redirects: Redirects = "same_origin"  # RabbitMQ and NATS (HTTP)
    # Redis: kombu's global_keyprefix, priority lists and ack emulation; RQ's key prefix.
    key_prefix: str = ""
    celery_priority_steps: list[int] = field(default_factory=lambda: [0, 3, 6, 9])
    celery_separator: str = "\x06\x16"
    celery_unacked_limit: int = field(default=1000, metadata={"check": non_negative})
    rq_prefix: str = "rq"
    # RabbitMQ: vhost listed by discovery (all when unset) and the listing's page size.
    vhost: str | None = None
    page_size: int = field(default=500, metadata={"check": positive})
    # NATS: the JetStream account to read (all accounts when unset).
    account: str | None = None
    # Celery task events (Redis or RabbitMQ broker), off unless configured.
    celery_events: CeleryEventsConfig | None = None

    def validate(self) -> Problems:
        allowed = _KINDS_BY_BACKEND[self.backend]
        for j, q in enumerate(self.queues):
            if q.kind is None and self.backend == "redis":
                yield f"queues[{j}].kind", f"required for the redis backend (one of {', '.join(allowed)})"
            elif q.kind is not None and q.kind not in allowed:
                yield (
                    f"queues[{j}].kind",
                    f"{q.kind!r} is not a {self.backend} queue kind (one of {', '.join(allowed)})",
                )
            if q.vhost is not None and self.backend != "rabbitmq":
                yield f"queues[{j}].vhost", "only for the rabbitmq backend"
        if self.backend == "redis" and not self.url.startswith(("redis://", "rediss://", "unix://")):
            yield "url", "the redis backend needs a redis://, rediss:// or unix:// URL"
        if self.backend != "redis" and not self.url.startswith(("http://", "https://")):
            yield "url", f"the {self.backend} backend reads an HTTP API: give an http:// or https:// URL"
        if self.celery_events is not None:
            if self.backend == "nats":
                yield "celery_events", "Celery has no NATS broker: only for redis and rabbitmq targets"
            elif self.backend == "rabbitmq" and self.celery_events.broker_url is None:
                yield "celery_events.broker_url", "required for a rabbitmq target (its amqp:// URL)"
        steps = self.celery_priority_steps
        if not steps or steps[0] != 0 or sorted(set(steps)) != steps:
            yield "celery_priority_steps", "must be ascending, unique and start with the bare queue (0)"
