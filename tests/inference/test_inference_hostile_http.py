"""Hostile upstream HTTP (issue 10 items 10, 14, 16), over real loopback sockets.

A slow-drip server cannot hold a read past the scrape deadline (the socket is cut inside
the read, for the inference reader and the queue collectors alike), the next scrape reads
afresh once the server recovers, a hung target is that target's problem (not the
collector's) and is logged once, and redirects are followed only within the origin.
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from http_upstream import Upstream, fixture, send
from llm_exporter.collectors.inference import InferenceCollector
from llm_exporter.collectors.queues import build_one
from llm_exporter.config import InferenceTarget, QueueTarget
from llm_exporter.scrape import ScrapeEngine
from support import wait_for

GOOD = fixture("vllm-v1.prom")
M = "meta-llama/Llama-3.1-8B-Instruct"


class Drip:
    """A route that drips its answer one byte at a time and notices when the client hangs up."""

    def __init__(self, in_headers: bool = False, ctype: str = "text/plain; version=0.0.4") -> None:
        self.in_headers = in_headers
        self.ctype = ctype
        self.cut = threading.Event()  # the client closed the connection
        self.started = threading.Event()

    def _drip(self, h: BaseHTTPRequestHandler, data: bytes) -> None:
        end = time.monotonic() + 60
        for i in range(len(data)):
            if time.monotonic() > end:
                return
            h.wfile.write(data[i : i + 1])
            h.wfile.flush()
            time.sleep(0.1)

    def __call__(self, h: BaseHTTPRequestHandler) -> None:
        self.started.set()
        head = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (self.ctype.encode(), len(GOOD))
        try:
            if self.in_headers:
                self._drip(h, head)
            else:
                h.wfile.write(head)
                self._drip(h, GOOD)
        except OSError:
            self.cut.set()
            return
        h.close_connection = True


def _inference(url: str, **kw: object) -> InferenceCollector:
    return InferenceCollector(InferenceTarget(name="t", url=url, server="vllm", **kw))  # type: ignore[arg-type]


@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_slow_drip_is_cut_at_the_deadline_and_the_next_scrape_reads_afresh(
    in_headers: bool, caplog: pytest.LogCaptureFixture
) -> None:
    drip = Drip(in_headers)
    with Upstream({"/metrics": drip, "/ok/metrics": send(200, GOOD)}) as up:
        ok = InferenceCollector(InferenceTarget(name="ok", url=up.url + "/ok", server="vllm"))
        engine = ScrapeEngine([_inference(up.url), ok], min_interval=0.0)
        caplog.set_level(logging.INFO, logger="llm_exporter.scrape")
        out = engine.scrape(timeout=1.0)
        assert out.get("llm_target_up", {"target": "t"}) == 0.0
        assert out.get("llm_target_up", {"target": "ok"}) == 1.0
        assert out.get("llm_scrape_collector_success", {"collector": "inference"}) == 1.0  # item 14
        # The read is cut inside, at the deadline: the server sees the connection closed long
        # before its minute-long drip would end (before the fix it kept the read for the minute).
        wait_for(drip.cut.is_set, timeout=20, what="the exporter to close the dripping connection")
        up.routes["/metrics"] = send(200, GOOD)  # the upstream recovers
        out = engine.scrape(timeout=5.0)
        assert out.get("llm_target_up", {"target": "t"}) == 1.0
        assert out.get("llm_requests_running", {"target": "t", "model": M}) == 7
    downs = [r.getMessage() for r in caplog.records if "target t is down" in r.getMessage()]
    assert len(downs) == 1, downs
    assert "timeout" in downs[0] or "deadline" in downs[0]


def test_hung_target_never_pins_single_flight() -> None:
    """While the first read still drips, a scrape after its deadline starts a fresh read."""
    drip = Drip()
    with Upstream({"/metrics": drip}) as up:
        engine = ScrapeEngine([_inference(up.url, timeout=30.0)], min_interval=0.0)
        assert engine.scrape(timeout=0.5).get("llm_target_up", {"target": "t"}) == 0.0
        up.routes["/metrics"] = send(200, GOOD)
        out = engine.scrape(timeout=5.0)
        assert out.get("llm_target_up", {"target": "t"}) == 1.0


def test_queue_collector_read_is_cut_at_the_deadline() -> None:
    """The queue collectors share the bounded reader: a dripping NATS /jsz cannot hold a read."""
    drip = Drip(ctype="application/json")
    with Upstream({"/jsz": drip}) as up:
        collector = build_one(QueueTarget(name="q", backend="nats", url=up.url, timeout=30.0))
        engine = ScrapeEngine([collector], min_interval=0.0)
        out = engine.scrape(timeout=1.0)
        assert out.get("llm_target_up", {"target": "q"}) == 0.0
        wait_for(drip.cut.is_set, timeout=20, what="the exporter to close the dripping connection")
        collector.close()


def test_redirect_to_another_origin_is_not_followed() -> None:
    with Upstream({"/metrics": send(200, GOOD)}) as other:
        with Upstream({"/metrics": send(302, b"", headers={"Location": other.url + "/metrics"})}) as up:
            engine = ScrapeEngine([_inference(up.url)], min_interval=0.0)
            out = engine.scrape(timeout=5.0)
        assert out.get("llm_target_up", {"target": "t"}) == 0.0
        assert other.hits.get("/metrics", 0) == 0


def test_same_origin_redirect_is_followed() -> None:
    routes = {"/metrics": send(301, b"", headers={"Location": "/v2/metrics"}), "/v2/metrics": send(200, GOOD)}
    with Upstream(routes) as up:
        engine = ScrapeEngine([_inference(up.url)], min_interval=0.0)
        out = engine.scrape(timeout=5.0)
    assert out.get("llm_target_up", {"target": "t"}) == 1.0
    assert out.get("llm_requests_running", {"target": "t", "model": M}) == 7


def test_redirect_loop_is_bounded() -> None:
    with Upstream({"/metrics": send(302, b"", headers={"Location": "/metrics"})}) as up:
        engine = ScrapeEngine([_inference(up.url)], min_interval=0.0)
        assert engine.scrape(timeout=5.0).get("llm_target_up", {"target": "t"}) == 0.0
        assert up.hits["/metrics"] <= 6


def test_redirects_any_follows_other_origins_without_the_token() -> None:
    with Upstream({"/metrics": send(200, GOOD)}) as other:
        with Upstream({"/metrics": send(302, b"", headers={"Location": other.url + "/metrics"})}) as up:
            engine = ScrapeEngine([_inference(up.url, redirects="any", bearer_token="s3cret")], min_interval=0.0)
            out = engine.scrape(timeout=5.0)
            assert up.requests[0][2].get("Authorization") == "Bearer s3cret"
        assert out.get("llm_target_up", {"target": "t"}) == 1.0
        assert other.hits["/metrics"] == 1
        assert all("Authorization" not in headers for _, _, headers, _ in other.requests)


def test_redirects_none_refuses_even_same_origin() -> None:
    routes = {"/metrics": send(301, b"", headers={"Location": "/v2/metrics"}), "/v2/metrics": send(200, GOOD)}
    with Upstream(routes) as up:
        engine = ScrapeEngine([_inference(up.url, redirects="none")], min_interval=0.0)
        assert engine.scrape(timeout=5.0).get("llm_target_up", {"target": "t"}) == 0.0
        assert up.hits.get("/v2/metrics", 0) == 0
