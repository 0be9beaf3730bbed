"""Upstream reads honour the proxy environment (``HTTP_PROXY``, ``NO_PROXY``) on every request.

The reader's session reads the environment once per URL instead of on every request
(``httpread._Session``); these tests pin that it still reads it: a target behind a proxy is
read through it scrape after scrape, and ``NO_PROXY`` still sends a target direct.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from http_upstream import Route, Upstream, send
from llm_exporter.collectors import httpread
from llm_exporter.collectors.httpread import body, get, new_session
from llm_exporter.scrape import Deadline, TargetDown
from support import wait_for

DIRECT = b"direct 1\n"
PROXIED = b"proxied 1\n"


def _read(session: httpread.Session, url: str) -> bytes:
    with get(session, url, Deadline(5.0), cap=5.0) as resp:
        return b"".join(body(resp, url, 1 << 20))


@pytest.fixture
def upstream_and_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Upstream, Upstream]]:
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with Upstream({"/metrics": send(200, DIRECT)}) as upstream, Upstream(fallback=send(200, PROXIED)) as proxy:
        yield upstream, proxy


def test_a_proxied_target_is_read_through_the_proxy_on_every_scrape(
    upstream_and_proxy: tuple[Upstream, Upstream], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream, proxy = upstream_and_proxy
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    session = new_session()
    url = f"{upstream.url}/metrics"
    assert [_read(session, url) for _ in range(3)] == [PROXIED] * 3
    assert [path for _, path, _, _ in proxy.requests] == [url] * 3  # absolute URIs: proxy requests
    assert not upstream.requests


def test_no_proxy_sends_a_target_direct(
    upstream_and_proxy: tuple[Upstream, Upstream], monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream, proxy = upstream_and_proxy
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    session = new_session()
    assert [_read(session, f"{upstream.url}/metrics") for _ in range(2)] == [DIRECT] * 2
    assert not proxy.requests


def test_every_read_shares_one_watchdog_thread(upstream_and_proxy: tuple[Upstream, Upstream]) -> None:
    """Reads start no thread each (a timer per read cost a thread start per target per scrape)."""
    upstream, _ = upstream_and_proxy
    session = new_session()
    _read(session, f"{upstream.url}/metrics")
    before = {t.ident for t in threading.enumerate()}
    for _ in range(20):
        _read(session, f"{upstream.url}/metrics")
    assert {t.ident for t in threading.enumerate()} - before == set()
    assert sum(t.name == "read-watchdog" for t in threading.enumerate()) == 1


def test_a_short_deadline_after_long_ones_still_cuts_its_read() -> None:
    """The watchdog sleeps until the earliest deadline: a new, earlier one wakes it.

    The upstream drips a byte every 0.1 s for 3 s (no socket timeout can fire); the read must
    be cut at its own 0.3 s deadline, before the drip ends, though a 5 s watch was queued first.
    """
    finished = threading.Event()

    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100")
        h.end_headers()
        try:
            for _ in range(30):
                h.wfile.write(b"x")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        finished.set()

    with Upstream({"/metrics": send(200, DIRECT), "/drip": drip}) as upstream:
        session = new_session()
        _read(session, f"{upstream.url}/metrics")  # its watch, due in 5 s, stays queued
        with (
            pytest.raises(TargetDown, match="timeout"),
            get(session, f"{upstream.url}/drip", Deadline(0.3), cap=0.3) as resp,
        ):
            b"".join(body(resp, "drip", 1 << 20))
        assert not finished.is_set()  # cut while the upstream was still dripping


def test_the_watchdog_wakes_for_a_deadline_earlier_than_the_one_it_sleeps_for() -> None:
    dog = httpread._Watchdog()
    late, early = httpread._Watch(60.0), httpread._Watch(0.2)
    dog.add(late)
    wait_for(lambda: dog._wake_at == late.at, timeout=20, what="the watchdog to sleep for a minute")
    dog.add(early)
    wait_for(lambda: early.expired, timeout=20, what="the early watch to expire")
    assert not late.expired


def _recording(paths: list[str]) -> Route:
    """A route that answers ``DIRECT`` and records each request's whole path (query included)."""

    def route(h: BaseHTTPRequestHandler) -> None:
        paths.append(h.path)
        send(200, DIRECT)(h)

    return route


def test_each_distinct_get_is_sent_as_asked_though_prepared_once() -> None:
    """The session keeps one prepared request per distinct GET: alternating credentials,
    headers and parameters on one URL each reach the upstream as asked, read after read."""
    paths: list[str] = []
    upstream = Upstream({"/metrics": _recording(paths)})
    session = new_session()
    url = f"{upstream.url}/metrics"
    asks = [
        ({"Authorization": "Bearer one"}, None, None),
        ({"Authorization": "Bearer two"}, None, None),
        ({}, {"page": "2"}, None),
        ({}, None, ("guest", "secret")),
    ]
    with upstream:
        for _ in range(2):
            for headers, params, auth in asks:
                with get(session, url, Deadline(5.0), cap=5.0, headers=headers, params=params, auth=auth) as resp:
                    assert b"".join(body(resp, url, 1 << 20)) == DIRECT
    seen = list(zip(paths, [h.get("Authorization") for _, _, h, _ in upstream.requests], strict=True))
    basic = "Basic " + base64.b64encode(b"guest:secret").decode()
    once = [("/metrics", "Bearer one"), ("/metrics", "Bearer two"), ("/metrics?page=2", None), ("/metrics", basic)]
    assert seen == once * 2
    assert len(session._plans) == len(asks)


def test_the_prepared_requests_are_bounded() -> None:
    """A reader that asks for ever new pages keeps at most ``MAX_PLANS`` prepared requests."""
    paths: list[str] = []
    pages = range(httpread.Session.MAX_PLANS + 5)
    with Upstream({"/metrics": _recording(paths)}) as upstream:
        session = new_session()
        url = f"{upstream.url}/metrics"
        for page in pages:
            with get(session, url, Deadline(5.0), cap=5.0, params={"page": str(page)}) as resp:
                b"".join(body(resp, url, 1 << 20))
            assert len(session._plans) <= httpread.Session.MAX_PLANS
    assert paths == [f"/metrics?page={page}" for page in pages]


def test_cookies_an_upstream_sets_are_not_sent_back() -> None:
    """A metrics read is stateless: a ``Set-Cookie`` does not change the next request."""

    def cookie(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Set-Cookie", "session=abc; Path=/")
        h.send_header("Content-Length", str(len(DIRECT)))
        h.end_headers()
        h.wfile.write(DIRECT)

    with Upstream({"/metrics": cookie}) as upstream:
        session = new_session()
        for _ in range(2):
            _read(session, f"{upstream.url}/metrics")
        assert [h.get("Cookie") for _, _, h, _ in upstream.requests] == [None, None]
