"""Tasks in and done as counters with one meaning on every backend, from real consumers.

Each backend gets the same story: 5 messages in, 3 handed to a consumer, 2 of them
acknowledged. ``llm_queue_enqueued_total`` must say 5, ``llm_queue_delivered_total`` 3 and
``llm_queue_completed_total`` 2, so ``rate()`` of them is "tasks per second in / done".
"""

from __future__ import annotations

import asyncio

import nats
import pika
import redis
from brokers import NatsServer, RabbitMQServer, RedisServer
from llm_exporter.collectors.queues import NatsQueueCollector, RabbitMQQueueCollector, RedisQueueCollector
from llm_exporter.metricset import MetricSet
from nats.js.api import RetentionPolicy, StreamConfig
from qhelp import scrape, target
from support import wait_for
from values import value

COUNTERS = ("llm_queue_enqueued_total", "llm_queue_delivered_total", "llm_queue_completed_total")


def in_out(ms: MetricSet, **labels: str) -> list[float | None]:
    return [value(ms, name, **labels) for name in COUNTERS]


def test_redis_stream_group_counters(redis_srv: RedisServer) -> None:
    r = redis.Redis.from_url(redis_srv.url, decode_responses=True)
    r.xgroup_create("tasks", "workers", id="0", mkstream=True)
    for i in range(5):
        r.xadd("tasks", {"n": str(i)})
    got = r.xreadgroup("workers", "c1", {"tasks": ">"}, count=3)
    ids = [entry_id for _, entries in got for entry_id, _ in entries]
    assert len(ids) == 3
    r.xack("tasks", "workers", *ids[:2])
    c = RedisQueueCollector(
        target(
            f"name: s\nbackend: redis\nurl: {redis_srv.url}\nqueues: [{{name: tasks, kind: stream, group: workers}}]"
        )
    )
    labels = {"backend": "redis_stream", "queue": "tasks", "group": "workers"}
    assert in_out(scrape(c), **labels) == [5, 3, 2]
    # The consumer acks the last one and reads the rest: counters only grow.
    r.xack("tasks", "workers", ids[2])
    rest = [i for _, entries in r.xreadgroup("workers", "c1", {"tasks": ">"}) for i, _ in entries]
    r.xack("tasks", "workers", *rest)
    assert in_out(scrape(c), **labels) == [5, 5, 5]


def test_rabbitmq_message_stats_counters(rabbit_srv: RabbitMQServer) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_srv.amqp_url))
    try:
        ch = conn.channel()
        ch.queue_declare("throughput", durable=True)
        for i in range(5):
            ch.basic_publish("", "throughput", str(i).encode())
        tags = []
        for _ in range(3):
            method, _props, _body = ch.basic_get("throughput", auto_ack=False)
            assert method is not None
            tags.append(method.delivery_tag)
        ch.basic_ack(tags[0])
        ch.basic_ack(tags[1])
        c = RabbitMQQueueCollector(
            target(
                f"name: mq\nbackend: rabbitmq\nurl: {rabbit_srv.management_url}\nusername: guest\npassword: guest\n"
                "queues: [{name: throughput}]"
            )
        )
        labels = {"backend": "rabbitmq", "queue": "throughput", "group": ""}
        wait_for(lambda: in_out(scrape(c), **labels) == [5, 3, 2], 30, interval=0.3, what="RabbitMQ statistics")
    finally:
        conn.close()


async def _nats_story(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="WORK", subjects=["work.>"], retention=RetentionPolicy.WORK_QUEUE))
        for i in range(5):
            await js.publish("work.a", str(i).encode())
        sub = await js.pull_subscribe("work.>", durable="doers")
        msgs = await sub.fetch(3, timeout=5)
        assert len(msgs) == 3
        await msgs[0].ack_sync()
        await msgs[1].ack_sync()
    finally:
        await nc.close()


def test_nats_consumer_sequences_as_counters(nats_srv: NatsServer) -> None:
    asyncio.run(_nats_story(nats_srv.url))
    c = NatsQueueCollector(target(f"name: js\nbackend: nats\nurl: {nats_srv.monitor_url}\nqueues: [{{name: WORK}}]"))
    assert in_out(scrape(c), backend="nats", queue="WORK", group="doers") == [5, 3, 2]
