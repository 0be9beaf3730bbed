"""Fixtures of the queue collector tests: real brokers and a one-call scrape helper."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from brokers import NatsServer, RabbitMQServer, RedisServer, nats_server, rabbitmq_server, redis_server


@pytest.fixture
def redis_srv(tmp_path: Path) -> Iterator[RedisServer]:
    with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
def nats_srv(tmp_path: Path) -> Iterator[NatsServer]:
    with nats_server(tmp_path) as server:
        yield server


@pytest.fixture(scope="session")
def rabbit_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitMQServer]:
    """One RabbitMQ node for the whole session (it takes 10-30 s to boot)."""
    with rabbitmq_server(tmp_path_factory.mktemp("rabbitmq")) as server:
        yield server
