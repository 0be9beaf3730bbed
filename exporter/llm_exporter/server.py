"""The HTTP surface: ``/``, ``/metrics``, ``/-/healthy``, ``/-/ready`` and ``POST /-/reload``.

``/-/reload`` exists only with ``--web.enable-lifecycle`` (404 otherwise, as in Prometheus).

A threading server (one thread per connection) with: a cap on concurrent scrapes (503
beyond it, like node_exporter's ``--web.max-requests``), content negotiation (text 0.0.4
or OpenMetrics) and gzip, rendered once per collection (``exposition``), optional basic auth
and TLS from an exporter-toolkit web config (the TLS handshake runs in the connection's
thread, never in the accept loop), and 4xx answers for anything malformed. Connection
limits (open connections, header and idle deadlines, request bodies) are in ``httpconn``.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from . import __version__
from .basicauth import AuthBusy, BasicAuth
from .exposition import choose_format
from .httpconn import DeadlineReader, Limits, ReadClock, body_problem, discard_body
from .redact import redact
from .runtime import Runtime

if TYPE_CHECKING:
    from .webconfig import WebConfig  # imported only when a web config file is given

log = logging.getLogger(__name__)


class ExporterHTTPServer(ThreadingHTTPServer):
    """Threading HTTP server that owns the runtime and the web config."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        runtime: Runtime,
        web: WebConfig | None = None,
        max_requests: int = 40,
        enable_lifecycle: bool = False,
        limits: Limits | None = None,
    ) -> None:
        self.runtime = runtime
        self.enable_lifecycle = enable_lifecycle
        self.web = web  # None: plain HTTP, no basic auth, no rate limit, no extra headers
        self.auth = BasicAuth(web.basic_auth_users if web is not None else {})
        self.rate = TokenBucket(web.rate_limit.interval, web.rate_limit.burst) if web is not None else TokenBucket(0, 0)
        self.tls: ssl.SSLContext | None = None
        if web is not None and web.tls_server_config is not None:
            from .webconfig import ssl_context

            self.tls = ssl_context(web.tls_server_config)
        self.scrape_slots = threading.BoundedSemaphore(max_requests) if max_requests > 0 else None
        self.limits = limits or Limits()
        self.connection_slots = threading.BoundedSemaphore(self.limits.max_connections)
        self.refused_connections = 0
        host = address[0]
        if host and ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__(address, ExporterHandler)

    def server_bind(self) -> None:
        """Bind, without ``HTTPServer``'s ``getfqdn`` of the listen address: a reverse DNS lookup at
        every start (which waits on a slow resolver) for a ``server_name`` that nothing here reads."""
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        """Over ``max_connections``: close at once, before any thread or TLS work."""
        if not self.connection_slots.acquire(blocking=False):
            self.refused_connections += 1
            if self.refused_connections in (1, 10, 100) or self.refused_connections % 1000 == 0:
                log.warning(
                    "%d connections refused so far: %d open connections is the cap (--web.max-connections)",
                    self.refused_connections,
                    self.limits.max_connections,
                )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connection_slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The whole TLS handshake must fit the header deadline (CPython bounds it as a whole).
        request.settimeout(self.limits.header_timeout)
        try:  # headers and body go out in one write; never wait for a delayed ACK
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                log.debug("TLS handshake with %s failed: %s", client_address[0], exc)
                return
            web = self.web
            sans = web.tls_server_config.client_allowed_sans if web is not None and web.tls_server_config else []
            if sans and not _allowed_san(request.getpeercert(), sans):
                log.warning("closed a TLS connection from %s: no allowed SAN in its certificate", client_address[0])
                self.shutdown_request(request)
                return
        request.settimeout(self.limits.write_timeout)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("error while serving %s", client_address, exc_info=True)


class ExporterHandler(BaseHTTPRequestHandler):
    """Routes requests; every path not listed gets 404, every other method 405."""

    server: ExporterHTTPServer
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's (undeclared in typeshed); written directly below
    server_version = f"llm-exporter/{__version__}"
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # answer malformed requests with a status line, never HTTP/0.9

    routes: dict[tuple[str, str], Callable[[ExporterHandler], None]] = {}

    def setup(self) -> None:
        super().setup()
        self._clock = ReadClock(self.server.limits)
        self._requests_seen = 0
        self.rfile = io.BufferedReader(DeadlineReader(self.connection, self._clock), 65536)

    def handle_one_request(self) -> None:
        if self._requests_seen:
            self._clock.idle()
        self._requests_seen += 1
        super().handle_one_request()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        self._clock.body()
        problem = body_problem(self.headers, self.server.limits.max_body_bytes)
        if problem is not None:
            self._refuse(*problem)
            return
        if not discard_body(self.rfile, self.headers):
            self.close_connection = True
            return
        if path not in UNAUTHENTICATED_PATHS and not self.server.rate.take():
            self.send_response(HTTPStatus.TOO_MANY_REQUESTS)
            self.send_header("Retry-After", "1")
            self._body(b"Too Many Requests\n", "text/plain; charset=utf-8")
            return
        try:
            authorized = path in UNAUTHENTICATED_PATHS or self._authorized()
        except AuthBusy:
            self.send_response(HTTPStatus.TOO_MANY_REQUESTS)
            self.send_header("Retry-After", "1")
            self._body(b"Too many password checks in flight\n", "text/plain; charset=utf-8")
            return
        if not authorized:
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", 'Basic realm="llm-exporter"')
            self._body(b"Unauthorized\n", "text/plain; charset=utf-8")
            return
        if path in LIFECYCLE_PATHS and not self.server.enable_lifecycle:
            self._plain(HTTPStatus.NOT_FOUND, "Lifecycle API is not enabled (start with --web.enable-lifecycle)\n")
            return
        allowed = [m for (m, p) in self.routes if p == path]
        if not allowed:
            self._plain(HTTPStatus.NOT_FOUND, "Not Found\n")
            return
        route = self.routes.get(("GET" if method == "HEAD" else method, path))
        if route is None:
            self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
            self.send_header("Allow", ", ".join(sorted(set(allowed) | ({"HEAD"} if "GET" in allowed else set()))))
            self._body(b"Method Not Allowed\n", "text/plain; charset=utf-8")
            return
        route(self)

    # -- routes ----------------------------------------------------------------------
    def landing(self) -> None:
        from .statuspage import render

        self._body(render(self.server.runtime).encode(), "text/html; charset=utf-8")

    def healthy(self) -> None:
        self._plain(HTTPStatus.OK, "Healthy\n")

    def ready(self) -> None:
        if self.server.runtime.ready:
            self._plain(HTTPStatus.OK, "Ready\n")
        else:
            self._plain(HTTPStatus.SERVICE_UNAVAILABLE, "Not ready\n")

    def reload(self) -> None:
        try:
            errors = self.server.runtime.reload()
        except Exception as exc:  # reload() reports its own failures; this is a last resort
            errors = [f"<root>: {type(exc).__name__}"]
        if not errors:
            self._plain(HTTPStatus.OK, "Reloaded\n")
        else:
            text = "Reload failed, the running config was kept:\n" + "".join(f"{redact(e)}\n" for e in errors)
            self._plain(HTTPStatus.INTERNAL_SERVER_ERROR, text)

    def metrics(self) -> None:
        slots = self.server.scrape_slots
        if slots is not None and not slots.acquire(blocking=False):
            self._plain(HTTPStatus.SERVICE_UNAVAILABLE, "Too many concurrent scrapes\n")
            return
        try:
            runtime = self.server.runtime
            timeout = runtime.scrape_timeout(self.headers.get("X-Prometheus-Scrape-Timeout-Seconds"))
            openmetrics, content_type = choose_format(self.headers.get("Accept", ""))
            gz = "gzip" in self.headers.get("Accept-Encoding", "")
            try:
                body = runtime.exposition(timeout, openmetrics, gz)
            except Exception:
                log.exception("rendering /metrics failed")
                self._plain(HTTPStatus.INTERNAL_SERVER_ERROR, "exporter error\n")
                return
            self._body(body, content_type, gzip_encoded=gz)
        finally:
            if slots is not None:
                slots.release()

    # -- helpers -----------------------------------------------------------------------
    def _authorized(self) -> bool:
        auth = self.server.auth
        if not auth.enabled:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return auth.check(user, password)

    def _refuse(self, status: HTTPStatus, text: str) -> None:
        """Answer and close the connection: nothing after this request can be trusted."""
        self.send_response(status)
        self.send_header("Connection", "close")
        self._body(text.encode(), "text/plain; charset=utf-8")

    def _plain(self, status: HTTPStatus, text: str) -> None:
        self.send_response(status)
        self._body(text.encode(), "text/plain; charset=utf-8")

    def _body(self, body: bytes, content_type: str, gzip_encoded: bool = False) -> None:
        if not self._headers_buffer_started():
            self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if gzip_encoded:
            self.send_header("Content-Encoding", "gzip")
        web = self.server.web
        for k, v in web.http_server_config.headers.items() if web is not None else ():
            self.send_header(k, v)
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()

    def _headers_buffer_started(self) -> bool:
        return bool(getattr(self, "_headers_buffer", None))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


ExporterHandler.routes = {
    ("GET", "/"): ExporterHandler.landing,
    ("GET", "/metrics"): ExporterHandler.metrics,
    ("GET", "/-/healthy"): ExporterHandler.healthy,
    ("GET", "/-/ready"): ExporterHandler.ready,
    ("POST", "/-/reload"): ExporterHandler.reload,
    ("PUT", "/-/reload"): ExporterHandler.reload,
}


LIFECYCLE_PATHS = frozenset({"/-/reload"})
# Probes (Kubernetes httpGet, the image's HEALTHCHECK) cannot send credentials without putting
# them in the pod spec: health and readiness answer without basic auth (they reveal nothing).
UNAUTHENTICATED_PATHS = frozenset({"/-/healthy", "/-/ready"})


def _allowed_san(peer: dict[str, Any] | None, allowed: list[str]) -> bool:
    from .webconfig import allowed_san  # loaded with the web config that asks for it

    return allowed_san(peer, allowed)


class TokenBucket:
    """exporter-toolkit's ``rate_limit``: one request per ``interval``, ``burst`` saved; off when 0."""

    def __init__(self, interval: float, burst: int) -> None:
        self.interval, self.burst = interval, burst
        self._tokens = float(burst)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        if self.interval <= 0 or self.burst <= 0:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._at) / self.interval)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False
