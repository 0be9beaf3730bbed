"""Redis queues against a real redis-server: Celery (priorities, unacked), RQ, lists, streams."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from brokers import RedisServer, redis_server
from llm_exporter.collectors.queues import RedisQueueCollector, build
from llm_exporter.config import load_config_text
from qhelp import queues, scrape, target, up
from support import wait_for
from values import value

HERE = Path(__file__).resolve().parent
SKEW = 100.0  # the collector's clock runs this far ahead, so ages are >= SKEW and checkable


def ahead() -> float:
    return time.time() + SKEW


def plausible_age(age: float | None) -> bool:
    """An age measured with the clock SKEW seconds ahead: SKEW plus the test's own runtime."""
    return age is not None and SKEW <= age < SKEW + 120


def redis_target(url: str, body: str, name: str = "agents") -> RedisQueueCollector:
    cfg = target(f"name: {name}\nbackend: redis\nurl: {url}\n{body}")
    return RedisQueueCollector(cfg, clock=ahead)


# --- Celery -----------------------------------------------------------------------------------


def celery_app(url: str):
    from celery import Celery

    app = Celery("agents", broker=url)
    app.conf.broker_connection_retry_on_startup = False

    @app.task(name="agents.plan")
    def plan(x: int) -> int:
        return x

    return app, plan


def test_celery_priority_lists_are_summed_and_unacked_is_in_flight(redis_srv: RedisServer) -> None:
    app, plan = celery_app(redis_srv.url)
    for prio, n in ((0, 3), (5, 2), (9, 1)):
        for i in range(n):
            plan.apply_async(args=(i,), queue="planner", priority=prio)
    plan.apply_async(args=(1,), queue="tools")
    plan.apply_async(args=(2,), queue="tools", countdown=3600)  # ETA task: a worker holds it unacked
    r = redis.Redis.from_url(redis_srv.url)
    sep = "\x06\x16"
    assert r.llen("planner") == 3 and r.llen(f"planner{sep}3") == 2 and r.llen(f"planner{sep}9") == 1

    # A consumer (what a Celery worker does): fetch without ack -> kombu's unacked hash.
    conn = app.connection_for_read()
    try:
        ch = conn.default_channel
        got = [ch.basic_get("planner", no_ack=False) for _ in range(2)]
        got += [ch.basic_get("tools", no_ack=False) for _ in range(2)]
        assert all(m is not None for m in got)
        assert r.hlen("unacked") == 4

        c = redis_target(
            redis_srv.url,
            """
queues:
  - {name: planner, kind: celery, agent: planner}
  - {name: tools, kind: celery, agent: tool-runner}
  - {name: idle, kind: celery}
""",
        )
        ms = scrape(c)
        assert up(ms, "agents") == 1
        q = {"backend": "celery", "target": "agents"}
        assert value(ms, "llm_queue_ready_messages", queue="planner", **q) == 4  # 6 queued, 2 fetched
        assert value(ms, "llm_queue_inflight_messages", queue="planner", **q) == 2
        assert value(ms, "llm_queue_delayed_messages", queue="planner", **q) == 0
        assert plausible_age(value(ms, "llm_queue_oldest_inflight_age_seconds", queue="planner", **q))
        assert value(ms, "llm_queue_ready_messages", queue="tools", **q) == 0
        assert value(ms, "llm_queue_inflight_messages", queue="tools", **q) == 1
        assert value(ms, "llm_queue_delayed_messages", queue="tools", **q) == 1  # the countdown task
        # Celery messages carry no enqueue time: unknowable while not empty, 0 when empty.
        assert value(ms, "llm_queue_oldest_ready_age_seconds", queue="planner", **q) is None
        assert value(ms, "llm_queue_oldest_ready_age_seconds", queue="tools", **q) == 0
        # A configured queue that has never seen a message is known and empty.
        assert value(ms, "llm_queue_ready_messages", queue="idle", **q) == 0
        assert value(ms, "llm_queue_inflight_messages", queue="idle", **q) == 0
        # Consumers and dead letters are not visible in Redis for Celery: absent, never 0.
        assert value(ms, "llm_queue_consumers", queue="planner", **q) is None
        assert value(ms, "llm_queue_dead_messages", queue="planner", **q) is None
        info = [dict(k) for k in ms.series("llm_queue_info")]
        assert {
            "backend": "celery",
            "target": "agents",
            "queue": "planner",
            "group": "",
            "agent": "planner",
            "kind": "list",
        } in info
        assert value(ms, "llm_queue_info", queue="tools", agent="tool-runner") == 1

        # Ack one planner message: in-flight drops by one.
        ch.basic_ack(got[0].delivery_tag)
        ms = scrape(c)
        assert value(ms, "llm_queue_inflight_messages", queue="planner", **q) == 1
    finally:
        conn.close()


def test_celery_queues_discovered_from_kombu_bindings(redis_srv: RedisServer) -> None:
    _app, plan = celery_app(redis_srv.url)
    plan.apply_async(args=(1,), queue="research", priority=9)
    plan.apply_async(args=(1,), queue="research")
    plan.apply_async(args=(1,), queue="writer")
    c = redis_target(redis_srv.url, "discover: true")
    ms = scrape(c)
    assert queues(ms, "celery") == {("research", ""), ("writer", "")}
    assert value(ms, "llm_queue_ready_messages", backend="celery", queue="research") == 2
    assert value(ms, "llm_queue_ready_messages", backend="celery", queue="writer") == 1


# --- RQ ---------------------------------------------------------------------------------------


def test_rq_ready_started_failed_scheduled_deferred_and_workers(redis_srv: RedisServer, tmp_path: Path) -> None:
    from rq import Queue, SimpleWorker

    sys.path.insert(0, str(HERE))
    import queue_jobs

    conn = redis.Redis.from_url(redis_srv.url)
    q = Queue("research", connection=conn)
    q.enqueue(queue_jobs.boom)
    q.enqueue(queue_jobs.boom)
    SimpleWorker([q], connection=conn).work(burst=True)  # two real failures
    first = q.enqueue(queue_jobs.add, 1, 2)
    q.enqueue(queue_jobs.add, 3, 4)
    q.enqueue(queue_jobs.add, 5, 6)
    q.enqueue(queue_jobs.add, 7, 8, depends_on=first)  # deferred until `first` finishes
    q.enqueue_in(timedelta(hours=1), queue_jobs.add, 9, 10)  # scheduled

    # A real worker process runs one job that blocks: started registry + worker registration.
    busy = Queue("busy", connection=conn)
    release = tmp_path / "release"
    busy.enqueue(queue_jobs.wait_for_file, str(release))
    busy.enqueue(queue_jobs.add, 1, 1)
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, redis; from rq import Queue, SimpleWorker; c = redis.Redis.from_url(sys.argv[1]);"
            "SimpleWorker([Queue('busy', connection=c)], connection=c).work(burst=True)",
            redis_srv.url,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: conn.zcard("rq:wip:busy") == 1, timeout=60, what="the RQ job to start")
        c = redis_target(
            redis_srv.url,
            """
discover: true
queues:
  - {name: research, kind: rq, agent: researcher}
""",
        )
        ms = scrape(c)
        assert up(ms, "agents") == 1
        rq = {"backend": "rq", "target": "agents", "group": ""}
        assert value(ms, "llm_queue_ready_messages", queue="research", **rq) == 3
        assert value(ms, "llm_queue_inflight_messages", queue="research", **rq) == 0
        assert value(ms, "llm_queue_delayed_messages", queue="research", **rq) == 2  # 1 deferred + 1 scheduled
        assert value(ms, "llm_queue_dead_messages", queue="research", **rq) == 2
        assert value(ms, "llm_queue_consumers", queue="research", **rq) == 0
        assert plausible_age(value(ms, "llm_queue_oldest_ready_age_seconds", queue="research", **rq))
        assert value(ms, "llm_queue_oldest_inflight_age_seconds", queue="research", **rq) == 0
        assert value(ms, "llm_queue_info", queue="research", agent="researcher", kind="list") == 1
        # Discovered from rq:queues:
        assert value(ms, "llm_queue_ready_messages", queue="busy", **rq) == 1
        assert value(ms, "llm_queue_inflight_messages", queue="busy", **rq) == 1
        assert value(ms, "llm_queue_consumers", queue="busy", **rq) == 1
        assert plausible_age(value(ms, "llm_queue_oldest_inflight_age_seconds", queue="busy", **rq))
    finally:
        release.write_text("go")
        worker.wait(60)
    ms = scrape(c)
    assert value(ms, "llm_queue_ready_messages", queue="busy", **rq) == 0
    assert value(ms, "llm_queue_inflight_messages", queue="busy", **rq) == 0
    assert value(ms, "llm_queue_oldest_ready_age_seconds", queue="busy", **rq) == 0


# --- plain lists and streams ------------------------------------------------------------------


def test_plain_list(redis_srv: RedisServer) -> None:
    r = redis.Redis.from_url(redis_srv.url)
    r.rpush("jobs:summarise", "a", "b", "c")
    c = redis_target(
        redis_srv.url,
        "queues:\n  - {name: 'jobs:summarise', kind: list, agent: summariser}\n  - {name: 'jobs:none', kind: list}",
    )
    ms = scrape(c)
    assert value(ms, "llm_queue_ready_messages", backend="redis_list", queue="jobs:summarise") == 3
    assert value(ms, "llm_queue_oldest_ready_age_seconds", backend="redis_list", queue="jobs:summarise") is None
    assert value(ms, "llm_queue_ready_messages", backend="redis_list", queue="jobs:none") == 0
    assert value(ms, "llm_queue_oldest_ready_age_seconds", backend="redis_list", queue="jobs:none") == 0


def test_stream_groups_lag_pending_consumers_and_ages(redis_srv: RedisServer) -> None:
    r = redis.Redis.from_url(redis_srv.url, decode_responses=True)
    ids = [r.xadd("tool-calls", {"n": str(i)}) for i in range(6)]
    r.xgroup_create("tool-calls", "workers", id="0")
    r.xreadgroup("workers", "c1", {"tool-calls": ">"}, count=2)  # read, never acked
    got = r.xreadgroup("workers", "c2", {"tool-calls": ">"}, count=1)
    r.xack("tool-calls", "workers", got[0][1][0][0])  # read and acked
    r.xgroup_create("tool-calls", "audit", id="$")  # caught up
    r.xgroup_create("tool-calls", "replay", id="0")
    # A tombstone behind the workers' cursor but ahead of the replay group's: Redis cannot
    # compute the replay group's lag (NULL) and still can for the workers.
    r.xdel("tool-calls", ids[1])
    c = redis_target(
        redis_srv.url,
        """
queues:
  - {name: tool-calls, kind: stream, group: workers, agent: tools}
  - {name: tool-calls, kind: stream, group: audit, agent: auditor}
  - {name: tool-calls, kind: stream, group: replay}
  - {name: no-such-stream, kind: stream, group: workers}
""",
    )
    ms = scrape(c)
    assert up(ms, "agents") == 1
    s = {"backend": "redis_stream", "target": "agents", "queue": "tool-calls"}
    # 6 added; workers delivered 3 (ids 0-2): lag = entries after id 2 = 3.
    assert value(ms, "llm_queue_ready_messages", group="workers", **s) == 3
    assert value(ms, "llm_queue_inflight_messages", group="workers", **s) == 2
    assert value(ms, "llm_queue_consumers", group="workers", **s) == 2
    assert value(ms, "llm_queue_enqueued_total", group="workers", **s) == 6
    ready_age = value(ms, "llm_queue_oldest_ready_age_seconds", group="workers", **s)
    first_undelivered = int(ids[3].split("-")[0]) / 1000.0
    assert ready_age == pytest.approx(ahead() - first_undelivered, abs=60)
    assert plausible_age(ready_age)
    inflight_age = value(ms, "llm_queue_oldest_inflight_age_seconds", group="workers", **s)
    assert inflight_age is not None and 0 <= inflight_age < 120  # XPENDING idle time, server clock
    assert value(ms, "llm_queue_ready_messages", group="audit", **s) == 0
    assert value(ms, "llm_queue_oldest_ready_age_seconds", group="audit", **s) == 0
    assert value(ms, "llm_queue_inflight_messages", group="audit", **s) == 0
    assert value(ms, "llm_queue_consumers", group="audit", **s) == 0
    # NULL lag: absent, never 0; the ready age is still known from the entry IDs.
    assert value(ms, "llm_queue_ready_messages", group="replay", **s) is None
    assert value(ms, "llm_queue_info", group="replay", **s) == 1
    assert plausible_age(value(ms, "llm_queue_oldest_ready_age_seconds", group="replay", **s))
    assert value(ms, "llm_queue_info", group="workers", agent="tools", kind="stream", **s) == 1
    # A stream key that does not exist is an empty stream.
    assert value(ms, "llm_queue_ready_messages", backend="redis_stream", queue="no-such-stream") == 0


# --- bad input ----------------------------------------------------------------------------------


def test_wrong_type_key_skips_only_that_queue(redis_srv: RedisServer) -> None:
    r = redis.Redis.from_url(redis_srv.url)
    r.set("broken", "not a list")
    r.sadd("broken-celery\x06\x163", "a set where a priority list should be")
    r.hset("rq:queue:weird", "a", "b")
    r.set("tool-calls", "x")
    r.rpush("good", "1", "2")
    c = redis_target(
        redis_srv.url,
        """
queues:
  - {name: broken, kind: list}
  - {name: weird, kind: rq}
  - {name: broken-celery, kind: celery}
  - {name: tool-calls, kind: stream, group: g}
  - {name: good, kind: list}
""",
    )
    ms = scrape(c)
    assert up(ms, "agents") == 1
    assert value(ms, "llm_queue_ready_messages", queue="good") == 2
    assert queues(ms) == {("good", "")}
    assert value(ms, "llm_scrape_collector_success", collector="queue") == 1


def test_queue_deleted_between_discovery_and_read(redis_srv: RedisServer) -> None:
    from rq import Queue

    sys.path.insert(0, str(HERE))
    import queue_jobs

    conn = redis.Redis.from_url(redis_srv.url)
    q = Queue("short-lived", connection=conn)
    q.enqueue(queue_jobs.add, 1, 2)
    Queue("stays", connection=conn).enqueue(queue_jobs.add, 1, 2)
    c = redis_target(redis_srv.url, "discover: true\ndiscovery_interval: 1h")
    ms = scrape(c)
    assert value(ms, "llm_queue_ready_messages", queue="short-lived") == 1
    q.delete(delete_jobs=True)  # gone, but discovery still lists it until its next refresh
    ms = scrape(c)
    assert up(ms, "agents") == 1
    assert value(ms, "llm_queue_ready_messages", queue="short-lived") == 0
    assert value(ms, "llm_queue_ready_messages", queue="stays") == 1


def test_broker_down_other_targets_served_and_recovery(tmp_path: Path) -> None:
    with redis_server(tmp_path / "a") as a, redis_server(tmp_path / "b") as b:
        redis.Redis.from_url(a.url).rpush("work", "x")
        redis.Redis.from_url(b.url).rpush("work", "x", "y")
        cfg = load_config_text(f"""
queues:
  - {{name: a, backend: redis, url: "{a.url}", timeout: 2s, queues: [{{name: work, kind: list}}]}}
  - {{name: b, backend: redis, url: "{b.url}", timeout: 2s, queues: [{{name: work, kind: list}}]}}
""")
        ca, cb = build(cfg)
        ms = scrape(ca, cb)
        assert (up(ms, "a"), up(ms, "b")) == (1, 1)
        a.stop()
        ms = scrape(ca, cb)
        assert up(ms, "a") == 0
        assert value(ms, "llm_queue_ready_messages", target="a") is None
        assert up(ms, "b") == 1
        assert value(ms, "llm_queue_ready_messages", target="b") == 2
        a.start()  # data is gone (no persistence), the queue is known and empty
        ms = scrape(ca, cb)
        assert up(ms, "a") == 1
        assert value(ms, "llm_queue_ready_messages", target="a") == 0


def test_wrong_or_missing_password_marks_target_down(tmp_path: Path) -> None:
    with redis_server(tmp_path, password="s3cret") as srv:
        good = redis_target(srv.url, "queues: [{name: q, kind: list}]", name="good")
        bad = redis_target(srv.url_without_password, "password: wrong\nqueues: [{name: q, kind: list}]", name="bad")
        none = redis_target(srv.url_without_password, "queues: [{name: q, kind: list}]", name="none")
        ms = scrape(good, bad, none)
        assert up(ms, "good") == 1
        assert up(ms, "bad") == 0
        assert up(ms, "none") == 0
        assert value(ms, "llm_queue_ready_messages", target="good") == 0


def test_password_file(tmp_path: Path) -> None:
    with redis_server(tmp_path, password="from-file") as srv:
        (tmp_path / "pw").write_text("from-file\n")
        cfg = load_config_text(f"""
queues:
  - name: agents
    backend: redis
    url: {srv.url_without_password}
    password_file: {tmp_path / "pw"}
    queues: [{{name: q, kind: list}}]
""")
        ms = scrape(*build(cfg))
        assert up(ms, "agents") == 1


def test_max_queues_guard_counts_overflow(redis_srv: RedisServer) -> None:
    from rq import Queue

    sys.path.insert(0, str(HERE))
    import queue_jobs

    conn = redis.Redis.from_url(redis_srv.url)
    for i in range(5):
        Queue(f"q{i}", connection=conn).enqueue(queue_jobs.add, i, i)
    c = redis_target(redis_srv.url, "discover: true\nmax_queues: 3\nqueues: [{name: q4, kind: rq}]")
    ms = scrape(c)
    assert len(queues(ms, "rq")) == 3
    assert ("q4", "") in queues(ms, "rq")  # configured queues are kept first
    assert value(ms, "llm_queue_dropped_queues", backend="rq", target="agents") == 2
    assert value(ms, "llm_queue_dropped_queues", backend="celery", target="agents") == 0


def test_one_round_trip_per_scrape_after_discovery(redis_srv: RedisServer) -> None:
    counted: list[int] = []

    class Counting(redis.Connection):
        def send_packed_command(self, command, check_health=True):  # type: ignore[no-untyped-def]
            counted.append(1)
            return super().send_packed_command(command, check_health)

    r = redis.Redis.from_url(redis_srv.url)
    r.rpush("rq:queue:a", "x")
    r.sadd("rq:queues", "rq:queue:a")
    r.xadd("s", {"a": "1"})
    r.xgroup_create("s", "g", id="0")
    cfg = target(
        f"name: t\nbackend: redis\nurl: {redis_srv.url}\ndiscover: true\n"
        "queues: [{name: c, kind: celery}, {name: s, kind: stream}, {name: l, kind: list}]"
    )
    c = RedisQueueCollector(cfg, connection_class=Counting)
    scrape(c)  # connect + discovery
    for _ in range(3):
        counted.clear()
        ms = scrape(c)
        assert up(ms, "t") == 1
        assert len(counted) == 1
    assert value(ms, "llm_queue_ready_messages", backend="rq", queue="a") == 1
    assert value(ms, "llm_queue_ready_messages", backend="redis_stream", queue="s", group="g") == 1
