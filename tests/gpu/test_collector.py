"""The gpu collector over the real pynvml binding and the fake libnvidia-ml.so.1."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest
from llm_exporter.collectors.gpu import GpuCollector, build
from llm_exporter.collectors.gpu.device import container_id
from llm_exporter.config import Config, GpuConfig
from llm_exporter.scrape import ScrapeEngine
from support import wait_for

from gpu import fakenvml
from gpu.helpers import collect, collector, series_of, text

GIB = fakenvml.GIB
GOLDEN = Path(__file__).parent / "golden" / "healthy_8xh100.prom"


def uuid(i: int) -> str:
    return str(fakenvml.h100(i)["uuid"])


def labels(i: int, **extra: str) -> dict[str, str]:
    return {"gpu": str(i), "uuid": uuid(i), **extra}


def test_healthy_golden_exposition(scenario: Path, tmp_path: Path) -> None:
    with collector() as c:
        m, err = collect(c)
    assert err is None
    body = text(m)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(body)
    assert body == GOLDEN.read_text(), "exposition changed: rerun with UPDATE_GOLDEN=1 and review the diff"


def test_golden_passes_promtool(tmp_path: Path) -> None:
    from support import need_binary

    promtool = need_binary("promtool")
    res = subprocess.run([promtool, "check", "metrics"], input=GOLDEN.read_bytes(), capture_output=True)
    assert res.returncode == 0, res.stdout.decode() + res.stderr.decode()
    assert res.stdout.strip() == b"" and res.stderr.strip() == b""


def test_base_units_and_values(scenario: Path) -> None:
    with collector() as c:
        m, err = collect(c)
    assert err is None
    L1 = labels(1)
    assert m.get("llm_gpu_nvml_up") == 1 and m.get("llm_gpu_devices") == 8
    assert m.get("llm_gpu_memory_total_bytes", L1) == 80 * GIB
    assert m.get("llm_gpu_memory_used_bytes", L1) == 11 * GIB
    assert m.get("llm_gpu_memory_reserved_bytes", L1) == 512 * 1024 * 1024
    assert m.get("llm_gpu_memory_free_bytes", L1) == 80 * GIB - 11 * GIB - 512 * 1024 * 1024
    assert m.get("llm_gpu_utilization_ratio", L1) == pytest.approx(0.51)
    assert m.get("llm_gpu_memory_utilization_ratio", L1) == pytest.approx(0.21)
    assert m.get("llm_gpu_decoder_utilization_ratio", L1) == pytest.approx(0.01)
    assert m.get("llm_gpu_power_watts", L1) == pytest.approx(351.0)
    assert m.get("llm_gpu_power_limit_watts", L1) == pytest.approx(700.0)
    assert m.get("llm_gpu_energy_joules_total", L1) == pytest.approx(123_456.790)
    assert m.get("llm_gpu_temperature_celsius", L1) == 41
    assert m.get("llm_gpu_memory_temperature_celsius", L1) == 46
    assert m.get("llm_gpu_clock_hertz", labels(1, clock="sm")) == 1980e6
    assert m.get("llm_gpu_clock_hertz", labels(1, clock="memory")) == 2619e6
    assert m.get("llm_gpu_clock_event_active", labels(1, reason="sw_power_cap")) == 1
    assert m.get("llm_gpu_clock_event_active", labels(1, reason="gpu_idle")) == 0
    assert m.get("llm_gpu_clock_event_seconds_total", labels(1, reason="sw_power_cap")) == pytest.approx(2.5)
    assert m.get("llm_gpu_clock_event_seconds_total", labels(1, reason="sw_thermal_slowdown")) == pytest.approx(1.0)
    assert m.get("llm_gpu_ecc_errors_total", labels(1, error="corrected", counter="volatile")) == 1
    assert m.get("llm_gpu_ecc_errors_total", labels(1, error="corrected", counter="aggregate")) == 11
    assert m.get("llm_gpu_remapped_rows", labels(2, cause="uncorrectable")) == 1
    assert m.get("llm_gpu_remapped_rows_pending", L1) == 0
    assert m.get("llm_gpu_recovery_action", L1) == 0
    assert m.get("llm_gpu_pcie_replays_total", L1) == 3
    assert m.get("llm_gpu_pcie_link_width", labels(1, state="current")) == 16
    assert m.get("llm_gpu_pcie_link_generation", labels(1, state="max")) == 5
    assert m.get("llm_gpu_mig_mode", labels(1, state="current")) == 0
    assert m.get("llm_gpu_processes", L1) == 1
    assert m.get("llm_gpu_performance_state", L1) == 0
    # NotSupported on an H100: absent, never a sentinel or a zero
    assert not m.has("llm_gpu_fan_speed_ratio")
    assert not m.has("llm_gpu_retired_pages")
    # opt-in families stay off by default
    for name in (
        "llm_gpu_process_memory_bytes",
        "llm_gpu_pcie_transmit_bytes_per_second",
        "llm_gpu_nvlink_errors_total",
    ):
        assert not m.has(name)
    info = next(dict(k) for k in m.series("llm_gpu_info") if dict(k)["gpu"] == "1")
    assert info["name"] == "NVIDIA H100 80GB HBM3" and info["pci_bus_id"] == "00000000:28:00.0"
    assert info["architecture"] == "hopper" and info["compute_capability"] == "9.0"
    assert info["driver_version"] == "550.54.15" and info["cuda_driver_version"] == "12.4"


def test_sentinels_are_never_exported(scenario: Path) -> None:
    fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(0, mem_temp=0xFFFFFFFF, pcie_gen=0xFFFFFFFF)]))
    with collector() as c:
        m, _ = collect(c)
    assert m.has("llm_gpu_up", gpu="0")
    assert not m.has("llm_gpu_memory_temperature_celsius")
    assert not m.has("llm_gpu_pcie_link_generation", state="current")
    assert m.has("llm_gpu_pcie_link_generation", state="max")


def test_consumer_gpu_unsupported_calls_are_absent_and_remembered(scenario: Path) -> None:
    fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.geforce(0)]))
    with collector() as c:
        m, err = collect(c)
        assert err is None
        assert m.get("llm_gpu_up", labels(0)) == 1
        for absent in (
            "llm_gpu_ecc_errors_total",
            "llm_gpu_memory_temperature_celsius",
            "llm_gpu_fan_speed_ratio",
            "llm_gpu_remapped_rows",
            "llm_gpu_mig_mode",
            "llm_gpu_recovery_action",
        ):
            assert not m.has(absent), absent
        assert m.get("llm_gpu_temperature_celsius", labels(0)) == 40
        info = dict(next(iter(m.series("llm_gpu_info"))))
        assert info["brand"] == "geforce" and info["serial"] == ""
        # The fake now answers the fan and ECC calls: the memo keeps them skipped until re-init.
        fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.geforce(0, unsupported="")]))
        m2, _ = collect(c)
        assert not m2.has("llm_gpu_fan_speed_ratio")
        assert not m2.has("llm_gpu_memory_temperature_celsius")
    with collector() as fresh:  # a new init asks again
        m3, _ = collect(fresh)
        assert m3.get("llm_gpu_fan_speed_ratio", labels(0)) == pytest.approx(0.30)
        assert m3.has("llm_gpu_memory_temperature_celsius")


def test_mig_instances_without_double_counting(scenario: Path) -> None:
    fakenvml.write_scenario(scenario, fakenvml.mig_scenario())
    with collector() as c:
        m, err = collect(c)
    assert err is None
    assert m.get("llm_gpu_mig_mode", labels(0, state="current")) == 1
    assert m.get("llm_gpu_mig_mode", labels(0, state="pending")) == 1
    assert len(m.series("llm_gpu_mig_instance_info")) == 3
    assert m.has(
        "llm_gpu_mig_instance_info",
        gpu_instance_id="1",
        compute_instance_id="1",
        mig_uuid="MIG-aaaaaaaa-0000-5000-8000-000000000002",
    )
    # memory once per GPU instance (GI 1 has two compute instances)
    assert len(m.series("llm_gpu_mig_memory_used_bytes")) == 2
    assert m.get("llm_gpu_mig_memory_used_bytes", labels(0, gpu_instance_id="1")) == 5 * GIB
    assert m.get("llm_gpu_mig_memory_total_bytes", labels(0, gpu_instance_id="2")) == 20 * GIB
    # profile names from the GPU instance's profile info, without NVML's "MIG " prefix
    profiles = {
        (dict(k)["gpu_instance_id"], dict(k)["compute_instance_id"]): dict(k)["profile"]
        for k in m.series("llm_gpu_mig_instance_info")
    }
    assert profiles == {("1", "0"): "3g.40gb", ("1", "1"): "3g.40gb", ("2", "0"): "2g.20gb"}
    # utilisation is NotSupported under MIG; GPU-level series exist once per GPU, not per instance
    assert not m.has("llm_gpu_utilization_ratio", gpu="0")
    assert m.has("llm_gpu_utilization_ratio", gpu="1")
    assert len(m.series("llm_gpu_power_watts")) == 2
    assert not m.has("llm_gpu_remapped_rows", gpu="0")  # not while MIG instances exist
    assert m.get("llm_gpu_processes", labels(0)) == 3


def test_mig_profile_without_lookup_by_id(scenario: Path) -> None:
    """Drivers without nvmlDeviceGetGpuInstanceProfileInfoByIdV: the profile indices are scanned for the id."""
    text_ = fakenvml.mig_scenario().replace(
        "unsupported=nvmlDeviceGetUtilizationRates",
        "unsupported=nvmlDeviceGetGpuInstanceProfileInfoByIdV,nvmlDeviceGetUtilizationRates",
        1,
    )
    fakenvml.write_scenario(scenario, text_)
    with collector() as c:
        m, err = collect(c)
    assert err is None
    assert sorted(dict(k)["profile"] for k in m.series("llm_gpu_mig_instance_info")) == [
        "2g.20gb",
        "3g.40gb",
        "3g.40gb",
    ]


def test_mig_profile_unreadable_is_empty_not_an_error(scenario: Path) -> None:
    text_ = fakenvml.mig_scenario().replace(
        "unsupported=nvmlDeviceGetUtilizationRates",
        "unsupported=nvmlGpuInstanceGetInfo,nvmlDeviceGetUtilizationRates",
        1,
    )
    fakenvml.write_scenario(scenario, text_)
    with collector() as c:
        m, err = collect(c)
    assert err is None and m.get("llm_gpu_up", labels(0)) == 1
    assert {dict(k)["profile"] for k in m.series("llm_gpu_mig_instance_info")} == {""}
    assert len(m.series("llm_gpu_mig_instance_info")) == 3


def test_lost_gpu_mid_run_is_isolated(scenario: Path) -> None:
    with collector() as c:
        m, err = collect(c)
        assert err is None and m.get("llm_gpu_up", labels(3)) == 1
        gpus = [fakenvml.h100(i, lost=1 if i == 3 else 0) for i in range(8)]
        fakenvml.write_scenario(scenario, fakenvml.render(gpus))
        m, err = collect(c)
    assert err is None
    assert m.get("llm_gpu_up", labels(3)) == 0
    assert series_of(m, uuid(3)) == ["llm_gpu_up"]
    for i in (0, 1, 2, 4, 5, 6, 7):
        assert m.get("llm_gpu_up", labels(i)) == 1
        assert m.has("llm_gpu_power_watts", gpu=str(i))
    assert m.get("llm_gpu_nvml_up") == 1


def test_lost_gpu_comes_back_without_restart(scenario: Path) -> None:
    with collector() as c:
        collect(c)
        gpus = [fakenvml.h100(i, lost=1 if i == 3 else 0) for i in range(8)]
        fakenvml.write_scenario(scenario, fakenvml.render(gpus))
        m, err = collect(c)
        assert err is None and m.get("llm_gpu_up", labels(3)) == 0
        fakenvml.write_scenario(scenario, fakenvml.healthy())  # reset done, GPU answers again

        def served() -> object:
            mm, e = collect(c)
            return e is None and mm.get("llm_gpu_up", labels(3)) == 1 and mm

        m = wait_for(served, timeout=10, what="the lost GPU to be served again")
    assert m.get("llm_gpu_power_watts", labels(3)) == pytest.approx(353.0)  # type: ignore[union-attr]
    assert m.get("llm_gpu_nvml_reinitializations_total") == 0  # type: ignore[union-attr]  # per GPU, no full re-init
    assert len(m.series("llm_gpu_up")) == 8  # type: ignore[union-attr]


def test_gpu_lost_at_start_is_adopted_when_it_appears(scenario: Path) -> None:
    gpus = [fakenvml.h100(i, lost=1 if i == 5 else 0) for i in range(8)]
    fakenvml.write_scenario(scenario, fakenvml.render(gpus))
    with collector() as c:
        m, err = collect(c)
        assert err is None and m.get("llm_gpu_up", {"gpu": "5", "uuid": ""}) == 0
        fakenvml.write_scenario(scenario, fakenvml.healthy())

        def adopted() -> object:
            mm, e = collect(c)
            return e is None and mm.get("llm_gpu_up", labels(5)) == 1 and mm

        m = wait_for(adopted, timeout=10, what="the GPU lost at start to be adopted")
        assert not m.has("llm_gpu_up", uuid="")  # type: ignore[union-attr]
        info = next(dict(k) for k in m.series("llm_gpu_info") if dict(k)["gpu"] == "5")  # type: ignore[union-attr]
        assert info["uuid"] == uuid(5) and info["pci_bus_id"] == fakenvml.h100(5)["bus_id"]
        assert m.has("llm_gpu_power_watts", gpu="5")  # type: ignore[union-attr]
        # the XID watcher registers the new handle (events before that are not delivered: inject until seen)
        xids: list[tuple[int, int]] = []

        def xid_counted() -> bool:
            xids.append((5, 48))
            fakenvml.write_scenario(scenario, fakenvml.healthy(xids=xids))
            return (collect(c)[0].get("llm_gpu_xid_errors_total", labels(5, xid="48")) or 0) >= 1

        wait_for(xid_counted, timeout=10, what="an XID on the adopted GPU to be counted")


def test_lost_gpu_is_retried_with_backoff_not_every_scrape(scenario: Path) -> None:
    class Clock:
        t = 100.0

        def __call__(self) -> float:
            return self.t

    clock = Clock()
    fakenvml.write_scenario(scenario, fakenvml.healthy(2))
    c = GpuCollector(GpuConfig(enabled=True), backoff=(10.0, 40.0), xid_wait_ms=50, clock=clock)
    try:
        collect(c)
        fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(i, lost=int(i == 1)) for i in range(2)]))
        m, _ = collect(c)
        assert m.get("llm_gpu_up", labels(1)) == 0
        fakenvml.write_scenario(scenario, fakenvml.healthy(2))
        clock.t += 9  # within the first backoff step: the GPU is not asked again
        m, _ = collect(c)
        assert m.get("llm_gpu_up", labels(1)) == 0 and m.get("llm_gpu_up", labels(0)) == 1
        clock.t += 2
        m, _ = collect(c)
        assert m.get("llm_gpu_up", labels(1)) == 1
        # lost again: the delay starts over at the first step once it had recovered
        fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(i, lost=int(i == 1)) for i in range(2)]))
        collect(c)
        clock.t += 11
        m, _ = collect(c)  # retried, still lost: next step is 20 s
        assert m.get("llm_gpu_up", labels(1)) == 0
        fakenvml.write_scenario(scenario, fakenvml.healthy(2))
        clock.t += 19
        assert collect(c)[0].get("llm_gpu_up", labels(1)) == 0
        clock.t += 2
        assert collect(c)[0].get("llm_gpu_up", labels(1)) == 1
    finally:
        c.close(join=5.0)


def test_lost_gpu_through_the_engine_keeps_collector_successful(scenario: Path) -> None:
    gpus = [fakenvml.h100(i, lost=1 if i == 5 else 0) for i in range(8)]
    fakenvml.write_scenario(scenario, fakenvml.render(gpus))
    with collector() as c:
        engine = ScrapeEngine([c], min_interval=0)
        out = engine.scrape(10)
    assert out.get("llm_scrape_collector_success", {"collector": "gpu"}) == 1
    # lost before its UUID could be read: the index is known, the uuid label is empty
    assert out.get("llm_gpu_up", {"gpu": "5", "uuid": ""}) == 0
    assert out.get("llm_gpu_up", labels(4)) == 1


def test_fewer_gpus_than_before_fails_the_collection(scenario: Path) -> None:
    with collector() as c:
        engine = ScrapeEngine([c], min_interval=0)
        assert engine.scrape(10).get("llm_scrape_collector_success", {"collector": "gpu"}) == 1
        fakenvml.write_scenario(scenario, fakenvml.healthy(count=6))
        out = engine.scrape(10)
    assert out.get("llm_scrape_collector_success", {"collector": "gpu"}) == 0
    assert out.get("llm_gpu_devices") == 6
    assert len(out.series("llm_gpu_up")) == 6  # what is visible is still served


def test_expected_count_fails_from_the_first_scrape(scenario: Path) -> None:
    with collector(expected_count=10) as c:
        m, err = collect(c)
    assert err is not None and "10 expected" in err
    assert m.get("llm_gpu_devices") == 8


def test_init_failing_then_recovering(scenario: Path) -> None:
    fakenvml.write_scenario(scenario, fakenvml.healthy(init_error=9))  # NVML_ERROR_DRIVER_NOT_LOADED
    with collector() as c:
        engine = ScrapeEngine([c], min_interval=0)
        out = engine.scrape(5)
        assert out.get("llm_gpu_nvml_up") == 0
        assert out.get("llm_scrape_collector_success", {"collector": "gpu"}) == 0
        assert not out.has("llm_gpu_up")
        fakenvml.write_scenario(scenario, fakenvml.healthy())

        def recovered() -> bool:
            o = engine.scrape(5)
            return o.get("llm_gpu_nvml_up") == 1 and o.get("llm_scrape_collector_success", {"collector": "gpu"}) == 1

        wait_for(recovered, timeout=10, what="NVML init to succeed after backoff")
        out = engine.scrape(5)
    assert len(out.series("llm_gpu_up")) == 8


def test_lifecycle_error_reinitialises(scenario: Path) -> None:
    with collector() as c:
        m, err = collect(c)
        assert err is None and m.get("llm_gpu_nvml_reinitializations_total") == 0
        fakenvml.write_scenario(scenario, fakenvml.healthy(all_error=18))  # LIB_RM_VERSION_MISMATCH
        m, err = collect(c)
        assert err is not None and m.get("llm_gpu_nvml_up") == 0 and not m.has("llm_gpu_up")
        fakenvml.write_scenario(scenario, fakenvml.healthy())

        def back() -> object:
            mm, e = collect(c)
            return e is None and mm

        m = wait_for(back, timeout=10, what="re-initialisation")
    assert m.get("llm_gpu_nvml_up") == 1  # type: ignore[union-attr]
    assert m.get("llm_gpu_nvml_reinitializations_total") >= 1  # type: ignore[union-attr, operator]


def test_xid_events_counted_while_running_and_across_reinit(scenario: Path) -> None:
    with collector() as c:
        m, _ = collect(c)
        assert not m.has("llm_gpu_xid_errors_total")
        fakenvml.write_scenario(scenario, fakenvml.healthy(xids=[(3, 79), (3, 79), (0, 13)]))

        def counted() -> object:
            mm, _ = collect(c)
            return mm.get("llm_gpu_xid_errors_total", labels(3, xid="79")) == 2 and mm

        m = wait_for(counted, timeout=10, what="XID events to be counted")
        assert m.get("llm_gpu_xid_errors_total", labels(0, xid="13")) == 1  # type: ignore[union-attr]
        assert m.get("llm_gpu_xid_last_timestamp_seconds", labels(3, xid="79")) > 1e9  # type: ignore[union-attr, operator]
        # driver reload: collection fails, XID counters still render, watcher re-registers afterwards
        fakenvml.write_scenario(scenario, fakenvml.healthy(all_error=1, xids=[(3, 79), (3, 79), (0, 13)]))
        m, err = collect(c)
        assert err is not None and m.get("llm_gpu_xid_errors_total", labels(3, xid="79")) == 2
        fakenvml.write_scenario(scenario, fakenvml.healthy(xids=[(3, 79), (3, 79), (0, 13), (3, 79)]))

        def after_reinit() -> object:
            mm, e = collect(c)
            return e is None and mm.get("llm_gpu_xid_errors_total", labels(3, xid="79")) == 3

        wait_for(after_reinit, timeout=10, what="XID counted after re-init")


def test_stuck_call_is_abandoned_and_not_piled_up(scenario: Path) -> None:
    gpus = [fakenvml.h100(i, hang_ms=3000 if i == 0 else 0) for i in range(2)]
    fakenvml.write_scenario(scenario, fakenvml.render(gpus))
    with collector() as c:
        m, err = collect(c, timeout=0.5)
        assert err is not None and "deadline" in err
        assert m.get("llm_gpu_nvml_up") == 0
        for _ in range(3):  # each later read reports the stuck call at once and never enters NVML
            m, err = collect(c, timeout=0.5)
            assert err is not None and "still running" in err
            assert m.get("llm_gpu_nvml_up") == 0
        wait_for(
            lambda: len([t for t in threading.enumerate() if t.name == "collect-gpu"]) == 1,
            timeout=10,
            what="only the stuck read's thread to remain",
        )
        fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(i) for i in range(2)]))
        wait_for(
            lambda: not any(t.name == "collect-gpu" for t in threading.enumerate()),
            timeout=10,
            what="the stuck call to return",
        )
        m, err = collect(c)
    assert err is None and m.get("llm_gpu_up", labels(0)) == 1


def test_devices_filter(scenario: Path) -> None:
    with collector(devices=["1", uuid(3)]) as c:
        m, _ = collect(c)
    assert sorted(dict(k)["gpu"] for k in m.series("llm_gpu_up")) == ["1", "3"]


def test_opt_in_processes_pcie_nvlink(scenario: Path) -> None:
    pid = os.getpid()
    fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(0, procs=f"{pid}:{GIB}")]))
    with collector(processes=True, pcie_throughput=True, nvlink=True) as c:
        m, err = collect(c)
    assert err is None
    key = next(dict(k) for k in m.series("llm_gpu_process_memory_bytes"))
    assert key["pid"] == str(pid)
    assert key["process"] == Path(f"/proc/{pid}/comm").read_text().strip()
    assert key["container_id"] == container_id(Path(f"/proc/{pid}/cgroup").read_text())
    assert m.get("llm_gpu_process_memory_bytes", key) == GIB
    assert m.get("llm_gpu_pcie_transmit_bytes_per_second", labels(0)) == 1000 * 1024
    assert len(m.series("llm_gpu_nvlink_active")) == 18
    assert m.get("llm_gpu_nvlink_errors_total", labels(0, link="2", error="crc_flit")) == 3
    assert m.get("llm_gpu_nvlink_transmit_bytes_total", labels(0, link="0")) == 1024 * 1024


def test_container_id_from_cgroup() -> None:
    cid = "0123456789abcdef" * 4
    assert container_id(f"0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-{cid}.scope\n") == cid
    assert container_id(f"12:memory:/docker/{cid}\n11:cpu:/docker/{cid}\n") == cid
    assert container_id("0::/user.slice/user-1000.slice/session-2.scope\n") == ""


def test_no_library_auto_is_quiet_true_fails(scenario: Path) -> None:
    missing = "/nonexistent/libnvidia-ml.so.1"
    with collector(enabled="auto", library=missing) as c:
        out = ScrapeEngine([c], min_interval=0).scrape(5)
        assert out.get("llm_scrape_collector_success", {"collector": "gpu"}) == 1
        assert not any(n.startswith("llm_gpu_") for n in out.names())
    with collector(enabled=True, library=missing) as c:
        out = ScrapeEngine([c], min_interval=0).scrape(5)
        assert out.get("llm_scrape_collector_success", {"collector": "gpu"}) == 0
        assert out.get("llm_gpu_nvml_up") == 0


def test_build_follows_enabled() -> None:
    assert build(Config(gpu=GpuConfig(enabled=False))) == []
    (c,) = build(Config(gpu=GpuConfig(enabled="auto")))
    assert (c.name, c.key, c.target) == ("gpu", "gpu", None)
    assert c.config == GpuConfig(enabled="auto")  # type: ignore[attr-defined]


class _Clock:
    t = 100.0

    def __call__(self) -> float:
        return self.t


def _slow_and_fast(m: object) -> tuple[float, float, float, float, float]:
    """(energy J, hw thermal throttle s, PCIe replays | fast: memory temp, power W) of GPU 0."""
    L = labels(0)
    return (
        m.get("llm_gpu_energy_joules_total", L),  # type: ignore[attr-defined]
        m.get("llm_gpu_clock_event_seconds_total", {**L, "reason": "hw_thermal_slowdown"}),  # type: ignore[attr-defined]
        m.get("llm_gpu_pcie_replays_total", L),  # type: ignore[attr-defined]
        m.get("llm_gpu_memory_temperature_celsius", L),  # type: ignore[attr-defined]
        m.get("llm_gpu_power_watts", L),  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("old_driver_calls", [False, True], ids=["field-values", "own-calls"])
def test_slow_counters_are_read_once_per_interval(scenario: Path, old_driver_calls: bool) -> None:
    """Energy, throttle time and PCIe replays (milliseconds each in a real driver) are read at
    most once per slow_counters_interval and served from that read in between; the cheap
    values are fresh in every collection. Where the fields are unsupported, the counters'
    own calls (older drivers) follow the same interval."""
    unsupported = {"unsupported": "field:83,field:94"} if old_driver_calls else {}
    fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(0, **unsupported)]))
    clock = _Clock()
    c = GpuCollector(GpuConfig(enabled=True, slow_counters_interval=30), xid_wait_ms=50, clock=clock)
    try:
        first = _slow_and_fast(collect(c)[0])
        assert first == (pytest.approx(123_456.789), 0.0, 0.0, 45.0, 350.0)
        grown = {"energy_mj": 123_999_000, "viol_hw_thermal": 3_000_000_000, "pcie_replay": 7}
        fakenvml.write_scenario(
            scenario, fakenvml.render([fakenvml.h100(0, mem_temp=50, power_mw=400_000, **unsupported, **grown)])
        )
        clock.t += 29
        assert _slow_and_fast(collect(c)[0]) == (*first[:3], 50.0, 400.0)  # slow ones from the last read
        clock.t += 1
        assert _slow_and_fast(collect(c)[0]) == (pytest.approx(123_999.0), 3.0, 7.0, 50.0, 400.0)
    finally:
        c.close(join=5.0)


def test_slow_counters_interval_zero_reads_every_collection(scenario: Path) -> None:
    fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(0)]))
    with collector(slow_counters_interval=0) as c:
        assert _slow_and_fast(collect(c)[0])[0] == pytest.approx(123_456.789)
        fakenvml.write_scenario(scenario, fakenvml.render([fakenvml.h100(0, energy_mj=123_999_000)]))
        assert _slow_and_fast(collect(c)[0])[0] == pytest.approx(123_999.0)
