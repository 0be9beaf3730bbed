"""A live-looking upstream: a local HTTP server serving an engine fixture whose counters grow.

Every request multiplies counter, histogram bucket/count/sum values by the number of
requests served so far, so rates and histogram quantiles are non-zero, as on a busy
engine. ``stop()`` takes the server away (target down); the port stays reserved.
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from support import free_port

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inference"
_SAMPLE = re.compile(r"^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)(.*)$")


def grow(text: str, factor: int) -> str:
    """Scale the values of counter-like samples (``_total``, ``_bucket``, ``_count``, ``_sum``, counters)."""
    counters = set(re.findall(r"^# TYPE (\S+) counter", text, re.M))
    out = []
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m and not line.startswith("#"):
            name, labels, value, rest = m.groups()
            base = re.sub(r"_(total|created)$", "", name)
            if (name.endswith(("_total", "_bucket", "_count", "_sum")) or base in counters) and not name.endswith(
                "_created"
            ):
                try:
                    line = f"{name}{labels or ''} {float(value) * factor!r}{rest}"
                except ValueError:
                    pass
        out.append(line)
    return "\n".join(out) + "\n"


class LiveEngine:
    """Serves ``/metrics`` from a fixture (growing) and 404 for anything else."""

    def __init__(self, fixture: str, port: int | None = None) -> None:
        self.text = (FIXTURES / fixture).read_text()
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits = 0
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> LiveEngine:
        engine = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                engine.hits += 1
                body = grow(engine.text, engine.hits).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class Webhook:
    """Collects POSTed JSON bodies (and headers) by path, like a pager or chat endpoint."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[tuple[str, dict[str, str], dict]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import json

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook._lock:
                    hook.received.append((self.path, dict(self.headers), json.loads(body or b"{}")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[tuple[dict[str, str], dict]]:
        with self._lock:
            return [(h, b) for p, h, b in self.received if p == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
