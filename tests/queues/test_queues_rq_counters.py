"""RQ finished/failed job counters from a real worker process, kept monotonic after it exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redis
from brokers import RedisServer
from llm_exporter.collectors.queues import RedisQueueCollector
from llm_exporter.metricset import Histogram
from qhelp import scrape, target
from support import wait_for
from values import value

HERE = Path(__file__).resolve().parent

WORKER = (
    "import sys, redis; from rq import Queue, SimpleWorker; c = redis.Redis.from_url(sys.argv[1]);"
    "SimpleWorker([Queue(n, connection=c) for n in sys.argv[2:]], connection=c).work()"
)


def start_worker(url: str, *queues: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, *queues], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def test_rq_job_counters_from_workers(redis_srv: RedisServer) -> None:
    from rq import Queue

    sys.path.insert(0, str(HERE))
    import queue_jobs

    conn = redis.Redis.from_url(redis_srv.url)
    collector = RedisQueueCollector(
        target(
            f"name: agents\nbackend: redis\nurl: {redis_srv.url}\nqueues:\n"
            "  - {name: counted, kind: rq}\n  - {name: shared, kind: rq}\n"
        )
    )
    labels = {"backend": "rq", "target": "agents", "group": ""}
    ms = scrape(collector)
    assert value(ms, "llm_queue_completed_total", queue="counted", **labels) == 0
    assert value(ms, "llm_queue_failed_total", queue="counted", **labels) == 0

    counted, shared = Queue("counted", connection=conn), Queue("shared", connection=conn)
    solo = start_worker(redis_srv.url, "counted")
    multi = start_worker(redis_srv.url, "shared", "counted-elsewhere")
    try:
        jobs = [counted.enqueue(queue_jobs.add, 1, 2) for _ in range(3)]
        jobs += [counted.enqueue(queue_jobs.boom) for _ in range(2)]
        jobs += [shared.enqueue(queue_jobs.boom)]
        wait_for(
            lambda: all(j.get_status(refresh=True) in ("finished", "failed") for j in jobs),
            60,
            what="RQ jobs to finish",
        )
        ms = scrape(collector)
        assert value(ms, "llm_queue_completed_total", queue="counted", **labels) == 3
        assert value(ms, "llm_queue_failed_total", queue="counted", **labels) == 2
        assert value(ms, "llm_queue_consumers", queue="counted", **labels) == 1
        # The worker serving two queues cannot say which one its failure belongs to.
        assert value(ms, "llm_queue_failed_total", queue="shared", **labels) == 0
        assert value(ms, "llm_queue_dead_messages", queue="shared", **labels) == 1
    finally:
        for w in (solo, multi):
            w.send_signal(signal.SIGTERM)
            w.wait(30)
    # A dead worker's hash expires (RQ gives it a TTL): expire it now. The totals must not go back.
    wait_for(
        lambda: value(scrape(collector), "llm_queue_consumers", queue="counted", **labels) == 0,
        30,
        what="the worker to deregister",
    )
    dead = conn.keys("rq:worker:*")
    assert dead and all(conn.ttl(k) > 0 for k in dead), "RQ lets dead workers' hashes expire"
    conn.delete(*dead)
    ms = scrape(collector)
    assert value(ms, "llm_queue_completed_total", queue="counted", **labels) == 3
    assert value(ms, "llm_queue_failed_total", queue="counted", **labels) == 2


def test_rq_outcomes_runtime_and_live_workers(redis_srv: RedisServer) -> None:
    """Tasks by outcome and the runtime sum come from the worker's own counters; workers alive from its hash."""
    from rq import Queue

    sys.path.insert(0, str(HERE))
    import queue_jobs

    conn = redis.Redis.from_url(redis_srv.url)
    collector = RedisQueueCollector(
        target(f"name: agents\nbackend: redis\nurl: {redis_srv.url}\nqueues:\n  - {{name: naps, kind: rq}}\n")
    )
    q = {"backend": "rq", "target": "agents", "queue": "naps", "group": ""}
    naps = Queue("naps", connection=conn)
    jobs = [naps.enqueue(queue_jobs.nap, 0.3) for _ in range(3)] + [naps.enqueue(queue_jobs.boom)]
    worker = start_worker(redis_srv.url, "naps")
    try:
        wait_for(lambda: all(j.get_status(refresh=True) in ("finished", "failed") for j in jobs), 60, what="RQ jobs")
        ms = scrape(collector)
        assert value(ms, "llm_queue_tasks_total", task="", outcome="succeeded", **q) == 3
        assert value(ms, "llm_queue_tasks_total", task="", outcome="failed", **q) == 1
        runtime = ms.get("llm_queue_task_runtime_seconds", {**q, "task": ""})
        assert isinstance(runtime, Histogram) and runtime.count == 4
        assert 0.9 <= runtime.sum <= 0.9 + 4 * 1.0  # the naps, plus at most 1 s of overhead per job
        assert value(ms, "llm_queue_workers", **q) == 1 and value(ms, "llm_queue_consumers", **q) == 1
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    # A killed worker stays in rq:workers:<q> until its hash expires (RQ's TTL); then it is gone.
    members = conn.smembers("rq:workers:naps")
    assert len(members) == 1
    ms = scrape(collector)
    assert value(ms, "llm_queue_workers", **q) == 1
    conn.delete(*members)  # what the TTL does
    ms = scrape(collector)
    assert value(ms, "llm_queue_workers", **q) == 0 and value(ms, "llm_queue_consumers", **q) == 0
    # ... and the totals it leaves behind stay (monotonic).
    assert value(ms, "llm_queue_tasks_total", task="", outcome="succeeded", **q) == 3
    runtime = ms.get("llm_queue_task_runtime_seconds", {**q, "task": ""})
    assert isinstance(runtime, Histogram) and runtime.count == 4 and runtime.sum >= 0.9
