"""Soak: scrape llm-exporter every 0.2 s for a bounded time against flapping upstreams on loopback.

The exporter runs as its own process (``llm-exporter serve``, ``min_interval 0s``) with
``--targets`` vLLM targets. Each upstream (a loopback HTTP server in this process) cycles,
one phase every ``--phase`` seconds, through: healthy with growing counters, an engine restart
(counters back to 0), non-finite and negative samples, HTTP 500, a slow drip (one byte every
0.3 s), a body without newlines, a 30,000-model body (``--many-models``), and a refused connection (its listener
closed), then healthy again. The targets are out of phase, so something is always failing.

Every scrape is parsed; the script prints, every ``--report`` seconds and at the end, the
exporter's RSS, open fds and threads, the scrape latency, how many targets were up, and
whether every exported counter stayed finite and monotonic. Exit status 1 if a counter went
back or became non-finite, if a scrape failed, or if fds or threads grew past a bound.

    python bench/bench_soak.py [--seconds 120] [--targets 4] [--phase 3]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families

PHASES = ("healthy", "restart", "bad_samples", "http500", "drip", "no_newlines", "many_models", "refused")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the exporter hung up on a drip or a reset: expected here


class Flapping:
    """One upstream whose behaviour follows the phase clock; counters grow while it is healthy."""

    def __init__(self, index: int, phase_seconds: float, start: float, many_models: int = 30_000) -> None:
        self.index = index
        self.many_models = many_models
        self.phase_seconds = phase_seconds
        self.start = start
        self.tokens = 1000 * (index + 1)
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self.open()

    def phase(self) -> str:
        n = int((time.monotonic() - self.start) / self.phase_seconds) + self.index * 3
        return PHASES[n % len(PHASES)]

    def body(self, phase: str) -> bytes:
        self.tokens += 137
        value = self.tokens
        if phase == "restart":
            value = (self.tokens % 500) + 1  # the engine restarted: its counters start again low
        lines = [
            b'vllm:num_requests_running{engine="0",model_name="m"} 3',
            b'vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.25',
            b'vllm:generation_tokens_total{engine="0",model_name="m"} %d' % value,
            b'vllm:prompt_tokens_total{engine="0",model_name="m"} %d' % (2 * value),
            b'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} %d' % (value // 10),
        ]
        if phase == "bad_samples":
            lines[2] = b'vllm:generation_tokens_total{engine="0",model_name="m"} +Inf'
            lines[3] = b'vllm:prompt_tokens_total{engine="0",model_name="m"} NaN'
            lines[4] = b'vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} -5'
            lines[1] = b'vllm:kv_cache_usage_perc{engine="0",model_name="m"} -Inf'
        if phase == "many_models":
            lines += [b'vllm:num_requests_running{engine="0",model_name="x%d"} 1' % i for i in range(self.many_models)]
        return b"\n".join(lines) + b"\n"

    def open(self) -> None:
        flapping = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with contextlib.suppress(OSError):
                    flapping.answer(self)

        self._server = _Quiet(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def tick(self) -> None:
        """Close the listener during the ``refused`` phase, reopen it afterwards."""
        with self._lock:
            if self.phase() == "refused" and self._server is not None:
                self.close()
            elif self.phase() != "refused" and self._server is None:
                with contextlib.suppress(OSError):
                    self.open()

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        phase = self.phase()
        if h.path.split("?")[0] != "/metrics":
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if phase == "http500":
            h.send_response(500)
            h.send_header("Content-Length", "4")
            h.end_headers()
            h.wfile.write(b"boom")
            return
        body = b"0" * (2 * 1024 * 1024) if phase == "no_newlines" else self.body(phase)
        h.send_response(200)
        h.send_header("Content-Type", "text/plain; version=0.0.4")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if phase == "drip":
            for i in range(min(len(body), 100)):
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
                time.sleep(0.3)
            return
        h.wfile.write(body)


def scrape(port: int, timeout: float) -> tuple[bytes, float]:
    t0 = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout + 5)
    try:
        conn.request("GET", "/metrics", headers={"X-Prometheus-Scrape-Timeout-Seconds": str(timeout)})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"/metrics answered {resp.status}")
    finally:
        conn.close()
    return body, time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--targets", type=int, default=4)
    ap.add_argument("--phase", type=float, default=3.0, help="seconds per upstream phase")
    ap.add_argument("--interval", type=float, default=0.2)
    ap.add_argument("--scrape-timeout", type=float, default=1.5)
    ap.add_argument("--report", type=float, default=15.0)
    ap.add_argument("--many-models", type=int, default=30_000, help="models in the many_models phase")
    args = ap.parse_args()

    start = time.monotonic()
    ups = [Flapping(i, args.phase, start, args.many_models) for i in range(args.targets)]
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    cfg = tmp / "config.yml"
    lines = ["gpu: {enabled: false}", "scrape: {min_interval: 0s, timeout: 10s, timeout_offset: 0s}", "inference:"]
    lines += [f"  - {{name: t{u.index}, server: vllm, url: 'http://127.0.0.1:{u.port}', timeout: 5s}}" for u in ups]
    cfg.write_text("\n".join(lines) + "\n")
    exe = Path(sys.executable).with_name("llm-exporter")
    log = open(tmp / "exporter.log", "wb")  # noqa: SIM115 - closed at the end
    proc = subprocess.Popen(
        [str(exe), "serve", "--config.file", str(cfg), "--web.listen-address", f"127.0.0.1:{port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    ps = psutil.Process(proc.pid)
    last: dict[tuple, float] = {}
    problems: list[str] = []
    latencies: list[float] = []
    scrapes = errors = 0
    base: tuple[float, int, int] | None = None
    peak_rss = 0.0
    next_report = time.monotonic() + args.report
    print(f"soak: {args.targets} flapping targets, a scrape every {args.interval}s for {args.seconds:g}s")
    print(
        f"{'t (s)':>6} {'scrapes':>7} {'errors':>6} {'RSS MiB':>8} {'fds':>4} {'threads':>7} {'p50 ms':>7} "
        f"{'max ms':>7} {'up':>3} {'counters':>9}"
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                scrape(port, args.scrape_timeout)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the exporter did not start; see " + str(tmp / "exporter.log")) from None
                time.sleep(0.1)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            tick = time.monotonic()
            for u in ups:
                u.tick()
            try:
                body, took = scrape(port, args.scrape_timeout)
            except (OSError, RuntimeError) as exc:
                errors += 1
                problems.append(f"scrape failed: {exc}")
                continue
            scrapes += 1
            latencies.append(took)
            up = 0
            for fam in text_string_to_metric_families(body.decode()):
                for s in fam.samples:
                    if s.name == "llm_target_up":
                        up += int(s.value == 1)
                    if fam.type != "counter" or not s.name.endswith("_total"):
                        continue
                    key = (s.name, tuple(sorted(s.labels.items())))
                    if not math.isfinite(s.value):
                        problems.append(f"non-finite counter {key}: {s.value}")
                    elif s.value < last.get(key, -math.inf):
                        problems.append(f"counter went back {key}: {last[key]} -> {s.value}")
                    last[key] = s.value
            rss = ps.memory_info().rss / 2**20
            peak_rss = max(peak_rss, rss)
            state = (rss, ps.num_fds(), ps.num_threads())
            if base is None:
                base = state
            if time.monotonic() >= next_report or time.monotonic() + args.interval >= end:
                next_report += args.report
                lat = sorted(latencies[-200:])
                verdict = "ok" if not any("counter" in p for p in problems) else "BROKEN"
                print(
                    f"{time.monotonic() - start:6.0f} {scrapes:7d} {errors:6d} {state[0]:8.1f} {state[1]:4d} "
                    f"{state[2]:7d} {1000 * lat[len(lat) // 2]:7.0f} {1000 * lat[-1]:7.0f} {up:3d} {verdict:>9}"
                )
            time.sleep(max(0.0, args.interval - (time.monotonic() - tick)))
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
        log.close()
        for u in ups:
            u.close()
    assert base is not None
    print(f"\nfirst scrape: RSS {base[0]:.1f} MiB, {base[1]} fds, {base[2]} threads; peak RSS {peak_rss:.1f} MiB")
    print(f"last scrape:  RSS {state[0]:.1f} MiB, {state[1]} fds, {state[2]} threads")
    print(f"counters checked: {len(last)} series over {scrapes} scrapes; scrape errors: {errors}")
    grew = state[1] > base[1] + 4 * args.targets + 8 or state[2] > base[2] + 4 * args.targets + 8
    for p in dict.fromkeys(problems):
        print("PROBLEM:", p)
    if grew:
        print("PROBLEM: fds or threads grew past the bound (4 per target + 8)")
    ok = not problems and not grew
    print("verdict:", "OK: counters finite and monotonic, no scrape failed, fds/threads bounded" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
