"""Helpers shared by the test suite: free loopback ports, real binaries, waiting."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("LLM_EXPORTER_TEST_CACHE", Path.home() / ".cache" / "llm-exporter-tests"))


def require_real_servers() -> bool:
    """True in CI (or when asked): a missing binary is then a failure, never a skip."""
    return os.environ.get("REQUIRE_REAL_SERVERS", "").lower() in ("1", "true", "yes") or bool(os.environ.get("CI"))


def need_binary(*names: str) -> str:
    """Path of the first binary found; fail (CI) or skip (laptop) when none is installed."""
    for name in names:
        for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/lib/rabbitmq/bin/{name}"):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
    msg = f"binary {' or '.join(names)} not installed (the README's test command installs it)"
    if require_real_servers():
        pytest.fail(msg)
    pytest.skip(msg)
    raise AssertionError  # unreachable


_PORT_LOCK = threading.Lock()
_PORTS_GIVEN: set[int] = set()
_LOWEST_PORT = 10000


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return low, high


def _in_use(port: int) -> bool:
    """Someone is bound to ``port`` on loopback (or the wildcard address) now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 for a server that a test starts (an external process binds it).

    Not "bind port 0 and close": the kernel could hand that ephemeral port to another socket
    (any process's ``bind(0)`` or outgoing connection) before the server binds it. Ports here
    come from below the kernel's ephemeral range, which the kernel never hands out by itself;
    each test process walks its own pid-derived sequence, never gives a port out twice and
    skips ports that are in use now. Servers the tests run in-process bind port 0 and keep
    the socket instead (``http_upstream.Upstream``).
    """
    low, high = _ephemeral_range()
    top = low if low > _LOWEST_PORT + 1000 else 65535
    bottom = _LOWEST_PORT if top == low else high + 1
    span = top - bottom
    with _PORT_LOCK:
        start = (os.getpid() * 7919 + len(_PORTS_GIVEN)) % span
        for i in range(span):
            port = bottom + (start + i) % span
            if port in _PORTS_GIVEN or _in_use(port):
                continue
            _PORTS_GIVEN.add(port)
            return port
    raise RuntimeError("no free TCP port outside the ephemeral range")


def wait_for(check: Callable[[], object], timeout: float = 30.0, interval: float = 0.05, what: str = "") -> object:
    """Poll ``check`` until it returns a truthy value (exceptions count as not yet)."""
    end = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < end:
        try:
            value = check()
            if value:
                return value
        except Exception as exc:
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or check}: {last!r}")


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
    def up() -> bool:
        with socket.create_connection((host, port), timeout=0.5):
            return True

    wait_for(up, timeout, what=f"{host}:{port} to accept connections")


def stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0, group: bool = False) -> None:
    """SIGTERM, wait, then SIGKILL. ``group=True`` signals the whole process group (start_new_session)."""
    if proc is None or proc.poll() is not None:
        return

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)

    send(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait(10)


def wait_process_ready(
    proc: subprocess.Popen[bytes], check: Callable[[], object], log: Path, what: str, timeout: float = 60.0
) -> None:
    """Poll ``check`` until it passes; fail at once, with the log's tail, if the process exits."""
    end = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{what}: process exited with {proc.returncode}:\n" + log.read_text(errors="replace")[-3000:]
            )
        try:
            if check():
                return
        except Exception as exc:
            last = exc
        time.sleep(0.1)
    raise TimeoutError(
        f"timed out after {timeout}s waiting for {what}: {last!r}\nlog tail:\n"
        + log.read_text(errors="replace")[-3000:]
    )
