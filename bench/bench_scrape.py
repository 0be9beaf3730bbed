"""Scrape latency and exporter CPU per scrape, against a plain prometheus_client exporter.

Both servers run as subprocesses on loopback:
  - llm-exporter with only its own metrics (GPU and discovery off);
  - baseline: prometheus_client.start_http_server with its default registry (process,
    platform and GC collectors), the smallest Python exporter there is.
Each is scraped N times by C concurrent scrapers; we print median and p99 latency and the
server's CPU time per scrape (from /proc via psutil), and the ratio llm-exporter / baseline.

    python bench/bench_scrape.py [--scrapes 2000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

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


def wait_up(port: int) -> None:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/metrics")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not come up")


def hammer(port: int, scrapes: int, concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    lock = threading.Lock()
    per = scrapes // concurrency
    size = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine = []
        for _ in range(per):
            t0 = time.perf_counter()
            conn.request("GET", "/metrics", headers={"Accept": "text/plain;version=0.0.4"})
            resp = conn.getresponse()
            body = resp.read()
            mine.append(time.perf_counter() - t0)
            size[0] = len(body)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, size[0]


def measure(cmd: list[str], port: int, scrapes: int, concurrency: int) -> dict[str, float]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_up(port)
        hammer(port, 50, 1)  # warm up
        ps = psutil.Process(proc.pid)
        before = ps.cpu_times()
        lat, size = hammer(port, scrapes, concurrency)
        after = ps.cpu_times()
        cpu = (after.user - before.user) + (after.system - before.system)
        lat.sort()
        return {
            "median_ms": statistics.median(lat) * 1e3,
            "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1e3,
            "cpu_ms_per_scrape": cpu / len(lat) * 1e3,
            "bytes": size,
            "scrapes": len(lat),
        }
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scrapes", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "config.yml"
        cfg.write_text("gpu:\n  enabled: false\nscrape:\n  min_interval: 0s\n")
        p1, p2 = free_port(), free_port()
        ours = measure(
            [
                sys.executable,
                "-m",
                "llm_exporter",
                f"--config.file={cfg}",
                f"--web.listen-address=127.0.0.1:{p1}",
                "--log.level=error",
                "--web.max-requests=0",
            ],
            p1,
            args.scrapes,
            args.concurrency,
        )
        base = measure([sys.executable, "-c", BASELINE, str(p2)], p2, args.scrapes, args.concurrency)
    print(
        f"scrape benchmark: {args.scrapes} scrapes, {args.concurrency} concurrent scrapers, "
        f"{os.cpu_count()} CPUs, self metrics only (min_interval 0: every scrape collects)"
    )
    print(f"{'server':<38}{'median ms':>11}{'p99 ms':>10}{'CPU ms/scrape':>15}{'bytes':>8}")
    for name, r in (("llm-exporter", ours), ("baseline prometheus_client server", base)):
        print(f"{name:<38}{r['median_ms']:>11.3f}{r['p99_ms']:>10.3f}{r['cpu_ms_per_scrape']:>15.3f}{r['bytes']:>8.0f}")
    print(
        f"{'ratio llm-exporter / baseline':<38}{ours['median_ms'] / base['median_ms']:>11.2f}"
        f"{ours['p99_ms'] / base['p99_ms']:>10.2f}{ours['cpu_ms_per_scrape'] / base['cpu_ms_per_scrape']:>15.2f}"
    )


if __name__ == "__main__":
    main()
