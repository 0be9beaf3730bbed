"""Agent task-queue collectors: one per configured broker target.

Backends: ``redis`` (Celery/kombu lists with priorities, RQ, plain lists, streams),
``rabbitmq`` (management HTTP API) and ``nats`` (JetStream monitoring endpoint ``/jsz``).
Each collector has ``name="queue"``, ``key=f"queue/{target}"`` and ``target=<name>`` and
emits the ``llm_queue_*`` metrics of the catalog. Constructors do no I/O.
"""

from __future__ import annotations

from ...config import Config, QueueTarget
from ...scrape import Collector
from .nats import NatsQueueCollector
from .rabbitmq import RabbitMQQueueCollector
from .redis import RedisQueueCollector

__all__ = ["NatsQueueCollector", "RabbitMQQueueCollector", "RedisQueueCollector", "build", "build_one"]


def build_one(cfg: QueueTarget) -> Collector:
    """The collector for one queue target."""
    if cfg.backend == "redis":
        return RedisQueueCollector(cfg)
    if cfg.backend == "rabbitmq":
        return RabbitMQQueueCollector(cfg)
    return NatsQueueCollector(cfg)


def build(config: Config) -> list[Collector]:
    """One collector per configured queue target."""
    return [build_one(t) for t in config.queues]
