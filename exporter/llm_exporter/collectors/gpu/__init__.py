"""NVIDIA GPUs through NVML (nvidia-ml-py): the ``gpu`` collector and its XID watcher.

``build(config)`` returns the collector unless ``gpu.enabled`` is false. With
``enabled: auto`` a machine without NVML stays quiet (one log line) and never imports the
binding (``auto.AutoGpuCollector``); with ``enabled: true`` it reports ``llm_gpu_nvml_up 0``
and a failed collection.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from ...config import Config
from ...scrape import Collector
from .auto import AutoGpuCollector

__all__ = ["AutoGpuCollector", "GpuCollector", "build"]


def __getattr__(name: str) -> Any:
    if name == "GpuCollector":  # imported on first use: it loads pynvml
        return import_module(".collector", __name__).GpuCollector
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build(config: Config) -> list[Collector]:
    """The gpu collector for ``config.gpu`` (none when disabled)."""
    if config.gpu.enabled is False:
        return []
    if config.gpu.enabled == "auto":
        return [AutoGpuCollector(config.gpu)]
    from .collector import GpuCollector

    return [GpuCollector(config.gpu)]
