"""Opt-in GPM activity ratios over the interval between scrapes, through the fake's GPM symbols."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from llm_exporter.collectors.gpu import GpuCollector
from llm_exporter.config import GpuConfig

from gpu import fakenvml
from gpu.helpers import collect

# metric -> NVML_GPM_METRIC_* id in the fake's "gpm=<id>:<percent>" scenario key
GPM = {
    "llm_gpu_graphics_active_ratio": 1,
    "llm_gpu_sm_active_ratio": 2,
    "llm_gpu_sm_occupancy_ratio": 3,
    "llm_gpu_tensor_active_ratio": 5,
    "llm_gpu_dram_active_ratio": 10,
}


class Clock:
    """The collector's monotonic clock, moved by the test (GPM gap and per-GPU backoff use it)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@contextmanager
def gpm_collector(clock: Clock | None = None, **config: object) -> Iterator[GpuCollector]:
    c = GpuCollector(
        GpuConfig(enabled=True, gpm=True, **config),  # type: ignore[arg-type]
        backoff=(0.05, 0.2),
        xid_wait_ms=50,
        clock=clock or Clock(),
    )
    try:
        yield c
    finally:
        c.close(join=5.0)


def live_samples() -> int:
    """GPM sample buffers the fake has handed out and not had back (a test hook of the fake)."""
    assert fakenvml._loaded is not None
    return int(ctypes.CDLL(str(fakenvml._loaded)).fakeNvmlGpmLiveSamples())


def percent(gpu: dict[str, object], metric_id: int) -> float:
    pairs = dict(p.split(":") for p in str(gpu["gpm"]).split(","))
    return float(pairs[str(metric_id)])


def gpm_names(m: object) -> set[str]:
    return {n for n in m.names() if n in GPM}  # type: ignore[attr-defined]


def test_first_scrape_seeds_second_reports_exact_ratios(scenario: Path) -> None:
    clock = Clock()
    with gpm_collector(clock) as c:
        m, err = collect(c)
        assert err is None and m.get("llm_gpu_up", {"gpu": "0", "uuid": fakenvml.h100(0)["uuid"]}) == 1
        assert gpm_names(m) == set()  # one sample is no interval
        clock.t += 15
        m, err = collect(c)
        assert err is None
        for i in range(8):
            gpu = fakenvml.h100(i)
            labels = {"gpu": str(i), "uuid": str(gpu["uuid"])}
            for name, metric_id in GPM.items():
                assert m.get(name, labels) == pytest.approx(percent(gpu, metric_id) / 100, abs=1e-9), (name, i)
        assert live_samples() == 16  # two buffers per GPU, swapped
        for _ in range(20):
            clock.t += 15
            collect(c)
        assert live_samples() == 16  # reused, not allocated per scrape
    assert live_samples() == 0  # freed before nvmlShutdown


def test_ratios_follow_the_interval_and_each_entry_return_code(scenario: Path) -> None:
    clock = Clock()
    fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(0)]))
    with gpm_collector(clock) as c:
        collect(c)
        # only SM activity is known to the fake from now on: the other entries answer NotSupported
        fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(0, gpm="2:12.5")]))
        clock.t += 30
        m, err = collect(c)
    assert err is None
    assert gpm_names(m) == {"llm_gpu_sm_active_ratio"}
    assert m.get("llm_gpu_sm_active_ratio", {"gpu": "0", "uuid": str(fakenvml.h100(0)["uuid"])}) == pytest.approx(
        0.125, abs=1e-9
    )


def test_unsupported_gpu_emits_no_gpm_and_no_error(scenario: Path) -> None:
    clock = Clock()
    fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.geforce(0), fakenvml.h100(1)]))
    with gpm_collector(clock) as c:
        for _ in range(3):
            m, err = collect(c)
            assert err is None
            assert m.get("llm_gpu_up", {"gpu": "0", "uuid": str(fakenvml.geforce(0)["uuid"])}) == 1
            assert not any(m.has(name, gpu="0") for name in GPM)
            clock.t += 15
        assert m.has("llm_gpu_sm_active_ratio", gpu="1")
        assert live_samples() == 2  # none for the GPU without GPM


def test_long_gap_reseeds_instead_of_averaging_over_it(scenario: Path) -> None:
    clock = Clock()
    fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(0)]))
    with gpm_collector(clock) as c:
        collect(c)
        clock.t += c.gpm_max_gap + 1
        m, _ = collect(c)
        assert gpm_names(m) == set()
        clock.t += 15
        m, _ = collect(c)
        assert gpm_names(m) == set(GPM)


def test_gpm_is_opt_in(scenario: Path) -> None:
    clock = Clock()
    c = GpuCollector(GpuConfig(enabled=True), backoff=(0.05, 0.2), xid_wait_ms=50, clock=clock)
    try:
        for _ in range(2):
            m, _ = collect(c)
            clock.t += 15
    finally:
        c.close(join=5.0)
    assert gpm_names(m) == set()
    assert live_samples() == 0


def test_gpu_back_from_lost_is_reseeded(scenario: Path) -> None:
    clock = Clock()
    fakenvml.write_scenario(scenario, fakenvml.healthy(2))
    with gpm_collector(clock) as c:
        collect(c)
        clock.t += 15
        assert collect(c)[0].has("llm_gpu_sm_active_ratio", gpu="1")
        fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(i, lost=int(i == 1)) for i in range(2)]))
        clock.t += 15
        m, _ = collect(c)
        assert not m.has("llm_gpu_sm_active_ratio", gpu="1") and m.has("llm_gpu_sm_active_ratio", gpu="0")
        fakenvml.write_scenario(scenario, fakenvml.healthy(2))
        clock.t += 1  # past the first backoff step (0.05 s)
        m, _ = collect(c)
        assert m.get("llm_gpu_up", {"gpu": "1", "uuid": str(fakenvml.h100(1)["uuid"])}) == 1
        assert not m.has("llm_gpu_sm_active_ratio", gpu="1")  # counters may have restarted: a new seed first
        clock.t += 15
        assert collect(c)[0].has("llm_gpu_sm_active_ratio", gpu="1")
