"""Benchmark of basic auth over real sockets: timing by kind of credential, and a password spray.

Prints, for an in-process exporter with one bcrypt user (cost 10, like ``htpasswd -nBC 10``):
the median answer time of a known user with a wrong password (baseline), an unknown user, and
a known user with a 73-byte password (ratios near 1.0: timing does not tell whether a user
exists), a cached correct password; then a spray of wrong passwords from N threads and the
median and worst answer times of a verified scraper meanwhile (against its time at rest).
Run:

    python bench/bench_basic_auth.py [--cost 10] [--tries 15] [--threads 10]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import statistics
import threading
import time

import bcrypt
from llm_exporter.config import load_config_text
from llm_exporter.runtime import Runtime
from llm_exporter.server import ExporterHTTPServer
from llm_exporter.webconfig import WebConfig

PASSWORD = "correct horse battery"


def ask(port: int, user: str, password: str, path: str = "/-/reload") -> tuple[int, float]:
    """One request on a fresh connection; (status, seconds). /-/reload is 404 after auth: cheap."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Authorization": f"Basic {auth}"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status, time.perf_counter() - t0


def median_time(port: int, user: str, password: str, tries: int) -> float:
    return statistics.median(ask(port, user, password)[1] for _ in range(tries))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cost", type=int, default=10)
    parser.add_argument("--tries", type=int, default=15)
    parser.add_argument("--threads", type=int, default=10)
    args = parser.parse_args()
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(args.cost)).decode()
    runtime = Runtime(None, load_config_text("gpu:\n  enabled: false\n"))
    server = ExporterHTTPServer(("127.0.0.1", 0), runtime, WebConfig(basic_auth_users={"prom": hashed}))
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = median_time(port, "prom", "wrong", args.tries)
        rows = [
            ("known user, wrong password (baseline)", base),
            ("unknown user", median_time(port, "nobody", "wrong", args.tries)),
            ("known user, 73-byte password", median_time(port, "prom", "x" * 73, args.tries)),
        ]
        ask(port, "prom", PASSWORD)
        rows.append(("known user, cached correct password", median_time(port, "prom", PASSWORD, args.tries)))
        print(f"basic auth, bcrypt cost {args.cost}, median of {args.tries} requests")
        print(f"{'credential':40} {'median ms':>10} {'ratio':>7}")
        for name, t in rows:
            print(f"{name:40} {t * 1000:10.2f} {t / base:7.2f}")

        rest = [ask(port, "prom", PASSWORD, "/metrics")[1] for _ in range(args.tries)]
        codes: list[int] = []
        busy = threading.Event()

        def spray(n: int) -> None:
            i = 0
            while busy.is_set():
                codes.append(ask(port, "prom" if i % 2 else f"u{n}", f"guess-{n}-{i}")[0])
                i += 1

        busy.set()
        threads = [threading.Thread(target=spray, args=(n,)) for n in range(args.threads)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        cpu0 = time.process_time()
        during = [ask(port, "prom", PASSWORD, "/metrics")[1] for _ in range(args.tries)]
        cpu = time.process_time() - cpu0
        busy.clear()
        for t in threads:
            t.join(60)
        print(f"\nspray: {args.threads} threads of wrong passwords, {len(codes)} answers "
              f"({codes.count(401)} x 401, {codes.count(429)} x 429)")  # fmt: skip
        print(f"verified scraper /metrics at rest: median {statistics.median(rest) * 1000:.1f} ms")
        print(
            f"verified scraper /metrics during spray: median {statistics.median(during) * 1000:.1f} ms, "
            f"worst {max(during) * 1000:.1f} ms; process CPU while measuring {cpu:.2f} s"
        )
    finally:
        server.shutdown()
        server.server_close()
        runtime.close()


if __name__ == "__main__":
    main()
