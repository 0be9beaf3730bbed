"""Inference servers: one reader per configured target, plus its probe and served process.

``build(config)`` returns, for every ``inference:`` target, an ``InferenceCollector``
(``inference/<name>``), a ``ProbeCollector`` when the target has ``probe:`` and a
``ProcessCollector`` when it has ``process:``. With no targets and discovery enabled, a
``DiscoveryCollector`` reads whatever answers on the engines' default local ports.
"""

from __future__ import annotations

from ...config import Config
from ...scrape import Collector
from ..probe import ProbeCollector
from ..process import ProcessCollector
from .collector import InferenceCollector
from .discovery import DiscoveryCollector


def build(config: Config) -> list[Collector]:
    out: list[Collector] = []
    for target in config.inference:
        out.append(InferenceCollector(target))
        if target.probe is not None:
            out.append(ProbeCollector(target))
        if target.process is not None:
            out.append(ProcessCollector(target))
    if not config.inference and config.discovery.enabled:
        out.append(DiscoveryCollector(config.discovery))
    return out


__all__ = ["DiscoveryCollector", "InferenceCollector", "ProbeCollector", "ProcessCollector", "build"]
