"""Agent task-queue collectors: one per configured broker target.

Backends: ``redis`` (Celery/kombu lists with priorities, RQ, plain lists, streams),
``rabbitmq`` (management HTTP API) and ``nats`` (JetStream monitoring endpoint ``/jsz``).
Each collector has ``name="queue"``, ``key=f"queue/{target}"`` and ``target=<name>`` and
emits the ``llm_queue_*`` metrics of the catalog. Constructors do no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ...config import Config
from ...scrape import Collector

if TYPE_CHECKING:
    from ...configtargets import QueueTarget

__all__ = ["NatsQueueCollector", "RabbitMQQueueCollector", "RedisQueueCollector", "build", "build_one"]

# One module per backend, imported when a target of that backend is configured.
_MODULES = {"redis": ".redis", "rabbitmq": ".rabbitmq", "nats": ".nats"}
_CLASSES = {"redis": "RedisQueueCollector", "rabbitmq": "RabbitMQQueueCollector", "nats": "NatsQueueCollector"}


def __getattr__(name: str) -> Any:
    for backend, cls in _CLASSES.items():
        if name == cls:
            return getattr(import_module(_MODULES[backend], __name__), cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_one(cfg: QueueTarget) -> Collector:
    """The collector for one queue target."""
    collector_cls: Callable[[QueueTarget], Collector] = getattr(
        import_module(_MODULES[cfg.backend], __name__), _CLASSES[cfg.backend]
    )
    return collector_cls(cfg)


def build(config: Config) -> list[Collector]:
    """One collector per configured queue target."""
    return [build_one(t) for t in config.queues]
