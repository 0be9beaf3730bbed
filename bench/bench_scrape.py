"""CPU per scrape of llm-exporter reading real-sized upstreams, against a plain exporter.

Like for like, in one run on this machine:

- upstreams: ``--targets`` loopback HTTP servers (separate processes, so their CPU is not
  counted), each serving a vLLM V1 body of about ``--samples`` samples (``payloads.py``),
  the next step of load on every request (same lines, counters and buckets grown, gauges
  changed), as a busy server does;
- ours: ``llm-exporter`` with one ``server: vllm`` target per upstream, ``min_interval 0s``
  so that every scrape reads, parses, normalises and renders every upstream;
- baseline: a plain ``prometheus_client`` server whose collector builds, on every scrape,
  exactly the families and samples ours exposed (same series count, same label sets), the
  way a hand-written exporter that already holds its data would;
- both are scraped as Prometheus scrapes: over a connection kept open between scrapes where
  the server allows it (ours does; prometheus_client's closes it after each answer).

Both servers run side by side and are scraped in ``--rounds`` interleaved rounds (``--scrapes``
in all each, one scrape at a time), so that a noisy machine weighs on both alike; the
median over rounds of each server process's CPU time (user + system, from psutil) per
scrape is printed with the ratio ours / baseline (goal: at most 1.5). Then:

2. one target with bodies of ``--sizes`` samples: CPU per upstream sample, which should stay
   flat from 1k to 100k samples (goal: at most 1.5 us), beside the data path alone (parse,
   normalise and render of the same bodies in this process, no I/O): its floor;
3. ``--overlap-targets`` targets that each take ``--delay`` to answer: the wall time of a
   scrape against reading them one after another (reads waiting on the network overlap).

    python bench/bench_scrape.py [--targets 2] [--samples 10000] [--scrapes 40]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
from payloads import vllm_body

UPSTREAM = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import itertools, threading, time
sys.path.insert(0, sys.argv[5])
from payloads import vllm_body
models, engines = (int(x) for x in sys.argv[2].split("x"))
delay = float(sys.argv[3])
steps = itertools.count(int(sys.argv[4]))
# The first bodies are made before serving, so that making them does not compete for the
# CPU with the exporter under measurement; later ones are made on demand.
ready = [vllm_body(models, engines, step=next(steps)) for _ in range(int(sys.argv[6]))][::-1]
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        with lock:  # every answer is the next step of load: same lines, new values
            body = ready.pop() if ready else vllm_body(models, engines, step=next(steps))
        time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # a read the exporter gave up at its deadline (its first careful reads, at start)
    def log_message(self, *a):
        pass
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""

BASELINE = """
import sys, time
from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[2]).read()
model = [(f.name, f.documentation, f.type, [(s.name, dict(s.labels), s.value) for s in f.samples])
         for f in text_string_to_metric_families(text)]
class Plain:
    def collect(self):
        for name, doc, typ, samples in model:
            fam = Metric(name, doc, typ)
            for sname, labels, value in samples:
                fam.add_sample(sname, labels, value)
            yield fam
for c in list(REGISTRY._collector_to_names):
    REGISTRY.unregister(c)
REGISTRY.register(Plain())
start_http_server(int(sys.argv[1]), addr="127.0.0.1")
while True:
    time.sleep(3600)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# One client connection per server, kept open between scrapes where the server allows it, as
# Prometheus scrapes (llm-exporter keeps HTTP/1.1 connections alive; prometheus_client's
# wsgiref server closes each one, and http.client then opens a new one for the next scrape).
_CONNECTIONS: dict[int, http.client.HTTPConnection] = {}


def get(port: int, timeout: float = 30.0) -> bytes:
    conn = _CONNECTIONS.get(port)
    if conn is None:
        conn = _CONNECTIONS[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/metrics", headers={"Accept": "text/plain;version=0.0.4"})
        resp = conn.getresponse()
        body = resp.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        del _CONNECTIONS[port]
        raise
    if resp.status != 200:
        raise RuntimeError(f"port {port}: HTTP {resp.status}")
    return body


def forget(port: int) -> None:
    """Close the kept connection to ``port`` (its server is stopping, or another may take the port)."""
    conn = _CONNECTIONS.pop(port, None)
    if conn is not None:
        conn.close()


def wait_up(port: int, proc: subprocess.Popen) -> None:
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode}")
        try:
            get(port, timeout=5)
            forget(port)  # scrapes open their own, with the scrape timeout
            return
        except (OSError, RuntimeError):
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not come up")


def series_count(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def cpu_per_scrape(proc: subprocess.Popen, port: int, scrapes: int, warm: bool = True) -> tuple[float, bytes]:
    """The server's CPU seconds per scrape, over ``scrapes`` sequential scrapes."""
    ps = psutil.Process(proc.pid)
    if warm:
        get(port)
        get(port)
    before = ps.cpu_times()
    for _ in range(scrapes):
        body = get(port)
    after = ps.cpu_times()
    return ((after.user - before.user) + (after.system - before.system)) / scrapes, body


def shape(samples: int) -> tuple[int, int]:
    """(models, engines) of a vLLM body of about ``samples`` samples (about 310 per pair)."""
    pairs = max(1, round(samples / 310))
    models = max(1, min(8, pairs))
    return models, max(1, round(pairs / models))


class Stack:
    """Upstream servers and llm-exporter reading them, as subprocesses on loopback."""

    def __init__(self, d: Path, targets: int, samples: int, delay: float = 0.0, bodies: int = 0) -> None:
        self.dir = d
        self.procs: list[subprocess.Popen] = []
        self.models, self.engines = shape(samples)
        self.body = vllm_body(self.models, self.engines)
        self.samples = series_count(self.body)
        self.targets = targets
        ports = []
        for i in range(targets):
            port = free_port()
            shape_arg = f"{self.models}x{self.engines}"
            here = str(Path(__file__).resolve().parent)
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", UPSTREAM, str(port), shape_arg, str(delay), str(i * 1000), here, str(bodies)]
                )
            )
            ports.append(port)
        for port, proc in zip(ports, self.procs, strict=True):
            wait_up(port, proc)
        cfg = d / "config.yml"
        lines = ["gpu:\n  enabled: false\n", "discovery:\n  enabled: false\n", "scrape:\n  min_interval: 0s\n"]
        lines.append("inference:\n")
        for i, port in enumerate(ports):
            lines.append(f"  - name: vllm-{i}\n    url: http://127.0.0.1:{port}\n    server: vllm\n")
        cfg.write_text("".join(lines))
        self.port = free_port()
        self.exporter = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llm_exporter",
                f"--config.file={cfg}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=error",
            ],
            stdout=subprocess.DEVNULL,
        )
        self.procs.append(self.exporter)
        wait_up(self.port, self.exporter)

    def close(self) -> None:
        forget(self.port)
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(10)


@contextlib.contextmanager
def plain_server(d: Path, exposition: bytes) -> Iterator[tuple[subprocess.Popen, int]]:
    """The baseline: a plain prometheus_client server exposing ``exposition``'s series; (process, port)."""
    exposed = d / "exposed.txt"
    exposed.write_bytes(exposition)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BASELINE, str(port), str(exposed)])
    try:
        wait_up(port, proc)
        yield proc, port
    finally:
        forget(port)
        proc.terminate()
        proc.wait(10)


def compare(d: Path, targets: int, samples: int, scrapes: int, rounds: int) -> None:
    """CPU per uncached scrape: llm-exporter vs a plain server exposing the same series,
    measured in ``rounds`` interleaved rounds (medians), so that noise hits both alike."""
    stack = Stack(d, targets, samples, bodies=scrapes + 8)
    try:
        _, out = cpu_per_scrape(stack.exporter, stack.port, 1)
        with plain_server(d, out) as (base, p_base):
            _, base_out = cpu_per_scrape(base, p_base, 1)
            per_round = max(1, scrapes // rounds)
            ours_cpu, base_cpu = [], []
            for _ in range(rounds):
                ours_cpu.append(cpu_per_scrape(stack.exporter, stack.port, per_round, warm=False)[0])
                base_cpu.append(cpu_per_scrape(base, p_base, per_round, warm=False)[0])
    finally:
        stack.close()
    cpu_ours, cpu_base = statistics.median(ours_cpu), statistics.median(base_cpu)
    n_ours, n_base = series_count(out), series_count(base_out)
    print(
        f"1. {targets} vLLM targets x {stack.samples} samples ({stack.models} models x {stack.engines} engines),"
        f" {rounds} interleaved rounds of {per_round} sequential uncached scrapes (medians), {os.cpu_count()} CPUs"
    )
    print(f"{'server':<44}{'series out':>11}{'CPU ms/scrape':>15}{'us/upstream sample':>20}")
    print(
        f"{'llm-exporter (read+parse+normalise+render)':<44}{n_ours:>11}{cpu_ours * 1e3:>15.2f}"
        f"{cpu_ours / (stack.samples * targets) * 1e6:>20.3f}"
    )
    print(f"{'baseline plain prometheus_client server':<44}{n_base:>11}{cpu_base * 1e3:>15.2f}{'':>20}")
    ratio = cpu_ours / cpu_base
    spread = sorted(o / b for o, b in zip(ours_cpu, base_cpu, strict=True))
    print(
        f"ratio llm-exporter / baseline CPU: {ratio:.2f} (rounds {spread[0]:.2f}-{spread[-1]:.2f}; goal <= 1.5) "
        f"{'OK' if ratio <= 1.5 else 'ABOVE GOAL'}"
    )


def data_path(models: int, engines: int, scrapes: int) -> float:
    """Median CPU seconds of the exporter's data path alone, in this process, per scrape.

    The template parse, normalise and render of the bodies the upstream serves (the same
    steps of load), with the target's parse cache and counter folder as a running collector
    keeps them: no HTTP on either side, no threads, no serving. What a scrape costs beyond
    this is the fixed cost of reading and serving.
    """
    from llm_exporter.collectors.inference.mapping import normalise
    from llm_exporter.collectors.inference.vllm import VLLM
    from llm_exporter.counters import CounterFolder
    from llm_exporter.exposition import render
    from llm_exporter.metricset import MetricSet
    from llm_exporter.promtext import ParseCache, Parser

    folder, cache = CounterFolder(), ParseCache()
    times = []
    for step in range(scrapes + 2):  # the first two learn the template and fill the folder
        body = vllm_body(models, engines, step=step)
        t0 = time.process_time()
        parser = Parser(VLLM.scalar_names(), VLLM.histogram_names(), max_samples=10**7, cache=cache)
        parser.feed(body)
        out = MetricSet()
        normalise(VLLM, parser.close(), out, "vllm-0", "unknown", folder)
        render(out)
        if step >= 2:
            times.append(time.process_time() - t0)
    return statistics.median(times)


def sweep(d: Path, sizes: list[int], scrapes: int) -> None:
    """CPU per upstream sample, one target, body sizes from small to large (linearity).

    Besides the average per sample, the fixed cost of a scrape and the cost of each further
    sample (least-squares line through the points): linear means a flat marginal cost. For
    scale, the plain prometheus_client server exposing the same output at each size, and
    the data path alone (``data_path``: parse, normalise, render, no I/O) per sample.
    """
    print(f"\n2. one vLLM target, CPU per upstream sample by body size ({scrapes} scrapes each)")
    print(
        f"{'samples':>10}{'series out':>11}{'CPU ms/scrape':>15}{'us/sample':>11}{'plain server ms':>17}"
        f"{'no-I/O us/sample':>18}"
    )
    points = []
    for size in sizes:
        n = max(12, scrapes * 10_000 // max(size, 1) // 4)  # 12+: CPU times come in 10 ms ticks
        stack = Stack(d, 1, size, bodies=n + 4)
        try:
            cpu, out = cpu_per_scrape(stack.exporter, stack.port, n)
        finally:
            stack.close()
        with plain_server(d, out) as (base, p_base):
            cpu_base, _ = cpu_per_scrape(base, p_base, n)
        bare = data_path(stack.models, stack.engines, n)
        points.append((stack.samples, cpu))
        print(
            f"{stack.samples:>10}{series_count(out):>11}{cpu * 1e3:>15.2f}{cpu / stack.samples * 1e6:>11.3f}"
            f"{cpu_base * 1e3:>17.2f}{bare / stack.samples * 1e6:>18.3f}"
        )
    if len(points) >= 2:
        k = len(points)
        mx = sum(x for x, _ in points) / k
        my = sum(y for _, y in points) / k
        slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
        fixed = my - slope * mx
        print(f"fit: {fixed * 1e3:.1f} ms per scrape + {slope * 1e6:.3f} us per sample (goal: 1.5 us per sample)")


def overlap(d: Path, targets: int, delay: float, scrapes: int) -> None:
    """Wall time per scrape when every upstream takes ``delay`` to answer: reads overlap."""
    stack = Stack(d, targets, 1_000, delay=delay)
    try:
        get(stack.port)
        t0 = time.perf_counter()
        for _ in range(scrapes):
            get(stack.port)
        wall = (time.perf_counter() - t0) / scrapes
    finally:
        stack.close()
    print(f"\n3. {targets} targets that each answer after {delay * 1e3:.0f} ms ({scrapes} scrapes)")
    print(
        f"wall time per scrape: {wall * 1e3:.0f} ms; reading them one after another would take {targets * delay * 1e3:.0f} ms"
    )
    print(f"overlap: {targets * delay / wall:.1f}x of {targets} possible")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", type=int, default=2)
    ap.add_argument("--samples", type=int, default=10_000, help="samples per upstream body (approximate)")
    ap.add_argument("--scrapes", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the comparison (medians)")
    ap.add_argument("--sizes", default="1000,10000,100000", help="body sizes for the linearity sweep ('' to skip)")
    ap.add_argument("--overlap-targets", type=int, default=8)
    ap.add_argument("--delay", type=float, default=0.3, help="upstream answer delay for the overlap check")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        compare(d, args.targets, args.samples, args.scrapes, args.rounds)
        if args.sizes:
            sweep(d, [int(x) for x in args.sizes.split(",")], args.scrapes)
        if args.overlap_targets:
            overlap(d, args.overlap_targets, args.delay, 5)


if __name__ == "__main__":
    main()
