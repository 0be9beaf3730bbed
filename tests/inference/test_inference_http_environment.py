"""Upstream reads honour the proxy environment (``HTTP_PROXY``, ``NO_PROXY``) on every request.

The reader's session reads the environment once per URL instead of on every request
(``httpread._Session``); these tests pin that it still reads it: a target behind a proxy is
read through it scrape after scrape, and ``NO_PROXY`` still sends a target direct.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from http_upstream import Upstream, send
from llm_exporter.collectors.httpread import body, get, new_session
from llm_exporter.scrape import Deadline

DIRECT = b"direct 1\n"
PROXIED = b"proxied 1\n"


def _read(session: requests.Session, url: str) -> bytes:
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
