"""NATS JetStream against a real nats-server -js: streams and durable consumers from /jsz."""

from __future__ import annotations

import asyncio
import time

import nats
from brokers import NatsServer
from llm_exporter.collectors.queues import NatsQueueCollector
from nats.js.api import ConsumerConfig, RetentionPolicy, StreamConfig
from qhelp import queues, scrape, target, up
from support import free_port
from values import value

SKEW = 100.0


def collector(url: str, body: str = "discover: true", name: str = "js") -> NatsQueueCollector:
    return NatsQueueCollector(
        target(f"name: {name}\nbackend: nats\nurl: {url}\n{body}"), clock=lambda: time.time() + SKEW
    )


async def _fill(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="TASKS", subjects=["tasks.>"], retention=RetentionPolicy.WORK_QUEUE))
        await js.add_stream(StreamConfig(name="EVENTS", subjects=["events.>"]))
        for i in range(5):
            await js.publish("tasks.plan", f"task {i}".encode())
        for i in range(3):
            await js.publish("events.x", f"event {i}".encode())
        sub = await js.pull_subscribe("tasks.>", durable="planner")
        msgs = await sub.fetch(2, timeout=5)  # delivered, never acked
        assert len(msgs) == 2
        # An ephemeral consumer: not exported (random names would explode cardinality).
        await js.add_consumer("EVENTS", ConsumerConfig(ack_policy="explicit"))
        await js.add_consumer("EVENTS", ConsumerConfig(durable_name="audit", ack_policy="explicit"))
    finally:
        await nc.close()


def test_jetstream_pending_ack_pending_and_discovery(nats_srv: NatsServer) -> None:
    asyncio.run(_fill(nats_srv.url))
    c = collector(nats_srv.monitor_url, "discover: true\nqueues: [{name: TASKS, group: planner, agent: planner}]")
    ms = scrape(c)
    assert up(ms, "js") == 1
    t = {"backend": "nats", "target": "js", "queue": "TASKS", "group": "planner"}
    assert value(ms, "llm_queue_ready_messages", **t) == 3
    assert value(ms, "llm_queue_inflight_messages", **t) == 2
    assert value(ms, "llm_queue_redelivering_messages", **t) == 0
    assert value(ms, "llm_queue_pull_requests_waiting", **t) == 0
    assert value(ms, "llm_queue_enqueued_total", **t) == 5
    assert value(ms, "llm_queue_consumers", **t) is None  # pull consumer: client count unknowable
    # Messages are waiting but some are unacked: the oldest ready age cannot be told apart.
    assert value(ms, "llm_queue_oldest_ready_age_seconds", **t) is None
    assert value(ms, "llm_queue_info", agent="planner", kind="jetstream", **t) == 1
    e = {"backend": "nats", "target": "js", "queue": "EVENTS", "group": "audit"}
    assert value(ms, "llm_queue_ready_messages", **e) == 3
    assert value(ms, "llm_queue_inflight_messages", **e) == 0
    assert value(ms, "llm_queue_oldest_inflight_age_seconds", **e) == 0
    assert queues(ms, "nats") == {("TASKS", "planner"), ("EVENTS", "audit")}  # ephemeral one left out
    assert value(ms, "llm_target_info", target="js", software="nats-server") == 1


def test_only_configured_consumers_without_discovery(nats_srv: NatsServer) -> None:
    asyncio.run(_fill(nats_srv.url))
    ms = scrape(collector(nats_srv.monitor_url, "queues: [{name: EVENTS, group: audit}]"))
    assert queues(ms, "nats") == {("EVENTS", "audit")}


async def _workqueue_without_consumer(url: str) -> None:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="JOBS", subjects=["jobs.>"], retention=RetentionPolicy.WORK_QUEUE))
        for _ in range(4):
            await js.publish("jobs.a", b"x")
    finally:
        await nc.close()


def test_work_queue_stream_without_consumers(nats_srv: NatsServer) -> None:
    asyncio.run(_workqueue_without_consumer(nats_srv.url))
    ms = scrape(collector(nats_srv.monitor_url, "queues: [{name: JOBS, agent: jobber}]"))
    j = {"backend": "nats", "queue": "JOBS", "group": ""}
    assert value(ms, "llm_queue_ready_messages", **j) == 4
    assert value(ms, "llm_queue_consumers", **j) == 0
    age = value(ms, "llm_queue_oldest_ready_age_seconds", **j)
    assert age is not None and SKEW <= age < SKEW + 120


def test_closed_monitoring_port_and_recovery(nats_srv: NatsServer) -> None:
    asyncio.run(_fill(nats_srv.url))
    good = collector(nats_srv.monitor_url, name="good")
    closed = collector(f"http://127.0.0.1:{free_port()}", name="closed")
    ms = scrape(good, closed)
    assert (up(ms, "good"), up(ms, "closed")) == (1, 0)
    assert value(ms, "llm_queue_ready_messages", target="good", queue="TASKS", group="planner") == 3
    nats_srv.stop()
    ms = scrape(good)
    assert up(ms, "good") == 0
    assert not queues(ms)
    nats_srv.start()  # JetStream state is on disk: the same numbers come back
    ms = scrape(good)
    assert up(ms, "good") == 1
    assert value(ms, "llm_queue_ready_messages", target="good", queue="TASKS", group="planner") is not None
