"""Bounded HTTP reads of upstreams, shared by the inference and queue collectors.

Every read has a wall-clock deadline for the whole response (connect, headers and body),
enforced inside the read: a watchdog shuts the socket down when the time is up, so a
server that drips one byte every half second cannot hold a read (and, through single
flight, its target) past the scrape deadline. ``requests``' own timeout only bounds each
socket operation. Bodies are bounded in size. By default redirects are followed only
within the origin (scheme, host, port) of the configured URL (``redirects`` per target;
credentials never follow a redirect to another origin). Every failure is a ``TargetDown``
with a short, clear reason.

Limit: during a TLS handshake urllib3 does not yet hold the socket, so the handshake is
bounded by the per-operation timeout only; from the request on (and on every reused
connection) the whole-response deadline applies.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import math
import socket
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import BaseAdapter, HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..scrape import Deadline, TargetDown

CHUNK = 64 * 1024
MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
MAX_JSON_BYTES = 4 * 1024 * 1024

_current = threading.local()


def join(base: str, path: str) -> str:
    """``base`` + ``path``, without doubling a ``/v1`` the base already ends with."""
    base = base.rstrip("/")
    if base.endswith("/v1") and path.startswith("/v1/"):
        path = path[3:]
    return base + path


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


class _Watch:
    """The wall-clock deadline of one read: shuts down the socket in use when time is up."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self.done = False
        self.at = time.monotonic() + max(seconds, 0.001)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def attach(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def expire(self) -> None:
        with self._lock:
            if self.done:
                return
            self.expired = True
            _shutdown(self._sock)

    def __enter__(self) -> _Watch:
        _current.watch = self
        _WATCHDOG.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.done = True
            self._sock = None  # the watchdog may hold this watch until its time: not the socket
        _current.watch = None


class _Watchdog:
    """One thread for the deadlines of every read (not a timer thread per read).

    Watches wait in a heap ordered by deadline; the thread sleeps until the earliest and is
    woken only when a new one is due earlier than that. A watch whose read ended stays in
    the heap until its time (then it is dropped without effect): a few per target at most.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Watch]] = []
        self._seq = itertools.count()
        self._wake_at = math.inf
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._cond:
            heapq.heappush(self._heap, (watch.at, next(self._seq), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="read-watchdog", daemon=True)
                self._thread.start()
            elif watch.at < self._wake_at:
                self._cond.notify()

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    heapq.heappop(self._heap)[2].expire()
                self._wake_at = self._heap[0][0] if self._heap else math.inf
                self._cond.wait(None if not self._heap else self._wake_at - now)


_WATCHDOG = _Watchdog()


def _shutdown(sock: socket.socket | None) -> None:
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _attach(sock: socket.socket | None) -> None:
    watch = getattr(_current, "watch", None)
    if watch is not None:
        watch.attach(sock)


class _WatchedHTTP(HTTPConnection):
    """Tells the current read's watchdog which socket it uses (fresh or reused from the pool)."""

    def connect(self) -> None:
        super().connect()
        _attach(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:
            _attach(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPS(_WatchedHTTP, HTTPSConnection):
    """The same for TLS: the MRO puts HTTPSConnection's connect (with the handshake) under ours."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTP


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPS


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
        return manager


class Session(requests.Session):
    """A ``requests`` session whose GETs are prepared once and sent straight to the adapter.

    Per request, ``requests`` merges session and request settings, reads the environment
    (proxies, ``NO_PROXY``, the CA bundle, ``~/.netrc``), builds and stores cookies and runs
    hooks: about half the CPU of a small read on loopback. A reader repeats the same few GETs
    scrape after scrape, so each distinct one (URL, headers, parameters, credentials) is
    prepared once, with the environment as it is then, and kept (bounded); every read of it
    goes to the transport adapter (connection pool, TLS, proxy) directly. Not kept: cookies
    that an upstream sets (a metrics endpoint needs no session).
    """

    MAX_PLANS = 64  # a few distinct GETs per target; past this the cache starts over

    def __init__(self) -> None:
        super().__init__()
        self._plans: dict[tuple[object, ...], _Plan] = {}

    def send_get(
        self,
        url: str,
        headers: Mapping[str, str],
        params: Mapping[str, Any] | None,
        auth: tuple[str, str] | None,
        timeout: float,
    ) -> requests.Response:
        """GET ``url`` without following redirects; the body is left to stream."""
        key = (url, tuple(headers.items()), tuple(params.items()) if params else (), auth)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(url, headers, params, auth)
            if len(self._plans) >= self.MAX_PLANS:
                self._plans.clear()
            self._plans[key] = plan
        return plan.adapter.send(
            plan.request, stream=True, timeout=timeout, verify=plan.verify, cert=plan.cert, proxies=plan.proxies
        )

    def _plan(
        self, url: str, headers: Mapping[str, str], params: Mapping[str, Any] | None, auth: tuple[str, str] | None
    ) -> _Plan:
        request = self.prepare_request(requests.Request("GET", url, headers=dict(headers), params=params, auth=auth))
        assert request.url is not None
        settings = self.merge_environment_settings(request.url, {}, True, None, None)
        return _Plan(request, self.get_adapter(request.url), settings["verify"], settings["cert"], settings["proxies"])


@dataclass(frozen=True)
class _Plan:
    """One prepared GET and the environment's settings for its URL."""

    request: requests.PreparedRequest
    adapter: BaseAdapter
    verify: Any
    cert: Any
    proxies: MutableMapping[str, str]


def new_session() -> Session:
    """A session whose reads can be cut at their deadline (use it with ``get``)."""
    session = Session()
    adapter = _Adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@contextlib.contextmanager
def get(
    session: Session,
    url: str,
    deadline: Deadline,
    *,
    cap: float,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    redirects: str = "same_origin",
) -> Iterator[requests.Response]:
    """GET ``url`` (status 200 only) under the deadline; read the body inside the ``with``.

    ``redirects``: ``same_origin`` (default) follows redirects within the URL's origin,
    ``none`` follows none, ``any`` follows all but sends no credentials to another origin.

    When the time is up the socket is shut down, and whatever happens next in the block
    (an error, or a body that looks complete) ends in ``TargetDown("timeout ...")``.
    """
    if deadline.expired():
        raise TargetDown(f"no time left in the scrape deadline for {url}")
    with _Watch(deadline.timeout(cap)) as watch:
        resp: requests.Response | None = None
        try:
            resp = _follow(session, url, deadline, cap, dict(headers or {}), params, auth, redirects)
            yield resp
        except Exception:
            if watch.expired:  # whatever broke, it broke because the socket was cut at the deadline
                raise TargetDown(f"timeout: {url} did not answer completely within the scrape deadline") from None
            raise
        finally:
            if resp is not None:
                resp.close()
        if watch.expired:
            raise TargetDown(f"timeout: {url} did not answer completely within the scrape deadline")


def _follow(
    session: Session,
    url: str,
    deadline: Deadline,
    cap: float,
    headers: dict[str, str],
    params: Mapping[str, Any] | None,
    auth: tuple[str, str] | None,
    redirects: str,
) -> requests.Response:
    """One GET, following at most ``MAX_REDIRECTS`` redirects as the ``redirects`` policy allows."""
    first = url
    for _ in range(MAX_REDIRECTS + 1):
        resp = _send(session, url, deadline, cap, headers, params, auth)
        location = resp.headers.get("Location")
        if resp.status_code not in REDIRECTS or not location:
            if resp.status_code != 200:
                resp.close()
                hint = " (check the credentials and permissions)" if resp.status_code in (401, 403) else ""
                raise TargetDown(f"HTTP {resp.status_code} from {url}{hint}")
            return resp
        resp.close()
        nxt = urljoin(url, location)
        if redirects == "none":
            raise TargetDown(f"HTTP {resp.status_code} redirect from {url} (redirects: none)")
        if origin(nxt) != origin(first):
            if redirects != "any":
                where = "{}://{}:{}".format(*origin(nxt))
                raise TargetDown(
                    f"{url} redirects to another origin ({where}): only same-origin redirects are followed "
                    "(redirects: same_origin)"
                )
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            auth = None  # credentials never leave the configured origin
        url, params = nxt, None
    raise TargetDown(f"more than {MAX_REDIRECTS} redirects from {url}")


def _send(
    session: Session,
    url: str,
    deadline: Deadline,
    cap: float,
    headers: dict[str, str],
    params: Mapping[str, Any] | None,
    auth: tuple[str, str] | None,
) -> requests.Response:
    try:
        return session.send_get(url, headers, params, auth, deadline.timeout(cap))
    except requests.exceptions.ConnectTimeout:
        raise TargetDown(f"connect timeout to {url}") from None
    except requests.exceptions.ReadTimeout:
        raise TargetDown(f"timeout waiting for {url}") from None
    except requests.exceptions.ConnectionError as exc:
        why = "connection refused" if "refused" in str(exc).lower() else "connection failed"
        raise TargetDown(f"{why}: {url}") from None
    except requests.exceptions.RequestException as exc:
        raise TargetDown(f"request to {url} failed: {type(exc).__name__}") from None


def body(resp: requests.Response, url: str, max_bytes: int, whole: int = 0) -> Iterator[bytes]:
    """The body in chunks of at most ``CHUNK`` bytes; more than ``max_bytes`` is an error.

    A plain (not content-encoded) body whose ``Content-Length`` is at most ``whole`` bytes
    comes in one read: several times cheaper than 64 KiB pieces, for a caller that keeps
    the whole body anyway. A body shorter than announced is an error either way.
    """
    length = resp.headers.get("Content-Length")
    size = int(length) if length and length.isdigit() else -1
    if size > max_bytes:
        raise TargetDown(f"body of {url} is {length} bytes, more than the limit of {max_bytes}")
    encoded = resp.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    try:
        if 0 <= size <= whole and not encoded:
            data = resp.raw.read(size)
            if len(data) != size:
                raise TargetDown(f"truncated body from {url}: {len(data)} of {size} bytes")
            yield data
            return
        yield from resp.iter_content(CHUNK)
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
        raise TargetDown(f"truncated body from {url}: {type(exc).__name__}") from None
    except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
        raise TargetDown(f"timeout reading the body of {url}") from None
    except (requests.exceptions.ConnectionError, urllib3.exceptions.HTTPError, OSError):
        raise TargetDown(f"truncated body from {url}: connection broken") from None


def get_json(
    session: Session,
    url: str,
    deadline: Deadline,
    *,
    cap: float,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    max_bytes: int = MAX_JSON_BYTES,
    redirects: str = "same_origin",
) -> Any:
    """GET and parse a JSON document, bounded in time and size, or raise ``TargetDown``."""
    buf = bytearray()
    with get(
        session,
        url,
        deadline,
        cap=cap,
        headers={"Accept": "application/json", **(headers or {})},
        params=params,
        auth=auth,
        redirects=redirects,
    ) as resp:
        for chunk in body(resp, url, max_bytes, whole=max_bytes):
            buf += chunk
            if len(buf) > max_bytes:
                raise TargetDown(f"body of {url} larger than {max_bytes} bytes")
        ctype = resp.headers.get("Content-Type", "")
    try:
        return json.loads(buf)
    except (ValueError, UnicodeDecodeError):
        head = bytes(buf[:60]).decode("utf-8", "replace").strip().replace("\n", " ")
        raise TargetDown(f"{url} did not answer JSON (Content-Type {ctype or 'none'}: {head!r})") from None
