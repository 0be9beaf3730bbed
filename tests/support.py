"""Helpers shared by the test suite: free loopback ports, real binaries, waiting."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("LLM_EXPORTER_TEST_CACHE", Path.home() / ".cache" / "llm-exporter-tests"))


def require_real_servers() -> bool:
    """True in CI (or when asked): a missing binary is then a failure, never a skip."""
    return os.environ.get("REQUIRE_REAL_SERVERS", "").lower() in ("1", "true", "yes") or bool(
        os.environ.get("CI")
    )


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
