"""Celery app and tasks for the task-event tests (imported by real worker processes).

The broker comes from ``CELERY_BROKER``. Producers send ``task-sent`` events; each task
sleeps a known time so the exported runtime and wait histograms can be checked.
"""

from __future__ import annotations

import os
import time

from celery import Celery

app = Celery("agents", broker=os.environ.get("CELERY_BROKER", "redis://127.0.0.1:6379/0"))
app.conf.task_send_sent_event = True
app.conf.worker_send_task_events = os.environ.get("CELERY_TEST_EVENTS", "1") == "1"
app.conf.broker_connection_retry_on_startup = True
app.conf.task_default_queue = "agents"
app.conf.worker_prefetch_multiplier = 1


@app.task(name="agents.plan")
def plan(seconds: float) -> str:
    time.sleep(seconds)
    return "ok"


@app.task(name="agents.broken")
def broken(seconds: float) -> None:
    time.sleep(seconds)
    raise RuntimeError("fails on purpose")


@app.task(name="agents.flaky", bind=True, max_retries=3)
def flaky(self, seconds: float) -> str:  # type: ignore[no-untyped-def]
    """Sleeps, then asks for one retry (countdown 0); the second attempt succeeds."""
    time.sleep(seconds)
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "ok"
