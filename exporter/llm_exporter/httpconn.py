"""Connection-level limits of the HTTP server: how long a client may take, how many may wait.

- ``header_timeout`` bounds the whole time to receive a request line and its headers (and a
  TLS handshake), whatever the pace: a client dripping one byte a second is cut off when it
  runs out, not when it pauses (Go's ``ReadHeaderTimeout``). The first request of a
  connection must arrive within it; between keep-alive requests the client may stay silent
  for ``idle_timeout``, and the header clock starts at the next request's first byte.
- ``max_connections`` bounds open connections (and so handler threads); a connection over the
  cap is closed at once, before any thread is started for it.
- A request body is read (and discarded) when it is small, rejected with 413 when it is
  larger than ``max_body_bytes``, and anything odd about its framing (``Transfer-Encoding``,
  two or a malformed ``Content-Length``) gets 400 or 411 and closes the connection, so no
  bytes of a body can ever be taken for the next request (no HTTP desync).
"""

from __future__ import annotations

import io
import socket
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Connection limits of the HTTP server, with their defaults."""

    max_connections: int = 128
    header_timeout: float = 10.0
    idle_timeout: float = 75.0
    write_timeout: float = 60.0
    max_body_bytes: int = 64 * 1024


class ReadClock:
    """The deadline of the read in progress on one connection."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.header_timeout
        self.waiting_for_request = False  # idle between keep-alive requests

    def idle(self) -> None:
        """Between requests: the client may be silent for ``idle_timeout``."""
        self.deadline = time.monotonic() + self.limits.idle_timeout
        self.waiting_for_request = True

    def body(self) -> None:
        """Headers are in; the body must follow within ``header_timeout``."""
        self.deadline = time.monotonic() + self.limits.header_timeout
        self.waiting_for_request = False


class DeadlineReader(io.RawIOBase):
    """A socket reader whose reads all end by the clock's deadline, however they trickle."""

    def __init__(self, sock: socket.socket, clock: ReadClock) -> None:
        super().__init__()
        self._sock = sock
        self._clock = clock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._clock.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("read deadline exceeded")
        self._sock.settimeout(left)
        try:
            n = self._sock.recv_into(buffer)
        finally:
            self._sock.settimeout(self._clock.limits.write_timeout)
        if n and self._clock.waiting_for_request:  # first byte of a request: the header clock starts
            self._clock.deadline = time.monotonic() + self._clock.limits.header_timeout
            self._clock.waiting_for_request = False
        return n


def body_problem(headers: Any, max_body_bytes: int) -> tuple[HTTPStatus, str] | None:
    """Why a request's body framing is refused, or None. Only ``Content-Length`` is accepted."""
    if headers.get_all("Transfer-Encoding"):
        return HTTPStatus.LENGTH_REQUIRED, "Transfer-Encoding is not accepted: send a Content-Length\n"
    lengths = headers.get_all("Content-Length") or []
    if len(lengths) > 1:
        return HTTPStatus.BAD_REQUEST, "more than one Content-Length\n"
    if lengths:
        value = lengths[0].strip()
        if not value.isascii() or not value.isdigit():
            return HTTPStatus.BAD_REQUEST, "malformed Content-Length\n"
        if int(value) > max_body_bytes:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {max_body_bytes} bytes\n"
    return None


def discard_body(rfile: Any, headers: Any) -> bool:
    """Read and drop the announced body; False when the client sent less (close the connection)."""
    left = int((headers.get("Content-Length") or "0").strip())
    while left > 0:
        chunk = rfile.read(min(left, 65536))
        if not chunk:
            return False
        left -= len(chunk)
    return True
