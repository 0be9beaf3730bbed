"""PromQL label matchers and the ``{...}`` part of selectors, quoted in one place.

    eq("state", "current")           -> state="current"
    regex("xid", "48|79")            -> xid=~"48|79"
    selector(JOB, MODEL)             -> {job=~"$job", model=~"$model"}

``JOB``, ``MODEL``, ... match the dashboards' Grafana variables of the same name.
"""

from __future__ import annotations


def eq(label: str, value: str) -> str:
    """``label="value"``."""
    return f'{label}="{value}"'


def regex(label: str, pattern: str) -> str:
    """``label=~"pattern"``."""
    return f'{label}=~"{pattern}"'


def variable(label: str) -> str:
    """``label=~"$label"``: the matcher for the multi-value dashboard variable ``label``."""
    return regex(label, f"${label}")


def selector(*matchers: str) -> str:
    """``{m1, m2}`` from the non-empty ``matchers``."""
    return "{" + ", ".join(m for m in matchers if m) + "}"


JOB = variable("job")
MODEL = variable("model")
TARGET = variable("target")
INSTANCE = variable("instance")
GPU = variable("gpu")
QUEUE = variable("queue")
