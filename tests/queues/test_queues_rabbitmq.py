"""RabbitMQ queues against a real rabbitmq-server with the management plugin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pika
import pytest
import requests
from brokers import RabbitMQServer
from http_upstream import Upstream, send
from llm_exporter.collectors.queues import RabbitMQQueueCollector
from llm_exporter.metricset import MetricSet
from qhelp import queues, scrape, target, up
from support import free_port, wait_for
from values import value


def rabbit(srv: RabbitMQServer, body: str, name: str = "mq", url: str | None = None) -> RabbitMQQueueCollector:
    cfg = target(
        f"name: {name}\nbackend: rabbitmq\nurl: {url or srv.management_url}\nusername: guest\npassword: guest\n{body}"
    )
    return RabbitMQQueueCollector(cfg)


def settle(c: RabbitMQQueueCollector, check: Any) -> MetricSet:
    """Scrape until the management statistics (refreshed every 500 ms) show the expected state."""
    box: dict[str, MetricSet] = {}

    def ok() -> bool:
        box["ms"] = scrape(c)
        return bool(check(box["ms"]))

    try:
        wait_for(ok, timeout=30, interval=0.3, what="RabbitMQ statistics")
    except TimeoutError:
        pass  # the assertions below show what was seen
    return box["ms"]


@pytest.fixture
def channel(rabbit_srv: RabbitMQServer) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_srv.amqp_url))
    try:
        yield conn.channel()
    finally:
        try:
            if conn.is_open:
                conn.close()
        except pika.exceptions.AMQPError:
            pass  # the broker was restarted under it


def test_ready_unacked_consumers_dead_letters_and_counters(rabbit_srv: RabbitMQServer, channel: Any) -> None:
    ch = channel
    ch.exchange_declare("agents.dlx", exchange_type="direct")
    ch.queue_declare("agents.dead")
    ch.queue_bind("agents.dead", "agents.dlx", routing_key="agents.work")
    ch.queue_declare("agents.work", arguments={"x-dead-letter-exchange": "agents.dlx"})
    ch.queue_declare("agents.idle")
    for i in range(6):
        ch.basic_publish("", "agents.work", f"task {i}".encode())
    # Two deliveries held without ack (in flight), one rejected without requeue (dead-lettered).
    held = [ch.basic_get("agents.work", auto_ack=False)[0] for _ in range(3)]
    ch.basic_reject(held[2].delivery_tag, requeue=False)
    # A consumer attached to another queue.
    consumer_conn = pika.BlockingConnection(pika.URLParameters(rabbit_srv.amqp_url))
    consumer_conn.channel().basic_consume("agents.idle", lambda *a: None)
    try:
        c = rabbit(
            rabbit_srv,
            """
queues:
  - {name: agents.work, agent: worker}
  - {name: agents.idle, agent: idler}
""",
        )
        q = {"backend": "rabbitmq", "target": "mq"}

        def expected(ms: MetricSet) -> bool:
            return (
                value(ms, "llm_queue_ready_messages", queue="agents.work", **q) == 3
                and value(ms, "llm_queue_inflight_messages", queue="agents.work", **q) == 2
                and value(ms, "llm_queue_consumers", queue="agents.idle", **q) == 1
                and value(ms, "llm_queue_dead_messages", queue="agents.work", **q) == 1
                and value(ms, "llm_queue_enqueued_total", queue="agents.work", **q) == 6
            )

        ms = settle(c, expected)
        assert up(ms, "mq") == 1
        assert value(ms, "llm_queue_ready_messages", queue="agents.work", **q) == 3
        assert value(ms, "llm_queue_inflight_messages", queue="agents.work", **q) == 2
        assert value(ms, "llm_queue_consumers", queue="agents.work", **q) == 0
        assert value(ms, "llm_queue_dead_messages", queue="agents.work", **q) == 1
        assert value(ms, "llm_queue_enqueued_total", queue="agents.work", **q) == 6
        assert value(ms, "llm_queue_consumers", queue="agents.idle", **q) == 1
        assert value(ms, "llm_queue_ready_messages", queue="agents.idle", **q) == 0
        assert value(ms, "llm_queue_oldest_ready_age_seconds", queue="agents.idle", **q) == 0
        # No publisher timestamp and no interceptor: the head message's age is unknowable.
        assert value(ms, "llm_queue_oldest_ready_age_seconds", queue="agents.work", **q) is None
        # agents.idle has no dead-letter exchange: dead is absent, not 0.
        assert value(ms, "llm_queue_dead_messages", queue="agents.idle", **q) is None
        assert value(ms, "llm_queue_info", queue="agents.work", agent="worker", kind="amqp", **q) == 1
        assert value(ms, "llm_target_info", target="mq", software="rabbitmq") == 1

        # Ack the two held messages: in-flight 0, completed counter 2.
        ch.basic_ack(held[0].delivery_tag)
        ch.basic_ack(held[1].delivery_tag)
        ms = settle(
            c,
            lambda m: (
                value(m, "llm_queue_inflight_messages", queue="agents.work", **q) == 0
                and value(m, "llm_queue_completed_total", queue="agents.work", **q) == 2
            ),
        )
        assert value(ms, "llm_queue_inflight_messages", queue="agents.work", **q) == 0
        assert value(ms, "llm_queue_completed_total", queue="agents.work", **q) == 2
    finally:
        consumer_conn.close()


def test_vhosts_discovery_and_publisher_timestamp(rabbit_srv: RabbitMQServer) -> None:
    api, auth = rabbit_srv.management_url, (rabbit_srv.username, rabbit_srv.password)
    assert requests.put(f"{api}/api/vhosts/agents", auth=auth, timeout=10).status_code in (201, 204)
    assert requests.put(
        f"{api}/api/permissions/agents/guest",
        auth=auth,
        timeout=10,
        json={"configure": ".*", "write": ".*", "read": ".*"},
    ).status_code in (201, 204)
    conn = pika.BlockingConnection(pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{rabbit_srv.amqp_port}/agents"))
    try:
        ch = conn.channel()
        ch.queue_declare("planner")
        ch.queue_declare("critic")
        import time

        stamp = int(time.time()) - 300
        for _ in range(2):
            ch.basic_publish("", "planner", b"plan", pika.BasicProperties(timestamp=stamp))
        c = rabbit(rabbit_srv, "discover: true\nvhost: agents\nqueues: [{name: planner, vhost: agents, agent: p}]")
        q = {"backend": "rabbitmq", "target": "mq"}
        ms = settle(c, lambda m: value(m, "llm_queue_ready_messages", queue="agents/planner", **q) == 2)
        assert queues(ms, "rabbitmq") == {("agents/planner", ""), ("agents/critic", "")}
        assert value(ms, "llm_queue_ready_messages", queue="agents/planner", **q) == 2
        assert value(ms, "llm_queue_ready_messages", queue="agents/critic", **q) == 0
        age = value(ms, "llm_queue_oldest_ready_age_seconds", queue="agents/planner", **q)
        assert age is not None and 300 <= age < 420
        assert value(ms, "llm_queue_info", queue="agents/planner", agent="p") == 1
    finally:
        conn.close()


def test_pagination_and_max_queues(rabbit_srv: RabbitMQServer, channel: Any) -> None:
    for i in range(7):
        channel.queue_declare(f"page.{i}")
    c = rabbit(rabbit_srv, "discover: true\npage_size: 2\nmax_queues: 50")
    ms = scrape(c)
    names = {q for q, _ in queues(ms, "rabbitmq")}
    assert {f"page.{i}" for i in range(7)} <= names
    c = rabbit(rabbit_srv, "discover: true\npage_size: 100\nmax_queues: 3")
    ms = scrape(c)
    assert len(queues(ms, "rabbitmq")) == 3
    total = len(
        requests.get(
            rabbit_srv.management_url + "/api/queues?columns=name",
            timeout=10,
            auth=(rabbit_srv.username, rabbit_srv.password),
        ).json()
    )
    assert value(ms, "llm_queue_dropped_queues", backend="rabbitmq", target="mq") == total - 3


def test_configured_queue_deleted_keeps_target_up(rabbit_srv: RabbitMQServer, channel: Any) -> None:
    channel.queue_declare("doomed")
    channel.queue_declare("kept")
    channel.basic_publish("", "kept", b"x")
    c = rabbit(rabbit_srv, "queues: [{name: doomed}, {name: kept}]")
    ms = settle(c, lambda m: value(m, "llm_queue_ready_messages", queue="kept") == 1)
    assert value(ms, "llm_queue_ready_messages", queue="doomed") == 0
    channel.queue_delete("doomed")
    ms = scrape(c)
    assert up(ms, "mq") == 1
    assert value(ms, "llm_queue_ready_messages", queue="doomed") is None
    assert value(ms, "llm_queue_ready_messages", queue="kept") == 1


@pytest.fixture
def broken_api() -> Iterator[Upstream]:
    """A management API that answers every request with HTTP 500 (its ``fallback`` can be swapped)."""
    with Upstream(fallback=send(500, b'{"error":"Internal Server Error"}', "application/json")) as srv:
        yield srv


def test_http_500_html_closed_port_and_wrong_password(
    rabbit_srv: RabbitMQServer, channel: Any, broken_api: Upstream
) -> None:
    channel.queue_declare("healthy")
    broken_url = broken_api.url
    good = rabbit(rabbit_srv, "queues: [{name: healthy}]", name="good")
    failing = rabbit(rabbit_srv, "queues: [{name: healthy}]", name="broken", url=broken_url)
    closed = rabbit(rabbit_srv, "queues: [{name: healthy}]", name="closed", url=f"http://127.0.0.1:{free_port()}")
    badpw = RabbitMQQueueCollector(
        target(
            f"name: badpw\nbackend: rabbitmq\nurl: {rabbit_srv.management_url}\nusername: guest\npassword: nope\n"
            "queues: [{name: healthy}]"
        )
    )
    settle(good, lambda m: value(m, "llm_queue_ready_messages", queue="healthy") == 0)
    ms = scrape(good, failing, closed, badpw)
    assert up(ms, "good") == 1
    assert value(ms, "llm_queue_ready_messages", target="good", queue="healthy") == 0
    assert (up(ms, "broken"), up(ms, "closed"), up(ms, "badpw")) == (0, 0, 0)
    assert not queues(ms) - {("healthy", "")}
    assert value(ms, "llm_scrape_collector_success", collector="queue") == 1
    broken_api.fallback = send(200, b"<html><body>Login</body></html>", "text/html")
    ms = scrape(good, failing)
    assert (up(ms, "good"), up(ms, "broken")) == (1, 0)


def test_broker_down_and_recovery(rabbit_srv: RabbitMQServer, channel: Any) -> None:
    """Runs last in this file: stops and restarts the session's node (data is kept)."""
    channel.queue_declare("survivor", durable=True)
    c = rabbit(rabbit_srv, "queues: [{name: survivor}]")
    assert up(scrape(c), "mq") == 1
    rabbit_srv.stop()
    try:
        ms = scrape(c)
        assert up(ms, "mq") == 0
        assert value(ms, "llm_queue_ready_messages", queue="survivor") is None
    finally:
        rabbit_srv.start()
    ms = settle(c, lambda m: up(m, "mq") == 1 and value(m, "llm_queue_ready_messages", queue="survivor") == 0)
    assert up(ms, "mq") == 1
    assert value(ms, "llm_queue_ready_messages", queue="survivor") == 0
