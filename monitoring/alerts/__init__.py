"""Alerting rules and their runbooks, one module per area.

Every alert carries ``severity`` (critical pages, warning tickets, info is not routed),
a static ``summary`` ending in a period, a templated ``description`` that only uses
labels surviving the expression's aggregation, and a generated ``runbook_url``.
"""

from __future__ import annotations

from ..bundle import Bundle
from .agents import agent_alerts
from .cost import cost_alerts
from .drift import drift_alerts
from .exporter import exporter_alerts
from .gpu import gpu_alerts
from .inference import inference_alerts
from .model import Alert, Runbook
from .probe import probe_alerts
from .queues import queue_alerts
from .slo import burn_rate_alerts

__all__ = ["Alert", "Runbook", "alerts"]


def alerts(b: Bundle) -> list[Alert]:
    """Every alert, in rule-file order."""
    return [
        *exporter_alerts(b),
        *inference_alerts(b),
        *probe_alerts(b),
        *drift_alerts(b),
        *burn_rate_alerts(b),
        *gpu_alerts(b),
        *queue_alerts(b),
        *agent_alerts(b),
        *cost_alerts(b),
    ]
