"""A live-looking upstream: a local HTTP server serving an engine fixture whose counters grow.

Every request multiplies counter, histogram bucket/count/sum values by the number of
requests served so far, so rates and histogram quantiles are non-zero, as on a busy
engine. ``stop()`` takes the server away (target down).
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler

from http_upstream import FIXTURES, Upstream, send

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

    def __init__(self, fixture: str) -> None:
        self.text = (FIXTURES / fixture).read_text()
        self.hits = 0
        self._server = Upstream({"GET /metrics": self._metrics})
        self.port = self._server.port
        self.url = self._server.url

    def _metrics(self, h: BaseHTTPRequestHandler) -> None:
        self.hits += 1
        h.close_connection = True  # no keep-alive: after stop() the target is down at once
        send(200, grow(self.text, self.hits).encode(), headers={"Connection": "close"})(h)

    def start(self) -> LiveEngine:
        self._server.__enter__()
        return self

    def stop(self) -> None:
        self._server.__exit__()


class Webhook:
    """Collects POSTed JSON bodies (and headers) by path, like a pager or chat endpoint."""

    def __init__(self) -> None:
        self._server = Upstream(fallback=send(200, b"{}", "application/json")).__enter__()
        self.port = self._server.port
        self.url = self._server.url

    def at(self, path: str) -> list[tuple[dict[str, str], dict]]:
        return [(h, json.loads(b or b"{}")) for m, p, h, b in list(self._server.requests) if m == "POST" and p == path]

    def close(self) -> None:
        self._server.__exit__()
