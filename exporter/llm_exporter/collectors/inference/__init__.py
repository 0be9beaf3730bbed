"""Inference servers: one reader per configured target, plus its probe and served process.

``build(config)`` returns, for every ``inference:`` target, an ``InferenceCollector``
(``inference/<name>``), a ``ProbeCollector`` when the target has ``probe:`` and a
``ProcessCollector`` when it has ``process:``. With no targets and discovery enabled, a
``DiscoveryCollector`` reads whatever answers on the engines' default local ports.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ...config import Config
from ...scrape import Collector
from .discovery import DiscoveryCollector

# Imported on first use only, so a config without targets never loads the HTTP stack.
_LAZY = {
    "InferenceCollector": ".collector",
    "ProbeCollector": "..probe",
    "ProcessCollector": "..process",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build(config: Config) -> list[Collector]:
    out: list[Collector] = []
    for target in config.inference:
        from .collector import InferenceCollector

        out.append(InferenceCollector(target))
        if target.probe is not None:
            from ..probe import ProbeCollector

            out.append(ProbeCollector(target))
        if target.process is not None:
            from ..process import ProcessCollector  # psutil

            out.append(ProcessCollector(target))
    if not config.inference and config.discovery.enabled:
        out.append(DiscoveryCollector(config.discovery))
    return out


__all__ = ["DiscoveryCollector", "InferenceCollector", "ProbeCollector", "ProcessCollector", "build"]
