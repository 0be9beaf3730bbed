"""The configuration file: typed sections for inference, gpu, queues and pricing.

``load_config`` turns YAML into a ``Config`` or raises ``ConfigError`` naming every bad
key with its line, e.g. ``inference[1].url: not a URL: 'localhost' (line 14)``. The
dataclasses below are the schema (see ``configschema``, imported only when YAML is read).
With no file at all the exporter runs on the embedded default: ``default_config()``, the
same config as ``default_config.yml`` shipped inside the package, built without a YAML parser.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .configtypes import ConfigError, Duration, non_empty, non_negative, positive

if TYPE_CHECKING:
    from pathlib import Path  # imported where a file is read

    from .configtargets import (
        AgentUsageConfig,
        CeleryEventsConfig,
        InferenceTarget,
        ProbeConfig,
        ProcessConfig,
        QueueSpec,
        QueueTarget,
    )

# The target sections live in ``configtargets``, imported on first use (``from .config import
# InferenceTarget`` still works): a start on the embedded default never creates their classes.
_TARGET_CLASSES = (
    "AgentUsageConfig",
    "CeleryEventsConfig",
    "InferenceTarget",
    "ProbeConfig",
    "ProcessConfig",
    "QueueSpec",
    "QueueTarget",
)

__all__ = [  # the target classes come from configtargets, on first use
    "AgentUsageConfig",
    "CeleryEventsConfig",
    "Config",
    "ConfigError",
    "InferenceTarget",
    "ProbeConfig",
    "ProcessConfig",
    "QueueSpec",
    "QueueTarget",
    "default_config",
    "default_config_text",
    "load_config",
    "load_config_text",
    "secret_values",
]

Problems = Iterator[tuple[str, str]]


def __getattr__(name: str) -> Any:
    if name in _TARGET_CLASSES:
        from . import configtargets

        return getattr(configtargets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    ``slow_counters_interval``: the counters that cost the driver milliseconds per GPU (energy,
    throttle time, PCIe replays) are read at most this often and served from their last read
    in between; 0 reads them in every collection.
    """

    enabled: bool | Literal["auto"] = "auto"
    devices: list[str] = field(default_factory=list)
    processes: bool = False
    pcie_throughput: bool = False
    nvlink: bool = False
    gpm: bool = False
    expected_count: int | None = field(default=None, metadata={"check": non_negative})
    library: str | None = field(default=None, metadata={"path": True})
    slow_counters_interval: Duration = field(default=10.0, metadata={"check": non_negative})


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
    from . import configschema, configtargets  # the YAML parser: only when there is YAML to read

    return configschema.load(text, Config, env=env, base_dir=base_dir, names=vars(configtargets))


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
