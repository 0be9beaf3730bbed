"""Queue target config: schema checks and what build() makes of it (no broker needed)."""

from __future__ import annotations

import pytest
from llm_exporter.collectors import build_collectors
from llm_exporter.collectors.queues import (
    NatsQueueCollector,
    RabbitMQQueueCollector,
    RedisQueueCollector,
    build,
)
from llm_exporter.config import ConfigError, load_config_text

CONFIG = """
queues:
  - name: agents
    backend: redis
    url: redis://127.0.0.1:6379/0
    queues:
      - {name: planner, kind: celery, agent: planner}
      - {name: tool-calls, kind: stream, group: workers, agent: tools}
  - {name: mq, backend: rabbitmq, url: "http://127.0.0.1:15672", queues: [{name: work, vhost: agents}]}
  - {name: js, backend: nats, url: "http://127.0.0.1:8222", discover: true}
"""


def test_build_one_collector_per_target() -> None:
    cfg = load_config_text(CONFIG)
    collectors = build(cfg)
    assert [type(c) for c in collectors] == [RedisQueueCollector, RabbitMQQueueCollector, NatsQueueCollector]
    assert [(c.name, c.key, c.target) for c in collectors] == [
        ("queue", "queue/agents", "agents"),
        ("queue", "queue/mq", "mq"),
        ("queue", "queue/js", "js"),
    ]
    assert all(c.config is t for c, t in zip(collectors, cfg.queues, strict=True))
    # A reload with the same config keeps the running instances.
    again = build_collectors(load_config_text(CONFIG), collectors)
    assert all(any(a is c for a in again) for c in collectors)
    assert cfg.queues[0].celery_separator == "\x06\x16"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("backend: redis\nurl: redis://x\nqueues: [{name: q}]", "queues[0].queues[0].kind: required"),
        ("backend: redis\nurl: redis://x\nqueues: [{name: q, kind: jetstream}]", "not a redis queue kind"),
        ("backend: nats\nurl: redis://x", "queues[0].url: the nats backend reads an HTTP API"),
        ("backend: redis\nurl: http://x", "redis://"),
        ("backend: redis\nurl: redis://x\nqueues: [{name: q, kind: list, vhost: v}]", "only for the rabbitmq"),
        ("backend: redis\nurl: redis://x\ncelery_priority_steps: [3, 0]", "celery_priority_steps"),
        ("backend: kafka\nurl: redis://x", "backend"),
    ],
)
def test_bad_queue_config_is_rejected_with_its_path(body: str, message: str) -> None:
    text = "queues:\n  - name: t\n" + "\n".join("    " + line for line in body.splitlines()) + "\n"
    with pytest.raises(ConfigError) as err:
        load_config_text(text)
    assert message in str(err.value)
