"""Agent-task feeds of the live bundle test: a real Celery worker (task events on) and an RQ worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import redis

QUEUE_TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "queues")
RQ_WORKER = (
    "import sys, redis; from rq import Queue, SimpleWorker; c = redis.Redis.from_url(sys.argv[1]);"
    "SimpleWorker([Queue('research', connection=c)], connection=c).work()"
)


@contextlib.contextmanager
def agent_workers(url: str, log_dir: Any) -> Iterator[None]:
    """A Celery worker (events on, queue ``agents``) and an RQ worker (queue ``research``), with tasks.

    Celery tasks: 3 succeed, 1 fails, 1 retries once then succeeds; RQ jobs: 2 finish, 1 fails.
    Started once the exporter's event receiver listens (Celery events are not stored).
    """
    env = {**os.environ, "PYTHONPATH": QUEUE_TESTS, "CELERY_BROKER": url}
    celery_argv = [sys.executable, "-m", "celery", "-A", "celery_tasks", "worker", "-P", "solo", "-Q", "agents"]
    celery_argv += [
        "-n",
        "live@test",
        "--heartbeat-interval",
        "1",
        "--without-mingle",
        "--without-gossip",
        "-l",
        "warning",
    ]
    procs = []
    with open(log_dir / "agent-workers.log", "ab") as log:
        procs.append(subprocess.Popen(celery_argv, env=env, stdout=log, stderr=log, start_new_session=True))
        procs.append(subprocess.Popen([sys.executable, "-c", RQ_WORKER, url], env=env, stdout=log, stderr=log))
    try:
        sys.path.insert(0, QUEUE_TESTS)
        os.environ["CELERY_BROKER"] = url
        import celery_tasks
        import queue_jobs
        from rq import Queue

        for _ in range(3):
            celery_tasks.plan.delay(0)
        celery_tasks.broken.delay(0)
        celery_tasks.flaky.delay(0)
        research = Queue("research", connection=redis.Redis.from_url(url))
        for job in (queue_jobs.add, queue_jobs.add):
            research.enqueue(job, 1, 2)
        research.enqueue(queue_jobs.boom)
        yield
    finally:
        celery_worker, rq_worker = procs
        with contextlib.suppress(ProcessLookupError):
            os.killpg(celery_worker.pid, signal.SIGKILL)  # the solo worker and anything it forked
        rq_worker.kill()
        for p in procs:
            p.wait(30)
