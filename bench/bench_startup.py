"""Startup time and idle memory of llm-exporter on its embedded default, against a plain exporter.

In one run, ``--runs`` times each, interleaved:

- ours: ``python -m llm_exporter`` with no config file (the embedded default: GPUs if NVML
  loads, engine discovery on the default local ports);
- baseline: a plain ``prometheus_client`` exporter (``start_http_server`` and its default
  registry), the smallest Python exporter there is.

Startup is the time from spawning the process to the first ``200`` from ``/-/ready`` (ours)
or ``/metrics`` (baseline); idle RSS is read from ``/proc`` after one scrape and a second of
rest. Medians are printed with the ratio ours / baseline (goals: ready within 150 ms, idle
RSS at most 32 MiB). ``--against DIR`` adds a third row, interleaved with the others: the
package found in ``DIR`` (put first on ``PYTHONPATH``), e.g. an older checkout's ``exporter/``
folder for a before/after comparison on the same machine in the same run.

The packages' bytecode is written first (``compileall``), as ``pip install`` does: an installed
exporter (the container image) never compiles its sources at start, while a checkout run with
``PYTHONDONTWRITEBYTECODE=1`` would compile every module on every start. ``--no-compile``
measures that instead: it removes the packages' ``__pycache__`` folders first (with
``PYTHONDONTWRITEBYTECODE=1`` every start then compiles the package's sources).

``--instructions`` adds one start of each under valgrind's callgrind and prints the instructions
each process runs from exec until ready (ended by SIGUSR1, whose default action stops either
process without cleanup): a count that other load on the machine does not change.

    python bench/bench_startup.py [--runs 7] [--against /tmp/before/exporter] [--no-compile] [--instructions]
"""

from __future__ import annotations

import argparse
import compileall
import glob
import http.client
import importlib.util
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import psutil

BASELINE = """
import sys, time
from prometheus_client import start_http_server
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
while True:
    time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ok(port: int, path: str) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status == 200
    except OSError:
        return False
    finally:
        conn.close()


def one(cmd: list[str], port: int, ready_path: str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(seconds to ready, idle RSS bytes) of one start of ``cmd``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        while not ok(port, ready_path):
            if proc.poll() is not None:
                raise SystemExit(f"{cmd[:3]} exited with {proc.returncode}")
            if time.perf_counter() - t0 > 60:
                raise SystemExit(f"{cmd[:3]} not ready after 60 s")
            time.sleep(0.002)
        started = time.perf_counter() - t0
        ok(port, "/metrics")
        time.sleep(1.0)
        return started, float(psutil.Process(proc.pid).memory_info().rss)
    finally:
        proc.terminate()
        proc.wait(10)


def instructions(cmd: list[str], port: int, ready_path: str, env: dict[str, str] | None = None) -> int:
    """Instructions (callgrind's Ir) one start of ``cmd`` runs from exec until ``ready_path`` answers 200."""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *cmd],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
        )
        t0 = time.perf_counter()
        try:
            while not ok(port, ready_path):
                if proc.poll() is not None or time.perf_counter() - t0 > 600:
                    raise SystemExit(f"{cmd[:3]} under valgrind: exited or not ready after 600 s")
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGUSR1)
            proc.wait(120)
        log.seek(0)
        found = re.search(r"Collected : (\d+)", log.read())
    if found is None:
        raise SystemExit("callgrind printed no instruction count")
    return int(found.group(1))


def package_dir(search: str | None) -> str:
    """The folder of the ``llm_exporter`` package found first (in ``search``, else as imported here)."""
    if search:
        return os.path.join(search, "llm_exporter")
    spec = importlib.util.find_spec("llm_exporter")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm_exporter is not installed in this environment")
    return str(next(iter(spec.submodule_search_locations)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--against", metavar="DIR", help="also start the llm_exporter package found in DIR")
    ap.add_argument("--no-compile", action="store_true", help="remove the packages' bytecode first")
    ap.add_argument("--instructions", action="store_true", help="also count instructions to ready (valgrind)")
    args = ap.parse_args()
    for search in [None, args.against] if args.against else [None]:
        folder = package_dir(search)
        if not args.no_compile:
            compileall.compile_dir(folder, quiet=1)
            continue
        for cache in glob.glob(os.path.join(folder, "**", "__pycache__"), recursive=True):
            shutil.rmtree(cache)
    ours: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    other: list[tuple[float, float]] = []
    other_env = None
    if args.against:
        path = os.environ.get("PYTHONPATH")
        other_env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [args.against, path]))}

    def exporter(env: dict[str, str] | None = None) -> tuple[float, float]:
        p = free_port()
        cmd = [sys.executable, "-m", "llm_exporter", f"--web.listen-address=127.0.0.1:{p}", "--log.level=error"]
        return one(cmd, p, "/-/ready", env)

    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")

    for _ in range(args.runs):
        ours.append(exporter())
        p = free_port()
        base.append(one([sys.executable, "-c", BASELINE, str(p)], p, "/metrics"))
        if other_env is not None:
            other.append(exporter(other_env))
    o_start, o_rss = statistics.median(s for s, _ in ours), statistics.median(r for _, r in ours)
    b_start, b_rss = statistics.median(s for s, _ in base), statistics.median(r for _, r in base)
    mib = 2**20
    print(f"startup and idle memory: median of {args.runs} interleaved starts each", end="")
    if not args.no_compile:
        print(" (bytecode written first, as pip does)")
    elif os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print(" (no bytecode: sources compiled at every start)")
    else:
        print(" (bytecode removed first, then written by the first start)")
    print(f"{'':44}{'ready ms':>10}{'idle RSS MiB':>14}")
    print(f"{'llm-exporter, embedded default':44}{o_start * 1e3:>10.0f}{o_rss / mib:>14.1f}")
    if other:
        a_start, a_rss = statistics.median(s for s, _ in other), statistics.median(r for _, r in other)
        label = f"  the same, from {args.against}"[:43]
        print(f"{label:44}{a_start * 1e3:>10.0f}{a_rss / mib:>14.1f}")
    print(f"{'baseline plain prometheus_client exporter':44}{b_start * 1e3:>10.0f}{b_rss / mib:>14.1f}")
    print(f"{'ratio':44}{o_start / b_start:>10.2f}{o_rss / b_rss:>14.2f}")
    verdict = "OK" if o_start <= 0.150 and o_rss <= 32 * mib else "ABOVE GOAL"
    print(f"goals: ready <= 150 ms, idle RSS <= 32 MiB: {verdict}")
    if args.instructions:
        print_instructions(args.against, other_env)


def print_instructions(against: str | None, other_env: dict[str, str] | None) -> None:
    """One start of each under callgrind: instructions from exec until ready."""

    def ours(env: dict[str, str] | None = None) -> int:
        p = free_port()
        cmd = [sys.executable, "-m", "llm_exporter", f"--web.listen-address=127.0.0.1:{p}", "--log.level=error"]
        return instructions(cmd, p, "/-/ready", env)

    p = free_port()
    base = instructions([sys.executable, "-c", BASELINE, str(p)], p, "/metrics")
    mine = ours()
    print("\ninstructions from exec until ready (valgrind callgrind, one start each, millions):")
    print(f"{'llm-exporter, embedded default':44}{mine / 1e6:>10.0f}")
    if against and other_env is not None:
        label = f"  the same, from {against}"[:43]
        print(f"{label:44}{ours(other_env) / 1e6:>10.0f}")
    print(f"{'baseline plain prometheus_client exporter':44}{base / 1e6:>10.0f}")
    print(f"{'ratio':44}{mine / base:>10.2f}")


if __name__ == "__main__":
    main()
