"""TaskEventState on hand-made Celery event dicts: ordering quirks, bounds, liveness, bad input."""

from __future__ import annotations

import pytest
from llm_exporter.collectors.queues.celery_events import TaskEventState
from llm_exporter.config import ConfigError
from qhelp import target


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def ev(kind: str, uuid: str = "", ts: float = 1_000.0, **fields: object) -> dict[str, object]:
    return {"type": kind, "uuid": uuid, "timestamp": ts, **fields}


def test_retry_sent_before_the_attempt_events_keeps_both_waits() -> None:
    """The worker buffers task events, so a retry's task-sent overtakes its own attempt's events."""
    s = TaskEventState(["q"], clock=Clock())
    s.on_event(ev("task-sent", "a", 100.0, name="t", queue="q"))
    s.on_event(ev("task-sent", "a", 104.0, name="t", queue="q"))  # the retry, published at 104
    s.on_event(ev("task-received", "a", 101.0, name="t", hostname="w"))
    s.on_event(ev("task-started", "a", 102.0))  # waited 2 s
    s.on_event(ev("task-retried", "a", 104.0))
    s.on_event(ev("task-received", "a", 105.0, name="t", hostname="w"))
    s.on_event(ev("task-started", "a", 109.0))  # waited 5 s since the retry was sent
    s.on_event(ev("task-succeeded", "a", 110.0, runtime=0.5))
    snap = s.snapshot()
    assert snap.outcomes == {("q", "t", "retried"): 1, ("q", "t", "succeeded"): 1}
    assert snap.stages[("q", "t", "sent")] == 2 and snap.stages[("q", "t", "started")] == 2
    assert snap.wait[("q", "t")][1] == pytest.approx(7.0)
    assert snap.runtime[("q", "t")][1] == pytest.approx(2.0 + 0.5)  # retried attempt 102->104, then runtime
    assert snap.tracked == 0


def test_eta_wait_counts_from_the_eta_and_future_etas_are_not_waiting() -> None:
    clock = Clock()
    s = TaskEventState(clock=clock)
    s.on_event(ev("task-sent", "a", 900.0, name="t", queue="q"))
    s.on_event(ev("task-received", "a", 901.0, name="t", eta="1970-01-01T00:16:50+00:00"))  # 1010
    s.on_event(ev("worker-online", hostname="w", freq=2.0))
    s.on_event(ev("task-sent", "b", 950.0, name="t", queue="q"))
    snap = s.snapshot()
    assert snap.oldest_waiting == {"q": 50.0}  # b; a is delayed until 1010
    s.on_event(ev("task-started", "a", 1012.0))
    assert s.snapshot().wait[("t" and "q", "t")][1] == pytest.approx(2.0)


def test_inflight_is_bounded_and_forgotten_tasks_counted() -> None:
    s = TaskEventState(max_inflight=100, clock=Clock())
    for i in range(1_000):
        s.on_event(ev("task-sent", f"u{i}", name="t", queue="q"))
    snap = s.snapshot()
    assert snap.tracked == 100 and snap.forgotten == 900
    # A forgotten task that finishes is still counted (name unknown: "other").
    s.on_event(ev("task-succeeded", "u0", runtime=1.0))
    assert s.snapshot().outcomes[("celery", "other", "succeeded")] == 1


def test_workers_expire_after_two_heartbeats_and_offline_at_once() -> None:
    clock = Clock()
    s = TaskEventState(["q"], clock=clock)
    s.on_event(ev("worker-online", hostname="w1", freq=1.0))
    s.on_event(ev("worker-heartbeat", hostname="w2", freq=5.0))
    assert s.take_new_workers() == ["w1", "w2"]
    s.set_worker_queues("w1", ["q"])
    s.set_worker_queues("w2", ["q", "r"])
    assert s.snapshot().workers == {"q": 2, "r": 1}
    clock.now += 2.5  # > 2 x 1 s for w1, < 2 x 5 s for w2
    assert s.snapshot().workers == {"q": 1, "r": 1}
    s.on_event(ev("worker-offline", hostname="w2"))
    assert s.snapshot().workers == {"q": 0, "r": 0}


def test_garbage_events_are_ignored() -> None:
    s = TaskEventState(clock=Clock())
    for bad in (
        {},
        {"type": 3},
        {"type": "task-sent"},
        {"type": "task-started", "uuid": 5},
        {"type": "worker-heartbeat"},
    ):
        s.on_event(bad)  # type: ignore[arg-type]
    s.on_event(ev("task-succeeded", "x", runtime="fast"))
    s.on_event(ev("task-received", "y", eta="not a date", name=["no"]))
    snap = s.snapshot()
    assert snap.outcomes == {("celery", "other", "succeeded"): 1}
    assert snap.runtime == {} and snap.events == 5  # the two without a string type are not events


def test_config_rules() -> None:
    with pytest.raises(ConfigError, match="broker_url"):
        target("name: r\nbackend: rabbitmq\nurl: http://127.0.0.1:1\ncelery_events: {}\n")
    with pytest.raises(ConfigError, match="Celery has no NATS"):
        target("name: n\nbackend: nats\nurl: http://127.0.0.1:1\ncelery_events: {}\n")
    with pytest.raises(ConfigError, match=r"celery_events.max_tasks.*line"):
        target("name: r\nbackend: redis\nurl: redis://127.0.0.1:1\ncelery_events:\n  max_tasks: 0\n")
    with pytest.raises(ConfigError, match="broker_url"):
        target("name: r\nbackend: redis\nurl: redis://127.0.0.1:1\ncelery_events:\n  broker_url: http://x\n")


def test_without_the_celery_package_the_target_still_works(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    """celery is an optional extra: a missing package is one clear error, the queue rows stay."""
    import importlib.util

    from llm_exporter.collectors.queues.celery_receiver import CeleryEvents
    from llm_exporter.metricset import MetricSet

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "celery" else real(name, *a))
    events = CeleryEvents(target("name: r\nbackend: redis\nurl: redis://127.0.0.1:1\ncelery_events: {}\n"))
    for _ in range(3):
        out = MetricSet()
        events.collect(out, [])
    assert events._thread is None
    assert out.get("llm_queue_events_connected", {"backend": "celery", "target": "r"}) == 0
    assert [r.getMessage() for r in caplog.records].count(
        "queue target r: celery_events needs the celery package (pip install 'llm-exporter[celery]'); no task events are read"
    ) == 1


def test_a_late_broker_read_still_serves_the_event_counters() -> None:
    """fallback(): while a read misses the deadline, the counters the receiver keeps are served."""
    from llm_exporter.collectors.queues import RedisQueueCollector
    from llm_exporter.metricset import MetricSet

    c = RedisQueueCollector(target("name: r\nbackend: redis\nurl: redis://127.0.0.1:1\ncelery_events: {}\n"))
    try:
        assert c._events is not None
        c._events.state.on_event(ev("task-sent", "a", name="t", queue="q"))
        c._events.state.on_event(ev("task-succeeded", "a", runtime=1.0))
        out = MetricSet()
        c.fallback(out)
        labels = {"backend": "celery", "target": "r", "queue": "q", "group": "", "task": "t"}
        assert out.get("llm_queue_tasks_total", {**labels, "outcome": "succeeded"}) == 1
    finally:
        c.close()
