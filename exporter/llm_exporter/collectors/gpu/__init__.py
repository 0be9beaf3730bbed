"""NVIDIA GPUs through NVML (nvidia-ml-py): the ``gpu`` collector and its XID watcher.

``build(config)`` returns the collector unless ``gpu.enabled`` is false. With
``enabled: auto`` a machine without NVML stays quiet (one log line); with
``enabled: true`` it reports ``llm_gpu_nvml_up 0`` and a failed collection.
"""

from __future__ import annotations

from ...config import Config
from ...scrape import Collector
from .collector import GpuCollector

__all__ = ["GpuCollector", "build"]


def build(config: Config) -> list[Collector]:
    """The gpu collector for ``config.gpu`` (none when disabled)."""
    if config.gpu.enabled is False:
        return []
    return [GpuCollector(config.gpu)]
