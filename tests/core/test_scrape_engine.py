"""The scrape engine: isolation, deadlines, single flight, minimum interval, logging."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import pytest
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import Deadline, ScrapeEngine, TargetDown


@dataclass
class Fake:
    """A collector whose behaviour each test chooses."""

    name: str
    target: str | None = None
    behaviour: str = "ok"
    release: threading.Event = field(default_factory=threading.Event)
    calls: int = 0
    key: str = ""

    def __post_init__(self) -> None:
        self.key = self.key or f"{self.name}/{self.target}"

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        self.calls += 1
        if self.behaviour == "raise":
            raise RuntimeError("boom")
        if self.behaviour == "down":
            raise TargetDown("connection refused")
        if self.behaviour == "block":
            self.release.wait(30)
        out.add("llm_requests_running", 3, {"target": self.target or "x", "model": "m"})


def value(ms: MetricSet, name: str, **labels: str) -> float:
    v = ms.get(name, labels)
    assert isinstance(v, float), (name, labels, v)
    return v


def test_failing_collector_does_not_hide_others(caplog: pytest.LogCaptureFixture) -> None:
    good, bad = Fake("inference", "a"), Fake("queue", "q", behaviour="raise")
    engine = ScrapeEngine([good, bad], min_interval=0)
    with caplog.at_level(logging.ERROR):
        ms = engine.scrape(5)
    assert value(ms, "llm_requests_running", target="a", model="m") == 3
    assert value(ms, "llm_scrape_collector_success", collector="inference") == 1
    assert value(ms, "llm_scrape_collector_success", collector="queue") == 0
    assert value(ms, "llm_target_up", target="a") == 1
    assert value(ms, "llm_target_up", target="q") == 0
    assert "RuntimeError: boom" in caplog.text


def test_target_down_keeps_collector_successful_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    down = Fake("inference", "a", behaviour="down")
    engine = ScrapeEngine([down], min_interval=0)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            ms = engine.scrape(5)
    assert value(ms, "llm_target_up", target="a") == 0
    assert value(ms, "llm_scrape_collector_success", collector="inference") == 1
    assert not ms.has("llm_requests_running")
    assert caplog.text.count("connection refused") == 1
    down.behaviour = "ok"
    with caplog.at_level(logging.INFO):
        ms = engine.scrape(5)
    assert value(ms, "llm_target_up", target="a") == 1
    assert "recovered" in caplog.text


def test_deadline_abandons_stuck_collector_without_piling_up() -> None:
    stuck, fine = Fake("gpu", behaviour="block"), Fake("inference", "a")
    engine = ScrapeEngine([stuck, fine], min_interval=0)
    ms = engine.scrape(0.2)
    assert value(ms, "llm_scrape_collector_success", collector="gpu") == 0
    assert value(ms, "llm_requests_running", target="a", model="m") == 3
    assert value(ms, "llm_scrape_collector_duration_seconds", collector="gpu") >= 0.2
    engine.scrape(0.2)
    assert stuck.calls == 2, "a read past its deadline is abandoned: the next scrape reads afresh"
    engine.scrape(0.2)
    engine.scrape(0.2)
    assert stuck.calls == 2, "at most one abandoned read per collector: stuck reads never pile up"
    stuck.release.set()
    for _ in range(100):
        ms = engine.scrape(1)
        if ms.get("llm_scrape_collector_success", {"collector": "gpu"}) == 1:
            break
        time.sleep(0.02)
    assert value(ms, "llm_scrape_collector_success", collector="gpu") == 1


def test_concurrent_scrapes_share_one_read() -> None:
    slow = Fake("inference", "a", behaviour="block")
    engine = ScrapeEngine([slow], min_interval=0)
    results: list[MetricSet] = []
    threads = [threading.Thread(target=lambda: results.append(engine.scrape(10))) for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    slow.release.set()
    for t in threads:
        t.join()
    assert slow.calls == 1
    assert all(value(r, "llm_target_up", target="a") == 1 for r in results)


def test_min_interval_serves_recent_result() -> None:
    now = [100.0]
    c = Fake("inference", "a")
    engine = ScrapeEngine([c], min_interval=1.0, clock=lambda: now[0])
    engine.scrape(5)
    engine.scrape(5)
    assert c.calls == 1
    now[0] += 1.5
    engine.scrape(5)
    assert c.calls == 2


def test_success_is_and_of_all_tasks_of_a_collector() -> None:
    engine = ScrapeEngine([Fake("queue", "a"), Fake("queue", "b", behaviour="raise")], min_interval=0)
    ms = engine.scrape(5)
    assert value(ms, "llm_scrape_collector_success", collector="queue") == 0
    assert value(ms, "llm_target_up", target="a") == 1


def test_deadline_helpers() -> None:
    d = Deadline(10)
    assert 0 < d.timeout(2) <= 2
    assert Deadline(0).expired()
    assert Deadline(0).timeout() == pytest.approx(0.001)


def test_collector_failed_keeps_its_health_series() -> None:
    from llm_exporter.scrape import CollectorFailed

    class NvmlDown:
        name, key, target = "gpu", "gpu", None

        def collect(self, out: MetricSet, deadline: Deadline) -> None:
            out.add("llm_gpu_nvml_up", 0)
            raise CollectorFailed("NVML did not initialise")

    ms = ScrapeEngine([NvmlDown()], min_interval=0).scrape(5)
    assert value(ms, "llm_gpu_nvml_up") == 0
    assert value(ms, "llm_scrape_collector_success", collector="gpu") == 0


def test_slow_target_is_the_targets_problem_not_the_collectors(caplog: pytest.LogCaptureFixture) -> None:
    """A target that misses the deadline: llm_target_up 0, its collector still successful, one log line."""
    slow, fine = Fake("inference", "slow", behaviour="block"), Fake("inference", "fine")
    engine = ScrapeEngine([slow, fine], min_interval=0)
    with caplog.at_level(logging.INFO, logger="llm_exporter.scrape"):
        for _ in range(4):
            ms = engine.scrape(0.1)
            assert value(ms, "llm_target_up", target="slow") == 0
            assert value(ms, "llm_target_up", target="fine") == 1
            assert value(ms, "llm_scrape_collector_success", collector="inference") == 1
    slow.release.set()
    assert [r.getMessage() for r in caplog.records] == ["target slow is down: deadline of 0.1s exceeded"]
