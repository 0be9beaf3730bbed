"""The tests' one HTTP server: a real threaded server on 127.0.0.1 that plays an upstream,
good or broken (inference servers, a broker API, a webhook receiver), with swappable routes.

It binds port 0 and keeps the bound socket, so its port can never be taken by someone else
between choosing and binding it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inference"

Route = Callable[[BaseHTTPRequestHandler], None]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def send(
    status: int = 200,
    body: bytes = b"",
    ctype: str = "text/plain; version=0.0.4; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    return route


def truncated(body: bytes, announce: int) -> Route:
    """Announce ``announce`` bytes, send ``body`` (shorter) and close the connection."""

    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/plain; version=0.0.4")
        h.send_header("Content-Length", str(announce))
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()
        h.close_connection = True
        with contextlib.suppress(OSError):
            h.connection.shutdown(socket.SHUT_RDWR)

    return route


def slow(delay: float, body: bytes = b"") -> Route:
    def route(h: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        with contextlib.suppress(OSError):
            send(200, body)(h)

    return route


def streamed(
    chunks: Callable[[], Iterator[bytes]], ctype: str = "text/plain; version=0.0.4", announce_length: int | None = None
) -> Route:
    """Stream a generated body chunk by chunk (chunked encoding unless a length is announced)."""

    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        if announce_length is not None:
            h.send_header("Content-Length", str(announce_length))
        else:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            for chunk in chunks():
                if announce_length is not None:
                    h.wfile.write(chunk)
                else:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if announce_length is None:
                h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass  # the client gave up, as it should

    return route


class Upstream:
    """A threaded HTTP server whose routes can be swapped while it runs.

    ``routes`` maps ``"METHOD /path"`` or ``"/path"`` to a route; ``fallback`` answers every
    other request (404 when it is None).
    """

    def __init__(self, routes: dict[str, Route] | None = None, fallback: Route | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.fallback = fallback
        self.hits: dict[str, int] = {}
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _dispatch(self, method: str) -> None:
                path = self.path.split("?", 1)[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.requests.append((method, path, dict(self.headers), body))
                upstream.hits[path] = upstream.hits.get(path, 0) + 1
                route = upstream.routes.get(f"{method} {path}") or upstream.routes.get(path) or upstream.fallback
                if route is None:
                    send(404, b"not found", "text/plain")(self)
                    return
                route(self)

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
