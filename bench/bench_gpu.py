"""Benchmark of the gpu collector over the fake NVML library (8 healthy H100s), or a real driver.

Prints a table: CPU time of one collection (total and per GPU, target < 3 ms per GPU)
for the default metric set and with every opt-in family, and the traced memory growth
over many collections (tracemalloc; target: no growth). Run:

    python bench/bench_gpu.py [--collections 10000]
    python bench/bench_gpu.py --real     # the machine's own GPUs through its libnvidia-ml
    python bench/bench_gpu.py --real --calls   # also: time of each NVML function, idle CPU

With --calls, every pynvml function is wrapped to count its calls and their CPU and wall
time, so a slow collection can be split into time inside the driver and the collector's
own Python; the idle line is the CPU the process uses between collections (the XID
watcher's thread waiting in the driver).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import functools
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from gpu import fakenvml  # noqa: E402
from llm_exporter.collectors.gpu import GpuCollector  # noqa: E402
from llm_exporter.config import GpuConfig  # noqa: E402
from llm_exporter.metricset import MetricSet  # noqa: E402
from llm_exporter.scrape import CollectorFailed, Deadline  # noqa: E402

GPUS = 8


def cpu_per_collection(c: GpuCollector, n: int) -> float:
    for _ in range(20):  # warm up: init, enumeration, capability memo
        c.collect(MetricSet(), Deadline(10))
    t0 = time.process_time()
    for _ in range(n):
        c.collect(MetricSet(), Deadline(10))
    return (time.process_time() - t0) / n


def memory_growth(c: GpuCollector, n: int) -> tuple[int, int]:
    for _ in range(200):
        c.collect(MetricSet(), Deadline(10))
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        c.collect(MetricSet(), Deadline(10))
        if i == n // 10:
            gc.collect()
            early = tracemalloc.get_traced_memory()[0] - base
    gc.collect()
    end = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return early, end


def live_gpm_samples() -> int:
    """GPM sample buffers the fake NVML has handed out and not had back (native memory tracemalloc misses)."""
    return int(ctypes.CDLL(str(fakenvml._loaded)).fakeNvmlGpmLiveSamples())


def wrap_nvml(stats: dict[str, list[float]]) -> None:
    """Replace each pynvml.nvml* function with one that adds [calls, cpu s, wall s] to stats."""
    import pynvml

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        @functools.wraps(fn)
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                entry = stats[name]
                entry[0] += 1
                entry[1] += time.thread_time() - c0
                entry[2] += time.perf_counter() - w0

        return call

    for name in dir(pynvml):
        fn = getattr(pynvml, name)
        if name.startswith("nvml") and callable(fn) and not isinstance(fn, type):
            setattr(pynvml, name, timed(name, fn))


def call_profile(cfg: GpuConfig, n: int, stats: dict[str, list[float]]) -> None:
    """Print the NVML functions of one collection, most expensive first (stats: wrap_nvml's)."""
    c = GpuCollector(cfg)
    for _ in range(5):
        c.collect(MetricSet(), Deadline(10))
    stats.clear()
    c0, w0 = time.thread_time(), time.perf_counter()
    for _ in range(n):
        c.collect(MetricSet(), Deadline(10))
    cpu, wall = (time.thread_time() - c0) / n, (time.perf_counter() - w0) / n
    # the scrape thread's view: collect() runs its NVML work on a reader thread
    in_nvml = sum(e[1] for e in stats.values()) / n
    in_nvml_wall = sum(e[2] for e in stats.values()) / n
    print(f"  one collection: {wall * 1e3:.3f} ms wall; NVML functions {in_nvml_wall * 1e3:.3f} ms wall, ")
    print(f"  {in_nvml * 1e3:.3f} ms CPU of their thread (caller thread CPU {cpu * 1e3:.3f} ms)")
    print(f"  {'function':<52} {'calls':>6} {'us CPU':>9} {'us wall':>9}  (per collection)")
    for name, (calls, c_s, w_s) in sorted(stats.items(), key=lambda kv: -kv[1][2])[:25]:
        print(f"  {name:<52} {calls / n:>6.1f} {c_s / n * 1e6:>9.1f} {w_s / n * 1e6:>9.1f}")
    c.close(join=2)


def field_costs(reps: int) -> None:
    """Time nvmlDeviceGetFieldValues for each default field alone, and the direct calls beside them."""
    import pynvml
    from llm_exporter.collectors.gpu import nvml

    pynvml.nvmlInit()
    h = pynvml.nvmlDeviceGetHandleByIndex(0)

    def cost(fn, *args) -> tuple[float, float, str]:  # type: ignore[no-untyped-def]
        c0, w0 = time.thread_time(), time.perf_counter()
        got = ""
        for _ in range(reps):
            try:
                got = fn(*args)
            except pynvml.NVMLError as exc:
                got = f"error: {exc}"
        return (time.thread_time() - c0) / reps, (time.perf_counter() - w0) / reps, str(got)[:40]

    names = {f: f"ecc {e} {c}" for f, e, c in nvml.F_ECC} | {f: f"violation {r}" for f, r in nvml.F_VIOLATION}
    names |= {nvml.F_MEMORY_TEMP: "memory temp", nvml.F_ENERGY: "energy", nvml.F_PCIE_REPLAY: "pcie replay"}
    names |= {nvml.F_RECOVERY_ACTION: "recovery action"}

    def fields(ids: list[int]) -> str:
        values = pynvml.nvmlDeviceGetFieldValues(h, ids)
        return " ".join(f"rc {v.nvmlReturn}" if v.nvmlReturn else f"{nvml.field_value(v)}" for v in values)

    rows = [(f"field {f} ({names[f]})", *cost(fields, [f])) for f in nvml.DEFAULT_FIELDS]
    rows.append(("all default fields at once", *cost(fields, list(nvml.DEFAULT_FIELDS))))
    for e in (0, 1):
        for c in (0, 1):
            rows.append((f"nvmlDeviceGetTotalEccErrors({e}, {c})", *cost(pynvml.nvmlDeviceGetTotalEccErrors, h, e, c)))
    rows.append(("nvmlDeviceGetTotalEnergyConsumption", *cost(pynvml.nvmlDeviceGetTotalEnergyConsumption, h)))
    rows.append(("nvmlDeviceGetPcieReplayCounter", *cost(pynvml.nvmlDeviceGetPcieReplayCounter, h)))
    rows.append(("nvmlDeviceGetMigMode", *cost(pynvml.nvmlDeviceGetMigMode, h)))
    rows.append(("nvmlDeviceGetEccMode", *cost(pynvml.nvmlDeviceGetEccMode, h)))
    for policy in (0, 1, 2, 3, 4, 5):
        rows.append((f"nvmlDeviceGetViolationStatus({policy})", *cost(pynvml.nvmlDeviceGetViolationStatus, h, policy)))
    print(f"  {'call (GPU 0)':<44} {'us CPU':>9} {'us wall':>9}  result")
    for label, cpu, wall, got in rows:
        print(f"  {label:<44} {cpu * 1e6:>9.1f} {wall * 1e6:>9.1f}  {got}")
    pynvml.nvmlShutdown()


def idle_cpu(seconds: float) -> float:
    """Process CPU per second of wall time while a collector sits between collections."""
    c = GpuCollector(GpuConfig(enabled=True))
    c.collect(MetricSet(), Deadline(10))
    time.sleep(0.5)
    c0, w0 = time.process_time(), time.perf_counter()
    time.sleep(seconds)
    rate = (time.process_time() - c0) / (time.perf_counter() - w0)
    c.close(join=2)
    return rate


def count_gpus() -> int:
    """GPUs the real driver reports up (llm_gpu_up == 1); exits when there are none."""
    c = GpuCollector(GpuConfig(enabled=True))
    out = MetricSet()
    try:
        c.collect(out, Deadline(20))
    except CollectorFailed as exc:
        sys.exit(f"the real driver: {exc}")
    finally:
        c.close(join=2)
    up = [s for fam in out.collect() for s in fam.samples if s.name == "llm_gpu_up" and s.value == 1]
    if not up:
        sys.exit("no GPU is up through the real driver")
    return len(up)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--collections", type=int, default=10_000, help="collections for the memory run")
    ap.add_argument("--timed", type=int, default=500, help="collections for the CPU-time run")
    ap.add_argument("--real", action="store_true", help="the real NVIDIA driver instead of the fake")
    ap.add_argument("--calls", action="store_true", help="time each NVML function, and the idle CPU")
    ap.add_argument("--fields", action="store_true", help="time each default field value alone (GPU 0)")
    args = ap.parse_args()

    if args.fields:
        if not args.real:
            fakenvml.preload(fakenvml.build("default"))
            scenario = Path(tempfile.mkdtemp()) / "bench.conf"
            fakenvml.write_scenario(scenario, fakenvml.healthy(GPUS))
            os.environ[fakenvml.ENV] = str(scenario)
        field_costs(20)
        return
    gpus = GPUS
    if args.real:
        gpus = count_gpus()
    else:
        fakenvml.preload(fakenvml.build("default"))
        scenario = Path(tempfile.mkdtemp()) / "bench.conf"
        fakenvml.write_scenario(scenario, fakenvml.healthy(GPUS))
        os.environ[fakenvml.ENV] = str(scenario)

    rows = []
    for label, cfg in (
        ("default set", GpuConfig(enabled=True, slow_counters_interval=0)),
        ("default, between slow reads", GpuConfig(enabled=True)),
        ("default + gpm", GpuConfig(enabled=True, gpm=True, slow_counters_interval=0)),
        ("all opt-ins", GpuConfig(enabled=True, processes=True, pcie_throughput=True, nvlink=True, gpm=True)),
    ):
        c = GpuCollector(cfg)
        per = cpu_per_collection(c, args.timed)
        rows.append((label, per * 1e3, per * 1e3 / gpus))
        c.close(join=2)

    c = GpuCollector(GpuConfig(enabled=True))
    early, end = memory_growth(c, args.collections)
    c.close(join=2)
    c = GpuCollector(GpuConfig(enabled=True, gpm=True))
    gpm_early, gpm_end = memory_growth(c, args.collections)
    gpm_live = None if args.real else live_gpm_samples()
    c.close(join=2)

    over = "the real driver" if args.real else "fake NVML"
    print(f"gpu collector over {over}, {gpus} GPUs, Python {sys.version.split()[0]}")
    print("(slow counters read in every collection, except 'between slow reads' and 'all opt-ins',")
    print(" where they are read once per slow_counters_interval, 10 s, as by default)")
    print(f"{'metric set':<28} {'ms CPU / collection':>20} {'ms CPU / GPU':>13} {'target':>8}")
    for label, total, per_gpu in rows:
        print(f"{label:<28} {total:>20.3f} {per_gpu:>13.3f} {'< 3 ms':>8}  {'ok' if per_gpu < 3 else 'OVER'}")
    print()
    print(f"{'memory (tracemalloc)':<30} {'bytes':>12}")
    print(f"{f'after {args.collections // 10 + 1} collections':<30} {early:>12}")
    print(f"{f'after {args.collections} collections':<30} {end:>12}")
    growth = end - early
    print(f"{'growth over the last 90%':<30} {growth:>12}  {'ok (flat)' if growth < 64 * 1024 else 'GROWING'}")
    growth = gpm_end - gpm_early
    print(f"{'same with gpm: growth':<30} {growth:>12}  {'ok (flat)' if growth < 64 * 1024 else 'GROWING'}")
    if gpm_live is not None:
        verdict = "ok (2 per GPU)" if gpm_live == 2 * GPUS else "LEAK"
        print(f"{'GPM sample buffers held (C)':<30} {gpm_live:>12}  {verdict}")
    if args.calls:
        stats: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0, 0.0])
        print()
        print(f"idle: {idle_cpu(5.0) * 1e3:.2f} ms CPU per second between collections (XID watcher waiting)")
        wrap_nvml(stats)
        for label, cfg in (
            ("default set", GpuConfig(enabled=True)),
            ("all opt-ins", GpuConfig(enabled=True, processes=True, pcie_throughput=True, nvlink=True, gpm=True)),
        ):
            print(f"NVML calls, {label}:")
            call_profile(cfg, args.timed, stats)


if __name__ == "__main__":
    main()
