"""Issue 10 items 9 and 17 against real sockets: request bodies are read or refused (no HTTP
desync), and connections are bounded in number and in the time to send their headers
(slowloris). No wall-clock assertion: the tests check what the server does (how many
answers, who gets closed, how many threads), with generous upper bounds only to end a loop.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from exporter_proc import Exporter, run_exporter
from llm_exporter.config import load_config_text
from llm_exporter.httpconn import Limits
from llm_exporter.runtime import Runtime
from llm_exporter.server import ExporterHTTPServer

QUIET = "gpu:\n  enabled: false\n"


def exchange(port: int, payload: bytes) -> bytes:
    """Send ``payload``, half-close, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while data := s.recv(65536):
            chunks.append(data)
        return b"".join(chunks)


def statuses(answer: bytes) -> list[bytes]:
    return re.findall(rb"HTTP/1\.[01] (\d{3}) ", answer)


@pytest.fixture(scope="module")
def exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exporter]:
    with run_exporter(QUIET, tmp_path_factory.mktemp("limits"), args=("--web.enable-lifecycle",)) as exp:
        yield exp


def test_body_holding_a_second_request_runs_one_reload(exporter: Exporter) -> None:
    """Item 9: old code never read bodies, so the body below ran as a second reload."""
    inner = b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    outer = b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(inner) + inner
    before = exporter.logs().count("config reloaded")
    answer = exchange(exporter.port, outer)
    assert statuses(answer) == [b"200"], answer
    time.sleep(0.2)  # let the log line of a (wrong) second reload land before counting
    assert exporter.logs().count("config reloaded") == before + 1


def test_small_body_is_consumed_and_the_next_request_is_served(exporter: Exporter) -> None:
    payload = (
        b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert statuses(exchange(exporter.port, payload)) == [b"200", b"200"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        (b"Content-Length: 100000000\r\n", b"413"),
        (b"Transfer-Encoding: chunked\r\n", b"411"),
        (b"Content-Length: 3\r\nContent-Length: 3\r\n", b"400"),
        (b"Content-Length: -1\r\n", b"400"),
        (b"Content-Length: 0x10\r\n", b"400"),
    ],
    ids=["too-large", "chunked", "two-lengths", "negative", "hex"],
)
def test_odd_bodies_are_refused_and_the_connection_closed(exporter: Exporter, headers: bytes, code: bytes) -> None:
    """The smuggled request after the refused one is never answered: the connection is closed."""
    smuggled = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
    payload = b"POST /-/reload HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + b"abc" + smuggled
    answer = exchange(exporter.port, payload)
    assert statuses(answer) == [code], answer
    assert b"Connection: close" in answer


@pytest.fixture
def limited_server() -> Iterator[ExporterHTTPServer]:
    runtime = Runtime(None, load_config_text(QUIET))
    server = ExporterHTTPServer(
        ("127.0.0.1", 0), runtime, limits=Limits(max_connections=6, header_timeout=1.0, idle_timeout=1.0)
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()
    runtime.close()


def closed_by_server(s: socket.socket) -> bool:
    """True once the server has closed ``s`` (EOF or reset), False while it stays open."""
    s.settimeout(0.05)
    try:
        return s.recv(4096) == b"" or True  # any answer (408 or nothing) ends with a close
    except TimeoutError:
        return False
    except OSError:
        return True


def hold_slot(port: int) -> socket.socket:
    """A connection the server kept, with an unfinished request; retried while refused for the cap."""
    deadline = time.monotonic() + 10
    while True:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /metrics HTTP/1.1\r\n")  # headers never finished
        s.settimeout(0.3)
        try:
            closed = s.recv(100) == b""
        except TimeoutError:
            return s
        except OSError:
            closed = True
        s.close()
        assert closed and time.monotonic() < deadline, "no connection slot freed up"
        time.sleep(0.1)


def test_slowloris_connections_are_cut_and_capped(limited_server: ExporterHTTPServer) -> None:
    """Item 17: six sockets dripping header bytes hold the six slots; a seventh is closed at
    once without a thread; each dripper is cut while it is still dripping (old code: every
    byte reset a 60 s per-read timeout, so a drip held a thread forever); then a scrape works."""
    port = limited_server.server_address[1]
    threads_before = threading.active_count()
    drippers = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(6)]
    for s in drippers:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
    time.sleep(0.3)
    assert threading.active_count() <= threads_before + 6
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    extra.settimeout(5)
    assert extra.recv(100) == b"", "over the cap: closed at once, no answer"
    extra.close()
    assert not any(closed_by_server(s) for s in drippers), "the extra one was closed for the cap, not a deadline"
    cut = set()
    for drip in range(200):  # 200 x 0.1 s: far longer than the 1 s header deadline
        for i, s in enumerate(drippers):
            if i in cut:
                continue
            try:
                s.sendall(b"X-Drip-%d: y\r\n" % drip)
            except OSError:
                cut.add(i)
                continue
            if closed_by_server(s):
                cut.add(i)
        if len(cut) == len(drippers):
            break
        time.sleep(0.05)
    assert cut == set(range(6)), f"still open after {drip} drips: {set(range(6)) - cut}"
    for s in drippers:
        s.close()
    answer = exchange(port, b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert statuses(answer) == [b"200"]


def test_silent_connection_is_closed_and_keepalive_survives_a_pause(limited_server: ExporterHTTPServer) -> None:
    port = limited_server.server_address[1]
    silent = socket.create_connection(("127.0.0.1", port), timeout=10)
    silent.settimeout(10)
    assert silent.recv(100) == b"", "a connection that never sends a request is closed"
    silent.close()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200"), "keep-alive: the next request is served"


def test_limits_come_from_the_command_line(tmp_path_factory: pytest.TempPathFactory) -> None:
    """--web.max-connections and --web.read-header-timeout reach the real server."""
    args = ("--web.max-connections=2", "--web.read-header-timeout=6")
    with run_exporter(QUIET, tmp_path_factory.mktemp("flags"), args=args) as exp:
        # The readiness poll's connection may still count for a moment: take the two slots
        # once it is gone (a socket refused for the cap is closed at once, so retry it).
        held = [hold_slot(exp.port) for _ in range(2)]
        extra = socket.create_connection(("127.0.0.1", exp.port), timeout=10)
        extra.settimeout(10)
        assert extra.recv(100) == b"", "a third connection is over the cap"
        extra.close()
        assert not any(closed_by_server(s) for s in held), "closed for the cap, not for its header deadline"
        for s in held:
            s.settimeout(10)
            assert s.recv(100) == b"", "cut at the header deadline"
            s.close()
        assert statuses(exchange(exp.port, b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) == [
            b"200"
        ]
