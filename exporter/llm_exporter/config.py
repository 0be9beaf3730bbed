"""The configuration file: typed sections for inference, gpu, queues and pricing.

``load_config`` turns YAML into a ``Config`` or raises ``ConfigError`` naming every bad
key with its line, e.g. ``inference[1].url: not a URL: 'localhost' (line 14)``. The
dataclasses below are the schema (see ``configschema``, imported only when YAML is read).
With no file at all the exporter runs on the embedded default: ``default_config()``, the
same config as ``default_config.yml`` shipped inside the package, built without a YAML parser.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .configtypes import ConfigError, Duration, Url, label_name, non_empty, non_negative, positive

if TYPE_CHECKING:
    from pathlib import Path  # imported where a file is read

__all__ = [
    "Config",
    "ConfigError",
    "default_config",
    "default_config_text",
    "load_config",
    "load_config_text",
    "secret_values",
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
class DiscoveryConfig:
    """Engine discovery on default local ports, for running without any config."""

    enabled: bool = False
    host: str = "127.0.0.1"
    interval: Duration = field(default=60.0, metadata={"check": positive})
    timeout: Duration = field(default=1.0, metadata={"check": positive})


@dataclass(frozen=True)
class GpuConfig:
    """NVML collector (docs/gpu.md).

    ``enabled``: ``auto`` (default) reads the GPUs when NVML loads and stays quiet (one log
    line) when it does not; ``true`` reports ``llm_gpu_nvml_up 0`` and a failed collection
    when NVML is missing; ``false`` turns the collector off. ``devices``: NVML indices or
    UUIDs to read (all when empty). Opt-in families: ``processes`` (per-process memory with
    pid, name and container id), ``pcie_throughput`` (2 x 20 ms per GPU in the driver),
    ``nvlink`` (per-link state, errors and bytes), ``gpm`` (activity ratios over the interval
    between scrapes, Hopper and newer). ``expected_count``: fewer visible GPUs
    is a failed collection even on the first scrape. ``library``: an explicit path of
    libnvidia-ml.so.1 (default: the dynamic loader's search path).
    """

    enabled: bool | Literal["auto"] = "auto"
    devices: list[str] = field(default_factory=list)
    processes: bool = False
    pcie_throughput: bool = False
    nvlink: bool = False
    gpm: bool = False
    expected_count: int | None = field(default=None, metadata={"check": non_negative})
    library: str | None = field(default=None, metadata={"path": True})


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


@dataclass(frozen=True)
class ModelPrice:
    """Token prices of one model, in US dollars per million tokens."""

    model: str = field(metadata={"check": non_empty})
    prompt_per_million: float = field(default=0.0, metadata={"check": non_negative})
    generation_per_million: float = field(default=0.0, metadata={"check": non_negative})


@dataclass(frozen=True)
class PricingConfig:
    """Prices turned into gauges; recording rules turn them into dollars."""

    models: list[ModelPrice] = field(default_factory=list)
    gpu_per_hour: float | None = field(default=None, metadata={"check": non_negative})


@dataclass(frozen=True)
class ScrapeConfig:
    """How scrapes are bounded."""

    timeout: Duration = field(default=10.0, metadata={"check": positive})
    timeout_offset: Duration = field(default=0.5, metadata={"check": non_negative})
    min_interval: Duration = field(default=1.0, metadata={"check": non_negative})

    def validate(self) -> Problems:
        if self.timeout_offset >= self.timeout:
            yield (
                "timeout_offset",
                f"must be less than scrape.timeout ({self.timeout:g}s), got {self.timeout_offset:g}s: "
                "every scrape would get no time at all",
            )


@dataclass(frozen=True)
class Config:
    """The whole file."""

    inference: list[InferenceTarget] = field(default_factory=list)
    gpu: GpuConfig = field(default_factory=GpuConfig)
    queues: list[QueueTarget] = field(default_factory=list)
    pricing: PricingConfig = field(default_factory=PricingConfig)
    discovery: DiscoveryConfig = field(default_factory=DiscoveryConfig)
    scrape: ScrapeConfig = field(default_factory=ScrapeConfig)

    def validate(self) -> Problems:
        """Target names are the ``target`` label: they must be unique across the file."""
        seen: dict[str, str] = {}
        for section in ("inference", "queues"):
            for i, t in enumerate(getattr(self, section)):
                where = f"{section}[{i}]"
                if t.name in seen:
                    yield f"{where}.name", f"duplicate target name {t.name!r} (also {seen[t.name]})"
                else:
                    seen[t.name] = where
        for i, t in enumerate(self.queues):
            keys = [(q.name, q.kind, q.group, q.vhost) for q in t.queues]
            for j, key in enumerate(keys):
                if keys.index(key) != j:
                    yield f"queues[{i}].queues[{j}].name", f"duplicate queue {key[0]!r}"


def secret_values(obj: object) -> list[str]:
    """Every value of a ``secret`` field in a loaded config (or web config), for redaction."""
    found: list[str] = []
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.metadata.get("secret") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(secret_values(value))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            found.extend(secret_values(item))
    return found


def load_config_text(text: str, base_dir: Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Parse YAML text into a ``Config`` (raises ``ConfigError``)."""
    from . import configschema  # the YAML parser: only when there is YAML to read

    return configschema.load(text, Config, env=env, base_dir=base_dir)


def load_config(path: str | Path | None, env: dict[str, str] | None = None) -> Config:
    """Read a config file, or the embedded default when ``path`` is None."""
    if path is None:
        return default_config()
    from pathlib import Path

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read config file: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{p}: config file is not UTF-8 text"]) from None
    return load_config_text(text, base_dir=p.resolve().parent, env=env)


def default_config() -> Config:
    """The embedded default: GPUs if NVML loads, engines discovered on their default ports.

    ``default_config.yml`` written as code, so that starting without a file parses no YAML;
    tests/core/test_config.py checks that the file loads to exactly this.
    """
    return Config(gpu=GpuConfig(enabled="auto"), discovery=DiscoveryConfig(enabled=True, host="127.0.0.1"))


def default_config_text() -> str:
    """The text of ``default_config.yml``, the embedded default as shipped (and documented)."""
    from importlib import resources

    return resources.files("llm_exporter").joinpath("default_config.yml").read_text(encoding="utf-8")
