"""Suite-wide rules: in CI nothing is skipped, and real-GPU tests run only where asked.

- ``REQUIRE_REAL_SERVERS=1`` (set by scripts/test.sh, and implied by ``CI``): a skipped test
  is reported as a failure, because a skip there means an install step is missing.
- Tests marked ``gpu`` need real NVIDIA hardware. They are deselected (listed as such in the
  summary, never silently skipped) unless ``LLM_EXPORTER_GPU_TESTS=1``.
"""

from __future__ import annotations

import os

import pytest
from support import require_real_servers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("LLM_EXPORTER_GPU_TESTS") == "1":
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("gpu") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.skipped and require_real_servers() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (REQUIRE_REAL_SERVERS): {reason}"
