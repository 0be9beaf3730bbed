"""The scrape engine: isolation, deadlines, single flight, minimum interval, logging."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from llm_exporter.collectors import build_collectors
from llm_exporter.collectors.base import BaseCollector
from llm_exporter.config import load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.scrape import CollectorFailed, Deadline, ScrapeEngine, TargetDown, close_collectors
from support import wait_for
from values import value


class Fake(BaseCollector[None]):
    """A collector whose behaviour each test chooses."""

    def __init__(self, name: str, target: str | None = None, behaviour: str = "ok") -> None:
        super().__init__(None, key=f"{name}/{target}", target=target)
        self.name = name
        self.behaviour = behaviour
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls = 0
        self.closed = False

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        self.calls += 1
        self.entered.set()
        if self.behaviour == "raise":
            raise RuntimeError("boom")
        if self.behaviour == "down":
            raise TargetDown("connection refused")
        if self.behaviour == "block":
            self.release.wait(30)
        out.add("llm_requests_running", 3, {"target": self.target or "x", "model": "m"})


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
    ms = wait_for(
        lambda: (m := engine.scrape(1)).get("llm_scrape_collector_success", {"collector": "gpu"}) == 1 and m,
        timeout=10,
        what="the released collector to succeed again",
    )
    assert isinstance(ms, MetricSet) and value(ms, "llm_scrape_collector_success", collector="gpu") == 1


def test_concurrent_scrapes_share_one_read() -> None:
    slow = Fake("inference", "a", behaviour="block")
    engine = ScrapeEngine([slow], min_interval=0)
    results: list[MetricSet] = []
    threads = [threading.Thread(target=lambda: results.append(engine.scrape(10))) for _ in range(5)]
    for t in threads:
        t.start()
    assert slow.entered.wait(10)
    wait_for(
        lambda: sum(t.is_alive() for t in threads) == 5 and engine._cells[slow.key].inflight is not None,
        timeout=10,
        what="all scrapes to wait on the one read",
    )
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
    class NvmlDown(BaseCollector[None]):
        name = "gpu"

        def __init__(self) -> None:
            super().__init__(None, key="gpu")

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


class StuckGpu(Fake):
    """Blocks in collect; serves a health gauge from memory when the engine gives up waiting."""

    def fallback(self, out: MetricSet) -> None:
        out.add("llm_gpu_nvml_up", 0)


def test_missed_deadline_serves_the_fallback_and_a_stuck_read_is_named() -> None:
    stuck = StuckGpu("gpu", behaviour="block")
    engine = ScrapeEngine([stuck], min_interval=0)
    first = engine.collect_one(stuck, 0.2)
    assert not first.ok and "deadline of 0.2s exceeded" in first.error
    assert value(first.metrics, "llm_gpu_nvml_up") == 0
    ms = engine.scrape(0.2)  # abandons the first read, starts a second one
    assert value(ms, "llm_gpu_nvml_up") == 0
    assert value(ms, "llm_scrape_collector_success", collector="gpu") == 0
    again = engine.collect_one(stuck, 0.2)  # one abandoned read still runs: join the second
    assert not again.ok and "still running" in again.error
    assert value(again.metrics, "llm_gpu_nvml_up") == 0
    assert stuck.calls == 2
    stuck.release.set()
    wait_for(lambda: engine.collect_one(stuck, 5).ok, timeout=10, what="the stuck reads to finish")
    calls = stuck.calls
    assert engine.collect_one(stuck, 5).ok and stuck.calls == calls + 1, "a finished read lets the next one start"


def test_a_raising_fallback_serves_nothing_and_fails_only_that_collector() -> None:
    class BadFallback(Fake):
        def fallback(self, out: MetricSet) -> None:
            out.add("llm_gpu_nvml_up", 0)
            raise RuntimeError("bug")

    stuck, fine = BadFallback("gpu", behaviour="block"), Fake("inference", "a")
    ms = ScrapeEngine([stuck, fine], min_interval=0).scrape(0.2)
    assert ms.get("llm_gpu_nvml_up", {}) is None
    assert value(ms, "llm_scrape_collector_success", collector="gpu") == 0
    assert value(ms, "llm_scrape_collector_success", collector="inference") == 1
    stuck.release.set()


def test_close_collectors_closes_every_one_even_when_one_raises(caplog: pytest.LogCaptureFixture) -> None:
    class Closing(Fake):
        def close(self) -> None:
            self.closed = True
            if self.behaviour == "raise":
                raise RuntimeError("close failed")

    cs = [Closing("queue", "a"), Closing("queue", "b", behaviour="raise"), Closing("queue", "c")]
    with caplog.at_level(logging.WARNING):
        close_collectors(cs)
    assert [c.closed for c in cs] == [True, True, True]
    assert "closing collector queue/b: RuntimeError: close failed" in caplog.text


def _config(price: float) -> str:
    return f"gpu: {{enabled: false}}\ndiscovery: {{enabled: false}}\npricing:\n  gpu_per_hour: {price}\n"


def test_reload_reuses_a_collector_only_when_its_declared_config_is_unchanged(tmp_path: Path) -> None:
    first = build_collectors(load_config_text(_config(2.0)))
    (pricing,) = first
    same = build_collectors(load_config_text(_config(2.0)), first)
    assert same[0] is pricing
    changed = build_collectors(load_config_text(_config(3.0)), first)
    assert changed[0] is not pricing and changed[0].config != pricing.config
