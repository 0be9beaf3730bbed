"""With no inference targets configured: find engines on their default local ports.

Every ``discovery.interval`` the default ports (vLLM 8000, SGLang 30000, TGI 3000,
llama.cpp 8080, Triton 8002, Ollama 11434, LiteLLM 4000) are tried with a TCP connect, all
at once (a host that drops the connects costs one ``discovery.timeout``, not one per port);
each open port gets a ``server: auto`` reader named ``<host>:<port>``. A port whose
service is not recognised as an inference server is ignored until the next round.
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ...config import DiscoveryConfig
from ...metricset import MetricSet
from ...scrape import Deadline, TargetDown, close_collectors
from ..base import BaseCollector

if TYPE_CHECKING:
    from .collector import InferenceCollector

log = logging.getLogger(__name__)

# ``engines.DEFAULT_PORTS``, written out so that a start with nothing listening never imports
# the engine tables; tests/inference/test_inference_engine_tables.py checks that both agree.
DEFAULT_PORTS: tuple[int, ...] = (8000, 8080, 30000, 3000, 8002, 4000, 11434)


def open_ports(host: str, ports: Iterable[int], timeout: float) -> set[int]:
    """The ``ports`` of ``host`` that accept a TCP connection, all tried at once within ``timeout``.

    A port counts as open when any address of ``host`` accepts (as ``socket.create_connection``
    would find). An ASCII host name is resolved as bytes: the IDNA codec that ``getaddrinfo``
    loads for a ``str`` costs milliseconds at start and changes nothing for an ASCII name.
    """
    name: str | bytes = host.encode("ascii") if host.isascii() else host
    try:
        addresses = [(family, addr) for family, _, _, _, addr in socket.getaddrinfo(name, 0, type=socket.SOCK_STREAM)]
    except (OSError, UnicodeError):
        return set()
    found: set[int] = set()
    waiting = selectors.DefaultSelector()
    try:
        for port in ports:
            for family, addr in addresses:
                try:  # an address family the host cannot use (IPv6 turned off ...) is skipped
                    sock = socket.socket(family, socket.SOCK_STREAM)
                except OSError:
                    continue
                sock.setblocking(False)
                try:
                    err = sock.connect_ex((addr[0], port, *addr[2:]))
                except OSError:
                    sock.close()
                    continue
                if err in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
                    waiting.register(sock, selectors.EVENT_WRITE, port)
                    continue
                if err == 0:
                    found.add(port)
                sock.close()
        end = time.monotonic() + timeout
        while waiting.get_map() and (left := end - time.monotonic()) > 0:
            for key, _ in waiting.select(left):
                sock = key.fileobj  # type: ignore[assignment]
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    found.add(key.data)
                waiting.unregister(sock)
                sock.close()
    finally:
        for key in list(waiting.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        waiting.close()
    return found


class DiscoveryCollector(BaseCollector[DiscoveryConfig]):
    """Reads whatever inference servers answer on the default ports of ``config.host``."""

    name = "inference"

    def __init__(self, config: DiscoveryConfig, ports: tuple[int, ...] = DEFAULT_PORTS) -> None:
        super().__init__(config, key="inference/discovery")
        self.ports = ports
        self._readers: dict[int, InferenceCollector] = {}
        self._known: set[int] = set()  # ports whose service was recognised at least once
        self._ignored: set[int] = set()
        self._last = -1e18
        self._lock = threading.Lock()

    def _rediscover(self, deadline: Deadline) -> None:
        now = time.monotonic()
        if now - self._last < self.config.interval:
            return
        self._last = now
        self._ignored.clear()
        if deadline.remaining() < 0.1:
            return
        answering = open_ports(self.config.host, self.ports, min(self.config.timeout, deadline.timeout()))
        for port in self.ports:
            if port in answering:
                if port not in self._readers:
                    from ...configtargets import InferenceTarget
                    from .collector import InferenceCollector  # the HTTP stack, once a port answers

                    target = InferenceTarget(
                        name=f"{self.config.host}:{port}",
                        url=f"http://{self.config.host}:{port}",
                        server="auto",
                        timeout=self.config.timeout * 5,
                    )
                    self._readers[port] = InferenceCollector(target)
            elif port in self._readers:
                self._readers.pop(port).close()
                self._known.discard(port)

    def collect(self, out: MetricSet, deadline: Deadline) -> None:
        with self._lock:
            self._rediscover(deadline)
            for port, reader in list(self._readers.items()):
                if port in self._ignored or deadline.expired():
                    continue
                part = MetricSet()
                try:
                    reader.collect(part, deadline)
                except TargetDown as exc:
                    if port in self._known:
                        out.add("llm_target_up", 0.0, {"target": reader.config.name})
                    else:
                        log.debug("discovery: %s is not a known inference server: %s", reader.config.name, exc)
                        self._ignored.add(port)
                    continue
                if port not in self._known:
                    log.info("discovery: reading %s", reader.config.name)
                self._known.add(port)
                out.merge(part)
                out.add("llm_target_up", 1.0, {"target": reader.config.name})

    def close(self) -> None:
        close_collectors(self._readers.values())
