"""Celery task events from real workers (solo and prefork pools) on real Redis and RabbitMQ.

Every task's fate is known (succeeds, fails, retries once, sleeps a known time), so the
exported counters must equal the task counts exactly, and the histogram sums must lie
between bounds the test measured itself: runtime >= the sleeps (at most SLACK more per
attempt), wait >= the time the tasks provably sat in the queue.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from brokers import RabbitMQServer, RedisServer
from llm_exporter.collectors.queues import RabbitMQQueueCollector, RedisQueueCollector
from llm_exporter.metricset import Histogram, MetricSet
from qhelp import scrape, target
from support import wait_for
from values import value

HERE = Path(__file__).resolve().parent
HEARTBEAT = 1  # worker heartbeat interval (s): a killed worker is gone after 2 of them
SLACK = 1.0  # stated tolerance: seconds a task attempt's runtime may exceed its sleep


class Worker:
    """A real ``celery worker`` process with task events on, in its own process group."""

    def __init__(self, broker: str, pool: str, name: str, log: Path, events: bool = True) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(HERE),
            "CELERY_BROKER": broker,
            "CELERY_TEST_EVENTS": "1" if events else "0",
        }
        argv = [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", "-P", pool, "-Q", "agents"]
        argv += ["-n", f"{name}@test", "--heartbeat-interval", str(HEARTBEAT), "--without-mingle", "--without-gossip"]
        argv += ["-l", "warning", *(["-c", "2"] if pool == "prefork" else [])]
        self.log = log
        out = open(log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=out, start_new_session=True)
        out.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for w in started:
        w.kill()


def tasks_module(broker: str):  # type: ignore[no-untyped-def]
    os.environ["CELERY_BROKER"] = broker
    sys.path.insert(0, str(HERE))
    import celery_tasks

    return importlib.reload(celery_tasks)  # a fresh app (and producer pool) for this broker


def series(ms: MetricSet, name: str, **labels: str) -> float:
    return value(ms, name, backend="celery", target="agents", group="", **labels) or 0.0


def health(ms: MetricSet, name: str) -> float | None:
    v = ms.get(name, {"backend": "celery", "target": "agents"})
    return v if isinstance(v, float) else None


def hist(ms: MetricSet, name: str, **labels: str) -> Histogram:
    found = [v for k, v in ms.series(name).items() if all(dict(k).get(a) == b for a, b in labels.items())]
    assert len(found) == 1 and isinstance(found[0], Histogram), f"{name}{labels}: {found}"
    return found[0]


def outcome(ms: MetricSet, task: str, what: str) -> float:
    return series(ms, "llm_queue_tasks_total", queue="agents", task=task, outcome=what)


def stage(ms: MetricSet, task: str, what: str) -> float:
    return series(ms, "llm_queue_task_events_total", queue="agents", task=task, event=what)


def run_lifecycle(collector, broker: str, pool: str, workers: list[Worker], log_dir: Path) -> MetricSet:  # type: ignore[no-untyped-def]
    """Tasks sent with no worker running, then a worker: exact counts and bounded sums."""
    ct = tasks_module(broker)
    wait_for(lambda: health(scrape(collector), "llm_queue_events_connected") == 1, 60, what="receiver connected")
    t_first = time.time()
    for _ in range(4):
        ct.plan.delay(0.3)
    for _ in range(2):
        ct.broken.delay(0.2)
    for _ in range(2):
        ct.flaky.delay(0.1)
    t_sent = time.time()  # every first attempt was sent before this
    wait_for(lambda: stage(scrape(collector), "agents.plan", "sent") == 4, 30, what="task-sent events")
    time.sleep(1.0)
    t_worker = time.time()  # no task can start before this
    workers.append(Worker(broker, pool, f"w-{pool}", log_dir / f"worker-{pool}.log"))

    def finished(ms: MetricSet) -> bool:
        return (
            outcome(ms, "agents.plan", "succeeded") == 4
            and outcome(ms, "agents.broken", "failed") == 2
            and outcome(ms, "agents.flaky", "succeeded") == 2
        )

    wait_for(lambda: finished(scrape(collector)), 120, interval=0.3, what="all tasks to finish")
    t_done = time.time()
    ms = scrape(collector)
    # Exact counts: every attempt's fate is known.
    assert [outcome(ms, "agents.plan", o) for o in ("succeeded", "failed", "retried")] == [4, 0, 0]
    assert [outcome(ms, "agents.broken", o) for o in ("succeeded", "failed", "retried")] == [0, 2, 0]
    assert [outcome(ms, "agents.flaky", o) for o in ("succeeded", "failed", "retried")] == [2, 0, 2]
    assert [stage(ms, "agents.flaky", s) for s in ("sent", "received", "started")] == [4, 4, 4]
    assert [stage(ms, "agents.plan", s) for s in ("sent", "received", "started")] == [4, 4, 4]
    # Runtime: each attempt ran at least its sleep and at most SLACK longer.
    labels = {"backend": "celery", "target": "agents", "queue": "agents"}
    for task, attempts, sleep in (("agents.plan", 4, 0.3), ("agents.broken", 2, 0.2), ("agents.flaky", 4, 0.1)):
        h = hist(ms, "llm_queue_task_runtime_seconds", task=task, **labels)
        assert h.count == attempts
        assert attempts * sleep <= h.sum <= attempts * (sleep + SLACK), (task, h.sum)
    # Wait: the first attempts of all 8 tasks sat in the queue until a worker existed.
    waits = [
        hist(ms, "llm_queue_task_wait_seconds", task=t, **labels)
        for t in ("agents.plan", "agents.broken", "agents.flaky")
    ]
    assert sum(h.count for h in waits) == 10  # 8 first attempts + 2 retries
    assert 8 * (t_worker - t_sent) <= sum(h.sum for h in waits) <= 10 * (t_done - t_first)
    # The worker consumes the queue: workers and (Celery on Redis) consumers say so.
    assert series(ms, "llm_queue_workers", queue="agents") == 1
    assert health(ms, "llm_queue_tasks_forgotten_total") == 0
    return ms


def redis_events_target(url: str, extra: str = ""):  # type: ignore[no-untyped-def]
    cfg = target(
        f"name: agents\nbackend: redis\nurl: {url}\nqueues:\n  - {{name: agents, kind: celery, agent: planner}}\n"
        f"celery_events:\n  reconnect_interval: 0.5\n{extra}"
    )
    return RedisQueueCollector(cfg)


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_celery_events_on_redis(redis_srv: RedisServer, workers: list[Worker], pool: str, tmp_path: Path) -> None:
    collector = redis_events_target(redis_srv.url)
    try:
        ms = run_lifecycle(collector, redis_srv.url, pool, workers, tmp_path)
        # Celery on Redis now has consumers, from heartbeats.
        assert value(ms, "llm_queue_consumers", backend="celery", queue="agents") == 1
        assert value(ms, "llm_queue_oldest_ready_age_seconds", backend="celery", queue="agents") == 0
        # In and done, with the meaning they have on every backend: 8 tasks + 2 retries sent
        # and received, 6 succeeded, 2 failed.
        row = {"backend": "celery", "target": "agents", "queue": "agents", "group": ""}
        assert value(ms, "llm_queue_enqueued_total", **row) == 10
        assert value(ms, "llm_queue_delivered_total", **row) == 10
        assert value(ms, "llm_queue_completed_total", **row) == 6
        assert value(ms, "llm_queue_failed_total", **row) == 2
        # SIGKILL: no worker-offline event; gone once 2 heartbeat intervals pass without one.
        workers[0].kill()
        time.sleep(2 * HEARTBEAT + 0.3)
        ms = scrape(collector)
        assert series(ms, "llm_queue_workers", queue="agents") == 0
        assert value(ms, "llm_queue_consumers", backend="celery", queue="agents") == 0
    finally:
        collector.close()


def test_celery_events_on_rabbitmq(rabbit_srv: RabbitMQServer, workers: list[Worker], tmp_path: Path) -> None:
    cfg = target(
        f"name: agents\nbackend: rabbitmq\nurl: {rabbit_srv.management_url}\nusername: guest\npassword: guest\n"
        f"queues:\n  - {{name: agents, agent: planner}}\n"
        f"celery_events:\n  broker_url: {rabbit_srv.amqp_url}\n  reconnect_interval: 0.5\n  enable_events: true\n"
    )
    collector = RabbitMQQueueCollector(cfg)
    try:
        run_lifecycle(collector, rabbit_srv.amqp_url, "prefork", workers, tmp_path)
        workers[0].kill()
        time.sleep(2 * HEARTBEAT + 0.3)
        assert series(scrape(collector), "llm_queue_workers", queue="agents") == 0
        # enable_events: a worker started WITHOUT -E is switched on by the receiver's control command.
        ct = tasks_module(rabbit_srv.amqp_url)
        workers.append(Worker(rabbit_srv.amqp_url, "solo", "quiet", tmp_path / "quiet.log", events=False))
        wait_for(lambda: series(scrape(collector), "llm_queue_workers", queue="agents") == 1, 60, what="quiet worker")
        before = outcome(scrape(collector), "agents.plan", "succeeded")
        ct.plan.delay(0)
        wait_for(
            lambda: outcome(scrape(collector), "agents.plan", "succeeded") == before + 1,
            60,
            what="events from -E-less worker",
        )
    finally:
        collector.close()


def test_celery_counters_stay_monotonic_across_broker_and_receiver_restarts(
    redis_srv: RedisServer, workers: list[Worker], tmp_path: Path
) -> None:
    collector = redis_events_target(redis_srv.url)
    seen: list[float] = []

    def succeeded() -> float | None:
        ms = scrape(collector)
        v = value(
            ms, "llm_queue_tasks_total", backend="celery", queue="agents", task="agents.plan", outcome="succeeded"
        )
        if v is not None:
            assert not seen or v >= seen[-1], f"counter went back: {seen[-1]} -> {v}"
            seen.append(v)
        return v

    try:
        wait_for(lambda: health(scrape(collector), "llm_queue_events_connected") == 1, 60, what="receiver connected")
        workers.append(Worker(redis_srv.url, "solo", "w1", tmp_path / "w1.log"))
        ct = tasks_module(redis_srv.url)
        for _ in range(3):
            ct.plan.delay(0)
        wait_for(lambda: succeeded() == 3, 60, what="3 tasks")
        # The broker goes away and comes back (empty: no persistence).
        redis_srv.stop()
        for _ in range(3):
            succeeded()  # target down: the series are absent, never lower
        ms = scrape(collector)
        assert value(ms, "llm_target_up", target="agents") == 0
        redis_srv.start()
        wait_for(lambda: succeeded() == 3 and health(scrape(collector), "llm_queue_events_connected") == 1, 60)
        ct = tasks_module(redis_srv.url)
        for _ in range(2):
            ct.plan.delay(0)
        wait_for(lambda: succeeded() == 5, 90, what="tasks after the broker restart")
        # The receiver thread is stopped and started again (what a collector restart does).
        collector.close()
        assert succeeded() == 5
        wait_for(lambda: health(scrape(collector), "llm_queue_events_connected") == 1, 60, what="receiver back")
        ct.plan.delay(0)
        wait_for(lambda: succeeded() == 6, 60, what="a task after the receiver restart")
    finally:
        collector.close()


def test_task_names_are_folded_past_max_tasks(redis_srv: RedisServer, workers: list[Worker], tmp_path: Path) -> None:
    collector = redis_events_target(redis_srv.url, "  max_tasks: 1\n")
    try:
        wait_for(lambda: health(scrape(collector), "llm_queue_events_connected") == 1, 60, what="receiver connected")
        ct = tasks_module(redis_srv.url)
        ct.plan.delay(0)
        wait_for(lambda: stage(scrape(collector), "agents.plan", "sent") == 1, 30)
        ct.broken.delay(0)
        ct.flaky.delay(0)
        workers.append(Worker(redis_srv.url, "solo", "w1", tmp_path / "w1.log"))
        wait_for(lambda: outcome(scrape(collector), "other", "failed") == 1, 60, what="folded outcomes")
        ms = scrape(collector)
        assert outcome(ms, "agents.plan", "succeeded") == 1
        assert health(ms, "llm_queue_task_names_folded") == 2
        assert not ms.has("llm_queue_tasks_total", task="agents.broken")
    finally:
        collector.close()
