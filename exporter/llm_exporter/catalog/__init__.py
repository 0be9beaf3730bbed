"""Every metric llm-exporter can emit: name, type, unit, labels and help, in one place.

This package is the public interface of the exporter, one module per area (``exporter``,
``inference``, ``gpu``, ``queues``, ``agents``, ``cost``; ``spec`` holds the shape of an
entry and the label sets they share). Collectors may only emit the
metrics listed here (``MetricSet`` refuses anything else), the README's metric table is
generated from it, and the dashboards and rules are checked against it. Renaming a
metric here is a breaking change and needs a migration note in the README.

Conventions (Prometheus naming guide): namespace ``llm_``, base units (seconds, bytes,
joules, hertz, celsius, ratio 0-1), ``_total`` only on counters, identity in ``_info``
metrics with value 1, no hostname/cluster labels (those are Prometheus target labels).
"""

from __future__ import annotations

from . import agents, cost, exporter, gpu, inference, queues
from .spec import GROUPS, Catalog, MetricSpec, MetricType

__all__ = ["CATALOG", "GROUPS", "Catalog", "MetricSpec", "MetricType"]

# Declaration order is exposition order (and the README's).
CATALOG = Catalog((*exporter.SPECS, *inference.SPECS, *gpu.SPECS, *queues.SPECS, *agents.SPECS, *cost.SPECS))
