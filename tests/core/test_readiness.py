"""Issue 13 (probes): ``/-/ready`` means something: the config is loaded and a first
collection has finished (whatever it found). Real sockets, in-process server."""

from __future__ import annotations

import http.client
import threading

from llm_exporter.config import load_config_text
from llm_exporter.metricset import MetricSet
from llm_exporter.runtime import Runtime
from llm_exporter.scrape import Deadline, ScrapeEngine
from llm_exporter.server import ExporterHTTPServer
from support import wait_for


class Held:
    """A collector whose first read waits until the test releases it."""

    name, key, target = "inference", "inference/held", "held"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        self.entered.set()
        self.release.wait(20)


def status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def test_ready_only_after_the_first_collection() -> None:
    runtime = Runtime(None, load_config_text("gpu:\n  enabled: false\nscrape:\n  timeout: 30s\n"))
    held = Held()
    runtime.engine = ScrapeEngine([held], min_interval=0)
    server = ExporterHTTPServer(("127.0.0.1", 0), runtime)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert status(port, "/-/ready") == 503, "no collection yet"
        runtime.start_warmup()
        assert held.entered.wait(10)
        assert status(port, "/-/ready") == 503, "first collection still running"
        assert status(port, "/-/healthy") == 200, "alive all along"
        held.release.set()
        wait_for(lambda: status(port, "/-/ready") == 200, 20, what="ready after the first collection")
    finally:
        held.release.set()
        server.shutdown()
        server.server_close()
