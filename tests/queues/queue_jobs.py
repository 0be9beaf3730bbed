"""Job functions for RQ tests (importable by the worker subprocess)."""

from __future__ import annotations

import time
from pathlib import Path


def add(a: int, b: int) -> int:
    return a + b


def boom() -> None:
    raise RuntimeError("this job fails on purpose")


def wait_for_file(path: str, timeout: float = 120.0) -> str:
    """Run until ``path`` exists: keeps the job in the started registry while the test looks."""
    end = time.monotonic() + timeout
    while not Path(path).exists() and time.monotonic() < end:
        time.sleep(0.05)
    return path


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
