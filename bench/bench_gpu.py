"""Benchmark of the gpu collector over the fake NVML library (8 healthy H100s).

Prints a table: CPU time of one collection (total and per GPU, target < 3 ms per GPU)
for the default metric set and with every opt-in family, and the traced memory growth
over many collections (tracemalloc; target: no growth). Run:

    python bench/bench_gpu.py [--collections 10000]
"""

from __future__ import annotations

import argparse
import ctypes
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
from llm_exporter.scrape import Deadline  # noqa: E402

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--collections", type=int, default=10_000, help="collections for the memory run")
    ap.add_argument("--timed", type=int, default=500, help="collections for the CPU-time run")
    args = ap.parse_args()

    fakenvml.preload(fakenvml.build("default"))
    scenario = Path(tempfile.mkdtemp()) / "bench.conf"
    fakenvml.write_scenario(scenario, fakenvml.healthy(GPUS))
    os.environ[fakenvml.ENV] = str(scenario)

    rows = []
    for label, cfg in (
        ("default set", GpuConfig(enabled=True)),
        ("default + gpm", GpuConfig(enabled=True, gpm=True)),
        ("all opt-ins", GpuConfig(enabled=True, processes=True, pcie_throughput=True, nvlink=True, gpm=True)),
    ):
        c = GpuCollector(cfg)
        per = cpu_per_collection(c, args.timed)
        rows.append((label, per * 1e3, per * 1e3 / GPUS))
        c.close(join=2)

    c = GpuCollector(GpuConfig(enabled=True))
    early, end = memory_growth(c, args.collections)
    c.close(join=2)
    c = GpuCollector(GpuConfig(enabled=True, gpm=True))
    gpm_early, gpm_end = memory_growth(c, args.collections)
    gpm_live = live_gpm_samples()
    c.close(join=2)

    print(f"gpu collector over fake NVML, {GPUS} GPUs, Python {sys.version.split()[0]}")
    print(f"{'metric set':<14} {'ms CPU / collection':>20} {'ms CPU / GPU':>13} {'target':>8}")
    for label, total, per_gpu in rows:
        print(f"{label:<14} {total:>20.3f} {per_gpu:>13.3f} {'< 3 ms':>8}  {'ok' if per_gpu < 3 else 'OVER'}")
    print()
    print(f"{'memory (tracemalloc)':<30} {'bytes':>12}")
    print(f"{f'after {args.collections // 10 + 1} collections':<30} {early:>12}")
    print(f"{f'after {args.collections} collections':<30} {end:>12}")
    growth = end - early
    print(f"{'growth over the last 90%':<30} {growth:>12}  {'ok (flat)' if growth < 64 * 1024 else 'GROWING'}")
    growth = gpm_end - gpm_early
    print(f"{'same with gpm: growth':<30} {growth:>12}  {'ok (flat)' if growth < 64 * 1024 else 'GROWING'}")
    print(f"{'GPM sample buffers held (C)':<30} {gpm_live:>12}  {'ok (2 per GPU)' if gpm_live == 2 * GPUS else 'LEAK'}")


if __name__ == "__main__":
    main()
